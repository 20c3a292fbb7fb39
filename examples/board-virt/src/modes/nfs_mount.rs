//! `nfs-mount HOST_IP MOUNT_PORT NFS_PORT EXPORT FILE BYTES`: the board as an NFSv3 client of
//! a host export (`tern serve` on the host, at 10.0.2.2 from the guest), with the no_std
//! client of `tern_core::nfs3::client`:
//! 1. MNT `EXPORT` over TCP (AUTH_SYS uid 0) for the root handle;
//! 2. over one TCP connection to the NFS port: FSINFO (for the wsize and rsize), CREATE
//!    `FILE` (UNCHECKED, mode 0644), a [`WriteTransfer`] of BYTES pattern bytes
//!    ([`pattern`]) with [`WINDOW`] UNSTABLE WRITEs in flight and a COMMIT, then a
//!    [`ReadTransfer`] of the file that checks every byte read against the pattern;
//! 3. UMNT.
//!
//! Prints the steps; exits 0 only when every byte read back is the one written. The host test checks the same bytes in the file on its disk.

use core::net::Ipv4Addr;
use core::ops::ControlFlow;

use semihosting::println;
use smoltcp::iface::SocketSet;
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpEndpoint;
use tern_core::mount::{MountRes3, client as mnt};
use tern_core::nfs3::client::{self as nfsc, Error as NfsError, Fh, IoSizes, Next, ReadTransfer, WriteTransfer};
use tern_core::nfs3::{CreateArgs, CreateHow3, DirOpArgs3, Filename, FsinfoArgs, Limits, NfsRes, Sattr3, StableHow};
use tern_core::rpc::auth::{AuthSys, Credential, Gids};
use tern_core::rpc::client::{Client, ClientConfig, Reply};
use tern_core::xdr::XdrStr;
use tern_smoltcp::{ClientEvent, TcpRpcClient};

use super::{EXIT_FAILURE, EXIT_OK, Net, close_tcp, ephemeral_port};
use tern_board_virt::board::{self, StaticCell};

/// WRITEs or READs in flight.
pub(crate) const WINDOW: usize = 4;
/// Largest READ or WRITE asked for.
const MAX_IO: u32 = 8 * 1024;
/// A call buffer: a WRITE of [`MAX_IO`] with its headers and record mark.
const CALL_BUF: usize = MAX_IO as usize + 512;
/// A reply record: a READ of [`MAX_IO`] with attributes and headers.
const RECORD_BUF: usize = MAX_IO as usize + 512;
/// Bytes of the TCP socket's receive and send buffers.
const SOCK_BUF: usize = 16 * 1024;
/// Longest wait for any one step.
const STEP_DEADLINE: Duration = Duration::from_secs(20);
/// The TCP client's time-out for a call.
const CALL_TIMEOUT: tern_core::time::Duration = tern_core::time::Duration::from_secs(10);

/// The byte at `offset` of the test file (the host test computes the same).
pub(crate) fn pattern(offset: u64) -> u8 {
    let x = offset.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((x >> 56) as u8) ^ (offset as u8)
}

/// What to do.
pub(crate) struct Job<'a> {
    /// The host's address.
    pub(crate) host: Ipv4Addr,
    /// Its MOUNT port.
    pub(crate) mount_port: u16,
    /// Its NFS port.
    pub(crate) nfs_port: u16,
    /// The export's path.
    pub(crate) export: &'a str,
    /// The file to write in the export's root.
    pub(crate) file: &'a str,
    /// How many bytes.
    pub(crate) bytes: u64,
}

/// This mode's buffers (zeroed: `.bss`).
struct MountBuffers {
    rx: [u8; SOCK_BUF],
    tx: [u8; SOCK_BUF],
    calls: [[u8; CALL_BUF]; WINDOW],
    record: [u8; RECORD_BUF],
    data: [u8; MAX_IO as usize],
}

static MOUNT_BUFFERS: StaticCell<MountBuffers> = StaticCell::new(MountBuffers {
    rx: [0; SOCK_BUF],
    tx: [0; SOCK_BUF],
    calls: [[0; CALL_BUF]; WINDOW],
    record: [0; RECORD_BUF],
    data: [0; MAX_IO as usize],
});

/// Why a step failed.
#[derive(Debug)]
enum Failed {
    Nfs(NfsError),
    Connect(tcp::ConnectError),
    Start(tern_smoltcp::StartError),
    Deadline,
    Closed,
    Mismatch(u64),
    Short(u64),
}

impl core::fmt::Display for Failed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Failed::Nfs(e) => write!(f, "{e}"),
            Failed::Connect(e) => write!(f, "cannot connect: {e}"),
            Failed::Start(e) => write!(f, "cannot start a call: {e}"),
            Failed::Deadline => f.write_str("no answer in time"),
            Failed::Closed => f.write_str("connection refused or reset"),
            Failed::Mismatch(at) => write!(f, "byte {at} read back differs from the one written"),
            Failed::Short(n) => write!(f, "read back only {n} bytes"),
        }
    }
}

impl From<NfsError> for Failed {
    fn from(e: NfsError) -> Self {
        Failed::Nfs(e)
    }
}

impl From<tern_smoltcp::StartError> for Failed {
    fn from(e: tern_smoltcp::StartError) -> Self {
        Failed::Start(e)
    }
}

type Rpc = TcpRpcClient<'static, WINDOW>;

/// Runs the job; exit code 0 when the file read back equals what was written.
pub(crate) fn run(stack: &mut Net, job: &Job<'_>) -> i32 {
    let Some(b) = MOUNT_BUFFERS.take() else {
        crate::fail(EXIT_FAILURE, format_args!("nfs-mount: buffers taken twice"))
    };
    let MountBuffers { rx, tx, calls, record, data } = b;
    let handle = tern_smoltcp::add_tcp_socket(
        &mut stack.sockets,
        tcp::SocketBuffer::new(&mut rx[..]),
        tcp::SocketBuffer::new(&mut tx[..]),
    );
    let cfg = ClientConfig { timeout: CALL_TIMEOUT, ..ClientConfig::stream() };
    let [c0, c1, c2, c3] = calls;
    let mut rpc: Rpc = TcpRpcClient::new(
        Client::new(cfg, board::time::ticks() as u32),
        handle,
        [&mut c0[..], &mut c1[..], &mut c2[..], &mut c3[..]],
        &mut record[..],
    );
    let Ok(machine_name) = XdrStr::new("tern-board") else {
        crate::fail(EXIT_FAILURE, format_args!("nfs-mount: machine name"))
    };
    let cred = Credential::Sys(AuthSys { stamp: 0, machine_name, uid: 0, gid: 0, gids: Gids::Slice(&[]) });
    println!("nfs-mount: {}:{} export {} file {} ({} bytes)", job.host, job.nfs_port, job.export, job.file, job.bytes);
    let outcome = session(stack, &mut rpc, handle, job, &cred, data);
    close_tcp(stack, handle);
    match outcome {
        Ok(()) => {
            println!("nfs-mount: ok, {} bytes written and read back", job.bytes);
            EXIT_OK
        }
        Err(e) => {
            println!("nfs-mount: FAILED: {e}");
            EXIT_FAILURE
        }
    }
}

/// MNT, the transfers and UMNT.
fn session(
    stack: &mut Net,
    rpc: &mut Rpc,
    handle: smoltcp::iface::SocketHandle,
    job: &Job<'_>,
    cred: &Credential<'_>,
    data: &mut [u8; MAX_IO as usize],
) -> Result<(), Failed> {
    let limits = Limits::default();
    // 1. MOUNT.
    connect(stack, rpc, (job.host, job.mount_port), 0)?;
    let now = (stack.clock)();
    rpc.start(now, &mut stack.sockets, |c, t, buf| mnt::mnt(c, t, cred, job.export, buf))?;
    let root = one_reply(stack, rpc, handle, |r| match mnt::decode_mnt(r?).map_err(NfsError::Decode)? {
        MountRes3::Ok { fhandle, .. } => Fh::new(fhandle.as_bytes()).ok_or(NfsError::Protocol),
        MountRes3::Fail(s) => Err(NfsError::Mount(s)),
    })??;
    println!("nfs-mount: mounted {}", job.export);
    reconnect(stack, rpc, handle, (job.host, job.nfs_port), 1)?;

    // 2. FSINFO and CREATE.
    let now = (stack.clock)();
    rpc.start(now, &mut stack.sockets, |c, t, buf| nfsc::fsinfo(c, t, cred, &FsinfoArgs { fsroot: root.wire() }, buf))?;
    let sizes = one_reply(stack, rpc, handle, |r| match nfsc::decode_fsinfo(r?, &limits)? {
        NfsRes::Ok(info) => Ok(IoSizes::from_fsinfo(&info, MAX_IO, &limits)),
        NfsRes::Fail(s, _) => Err(NfsError::Status(s)),
    })??;
    println!("nfs-mount: rsize {} wsize {}", sizes.rsize, sizes.wsize);
    let name = Filename::from_str(job.file);
    let how = CreateHow3::Unchecked(Sattr3 { mode: Some(0o644), ..Sattr3::default() });
    let now = (stack.clock)();
    rpc.start(now, &mut stack.sockets, |c, t, buf| {
        let args = CreateArgs { where_: DirOpArgs3 { dir: root.wire(), name }, how };
        nfsc::create(c, t, cred, &args, buf)
    })?;
    let file = one_reply(stack, rpc, handle, |r| match nfsc::decode_create(r?, &limits)? {
        NfsRes::Ok(ok) => ok.obj.and_then(|h| Fh::new(h.as_bytes())).ok_or(NfsError::Protocol),
        NfsRes::Fail(s, _) => Err(NfsError::Status(s)),
    })??;

    // 3. WRITE (UNSTABLE, windowed) and COMMIT.
    let mut w = WriteTransfer::<WINDOW>::new(file, 0, job.bytes, sizes.wsize, WINDOW, StableHow::Unstable);
    let deadline = (stack.clock)() + STEP_DEADLINE * 6;
    while !w.is_done() {
        let now = (stack.clock)();
        if now >= deadline {
            return Err(Failed::Deadline);
        }
        while let Some(next) = w.poll_transmit() {
            let mut err = None;
            let started = match next {
                Next::Write(chunk) => {
                    let bytes = &mut data[..chunk.len as usize];
                    for (i, b) in bytes.iter_mut().enumerate() {
                        *b = pattern(chunk.offset + i as u64);
                    }
                    rpc.start(now, &mut stack.sockets, |c, t, buf| {
                        w.send_write(c, t, cred, chunk, bytes, buf).map_err(|e| keep(&mut err, e))
                    })
                }
                Next::Commit => rpc.start(now, &mut stack.sockets, |c, t, buf| {
                    w.send_commit(c, t, cred, buf).map_err(|e| keep(&mut err, e))
                }),
            };
            if let Some(e) = err {
                return Err(e.into());
            }
            started?;
        }
        step(stack, rpc, handle, |xid, result| match result {
            Some(result) => w.handle_reply(xid, result, &limits),
            None => w.handle_timeout(xid),
        })?;
    }
    println!(
        "nfs-mount: wrote {} bytes ({} sent again, verifier changes {})",
        w.acked(),
        w.resent(),
        w.verifier_changes()
    );

    // 4. READ back and check.
    let mut r = ReadTransfer::<WINDOW>::new(file, 0, u64::MAX, sizes.rsize, WINDOW);
    let (mut got, mut bad) = (0u64, None);
    let deadline = (stack.clock)() + STEP_DEADLINE * 6;
    while !r.is_done() {
        let now = (stack.clock)();
        if now >= deadline {
            return Err(Failed::Deadline);
        }
        loop {
            let mut err = None;
            let mut sent = false;
            let started = rpc.start(now, &mut stack.sockets, |c, t, buf| match r.poll_transmit(c, t, cred, buf) {
                Ok(Some(x)) => {
                    sent = true;
                    Ok(x)
                }
                Ok(None) => Err(tern_core::rpc::client::ClientError::TooManyCalls),
                Err(e) => Err(keep(&mut err, e)),
            });
            if let Some(e) = err {
                return Err(e.into());
            }
            if !sent {
                break;
            }
            started?;
        }
        step(stack, rpc, handle, |xid, result| {
            let Some(result) = result else { return r.handle_timeout(xid) };
            let (offset, bytes) = r.handle_reply(xid, result, &limits)?;
            for (i, &b) in bytes.iter().enumerate() {
                let at = offset + i as u64;
                if b != pattern(at) && bad.is_none() {
                    bad = Some(at);
                }
            }
            got += bytes.len() as u64;
            Ok(())
        })?;
    }
    if let Some(at) = bad {
        return Err(Failed::Mismatch(at));
    }
    if got != job.bytes {
        return Err(Failed::Short(got));
    }

    // 5. UMNT (on the MOUNT port again).
    reconnect(stack, rpc, handle, (job.host, job.mount_port), 2)?;
    let now = (stack.clock)();
    rpc.start(now, &mut stack.sockets, |c, t, buf| mnt::umnt(c, t, cred, job.export, buf))?;
    one_reply(stack, rpc, handle, |r| r.map(|_| ()).map_err(NfsError::Refused))??;
    println!("nfs-mount: unmounted {}", job.export);
    Ok(())
}

/// Remembers the first transfer error of an encode closure (whose error type is the RPC
/// client's) and returns a stand-in.
fn keep(slot: &mut Option<NfsError>, e: NfsError) -> tern_core::rpc::client::ClientError {
    let stand_in = match e {
        NfsError::Rpc(c) => c,
        _ => tern_core::rpc::client::ClientError::TooManyCalls,
    };
    slot.get_or_insert(e);
    stand_in
}

/// Connects the client's socket to `server` and waits until it is established.
fn connect(stack: &mut Net, rpc: &mut Rpc, server: (Ipv4Addr, u16), salt: u16) -> Result<(), Failed> {
    rpc.connect(stack.iface.context(), &mut stack.sockets, IpEndpoint::from(server), ephemeral_port(salt))
        .map_err(Failed::Connect)
}

/// Closes the connection and opens one to `server`.
fn reconnect(
    stack: &mut Net,
    rpc: &mut Rpc,
    handle: smoltcp::iface::SocketHandle,
    server: (Ipv4Addr, u16),
    salt: u16,
) -> Result<(), Failed> {
    close_tcp(stack, handle);
    stack.sockets.get_mut::<tcp::Socket>(handle).abort();
    connect(stack, rpc, server, salt)
}

/// Pumps until the one outstanding call is answered; `decode` takes its results.
fn one_reply<T>(
    stack: &mut Net,
    rpc: &mut Rpc,
    handle: smoltcp::iface::SocketHandle,
    decode: impl FnOnce(Result<&[u8], tern_core::rpc::client::CallFailure>) -> T,
) -> Result<T, Failed> {
    let mut decode = Some(decode);
    let mut out = None;
    step(stack, rpc, handle, |_xid, result| {
        let result = result.ok_or(NfsError::TimedOut)?;
        if let Some(d) = decode.take() {
            out = Some(d(result));
        }
        Ok(())
    })?;
    out.ok_or(Failed::Deadline)
}

/// Pumps until at least one event of the client arrives and hands every event available to
/// `on`: a reply's results, or `None` for a call that timed out.
fn step(
    stack: &mut Net,
    rpc: &mut Rpc,
    handle: smoltcp::iface::SocketHandle,
    mut on: impl FnMut(u32, Option<Result<&[u8], tern_core::rpc::client::CallFailure>>) -> Result<(), NfsError>,
) -> Result<(), Failed> {
    let deadline = (stack.clock)() + STEP_DEADLINE;
    let outcome = stack.pump(deadline, |now: Instant, _iface, sockets: &mut SocketSet<'static>| {
        let mut any = false;
        loop {
            let r = match rpc.poll(now, sockets) {
                Some(ClientEvent::Reply(Reply { xid, result })) => on(xid, Some(result)),
                Some(ClientEvent::TimedOut(xid)) => on(xid, None),
                None => break,
            };
            any = true;
            if let Err(e) = r {
                return ControlFlow::Break(Err(Failed::Nfs(e)));
            }
        }
        if any {
            ControlFlow::Break(Ok(()))
        } else if sockets.get::<tcp::Socket>(handle).state() == tcp::State::Closed {
            ControlFlow::Break(Err(Failed::Closed))
        } else {
            ControlFlow::Continue(())
        }
    });
    outcome.unwrap_or(Err(Failed::Deadline))
}
