//! The sans-IO server dispatcher (RFC 5531 §9–10).
//!
//! A driver hands [`Dispatcher::handle`] one whole request (a datagram, or one record of a
//! stream) and a buffer for the reply; the dispatcher answers every call it can attribute to a
//! transaction id, and it alone turns decode failures into protocol replies:
//!
//! | request | reply |
//! |---|---|
//! | shorter than a transaction id, or not a CALL | none ([`Dispatch::NoReply`]) |
//! | RPC version other than 2 | `MSG_DENIED` / `RPC_MISMATCH(2, 2)` |
//! | header cut before the credential | `GARBAGE_ARGS` |
//! | credential or verifier too long, cut, or not understood | `AUTH_ERROR` / `AUTH_BADCRED` or `AUTH_BADVERF` |
//! | unknown program | `PROG_UNAVAIL` |
//! | version outside the program's range | `PROG_MISMATCH(low, high)` |
//! | NULL (procedure 0) with arguments | `GARBAGE_ARGS` |
//! | the program refuses | `PROC_UNAVAIL`, `GARBAGE_ARGS`, `SYSTEM_ERR` or `AUTH_ERROR` |
//! | results do not fit the reply buffer | `SYSTEM_ERR` |
//!
//! Procedure 0 (NULL) is answered here for every program. Nothing here panics on input.

use core::net::SocketAddr;

use super::auth::{AuthFlavor, AuthStat, Credential, OpaqueAuth};
use super::msg::{AcceptStat, MsgType, RPC_VERSION, RejectStat, ReplyHeader};
use crate::xdr::{Encode, Reader, Writer};

/// The transport a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Transport {
    /// A stream with record marking.
    Tcp,
    /// Datagrams.
    Udp,
}

/// Who sent a request, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The sender's address.
    pub addr: SocketAddr,
    /// The transport.
    pub transport: Transport,
}

/// A call as the program sees it: the decoded header and the interpreted credential.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    /// Transaction id.
    pub xid: u32,
    /// Program number.
    pub prog: u32,
    /// Program version (inside the program's range).
    pub vers: u32,
    /// Procedure number (never 0: NULL is answered by the dispatcher).
    pub proc_: u32,
    /// The caller's credential.
    pub cred: Credential<'a>,
    /// The caller.
    pub peer: Peer,
    /// When the request arrived (as given to [`Dispatcher::handle_at`]).
    pub now: crate::time::Instant,
}

/// Why a program did not produce results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ProcError {
    /// The procedure does not exist in this version.
    ProcUnavail,
    /// The arguments do not decode.
    GarbageArgs,
    /// The program failed.
    SystemErr,
    /// The credential is not good enough for this call.
    Auth(AuthStat),
}

impl From<crate::xdr::Error> for ProcError {
    /// Argument decode errors become `GARBAGE_ARGS`; a full result buffer becomes `SYSTEM_ERR`.
    fn from(e: crate::xdr::Error) -> Self {
        match e {
            crate::xdr::Error::BufferFull => ProcError::SystemErr,
            _ => ProcError::GarbageArgs,
        }
    }
}

/// An RPC program served by a [`Dispatcher`].
pub trait Program {
    /// The program number.
    fn program(&self) -> u32;
    /// Lowest and highest version served.
    fn versions(&self) -> (u32, u32);
    /// Runs procedure `ctx.proc_` (never 0) on `args` (the bytes after the call header) and
    /// writes its results into `results`. Must not panic on any `args`.
    fn call(&mut self, ctx: &CallContext<'_>, args: &[u8], results: &mut Writer<'_>) -> Result<(), ProcError>;
}

/// The programs a dispatcher serves.
pub trait ProgramTable {
    /// The program with number `prog`, if served.
    fn lookup(&mut self, prog: u32) -> Option<&mut dyn Program>;
}

impl<P: Program> ProgramTable for P {
    fn lookup(&mut self, prog: u32) -> Option<&mut dyn Program> {
        (self.program() == prog).then_some(self as &mut dyn Program)
    }
}

impl ProgramTable for [&mut dyn Program] {
    fn lookup(&mut self, prog: u32) -> Option<&mut dyn Program> {
        self.iter_mut().find(|p| p.program() == prog).map(|p| &mut **p as &mut dyn Program)
    }
}

macro_rules! tuple_table {
    ($($t:ident $i:tt),+) => {
        impl<$($t: Program),+> ProgramTable for ($($t,)+) {
            fn lookup(&mut self, prog: u32) -> Option<&mut dyn Program> {
                $(if self.$i.program() == prog { return Some(&mut self.$i); })+
                None
            }
        }
    };
}
tuple_table!(A 0, B 1);
tuple_table!(A 0, B 1, C 2);
tuple_table!(A 0, B 1, C 2, D 3);

/// What to send back for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// Send the first `n` bytes of the reply buffer.
    Reply(usize),
    /// Send nothing (not a call, or too short to answer, or the reply buffer cannot hold even
    /// a reply header).
    NoReply,
}

/// Counters kept by a dispatcher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Calls answered with SUCCESS.
    pub success: u64,
    /// Calls answered with any other status.
    pub errors: u64,
    /// Requests dropped without a reply.
    pub dropped: u64,
}

/// Routes calls to programs and builds replies (see the module docs for every case).
#[derive(Debug)]
pub struct Dispatcher<T> {
    table: T,
    stats: Stats,
    now: crate::time::Instant,
}

/// The first part of a call that could be read.
enum Header<'a> {
    Ok { prog: u32, vers: u32, proc_: u32, cred: Credential<'a>, args: &'a [u8] },
    Reply(AcceptStat),
    Denied(RejectStat),
}

fn parse_header<'a>(r: &mut Reader<'a>) -> Header<'a> {
    let Ok(rpcvers) = r.u32() else {
        return Header::Reply(AcceptStat::GarbageArgs);
    };
    if rpcvers != RPC_VERSION {
        return Header::Denied(RejectStat::RpcMismatch { low: RPC_VERSION, high: RPC_VERSION });
    }
    let (Ok(prog), Ok(vers), Ok(proc_)) = (r.u32(), r.u32(), r.u32()) else {
        return Header::Reply(AcceptStat::GarbageArgs);
    };
    let Ok(cred) = r.read::<OpaqueAuth<'a>>() else {
        return Header::Denied(RejectStat::AuthError(AuthStat::BadCred));
    };
    match r.read::<OpaqueAuth<'a>>() {
        Ok(verf) if verf.flavor == AuthFlavor::None => {}
        _ => return Header::Denied(RejectStat::AuthError(AuthStat::BadVerf)),
    }
    match Credential::from_opaque(&cred) {
        Ok(cred) => Header::Ok { prog, vers, proc_, cred, args: r.rest() },
        Err(stat) => Header::Denied(RejectStat::AuthError(stat)),
    }
}

impl<T: ProgramTable> Dispatcher<T> {
    /// A dispatcher serving the programs of `table`.
    pub fn new(table: T) -> Self {
        Dispatcher { table, stats: Stats::default(), now: crate::time::Instant::ZERO }
    }

    /// The programs.
    pub fn programs(&mut self) -> &mut T {
        &mut self.table
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Moves the dispatcher's clock forward to `now` (it never goes back).
    pub fn advance_time(&mut self, now: crate::time::Instant) {
        self.now = self.now.max(now);
    }

    /// Answers one request that arrived at `now` (programs with timers, such as a duplicate
    /// request cache, see it in [`CallContext::now`]).
    pub fn handle_at(&mut self, now: crate::time::Instant, peer: Peer, request: &[u8], reply: &mut [u8]) -> Dispatch {
        self.advance_time(now);
        self.handle(peer, request, reply)
    }

    /// Answers one request from `peer`, writing the reply into `reply`; the time is the last
    /// one given to [`Dispatcher::handle_at`].
    pub fn handle(&mut self, peer: Peer, request: &[u8], reply: &mut [u8]) -> Dispatch {
        let mut r = Reader::new(request);
        let (Ok(xid), Ok(MsgType::Call)) = (r.u32(), r.read::<MsgType>()) else {
            self.stats.dropped += 1;
            return Dispatch::NoReply;
        };
        let out = match parse_header(&mut r) {
            Header::Ok { prog, vers, proc_, cred, args } => {
                let ctx = CallContext { xid, prog, vers, proc_, cred, peer, now: self.now };
                self.call(&ctx, args, reply)
            }
            Header::Reply(stat) => write_header(reply, ReplyHeader::accepted(xid, stat)),
            Header::Denied(why) => write_header(reply, ReplyHeader::denied(xid, why)),
        };
        match out {
            Some((n, ok)) => {
                if ok {
                    self.stats.success += 1;
                } else {
                    self.stats.errors += 1;
                }
                Dispatch::Reply(n)
            }
            None => {
                self.stats.dropped += 1;
                Dispatch::NoReply
            }
        }
    }

    fn call(&mut self, ctx: &CallContext<'_>, args: &[u8], reply: &mut [u8]) -> Option<(usize, bool)> {
        let xid = ctx.xid;
        let Some(program) = self.table.lookup(ctx.prog) else {
            return write_header(reply, ReplyHeader::accepted(xid, AcceptStat::ProgUnavail));
        };
        let (low, high) = program.versions();
        if ctx.vers < low || ctx.vers > high {
            return write_header(reply, ReplyHeader::accepted(xid, AcceptStat::ProgMismatch { low, high }));
        }
        if ctx.proc_ == 0 {
            let stat = if args.is_empty() { AcceptStat::Success } else { AcceptStat::GarbageArgs };
            return write_header(reply, ReplyHeader::accepted(xid, stat));
        }
        let head = ReplyHeader::accepted(xid, AcceptStat::Success);
        let hlen = head.encoded_len();
        if reply.len() < hlen {
            return None;
        }
        let mut w = Writer::new(&mut reply[hlen..]);
        let stat = match program.call(ctx, args, &mut w) {
            Ok(()) => {
                let n = w.position();
                write_header(reply, head)?;
                return Some((hlen + n, true));
            }
            Err(ProcError::ProcUnavail) => AcceptStat::ProcUnavail,
            Err(ProcError::GarbageArgs) => AcceptStat::GarbageArgs,
            Err(ProcError::SystemErr) => AcceptStat::SystemErr,
            Err(ProcError::Auth(why)) => {
                return write_header(reply, ReplyHeader::denied(xid, RejectStat::AuthError(why)));
            }
        };
        write_header(reply, ReplyHeader::accepted(xid, stat))
    }
}

/// Writes a reply header alone; returns its length and whether it reports success.
fn write_header(reply: &mut [u8], h: ReplyHeader<'_>) -> Option<(usize, bool)> {
    let ok = matches!(h.body, super::msg::ReplyBody::Accepted { stat: AcceptStat::Success, .. });
    crate::xdr::encode_to(&h, reply).ok().map(|n| (n, ok))
}

#[cfg(test)]
mod tests;
