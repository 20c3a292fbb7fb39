//! `echo TCP_PORT UDP_PORT SECONDS`: TCP echo (every TCP socket listening, so several
//! connections at once and any number one after another; each closes after the peer's FIN once
//! everything is echoed) and UDP echo, for SECONDS. Exercises the NIC with bulk transfers.

use core::convert::Infallible;
use core::ops::ControlFlow;

use semihosting::{eprintln, println};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Duration;

use super::{Buffers, EXIT_FAILURE, EXIT_OK, Net, TCP_SOCKETS, UdpMeta, udp_buffers};
use crate::fail;
use tern_board_virt::board;
use tern_board_virt::pump;

/// Serves TCP and UDP echo for `secs` seconds.
pub(crate) fn run(
    stack: &mut Net,
    bufs: &'static mut Buffers,
    meta: &'static mut UdpMeta,
    tcp_port: u16,
    udp_port: u16,
    secs: u64,
) -> i32 {
    let mut tcp_handles = [SocketHandle::default(); TCP_SOCKETS];
    for ((handle, rx), tx) in tcp_handles.iter_mut().zip(bufs.tcp_rx.iter_mut()).zip(bufs.tcp_tx.iter_mut()) {
        let socket = tcp::Socket::new(tcp::SocketBuffer::new(&mut rx[..]), tcp::SocketBuffer::new(&mut tx[..]));
        *handle = stack.sockets.add(socket);
    }
    let (rx, tx) = udp_buffers(meta, &mut bufs.udp_rx, &mut bufs.udp_tx);
    let udp_handle = match tern_smoltcp::add_udp_socket(&mut stack.sockets, udp_port, rx, tx) {
        Ok(handle) => handle,
        Err(e) => fail(EXIT_FAILURE, format_args!("echo: udp bind {udp_port}: {e}")),
    };

    println!("echo: tcp {tcp_port} udp {udp_port} for {secs} s");
    let deadline = board::time::now() + Duration::from_secs(secs);
    let mut active = [false; TCP_SOCKETS];
    let mut tcp_conns = 0u32;
    let mut tcp_bytes = 0usize;
    let mut udp_datagrams = 0u32;
    let mut chunk = [0u8; 1024];

    let Err(pump::DeadlineReached) = stack.pump(deadline, |_now, _iface, sockets| {
        for (handle, active) in tcp_handles.iter().zip(active.iter_mut()) {
            let s = sockets.get_mut::<tcp::Socket>(*handle);
            if !s.is_open() {
                // Closed (or in TIME-WAIT) after a connection: listen for the next one.
                if let Err(e) = s.listen(tcp_port) {
                    eprintln!("echo: listen {tcp_port}: {e}");
                }
                *active = false;
            }
            if s.is_active() && !*active {
                *active = true;
                tcp_conns += 1;
            }
            while s.can_recv() {
                let room = s.send_capacity() - s.send_queue();
                if room == 0 {
                    break;
                }
                let want = room.min(chunk.len());
                let Ok(n) = s.recv_slice(&mut chunk[..want]) else {
                    break;
                };
                if n == 0 {
                    break;
                }
                // Cannot fall short: `n` is at most the free room in the TX buffer.
                let _ = s.send_slice(&chunk[..n]);
                tcp_bytes += n;
            }
            // The peer finished sending and everything it sent has been echoed: close our side.
            if s.state() == tcp::State::CloseWait && s.recv_queue() == 0 {
                s.close();
            }
        }
        let u = sockets.get_mut::<udp::Socket>(udp_handle);
        while u.can_send() {
            let Ok((n, meta)) = u.recv_slice(&mut chunk) else {
                break;
            };
            if let Err(e) = u.send_slice(&chunk[..n], meta.endpoint) {
                eprintln!("echo: udp send: {e}");
            }
            udp_datagrams += 1;
        }
        ControlFlow::<Infallible>::Continue(())
    });
    println!("echo: done: {tcp_conns} tcp connections, {tcp_bytes} tcp bytes, {udp_datagrams} udp datagrams");
    EXIT_OK
}
