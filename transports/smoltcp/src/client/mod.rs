//! Client pumps: a [`Client`](tern_core::rpc::client::Client) whose calls go out over a UDP socket ([`UdpRpcClient`], with
//! retransmission) or a TCP connection ([`TcpRpcClient`], with record marking).
//!
//! Each outstanding call owns one caller-provided buffer (a *slot*) from the moment it is
//! encoded until its reply arrives or it times out, so that it can be sent again. A reply is
//! handed to the caller as a [`ClientEvent`] that borrows the received bytes in place: use it
//! before polling again.

mod tcp;
mod udp;

pub use tcp::TcpRpcClient;
pub use udp::UdpRpcClient;

use tern_core::rpc::Message;
use tern_core::rpc::client::{ClientError, Reply};

/// What a client pump's `poll` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEvent<'a> {
    /// A call was answered (its result bytes borrow the pump's or the socket's buffer).
    Reply(Reply<'a>),
    /// The call with this xid got no reply in time; it is forgotten.
    TimedOut(u32),
}

/// Why a call could not be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    /// The client refused: too many calls outstanding, or the call does not fit its buffer.
    Client(ClientError),
    /// The socket cannot send to the server (unbound socket, or server address or port 0).
    Unaddressable,
}

impl core::fmt::Display for StartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StartError::Client(e) => e.fmt(f),
            StartError::Unaddressable => f.write_str("cannot send to the RPC server's address"),
        }
    }
}

impl core::error::Error for StartError {}

impl From<ClientError> for StartError {
    fn from(e: ClientError) -> Self {
        StartError::Client(e)
    }
}

/// A caller-provided request buffer and the call it holds.
#[derive(Debug)]
struct Slot<'b> {
    buf: &'b mut [u8],
    /// The call held, if any.
    xid: Option<u32>,
    /// `buf[..len]` is the request (with its record mark over TCP).
    len: usize,
    /// TCP: `buf[..sent]` is written to the current connection.
    sent: usize,
}

impl<'b> Slot<'b> {
    fn new(buf: &'b mut [u8]) -> Self {
        Slot { buf, xid: None, len: 0, sent: 0 }
    }
}

fn slot_of(slots: &[Slot<'_>], xid: u32) -> Option<usize> {
    slots.iter().position(|s| s.xid == Some(xid))
}

/// Frees the slot of `xid`; returns whether there was one.
fn free(slots: &mut [Slot<'_>], xid: u32) -> bool {
    match slot_of(slots, xid) {
        Some(i) => {
            slots[i].xid = None;
            true
        }
        None => false,
    }
}

/// Whether `msg` is a well-formed reply to an outstanding call, i.e. whether
/// `Client::handle_reply` would take it. Checked before a message is consumed, so that a
/// pump hands on a reply borrowed in place and skips everything else.
fn expected(slots: &[Slot<'_>], msg: &[u8]) -> bool {
    matches!(Message::decode(msg), Ok(Message::Reply(head, _)) if slot_of(slots, head.xid).is_some())
}
