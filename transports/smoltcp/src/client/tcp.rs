//! The client over a TCP connection: calls are written as records (one fragment each) in the
//! order their slots are found, replies are reassembled in a caller-provided record buffer.
//!
//! Calls are not sent again on the same connection (use [`ClientConfig::stream`]: no
//! retransmission, one long time-out). Connecting, and reconnecting after the connection is
//! lost, is the caller's job through [`TcpRpcClient::connect`], which sends every outstanding
//! call again on the new connection.
//!
//! [`ClientConfig::stream`]: tern_core::rpc::client::ClientConfig::stream

use smoltcp::iface::{Context, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::IpEndpoint;
use tern_core::rpc::Credential;
use tern_core::rpc::client::{Client, ClientError, TimerEvent};
use tern_core::rpc::record::{LAST_FRAGMENT, fragment_header};
use tern_core::xdr::{self, Encode};

use super::{ClientEvent, Slot, StartError, expected, free, slot_of};
use crate::{RECORD_MARK, core_instant, smoltcp_instant};
use tern_core::rpc::RecordReader;

/// An RPC client over one TCP socket, with at most `N` calls outstanding.
#[derive(Debug)]
pub struct TcpRpcClient<'b, const N: usize> {
    client: Client<N>,
    handle: SocketHandle,
    slots: [Slot<'b>; N],
    /// The slot whose request is partly written: it must be finished before any other.
    writing: Option<usize>,
    records: RecordReader<&'b mut [u8]>,
    /// The complete record was handed out by the last `poll`; drop it on the next.
    delivered: bool,
}

impl<'b, const N: usize> TcpRpcClient<'b, N> {
    /// A pump for `client` over the TCP socket `handle` (see [`crate::add_tcp_socket`]). Each
    /// call is encoded into one of `buffers` (one per outstanding call, each 4 bytes longer than
    /// the largest call); replies of up to `record.len()` bytes are accepted (a longer one
    /// aborts the connection).
    pub fn new(client: Client<N>, handle: SocketHandle, buffers: [&'b mut [u8]; N], record: &'b mut [u8]) -> Self {
        TcpRpcClient {
            client,
            handle,
            slots: buffers.map(Slot::new),
            writing: None,
            records: RecordReader::new(record),
            delivered: false,
        }
    }

    /// The sans-IO client (settings, number of outstanding calls).
    pub fn client(&self) -> &Client<N> {
        &self.client
    }

    /// Connects the socket to `remote` from `local_port`, and prepares to send every
    /// outstanding call again on the new connection (any reply data of the old one is
    /// dropped). The socket must be closed (`!is_open()`): after the first connect, call this
    /// when the peer closed or reset the connection or a reply was over the limit.
    pub fn connect(
        &mut self,
        cx: &mut Context,
        sockets: &mut SocketSet<'_>,
        remote: impl Into<IpEndpoint>,
        local_port: u16,
    ) -> Result<(), tcp::ConnectError> {
        sockets.get_mut::<tcp::Socket>(self.handle).connect(cx, remote, local_port)?;
        self.records.reset();
        self.delivered = false;
        self.writing = None;
        for slot in &mut self.slots {
            slot.sent = 0;
        }
        Ok(())
    }

    /// Starts a call encoded by `encode` (as for [`crate::UdpRpcClient::start`]) and writes as
    /// much of it as the socket takes; the rest goes out in later polls (also when the
    /// connection is not up yet). Returns the xid.
    pub fn start<F>(&mut self, now: Instant, sockets: &mut SocketSet<'_>, encode: F) -> Result<u32, StartError>
    where
        F: FnOnce(&mut Client<N>, tern_core::time::Instant, &mut [u8]) -> Result<(u32, usize), ClientError>,
    {
        // A slot being written stays taken even when its call was cancelled.
        let writing = self.writing;
        let mut free_slots = self.slots.iter_mut().enumerate().filter(|(i, s)| s.xid.is_none() && Some(*i) != writing);
        let (_, slot) = free_slots.next().ok_or(ClientError::TooManyCalls)?;
        // A record mark gives 31 bits of length.
        let end = slot.buf.len().min(RECORD_MARK + (LAST_FRAGMENT - 1) as usize);
        let Some(body) = slot.buf.get_mut(RECORD_MARK..end) else {
            return Err(ClientError::Encode(xdr::Error::BufferFull).into());
        };
        let (xid, len) = encode(&mut self.client, core_instant(now), body)?;
        let len = len.min(end - RECORD_MARK);
        let mark = fragment_header(u32::try_from(len).unwrap_or(LAST_FRAGMENT - 1), true);
        slot.buf[..RECORD_MARK].copy_from_slice(&mark);
        slot.xid = Some(xid);
        slot.len = RECORD_MARK + len;
        slot.sent = 0;
        self.flush(sockets.get_mut::<tcp::Socket>(self.handle));
        Ok(xid)
    }

    /// Starts a call of procedure `proc_` of program `prog` version `vers` with `args`; see
    /// [`TcpRpcClient::start`].
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

    /// Forgets an outstanding call; returns whether it was outstanding. A call that is partly
    /// written is finished (a record cannot be cut short), and its reply dropped.
    pub fn cancel(&mut self, xid: u32) -> bool {
        free(&mut self.slots, xid);
        self.client.cancel(xid)
    }

    /// When [`TcpRpcClient::poll`] must run even if nothing arrives (the next time-out).
    pub fn poll_at(&self) -> Option<Instant> {
        self.client.poll_timeout().map(smoltcp_instant)
    }

    /// Writes pending calls, then returns the next reply read from the connection, or else
    /// the next call that timed out. Returns one event at a time: call until `None`, after
    /// each `Interface::poll` and at [`TcpRpcClient::poll_at`]. A reply borrows the pump's
    /// record buffer until the next call of a method.
    pub fn poll(&mut self, now: Instant, sockets: &mut SocketSet<'_>) -> Option<ClientEvent<'_>> {
        if self.delivered {
            self.records.next_record();
            self.delivered = false;
        }
        let socket = sockets.get_mut::<tcp::Socket>(self.handle);
        self.flush(socket);
        if self.receive(socket) {
            self.delivered = true;
            let reply = self.client.handle_reply(self.records.record()?).ok()?;
            free(&mut self.slots, reply.xid);
            return Some(ClientEvent::Reply(reply));
        }
        while let Some(event) = self.client.handle_timeout(core_instant(now)) {
            // Retransmit: a stream does not lose calls; a lost connection is the caller's.
            if let TimerEvent::TimedOut(xid) = event {
                if self.writing.is_some() && self.writing == slot_of(&self.slots, xid) {
                    // Stuck inside a record: this connection cannot carry another call.
                    socket.abort();
                    self.writing = None;
                }
                free(&mut self.slots, xid);
                return Some(ClientEvent::TimedOut(xid));
            }
        }
        None
    }

    /// Writes requests: the one partly written first (even if its call was cancelled: a record
    /// cannot be cut short), then any other not yet written.
    fn flush(&mut self, socket: &mut tcp::Socket<'_>) {
        if !socket.may_send() {
            return;
        }
        loop {
            let next = self.writing.or_else(|| self.slots.iter().position(|s| s.xid.is_some() && s.sent < s.len));
            let Some(i) = next else { return };
            let slot = &mut self.slots[i];
            slot.sent += socket.send_slice(&slot.buf[slot.sent..slot.len]).unwrap_or(0);
            if slot.sent < slot.len {
                self.writing = Some(i);
                return;
            }
            self.writing = None;
        }
    }

    /// Reads until a reply to an outstanding call is complete (true) or the input runs out.
    fn receive(&mut self, socket: &mut tcp::Socket<'_>) -> bool {
        loop {
            if let Some(record) = self.records.record() {
                if expected(&self.slots, record) {
                    return true;
                }
                self.records.next_record();
            }
            let records = &mut self.records;
            let pushed = socket.recv(|data| match records.push(data) {
                Ok((n, _)) => (n, Some(n)),
                Err(_) => (0, None),
            });
            match pushed {
                Ok(Some(n)) if n > 0 || self.records.record().is_some() => {}
                Ok(Some(_)) | Err(_) => return false,
                Ok(None) => {
                    // A reply over the limit: the stream cannot be followed any more.
                    socket.abort();
                    return false;
                }
            }
        }
    }
}
