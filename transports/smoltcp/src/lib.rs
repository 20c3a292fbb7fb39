//! Tern's smoltcp transport: pumps that move bytes between smoltcp sockets and `tern-core`'s
//! sans-IO RPC machines ([`Dispatcher`](tern_core::rpc::Dispatcher) and
//! [`Client`](tern_core::rpc::client::Client)). Nothing here reads a clock or touches a device:
//! time comes in as an argument, and the caller owns the [`Interface`](smoltcp::iface::Interface),
//! the device and the [`SocketSet`].
//!
//! - [`RpcServer`] owns a dispatcher, one UDP socket handle and up to `TCP` listening TCP socket
//!   handles on the same port (one connection each; a socket that closes listens again).
//! - [`UdpRpcClient`] and [`TcpRpcClient`] own a client, one socket handle and one request
//!   buffer per outstanding call (kept for retransmission over UDP).
//!
//! # Memory
//! Every byte is provided by the caller and fixed at start-up; nothing allocates. A server holds,
//! per TCP connection, a record buffer (the largest request accepted: a fragment header that would
//! take a record past it aborts that connection) and a reply buffer (the largest reply, plus 4
//! bytes of record mark), and one reply buffer for UDP. A reply that does not fit the socket's
//! send buffer waits in its reply buffer, and the connection reads no further request until it
//! is sent: that back-pressure is what bounds memory. A client holds one buffer per outstanding
//! call (the encoded call, plus 4 bytes over TCP) and, over TCP, one record buffer for replies.
//!
//! # When to call what
//! Each turn of the main loop: `iface.poll(now, ..)`, then each pump's `poll(now, sockets)`
//! (a client's until it returns `None`), then sleep until the earliest of
//! `iface.poll_delay(..)` and the pumps' `poll_at()`. Pumps change sockets only inside `poll`
//! and the `start*` methods, so after those the interface must be polled again (its
//! `poll_delay` is then zero).
//!
//! Invariants: no `unsafe`, no allocation, no panic on peer input. Methods taking a
//! [`SocketSet`] panic (inside smoltcp) if a handle given to the pump is not in that set.

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod client;
mod server;

pub use client::{ClientEvent, StartError, TcpRpcClient, UdpRpcClient};
pub use server::{RpcServer, ServerStats, SetupError};

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};

/// Bytes of a record-marking header in front of each TCP request and reply.
pub const RECORD_MARK: usize = 4;

/// Smallest reply buffer a server accepts (a reply header with no results; TCP adds
/// [`RECORD_MARK`]).
pub const MIN_REPLY: usize = 24;

/// Converts smoltcp time to core time (times before smoltcp's origin become the origin).
pub fn core_instant(t: smoltcp::time::Instant) -> tern_core::time::Instant {
    tern_core::time::Instant::from_micros(u64::try_from(t.total_micros()).unwrap_or(0))
}

/// Converts core time to smoltcp time (saturating).
pub fn smoltcp_instant(t: tern_core::time::Instant) -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros(i64::try_from(t.as_micros()).unwrap_or(i64::MAX))
}

/// Creates a UDP socket bound to `port` over the given buffers and adds it to `sockets`.
pub fn add_udp_socket<'s>(
    sockets: &mut SocketSet<'s>,
    port: u16,
    rx: udp::PacketBuffer<'s>,
    tx: udp::PacketBuffer<'s>,
) -> Result<SocketHandle, udp::BindError> {
    let mut socket = udp::Socket::new(rx, tx);
    socket.bind(port)?;
    Ok(sockets.add(socket))
}

/// Creates a TCP socket over the given buffers, with Nagle's algorithm off (RPC messages are
/// written whole, and a delayed small reply would stall a pipelined caller), and adds it to
/// `sockets`. The socket is closed: listen or connect it.
pub fn add_tcp_socket<'s>(
    sockets: &mut SocketSet<'s>,
    rx: tcp::SocketBuffer<'s>,
    tx: tcp::SocketBuffer<'s>,
) -> SocketHandle {
    let mut socket = tcp::Socket::new(rx, tx);
    socket.set_nagle_enabled(false);
    sockets.add(socket)
}

#[cfg(test)]
extern crate std;
