//! `nfs NFS_PORT MOUNT_PORT SECONDS`: a [`MemFs`] export `/mem` (in static memory, with
//! `hello.txt` and `dir` made at boot) served over NFSv3 and MOUNT v3 for SECONDS: NFS and
//! MOUNT on UDP and [`NFS_TCP`] TCP connections at NFS_PORT, MOUNT on UDP and
//! [`TCP_SOCKETS`] TCP connections at MOUNT_PORT.
//!
//! # Two ports, one service
//! An [`RpcServer`] owns its dispatcher and listens on one port, and the NFS program and the
//! MOUNT program share the back end (an [`NfsService`]), which can have only one owner. So the
//! service sits in a [`RefCell`] on this function's stack, and each port gets its own
//! `RpcServer` whose program table holds [`Shared`] stand-ins: a stand-in forwards every call
//! to the program of that number in the service. Calls never overlap (one loop polls both
//! servers, and a call runs to completion), so the `RefCell` is never borrowed twice; the
//! duplicate request cache, the mount list and the file system are the service's, shared by
//! both ports. Each dispatcher keeps its own counters.

use core::cell::RefCell;
use core::convert::Infallible;
use core::ops::ControlFlow;

use semihosting::println;
use smoltcp::socket::tcp;
use smoltcp::time::Duration;
use tern_core::exports::Exports;
use tern_core::fs::mem::{Config, MemFs, Storage};
use tern_core::fs::{CreateHow, Ctx, FileSystem, SetAttr, Stability, Time};
use tern_core::nfs3::server::{Nfs3Server, NfsService, ServerConfig};
use tern_core::rpc::drc::DrcProgram;
use tern_core::rpc::{CallContext, Dispatcher, ProcError, Program, ProgramTable};
use tern_core::xdr::Writer;
use tern_smoltcp::RpcServer;

use super::{Buffers, EXIT_FAILURE, EXIT_OK, Net, TCP_SOCKETS, UDP_BUF, UdpMeta, udp_buffers};
use crate::fail;
use tern_board_virt::board::{self, StaticCell};
use tern_board_virt::pump::DeadlineReached;

/// The exports table: one export, open to every client (the host arrives from QEMU's gateway,
/// 10.0.2.2).
const EXPORTS: &str = "/mem *(rw,no_root_squash,insecure)";
/// The export's path.
const EXPORT: &str = "/mem";
/// What `/mem/hello.txt` holds.
pub(crate) const HELLO: &[u8] = b"hello from the board\n";

/// MemFs capacity: objects (and directory entries), 512-byte data blocks (4 MiB), name bytes.
const NODES: usize = 256;
const BLOCKS: usize = 8192;
const NAMES: usize = 8192;

/// Largest READ and WRITE (FSINFO `rtmax`/`wtmax`).
const MAX_IO: u32 = 16 * 1024;
/// TCP connections served at once on the NFS port.
const NFS_TCP: usize = 2;
/// Bytes of each NFS-port TCP socket's receive and send buffer. A request or reply larger than
/// this passes through in pieces (the pump moves it into or out of its record or reply buffer);
/// 32 and 60 KiB, or MAX_IO 8 or 32 KiB, copied 1 MiB no faster through QEMU's user network.
const NFS_TCP_BUF: usize = 16 * 1024;
/// A request record (a WRITE of `MAX_IO` plus the RPC header, a 400-byte credential at most,
/// and the WRITE arguments), and a reply (a READ of `MAX_IO` plus headers and attributes, and
/// the record mark).
const NFS_RPC_BUF: usize = MAX_IO as usize + 512;
/// Largest UDP reply: one unfragmented datagram (smoltcp is built without IP fragmentation);
/// a READ over UDP is cut to fit.
const UDP_REPLY: usize = 1472;
/// Sockets this mode adds: NFS port UDP + [`NFS_TCP`], MOUNT port UDP + [`TCP_SOCKETS`].
pub(crate) const SOCKETS: usize = 1 + NFS_TCP + 1 + TCP_SOCKETS;

/// Entries of the duplicate request cache and the largest cached result.
const DRC_ENTRIES: usize = 32;
const DRC_REPLY: usize = 512;
/// Entries of the MOUNT list, and their longest path.
const MOUNTS: usize = 8;
const MOUNT_PATH: usize = 64;

type Nfs = DrcProgram<Nfs3Server<'static, MemFs<'static>, 1, 1, 4>, DRC_ENTRIES, DRC_REPLY>;
type Service = NfsService<'static, Nfs, 1, 4, MOUNTS, MOUNT_PATH>;

/// The file system's tables (zeroed: `.bss`).
static STORAGE: StaticCell<Storage<NODES, BLOCKS, NAMES>> = StaticCell::new(Storage::new());

/// The NFS port's buffers (the MOUNT port uses the shared [`Buffers`]).
struct NfsBuffers {
    tcp_rx: [[u8; NFS_TCP_BUF]; NFS_TCP],
    tcp_tx: [[u8; NFS_TCP_BUF]; NFS_TCP],
    records: [[u8; NFS_RPC_BUF]; NFS_TCP],
    replies: [[u8; NFS_RPC_BUF]; NFS_TCP],
    udp_rx: [u8; UDP_BUF],
    udp_tx: [u8; UDP_BUF],
    udp_reply: [u8; UDP_REPLY],
}

static NFS_BUFFERS: StaticCell<NfsBuffers> = StaticCell::new(NfsBuffers {
    tcp_rx: [[0; NFS_TCP_BUF]; NFS_TCP],
    tcp_tx: [[0; NFS_TCP_BUF]; NFS_TCP],
    records: [[0; NFS_RPC_BUF]; NFS_TCP],
    replies: [[0; NFS_RPC_BUF]; NFS_TCP],
    udp_rx: [0; UDP_BUF],
    udp_tx: [0; UDP_BUF],
    udp_reply: [0; UDP_REPLY],
});

/// UDP packet metadata of the NFS port (the MOUNT port uses the shared [`UdpMeta`]).
static NFS_UDP_META: StaticCell<UdpMeta> = StaticCell::new(UdpMeta::EMPTY);

/// A program of the shared service, as one dispatcher's table sees it.
struct Shared<'s> {
    service: &'s RefCell<Service>,
    prog: u32,
    versions: (u32, u32),
}

impl<'s> Shared<'s> {
    fn new(service: &'s RefCell<Service>, prog: u32) -> Self {
        let versions = service.borrow_mut().lookup(prog).map_or((0, 0), |p| p.versions());
        Shared { service, prog, versions }
    }
}

impl Program for Shared<'_> {
    fn program(&self) -> u32 {
        self.prog
    }

    fn versions(&self) -> (u32, u32) {
        self.versions
    }

    fn call(&mut self, ctx: &CallContext<'_>, args: &[u8], results: &mut Writer<'_>) -> Result<(), ProcError> {
        let mut service = self.service.try_borrow_mut().map_err(|_| ProcError::SystemErr)?;
        service.lookup(self.prog).ok_or(ProcError::ProcUnavail)?.call(ctx, args, results)
    }
}

/// Formats the MemFs and makes `/hello.txt` and `/dir` in it.
fn memfs() -> MemFs<'static> {
    let Some(storage) = STORAGE.take() else { fail(EXIT_FAILURE, format_args!("nfs: storage taken twice")) };
    let stamp = board::time::ticks();
    let mut config = Config::new(stamp, stamp.to_be_bytes());
    config.root_mode = 0o1777;
    let mut fs = MemFs::new(storage, config);
    let (root, ctx) = (fs.root(), Ctx { now: Time::default(), uid: 0, gid: 0 });
    let file = SetAttr { mode: Some(0o644), ..SetAttr::default() };
    let made = fs.create(&ctx, &root, b"hello.txt", &CreateHow::Guarded(file)).and_then(|fh| {
        fs.write(&ctx, &fh, 0, HELLO, Stability::FileSync)?;
        fs.mkdir(&ctx, &root, b"dir", &SetAttr { mode: Some(0o755), ..SetAttr::default() })
    });
    if let Err(e) = made {
        fail(EXIT_FAILURE, format_args!("nfs: cannot populate the MemFs: {e:?}"));
    }
    fs
}

/// Serves `/mem` on `nfs_port` and `mount_port` for `secs` seconds.
pub(crate) fn run(
    stack: &mut Net,
    bufs: &'static mut Buffers,
    meta: &'static mut UdpMeta,
    nfs_port: u16,
    mount_port: u16,
    secs: u64,
) -> i32 {
    let (Some(nb), Some(nfs_meta)) = (NFS_BUFFERS.take(), NFS_UDP_META.take()) else {
        fail(EXIT_FAILURE, format_args!("nfs: buffers taken twice"))
    };
    let table = match Exports::<'static, 1, 4>::parse(EXPORTS) {
        Ok(t) => t,
        Err(e) => fail(EXIT_FAILURE, format_args!("nfs: exports line {}: {}", e.line, e.kind)),
    };
    let mut config = ServerConfig::new(0x7465_726e, Time::default());
    config.max_read = MAX_IO;
    config.max_write = MAX_IO;
    let mut nfs = Nfs3Server::new(table, config);
    if nfs.add(EXPORT, memfs()).is_err() {
        fail(EXIT_FAILURE, format_args!("nfs: cannot serve {EXPORT}"));
    }
    let service = RefCell::new(Service::new(DrcProgram::new(nfs)));
    let nfs_programs =
        (Shared::new(&service, tern_core::nfs3::PROGRAM), Shared::new(&service, tern_core::mount::PROGRAM));
    let mut nfs_server = RpcServer::<'static, _, NFS_TCP>::new(Dispatcher::new(nfs_programs), nfs_port);
    let mount_programs = Shared::new(&service, tern_core::mount::PROGRAM);
    let mut mount_server = RpcServer::<'static, _, TCP_SOCKETS>::new(Dispatcher::new(mount_programs), mount_port);

    // NFS port: the buffers sized for MAX_IO.
    let NfsBuffers { tcp_rx, tcp_tx, records, replies, udp_rx, udp_tx, udp_reply } = nb;
    let (rx, tx) = udp_buffers(nfs_meta, udp_rx, udp_tx);
    let mut setup = nfs_server.add_udp(&mut stack.sockets, rx, tx, udp_reply).map(drop);
    for (((rx, tx), record), reply) in tcp_rx.iter_mut().zip(tcp_tx).zip(records).zip(replies) {
        let (rx, tx) = (tcp::SocketBuffer::new(&mut rx[..]), tcp::SocketBuffer::new(&mut tx[..]));
        setup = setup.and_then(|()| nfs_server.add_tcp(&mut stack.sockets, rx, tx, record, reply).map(drop));
    }
    if let Err(e) = setup {
        fail(EXIT_FAILURE, format_args!("nfs: port {nfs_port}: {e}"));
    }
    // MOUNT port: the shared small buffers (MOUNT calls and replies are a few hundred bytes).
    let Buffers { tcp_rx, tcp_tx, udp_rx, udp_tx, records, replies } = bufs;
    let [tcp_replies @ .., udp_reply] = replies;
    let (rx, tx) = udp_buffers(meta, udp_rx, udp_tx);
    let mut setup = mount_server.add_udp(&mut stack.sockets, rx, tx, udp_reply).map(drop);
    for (((rx, tx), record), reply) in tcp_rx.iter_mut().zip(tcp_tx).zip(records).zip(tcp_replies) {
        let (rx, tx) = (tcp::SocketBuffer::new(&mut rx[..]), tcp::SocketBuffer::new(&mut tx[..]));
        setup = setup.and_then(|()| mount_server.add_tcp(&mut stack.sockets, rx, tx, record, reply).map(drop));
    }
    if let Err(e) = setup {
        fail(EXIT_FAILURE, format_args!("nfs: port {mount_port}: {e}"));
    }
    println!(
        "nfs: {EXPORT} (MemFs {} KiB, hello.txt and dir) for {secs} s: NFS 3 + MOUNT 3 on tcp+udp port {nfs_port}, \
         MOUNT 3 on tcp+udp port {mount_port}; max io {MAX_IO}, service {} bytes",
        Storage::<NODES, BLOCKS, NAMES>::size() / 1024,
        core::mem::size_of::<RefCell<Service>>()
    );

    let deadline = board::time::now() + Duration::from_secs(secs);
    let Err(DeadlineReached) = stack.pump(deadline, |now, _iface, sockets| {
        nfs_server.poll(now, sockets);
        mount_server.poll(now, sockets);
        ControlFlow::<Infallible>::Continue(())
    });

    let (ns, nd) = (nfs_server.stats(), nfs_server.dispatcher().stats());
    let (ms, md) = (mount_server.stats(), mount_server.dispatcher().stats());
    let drc = service.borrow_mut().nfs().stats();
    println!(
        "nfs: done: nfs port {} tcp connections, {} calls ok, {} errors, {} dropped; \
         mount port {} tcp connections, {} calls ok, {} errors, {} dropped; \
         {} idle aborts, {} too large, {} udp replies dropped; drc {} hits, {} stored",
        ns.connections,
        nd.success,
        nd.errors,
        nd.dropped,
        ms.connections,
        md.success,
        md.errors,
        md.dropped,
        ns.idle_aborts + ms.idle_aborts,
        ns.too_large + ms.too_large,
        ns.udp_replies_dropped + ms.udp_replies_dropped,
        drc.hits,
        drc.stored
    );
    EXIT_OK
}
