//! The node's ONC RPC program (`TERN_NODE`, program [`PROGRAM`] version [`VERSION`], in the
//! user-defined range 0x20000000–0x3fffffff): what `tern spawn|ps|migrate|wait` ask a node, and
//! how nodes carry migration messages to each other.
//!
//! Every argument and result is XDR with its lengths bounded on decode (the constants below);
//! a call whose arguments do not decode is answered GARBAGE_ARGS by the dispatcher.
//!
//! | proc | name | arguments | results |
//! |---|---|---|---|
//! | 1 | SPAWN | name `string<1024>`, ELF `opaque<16 MiB>`, args `string<4096><64>` | status, pid, message |
//! | 2 | PS | void | `PsEntry<1024>` |
//! | 3 | MIGRATE | pid, destination `string<255>`, strategy | status, migration id, message |
//! | 4 | MIGRATION | migration id | [`MigrationReport`] |
//! | 5 | WAIT | pid | [`WaitReply`]: state, exit code, note, console, instructions, memory checksum (does not block: the caller polls) |
//! | 6 | FRAMES | reply address `string<255>`, `opaque<MAX_MSG_LEN><256>` | void |
//! | 7 | CHAN | pid, sequence number, channel operation ([`ChanArgs`]) | its result |
//!
//! CHAN is how a process away from its home node performs a channel operation: the home node
//! keeps its channels ([`crate::run::chan`]) and answers a repeated (pid, sequence number)
//! with the first answer, so a call re-sent after a lost reply acts once.
//!
//! FRAMES carries migration messages ([`tern_core::migrate::Msg`], one per opaque) one way:
//! a node sends the messages of a migration to its peer's node address, and the peer answers
//! (in FRAMES calls of its own) to the reply address in the arguments (an unspecified IP there
//! means the caller's IP). The RPC reply carries nothing: the protocol's own acknowledgements
//! and retransmissions make the transport's losses harmless, so a call that fails is dropped.

use tern_core::migrate::msg::MAX_MSG_LEN;
use tern_core::proc::ChanEnd;
use tern_core::proc::abi::MAX_MSG;
use tern_core::xdr::{self, Reader, Writer};

pub use crate::run::chan::{ChanOp, ChanResult};

/// Program number of the node control program.
pub const PROGRAM: u32 = 0x2074_6e01;
/// Its version.
pub const VERSION: u32 = 1;

/// Start a process.
pub const SPAWN: u32 = 1;
/// List processes.
pub const PS: u32 = 2;
/// Start migrating a process.
pub const MIGRATE: u32 = 3;
/// How a migration is doing.
pub const MIGRATION: u32 = 4;
/// A process's end and console.
pub const WAIT: u32 = 5;
/// Migration messages between nodes.
pub const FRAMES: u32 = 6;
/// A channel operation of a process away from its home node.
pub const CHAN: u32 = 7;

/// Longest ELF accepted by SPAWN.
pub const MAX_ELF: u32 = 16 << 20;
/// Most arguments of a guest.
pub const MAX_ARGS: u32 = 64;
/// Longest argument, process name or message.
pub const MAX_STR: u32 = 4096;
/// Longest node address.
pub const MAX_ADDR: u32 = 255;
/// Most processes listed by PS.
pub const MAX_PS: u32 = 1024;
/// Most messages in one FRAMES call.
pub const MAX_FRAMES: u32 = 256;
/// Most console bytes a WAIT reply carries.
pub const MAX_CONSOLE: u32 = 1 << 20;

/// Status of SPAWN and MIGRATE.
pub mod status {
    /// Done.
    pub const OK: u32 = 0;
    /// No such process here.
    pub const NO_PROCESS: u32 = 1;
    /// The ELF or its arguments were refused.
    pub const BAD_ELF: u32 = 2;
    /// The process cannot move now (ended, already moving, pages still remote).
    pub const BUSY: u32 = 3;
    /// A bad argument (destination address, strategy).
    pub const BAD_ARG: u32 = 4;
}

fn string<'a>(r: &mut Reader<'a>, max: u32) -> xdr::Result<String> {
    let b = r.var_opaque(max)?;
    // Names, messages and addresses are text for people and `SocketAddr` parsing: invalid
    // UTF-8 is replaced, not refused (an address that does not parse is refused later).
    Ok(String::from_utf8_lossy(b).into_owned())
}

fn put_str(w: &mut Writer<'_>, s: &str, max: u32) -> xdr::Result<()> {
    let b = s.as_bytes();
    w.put_var_opaque(&b[..b.len().min(max as usize)], max)
}

fn count(r: &mut Reader<'_>, max: u32) -> xdr::Result<usize> {
    let n = r.u32()?;
    if n > max {
        return Err(xdr::Error::LengthExceeded);
    }
    Ok(n as usize)
}

/// Encodes with `f` into a fresh vector of at most `cap` bytes.
pub fn encode(cap: usize, f: impl FnOnce(&mut Writer<'_>) -> xdr::Result<()>) -> xdr::Result<Vec<u8>> {
    let mut buf = vec![0u8; cap];
    let mut w = Writer::new(&mut buf);
    f(&mut w)?;
    let n = w.position();
    buf.truncate(n);
    Ok(buf)
}

/// Raw XDR bytes already encoded (arguments for [`crate::client::RpcClient::call`]).
pub struct Raw<'a>(pub &'a [u8]);

impl xdr::Encode for Raw<'_> {
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        w.put_bytes(self.0)
    }
}

/// SPAWN's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnArgs {
    /// A name for listings (the ELF's path).
    pub name: String,
    /// The ELF image.
    pub elf: Vec<u8>,
    /// Arguments (the first is conventionally the program name).
    pub args: Vec<String>,
}

impl SpawnArgs {
    /// XDR bytes.
    pub fn to_xdr(&self) -> xdr::Result<Vec<u8>> {
        let cap = 64 + self.name.len() + self.elf.len() + self.args.iter().map(|a| a.len() + 8).sum::<usize>();
        encode(cap, |w| {
            put_str(w, &self.name, 1024)?;
            w.put_var_opaque(&self.elf, MAX_ELF)?;
            w.put_u32(self.args.len() as u32)?;
            self.args.iter().try_for_each(|a| put_str(w, a, MAX_STR))
        })
    }

    /// Decodes (all of `b`).
    pub fn from_xdr(b: &[u8]) -> xdr::Result<Self> {
        let mut r = Reader::new(b);
        let name = string(&mut r, 1024)?;
        let elf = r.var_opaque(MAX_ELF)?.to_vec();
        let n = count(&mut r, MAX_ARGS)?;
        let args = (0..n).map(|_| string(&mut r, MAX_STR)).collect::<xdr::Result<_>>()?;
        r.finish()?;
        Ok(SpawnArgs { name, elf, args })
    }
}

/// The answer to SPAWN and MIGRATE: a status, an id (pid or migration id), a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdReply {
    /// [`status`].
    pub status: u32,
    /// The new process's or migration's id.
    pub id: u64,
    /// Why it failed.
    pub message: String,
}

impl IdReply {
    /// XDR bytes.
    pub fn to_xdr(&self) -> xdr::Result<Vec<u8>> {
        encode(32 + self.message.len(), |w| {
            w.put_u32(self.status)?;
            w.put_u64(self.id)?;
            put_str(w, &self.message, MAX_STR)
        })
    }

    /// Decodes (all of `b`).
    pub fn from_xdr(b: &[u8]) -> xdr::Result<Self> {
        let mut r = Reader::new(b);
        let v = IdReply { status: r.u32()?, id: r.u64()?, message: string(&mut r, MAX_STR)? };
        r.finish()?;
        Ok(v)
    }
}

/// Where a process is, for PS and WAIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    /// Runs here.
    Running = 0,
    /// Stopped here by a migration (it runs again here or at the destination).
    Stopped = 1,
    /// Exited.
    Exited = 2,
    /// Ended by a fault.
    Faulted = 3,
    /// Moved to another node.
    Moved = 4,
    /// Not known here.
    Unknown = 5,
}

impl ProcState {
    fn from_u32(v: u32) -> xdr::Result<Self> {
        Ok(match v {
            0 => ProcState::Running,
            1 => ProcState::Stopped,
            2 => ProcState::Exited,
            3 => ProcState::Faulted,
            4 => ProcState::Moved,
            5 => ProcState::Unknown,
            _ => return Err(xdr::Error::InvalidDiscriminant),
        })
    }

    /// A word for listings.
    pub fn name(self) -> &'static str {
        match self {
            ProcState::Running => "running",
            ProcState::Stopped => "stopped",
            ProcState::Exited => "exited",
            ProcState::Faulted => "faulted",
            ProcState::Moved => "moved",
            ProcState::Unknown => "unknown",
        }
    }
}

/// One line of PS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsEntry {
    /// Process id.
    pub pid: u64,
    /// Its name.
    pub name: String,
    /// Where it is.
    pub state: ProcState,
    /// Exit code (exited), else 0.
    pub code: i32,
    /// Instructions retired.
    pub instret: u64,
    /// Pages mapped.
    pub pages: u32,
    /// Pages still remote (post-copy).
    pub remote: u32,
    /// The node it moved to, or the fault.
    pub note: String,
}

/// PS's results, encoded.
pub fn ps_to_xdr(list: &[PsEntry]) -> xdr::Result<Vec<u8>> {
    let cap = 8 + list.iter().map(|e| 64 + e.name.len() + e.note.len()).sum::<usize>();
    encode(cap, |w| {
        w.put_u32(list.len().min(MAX_PS as usize) as u32)?;
        for e in list.iter().take(MAX_PS as usize) {
            w.put_u64(e.pid)?;
            put_str(w, &e.name, MAX_STR)?;
            w.put_u32(e.state as u32)?;
            w.put_u32(e.code as u32)?;
            w.put_u64(e.instret)?;
            w.put_u32(e.pages)?;
            w.put_u32(e.remote)?;
            put_str(w, &e.note, MAX_STR)?;
        }
        Ok(())
    })
}

/// Decodes PS's results (all of `b`).
pub fn ps_from_xdr(b: &[u8]) -> xdr::Result<Vec<PsEntry>> {
    let mut r = Reader::new(b);
    let n = count(&mut r, MAX_PS)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(PsEntry {
            pid: r.u64()?,
            name: string(&mut r, MAX_STR)?,
            state: ProcState::from_u32(r.u32()?)?,
            code: r.u32()? as i32,
            instret: r.u64()?,
            pages: r.u32()?,
            remote: r.u32()?,
            note: string(&mut r, MAX_STR)?,
        });
    }
    r.finish()?;
    Ok(v)
}

/// MIGRATE's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateArgs {
    /// The process.
    pub pid: u64,
    /// The destination node's address (`HOST:PORT`).
    pub to: String,
    /// 0 stop-and-copy, 1 pre-copy, 2 post-copy, 3 hybrid.
    pub strategy: u32,
}

impl MigrateArgs {
    /// XDR bytes.
    pub fn to_xdr(&self) -> xdr::Result<Vec<u8>> {
        encode(32 + self.to.len(), |w| {
            w.put_u64(self.pid)?;
            put_str(w, &self.to, MAX_ADDR)?;
            w.put_u32(self.strategy)
        })
    }

    /// Decodes (all of `b`).
    pub fn from_xdr(b: &[u8]) -> xdr::Result<Self> {
        let mut r = Reader::new(b);
        let v = MigrateArgs { pid: r.u64()?, to: string(&mut r, MAX_ADDR)?, strategy: r.u32()? };
        r.finish()?;
        Ok(v)
    }
}

/// How a migration is doing (MIGRATION's results): the source's state and figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Whether this node knows the migration.
    pub found: bool,
    /// Whether it is over.
    pub done: bool,
    /// Over, and the process runs at the destination (false: aborted or refused, it runs here).
    pub moved: bool,
    /// The source's state (`copying`, `stopped`, `committed`, `released`, `aborted: ...`).
    pub state: String,
    /// The strategy's name.
    pub strategy: String,
    /// Pages mapped when it started (progress: `pages_sent` of these).
    pub mapped: u32,
    /// Microseconds from the offer to the release or abort (so far).
    pub total_us: u64,
    /// Microseconds the process did not run.
    pub downtime_us: u64,
    /// Bytes sent, resends counted.
    pub bytes_sent: u64,
    /// Pages sent as data, resends counted.
    pub pages_sent: u64,
    /// Pages announced as zero.
    pub zero_pages: u64,
    /// Stream messages resent.
    pub resent: u64,
    /// Copy rounds.
    pub rounds: u32,
    /// Why copying while running stopped.
    pub stop_reason: String,
    /// Remote faults at the destination.
    pub remote_faults: u32,
    /// Microseconds threads waited on them.
    pub fault_wait_us: u64,
    /// Measured bandwidth, bytes per second.
    pub bandwidth: u64,
    /// Smoothed round-trip time, microseconds.
    pub rtt_us: u64,
}

impl MigrationReport {
    /// XDR bytes.
    pub fn to_xdr(&self) -> xdr::Result<Vec<u8>> {
        encode(256 + self.state.len() + self.strategy.len() + self.stop_reason.len(), |w| {
            w.put_u32(u32::from(self.found))?;
            w.put_u32(u32::from(self.done))?;
            w.put_u32(u32::from(self.moved))?;
            put_str(w, &self.state, MAX_STR)?;
            put_str(w, &self.strategy, MAX_STR)?;
            w.put_u32(self.mapped)?;
            for v in [self.total_us, self.downtime_us, self.bytes_sent, self.pages_sent, self.zero_pages, self.resent] {
                w.put_u64(v)?;
            }
            w.put_u32(self.rounds)?;
            put_str(w, &self.stop_reason, MAX_STR)?;
            w.put_u32(self.remote_faults)?;
            for v in [self.fault_wait_us, self.bandwidth, self.rtt_us] {
                w.put_u64(v)?;
            }
            Ok(())
        })
    }

    /// Decodes (all of `b`).
    pub fn from_xdr(b: &[u8]) -> xdr::Result<Self> {
        let mut r = Reader::new(b);
        let flag = |r: &mut Reader<'_>| r.u32().map(|v| v != 0);
        let mut m = MigrationReport {
            found: flag(&mut r)?,
            done: flag(&mut r)?,
            moved: flag(&mut r)?,
            state: string(&mut r, MAX_STR)?,
            strategy: string(&mut r, MAX_STR)?,
            mapped: r.u32()?,
            ..MigrationReport::default()
        };
        m.total_us = r.u64()?;
        m.downtime_us = r.u64()?;
        m.bytes_sent = r.u64()?;
        m.pages_sent = r.u64()?;
        m.zero_pages = r.u64()?;
        m.resent = r.u64()?;
        m.rounds = r.u32()?;
        m.stop_reason = string(&mut r, MAX_STR)?;
        m.remote_faults = r.u32()?;
        m.fault_wait_us = r.u64()?;
        m.bandwidth = r.u64()?;
        m.rtt_us = r.u64()?;
        r.finish()?;
        Ok(m)
    }
}

/// WAIT's results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitReply {
    /// Where the process is.
    pub state: ProcState,
    /// Exit code (exited).
    pub code: i32,
    /// The fault report (faulted) or the node it moved to (moved).
    pub note: String,
    /// Its console output so far (complete once it ended).
    pub console: Vec<u8>,
    /// Instructions it retired (so far).
    pub instret: u64,
    /// The checksum of its memory when it ended (0 before).
    pub checksum: u64,
}

impl WaitReply {
    /// XDR bytes.
    pub fn to_xdr(&self) -> xdr::Result<Vec<u8>> {
        let console = &self.console[self.console.len().saturating_sub(MAX_CONSOLE as usize)..];
        encode(48 + self.note.len() + console.len(), |w| {
            w.put_u32(self.state as u32)?;
            w.put_u32(self.code as u32)?;
            put_str(w, &self.note, MAX_STR)?;
            w.put_var_opaque(console, MAX_CONSOLE)?;
            w.put_u64(self.instret)?;
            w.put_u64(self.checksum)
        })
    }

    /// Decodes (all of `b`).
    pub fn from_xdr(b: &[u8]) -> xdr::Result<Self> {
        let mut r = Reader::new(b);
        let v = WaitReply {
            state: ProcState::from_u32(r.u32()?)?,
            code: r.u32()? as i32,
            note: string(&mut r, MAX_STR)?,
            console: r.var_opaque(MAX_CONSOLE)?.to_vec(),
            instret: r.u64()?,
            checksum: r.u64()?,
        };
        r.finish()?;
        Ok(v)
    }
}

/// FRAMES's arguments, encoded.
pub fn frames_to_xdr(reply_to: &str, frames: &[Vec<u8>]) -> xdr::Result<Vec<u8>> {
    let cap = 8 + reply_to.len() + frames.iter().map(|f| f.len() + 8).sum::<usize>();
    encode(cap, |w| {
        put_str(w, reply_to, MAX_ADDR)?;
        w.put_u32(frames.len() as u32)?;
        frames.iter().try_for_each(|f| w.put_var_opaque(f, MAX_MSG_LEN as u32))
    })
}

/// Decodes FRAMES's arguments (all of `b`): the reply address and the messages, borrowed.
pub fn frames_from_xdr(b: &[u8]) -> xdr::Result<(String, Vec<&[u8]>)> {
    let mut r = Reader::new(b);
    let from = string(&mut r, MAX_ADDR)?;
    let n = count(&mut r, MAX_FRAMES)?;
    let frames = (0..n).map(|_| r.var_opaque(MAX_MSG_LEN as u32)).collect::<xdr::Result<Vec<_>>>()?;
    r.finish()?;
    Ok((from, frames))
}

/// The pid argument of WAIT, or the migration id of MIGRATION, encoded.
pub fn id_to_xdr(id: u64) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

/// Decodes a lone 64-bit id (all of `b`).
pub fn id_from_xdr(b: &[u8]) -> xdr::Result<u64> {
    let mut r = Reader::new(b);
    let v = r.u64()?;
    r.finish()?;
    Ok(v)
}

/// CHAN's arguments: operation `seq` of process `pid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChanArgs {
    /// The calling process.
    pub pid: u64,
    /// Channel operations it completed before this one.
    pub seq: u64,
    /// The operation.
    pub op: ChanOp,
}

fn put_end(w: &mut Writer<'_>, e: ChanEnd) -> xdr::Result<()> {
    w.put_u64(e.channel)?;
    w.put_u32(u32::from(e.end))
}

fn end(r: &mut Reader<'_>) -> xdr::Result<ChanEnd> {
    let channel = r.u64()?;
    match r.u32()? {
        e @ (0 | 1) => Ok(ChanEnd { channel, end: e as u8 }),
        _ => Err(xdr::Error::InvalidDiscriminant),
    }
}

impl ChanArgs {
    /// XDR bytes.
    pub fn to_xdr(&self) -> xdr::Result<Vec<u8>> {
        encode(64 + MAX_MSG as usize, |w| {
            w.put_u64(self.pid)?;
            w.put_u64(self.seq)?;
            match &self.op {
                ChanOp::Open { name, end } => {
                    w.put_u32(0)?;
                    w.put_var_opaque(name, MAX_STR)?;
                    w.put_u32(u32::from(*end & 1))
                }
                ChanOp::Close(e) => {
                    w.put_u32(1)?;
                    put_end(w, *e)
                }
                ChanOp::Send(e, m) => {
                    w.put_u32(2)?;
                    put_end(w, *e)?;
                    w.put_var_opaque(m, MAX_MSG)
                }
                ChanOp::Recv(e, max) => {
                    w.put_u32(3)?;
                    put_end(w, *e)?;
                    w.put_u32(*max)
                }
            }
        })
    }

    /// Decodes (all of `b`).
    pub fn from_xdr(b: &[u8]) -> xdr::Result<Self> {
        let mut r = Reader::new(b);
        let (pid, seq) = (r.u64()?, r.u64()?);
        let op = match r.u32()? {
            0 => {
                let name = r.var_opaque(MAX_STR)?.to_vec();
                match r.u32()? {
                    e @ (0 | 1) => ChanOp::Open { name, end: e as u8 },
                    _ => return Err(xdr::Error::InvalidDiscriminant),
                }
            }
            1 => ChanOp::Close(end(&mut r)?),
            2 => ChanOp::Send(end(&mut r)?, r.var_opaque(MAX_MSG)?.to_vec()),
            3 => {
                let e = end(&mut r)?;
                let max = r.u32()?;
                if max > MAX_MSG {
                    return Err(xdr::Error::LengthExceeded);
                }
                ChanOp::Recv(e, max)
            }
            _ => return Err(xdr::Error::InvalidDiscriminant),
        };
        r.finish()?;
        Ok(ChanArgs { pid, seq, op })
    }
}

/// CHAN's result, XDR bytes.
pub fn chan_result_to_xdr(res: &ChanResult) -> xdr::Result<Vec<u8>> {
    encode(16 + MAX_MSG as usize, |w| match res {
        ChanResult::Value(n) => {
            w.put_u32(0)?;
            w.put_u64(*n)
        }
        ChanResult::Opened(e) => {
            w.put_u32(1)?;
            put_end(w, *e)
        }
        ChanResult::Data(m) => {
            w.put_u32(2)?;
            w.put_var_opaque(m, MAX_MSG)
        }
        ChanResult::Park => w.put_u32(3),
        ChanResult::Error(e) => {
            w.put_u32(4)?;
            w.put_u32(*e as u32)
        }
    })
}

/// Decodes CHAN's result (all of `b`); an errno outside 1..=4095 is refused.
pub fn chan_result_from_xdr(b: &[u8]) -> xdr::Result<ChanResult> {
    let mut r = Reader::new(b);
    let v = match r.u32()? {
        0 => ChanResult::Value(r.u64()?),
        1 => ChanResult::Opened(end(&mut r)?),
        2 => ChanResult::Data(r.var_opaque(MAX_MSG)?.to_vec()),
        3 => ChanResult::Park,
        4 => match r.u32()? {
            e @ 1..=4095 => ChanResult::Error(e as i32),
            _ => return Err(xdr::Error::InvalidDiscriminant),
        },
        _ => return Err(xdr::Error::InvalidDiscriminant),
    };
    r.finish()?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_bounds() {
        let s = SpawnArgs { name: "g".into(), elf: vec![1, 2, 3], args: vec!["a".into(), "bc".into()] };
        assert_eq!(SpawnArgs::from_xdr(&s.to_xdr().unwrap()).unwrap(), s);
        let m = MigrationReport { found: true, state: "copying".into(), rounds: 3, rtt_us: 9, ..Default::default() };
        assert_eq!(MigrationReport::from_xdr(&m.to_xdr().unwrap()).unwrap(), m);
        let w = WaitReply {
            state: ProcState::Exited,
            code: -3,
            note: String::new(),
            console: b"hi\n".to_vec(),
            instret: 7,
            checksum: 1 << 60,
        };
        assert_eq!(WaitReply::from_xdr(&w.to_xdr().unwrap()).unwrap(), w);
        let ps = vec![PsEntry {
            pid: 5,
            name: "n".into(),
            state: ProcState::Moved,
            code: 0,
            instret: 1,
            pages: 2,
            remote: 0,
            note: "127.0.0.1:1".into(),
        }];
        assert_eq!(ps_from_xdr(&ps_to_xdr(&ps).unwrap()).unwrap(), ps);
        let f = frames_to_xdr("a:1", &[vec![1], vec![2, 3]]).unwrap();
        let (from, frames) = frames_from_xdr(&f).unwrap();
        assert_eq!((from.as_str(), frames), ("a:1", vec![&[1u8][..], &[2, 3][..]]));
        // Counts beyond their bounds, truncations and trailing bytes are refused.
        let mut bad = f.clone();
        bad[8..12].copy_from_slice(&(MAX_FRAMES + 1).to_be_bytes());
        assert!(frames_from_xdr(&bad).is_err());
        assert!(frames_from_xdr(&f[..f.len() - 1]).is_err());
        let mut long = f.clone();
        long.extend_from_slice(&[0; 4]);
        assert!(frames_from_xdr(&long).is_err());
        let mut st = w.to_xdr().unwrap();
        st[3] = 9;
        assert!(WaitReply::from_xdr(&st).is_err());
    }

    #[test]
    fn chan_calls_round_trip_and_are_bounded() {
        let e = ChanEnd { channel: 1 << 40, end: 1 };
        for op in [
            ChanOp::Open { name: b"pipe".to_vec(), end: 1 },
            ChanOp::Close(e),
            ChanOp::Send(e, vec![7; MAX_MSG as usize]),
            ChanOp::Recv(e, 64),
        ] {
            let a = ChanArgs { pid: 9, seq: 3, op };
            assert_eq!(ChanArgs::from_xdr(&a.to_xdr().unwrap()).unwrap(), a);
        }
        for r in [
            ChanResult::Value(5),
            ChanResult::Opened(e),
            ChanResult::Data(b"pong 1".to_vec()),
            ChanResult::Park,
            ChanResult::Error(32),
        ] {
            assert_eq!(chan_result_from_xdr(&chan_result_to_xdr(&r).unwrap()).unwrap(), r);
        }
        // An end other than 0 or 1, a receive above the message limit, a message above it,
        // an errno out of range, truncation: refused.
        let mut bad = ChanArgs { pid: 1, seq: 0, op: ChanOp::Recv(e, 8) }.to_xdr().unwrap();
        bad[31] = 2;
        assert!(ChanArgs::from_xdr(&bad).is_err());
        let mut big = ChanArgs { pid: 1, seq: 0, op: ChanOp::Recv(e, 8) }.to_xdr().unwrap();
        let n = big.len();
        big[n - 4..].copy_from_slice(&(MAX_MSG + 1).to_be_bytes());
        assert!(ChanArgs::from_xdr(&big).is_err());
        let mut long = ChanArgs { pid: 1, seq: 0, op: ChanOp::Send(e, vec![1]) }.to_xdr().unwrap();
        long[32..36].copy_from_slice(&(MAX_MSG + 1).to_be_bytes());
        assert!(ChanArgs::from_xdr(&long).is_err());
        assert!(chan_result_from_xdr(&[0, 0, 0, 4, 0, 0, 0, 0]).is_err());
        let ok = chan_result_to_xdr(&ChanResult::Value(1)).unwrap();
        assert!(chan_result_from_xdr(&ok[..ok.len() - 1]).is_err());
    }
}
