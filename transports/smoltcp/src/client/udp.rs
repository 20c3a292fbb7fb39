//! The client over a UDP socket: every call is one datagram, sent again from its slot when the
//! client's timer asks for it.

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::udp;
use smoltcp::time::Instant;
use smoltcp::wire::IpEndpoint;
use tern_core::rpc::Credential;
use tern_core::rpc::client::{Client, ClientError, TimerEvent};
use tern_core::xdr::Encode;

use super::{ClientEvent, Slot, StartError, expected, free, slot_of};
use crate::{core_instant, smoltcp_instant};

/// An RPC client over one UDP socket, talking to one server, with at most `N` calls
/// outstanding.
///
/// Only datagrams from the server's address and port are taken as replies; anything else that
/// arrives on the socket (strangers, late duplicates, garbage) is dropped.
#[derive(Debug)]
pub struct UdpRpcClient<'b, const N: usize> {
    client: Client<N>,
    handle: SocketHandle,
    server: IpEndpoint,
    slots: [Slot<'b>; N],
}

impl<'b, const N: usize> UdpRpcClient<'b, N> {
    /// A pump for `client` over the bound UDP socket `handle` (see [`crate::add_udp_socket`]),
    /// calling `server`. Each call is encoded into one of `buffers` (one per outstanding call,
    /// each as long as the largest call), and kept there until it ends.
    pub fn new(
        client: Client<N>,
        handle: SocketHandle,
        server: impl Into<IpEndpoint>,
        buffers: [&'b mut [u8]; N],
    ) -> Self {
        UdpRpcClient { client, handle, server: server.into(), slots: buffers.map(Slot::new) }
    }

    /// The sans-IO client (settings, number of outstanding calls).
    pub fn client(&self) -> &Client<N> {
        &self.client
    }

    /// The server called.
    pub fn server(&self) -> IpEndpoint {
        self.server
    }

    /// Starts a call encoded by `encode` (given the client, the time and a free buffer; it
    /// returns the xid and length, as [`Client::call`] and the `portmap::client` functions do),
    /// and sends it. Returns the xid. A datagram that does not fit the socket's send buffer now
    /// counts as lost: the first retransmission sends it.
    pub fn start<F>(&mut self, now: Instant, sockets: &mut SocketSet<'_>, encode: F) -> Result<u32, StartError>
    where
        F: FnOnce(&mut Client<N>, tern_core::time::Instant, &mut [u8]) -> Result<(u32, usize), ClientError>,
    {
        let slot = self.slots.iter_mut().find(|s| s.xid.is_none()).ok_or(ClientError::TooManyCalls)?;
        let (xid, len) = encode(&mut self.client, core_instant(now), slot.buf)?;
        slot.xid = Some(xid);
        slot.len = len.min(slot.buf.len());
        match sockets.get_mut::<udp::Socket>(self.handle).send_slice(&slot.buf[..slot.len], self.server) {
            Ok(()) | Err(udp::SendError::BufferFull) => Ok(xid),
            Err(udp::SendError::Unaddressable) => {
                slot.xid = None;
                self.client.cancel(xid);
                Err(StartError::Unaddressable)
            }
        }
    }

    /// Starts a call of procedure `proc_` of program `prog` version `vers` with `args`; see
    /// [`UdpRpcClient::start`].
    #[allow(clippy::too_many_arguments)]
    pub fn start_call<A: Encode + ?Sized>(
        &mut self,
        now: Instant,
        sockets: &mut SocketSet<'_>,
        prog: u32,
        vers: u32,
        proc_: u32,
        cred: &Credential<'_>,
        args: &A,
    ) -> Result<u32, StartError> {
        self.start(now, sockets, |c, t, buf| c.call(t, prog, vers, proc_, cred, args, buf))
    }

    /// Forgets an outstanding call (a reply that comes later is dropped); returns whether it
    /// was outstanding.
    pub fn cancel(&mut self, xid: u32) -> bool {
        free(&mut self.slots, xid);
        self.client.cancel(xid)
    }

    /// When [`UdpRpcClient::poll`] must run even if nothing arrives (the next retransmission
    /// or time-out).
    pub fn poll_at(&self) -> Option<Instant> {
        self.client.poll_timeout().map(smoltcp_instant)
    }

    /// Takes the next reply from the socket, or else processes expired timers (sending calls
    /// again as the client asks). Returns one event at a time: call until `None`, after each
    /// `Interface::poll` and at [`UdpRpcClient::poll_at`]. A reply borrows the socket's receive
    /// buffer, so it must be dropped before the sockets are used again.
    pub fn poll<'a>(&mut self, now: Instant, sockets: &'a mut SocketSet<'_>) -> Option<ClientEvent<'a>> {
        while let Ok((msg, meta)) = sockets.get_mut::<udp::Socket>(self.handle).peek() {
            let wanted = meta.endpoint == self.server && expected(&self.slots, msg);
            if !wanted {
                // Not from the server, not a reply, or no call waits for it.
                let _ = sockets.get_mut::<udp::Socket>(self.handle).recv();
                continue;
            }
            let (msg, _) = sockets.get_mut::<udp::Socket>(self.handle).recv().ok()?;
            let reply = self.client.handle_reply(msg).ok()?;
            free(&mut self.slots, reply.xid);
            return Some(ClientEvent::Reply(reply));
        }
        let socket = sockets.get_mut::<udp::Socket>(self.handle);
        while let Some(event) = self.client.handle_timeout(core_instant(now)) {
            match event {
                TimerEvent::Retransmit(xid) => {
                    if let Some(i) = slot_of(&self.slots, xid) {
                        let slot = &self.slots[i];
                        // A full send buffer loses this copy; the next retransmission tries again.
                        let _ = socket.send_slice(&slot.buf[..slot.len], self.server);
                    }
                }
                TimerEvent::TimedOut(xid) => {
                    free(&mut self.slots, xid);
                    return Some(ClientEvent::TimedOut(xid));
                }
            }
        }
        None
    }
}
