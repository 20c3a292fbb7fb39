//! `portmap PORT SECONDS`: the portmapper (program 100000 version 2, 16 mappings, anyone may
//! SET and UNSET) served over UDP and [`TCP_SOCKETS`] TCP connections on PORT by
//! [`RpcServer`], for SECONDS. Before serving, the board registers its own "board status"
//! program on TCP and UDP at PORT+1, so a client sees what the board registered.

use core::convert::Infallible;
use core::ops::ControlFlow;

use semihosting::println;
use smoltcp::socket::tcp;
use smoltcp::time::Duration;
use tern_core::rpc::Dispatcher;
use tern_core::rpc::portmap::{IPPROTO_TCP, IPPROTO_UDP, Mapping, Portmapper, SetPolicy};
use tern_smoltcp::RpcServer;

use super::{Buffers, EXIT_FAILURE, EXIT_OK, Net, TCP_SOCKETS, UdpMeta, udp_buffers};
use crate::fail;
use tern_board_virt::board;
use tern_board_virt::pump::DeadlineReached;

/// The board's "board status" program: a made-up number in the user-defined range
/// (0x2000_0000..=0x3fff_ffff). Only registered, not served.
pub(crate) const BOARD_STATUS_PROG: u32 = 0x2000_7e57;
/// Its version.
pub(crate) const BOARD_STATUS_VERS: u32 = 1;
/// Mappings the board's portmapper holds.
const CAPACITY: usize = 16;

/// Serves the portmapper on `port` (1..=65534) for `secs` seconds.
pub(crate) fn run(
    stack: &mut Net,
    bufs: &'static mut Buffers,
    meta: &'static mut UdpMeta,
    port: u16,
    secs: u64,
) -> i32 {
    let status_port = u32::from(port) + 1;
    let mut pm = Portmapper::<CAPACITY>::new(port, SetPolicy::Anyone);
    for prot in [IPPROTO_TCP, IPPROTO_UDP] {
        let m = Mapping { prog: BOARD_STATUS_PROG, vers: BOARD_STATUS_VERS, prot, port: status_port };
        if !pm.set(m) {
            fail(EXIT_FAILURE, format_args!("portmap: cannot register program {BOARD_STATUS_PROG}"));
        }
    }

    let mut server = RpcServer::<'static, Portmapper<CAPACITY>, TCP_SOCKETS>::new(Dispatcher::new(pm), port);
    let Buffers { tcp_rx, tcp_tx, udp_rx, udp_tx, records, replies } = bufs;
    let [tcp_replies @ .., udp_reply] = replies;
    let (rx, tx) = udp_buffers(meta, udp_rx, udp_tx);
    if let Err(e) = server.add_udp(&mut stack.sockets, rx, tx, udp_reply) {
        fail(EXIT_FAILURE, format_args!("portmap: udp {port}: {e}"));
    }
    for (((rx, tx), record), reply) in tcp_rx.iter_mut().zip(tcp_tx).zip(records).zip(tcp_replies) {
        let (rx, tx) = (tcp::SocketBuffer::new(&mut rx[..]), tcp::SocketBuffer::new(&mut tx[..]));
        if let Err(e) = server.add_tcp(&mut stack.sockets, rx, tx, record, reply) {
            fail(EXIT_FAILURE, format_args!("portmap: tcp {port}: {e}"));
        }
    }
    println!(
        "portmap: program 100000 v2 on tcp+udp port {port} for {secs} s; \
         registered {BOARD_STATUS_PROG} v{BOARD_STATUS_VERS} tcp+udp port {status_port}"
    );

    let deadline = board::time::now() + Duration::from_secs(secs);
    let Err(DeadlineReached) = stack.pump(deadline, |now, _iface, sockets| {
        server.poll(now, sockets);
        ControlFlow::<Infallible>::Continue(())
    });

    let s = server.stats();
    let d = server.dispatcher().stats();
    println!(
        "portmap: done: {} tcp connections, {} calls ok, {} errors, {} dropped, {} idle aborts, \
         {} too large, {} udp replies dropped",
        s.connections, d.success, d.errors, d.dropped, s.idle_aborts, s.too_large, s.udp_replies_dropped
    );
    EXIT_OK
}
