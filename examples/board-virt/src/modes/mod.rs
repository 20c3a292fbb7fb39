//! The firmware's modes (one runs per boot) and the static memory they share.
//!
//! Every buffer lives in [`Buffers`] (zeroed, `.bss`) or [`UdpMeta`] (`.data`); a mode splits
//! them into socket buffers and RPC record, reply and request buffers, all `'static`.

pub(crate) mod echo;
pub(crate) mod nfs;
pub(crate) mod nfs_mount;
pub(crate) mod pmap_query;
pub(crate) mod portmap;

use core::ops::ControlFlow;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Duration;

use tern_board_virt::board::{self, net::VirtioNet};
use tern_board_virt::pump::Stack;

/// The board's network stack.
pub(crate) type Net = Stack<'static, VirtioNet>;

pub(crate) const EXIT_OK: i32 = 0;
pub(crate) const EXIT_FAILURE: i32 = 1;
pub(crate) const EXIT_USAGE: i32 = 2;

/// TCP sockets: connections a server serves at once.
pub(crate) const TCP_SOCKETS: usize = 3;
/// Socket slots: the TCP sockets and one UDP socket, or what the `nfs` mode needs (two ports).
pub(crate) const SOCKETS: usize = if nfs::SOCKETS > TCP_SOCKETS + 1 { nfs::SOCKETS } else { TCP_SOCKETS + 1 };
/// Bytes of each TCP socket's receive and send buffer.
const TCP_BUF: usize = 2048;
/// Datagrams queued each way on the UDP socket.
const UDP_PACKETS: usize = 8;
/// Bytes of the UDP socket's receive and send payload rings.
const UDP_BUF: usize = 2048;
/// Bytes of each RPC buffer: a request record a server connection accepts, a reply (with its
/// 4-byte record mark over TCP), or a client's encoded call. The largest message here is a
/// DUMP reply of the board's 16-mapping portmapper: 24 + 16 × 20 + 4 bytes.
const RPC_BUF: usize = 512;

/// Zeroed buffers, in static memory rather than on the stack.
pub(crate) struct Buffers {
    tcp_rx: [[u8; TCP_BUF]; TCP_SOCKETS],
    tcp_tx: [[u8; TCP_BUF]; TCP_SOCKETS],
    udp_rx: [u8; UDP_BUF],
    udp_tx: [u8; UDP_BUF],
    /// Per TCP connection: the request record being reassembled.
    records: [[u8; RPC_BUF]; TCP_SOCKETS],
    /// Per TCP connection, then one for UDP: the reply being sent (or a client's call).
    replies: [[u8; RPC_BUF]; TCP_SOCKETS + 1],
}

impl Buffers {
    pub(crate) const ZERO: Buffers = Buffers {
        tcp_rx: [[0; TCP_BUF]; TCP_SOCKETS],
        tcp_tx: [[0; TCP_BUF]; TCP_SOCKETS],
        udp_rx: [0; UDP_BUF],
        udp_tx: [0; UDP_BUF],
        records: [[0; RPC_BUF]; TCP_SOCKETS],
        replies: [[0; RPC_BUF]; TCP_SOCKETS + 1],
    };
}

/// UDP packet metadata.
pub(crate) struct UdpMeta {
    rx: [udp::PacketMetadata; UDP_PACKETS],
    tx: [udp::PacketMetadata; UDP_PACKETS],
}

impl UdpMeta {
    pub(crate) const EMPTY: UdpMeta =
        UdpMeta { rx: [udp::PacketMetadata::EMPTY; UDP_PACKETS], tx: [udp::PacketMetadata::EMPTY; UDP_PACKETS] };
}

/// The receive and send buffers of the UDP socket.
fn udp_buffers<'s>(
    meta: &'s mut UdpMeta,
    rx: &'s mut [u8; UDP_BUF],
    tx: &'s mut [u8; UDP_BUF],
) -> (udp::PacketBuffer<'s>, udp::PacketBuffer<'s>) {
    (udp::PacketBuffer::new(&mut meta.rx[..], &mut rx[..]), udp::PacketBuffer::new(&mut meta.tx[..], &mut tx[..]))
}

/// An ephemeral local port (49152..65535) that differs between runs; `salt` separates the
/// ports of one run.
fn ephemeral_port(salt: u16) -> u16 {
    let spread = u16::try_from(board::time::ticks() % 16384).unwrap_or(0);
    49152 + (spread ^ salt) % 16384
}

/// Closes a TCP socket and pumps until the close is acknowledged (at most 1 s), so the peer
/// sees a clean close.
fn close_tcp(stack: &mut Net, handle: SocketHandle) {
    stack.sockets.get_mut::<tcp::Socket>(handle).close();
    let linger = board::time::now() + Duration::from_secs(1);
    let _ = stack.pump(linger, |_now, _iface, sockets| {
        if sockets.get_mut::<tcp::Socket>(handle).is_open() {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    });
}
