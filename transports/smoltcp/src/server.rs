//! The server pump: requests from a UDP socket and from TCP connections go to one
//! [`Dispatcher`], replies go back to their senders.
//!
//! TCP connection life cycle, per socket: listening → established (served: requests read, each
//! complete record dispatched, its reply written) → the peer closes its half (pending replies
//! are finished, then the socket closes) or the connection is aborted (a fragment header over
//! the record limit, or no progress for the idle timeout) → the socket listens again, with its
//! record reader and pending reply cleared.

use core::net::SocketAddr;

use heapless::Vec;
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::{Duration, Instant};
use tern_core::rpc::record::{LAST_FRAGMENT, fragment_header};
use tern_core::rpc::{Dispatch, Dispatcher, Peer, ProgramTable, Transport};

use crate::{MIN_REPLY, RECORD_MARK, add_tcp_socket, add_udp_socket};
use tern_core::rpc::RecordReader;

/// Why a socket could not be added to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupError {
    /// The server already serves `TCP` connections.
    NoTcpSlot,
    /// The server already has a UDP socket.
    UdpAlreadySet,
    /// A reply buffer is shorter than [`MIN_REPLY`] (plus [`RECORD_MARK`] for TCP).
    ReplyBufferTooSmall,
    /// The UDP socket could not be bound.
    Bind(udp::BindError),
    /// The TCP socket could not listen.
    Listen(tcp::ListenError),
}

impl core::fmt::Display for SetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SetupError::NoTcpSlot => f.write_str("no free TCP connection slot"),
            SetupError::UdpAlreadySet => f.write_str("the server already has a UDP socket"),
            SetupError::ReplyBufferTooSmall => f.write_str("reply buffer too small"),
            SetupError::Bind(e) => write!(f, "cannot bind the UDP socket: {e}"),
            SetupError::Listen(e) => write!(f, "cannot listen on the TCP socket: {e}"),
        }
    }
}

impl core::error::Error for SetupError {}

/// Counters kept by the pump (the dispatcher keeps its own: [`Dispatcher::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// TCP connections accepted.
    pub connections: u32,
    /// TCP connections aborted for a fragment header over the record limit.
    pub too_large: u32,
    /// TCP connections aborted for making no progress within the idle timeout.
    pub idle_aborts: u32,
    /// UDP replies dropped because the socket's send buffer was full.
    pub udp_replies_dropped: u32,
}

/// One TCP socket and its connection state.
#[derive(Debug)]
struct Conn<'b> {
    handle: SocketHandle,
    records: RecordReader<&'b mut [u8]>,
    /// Reply buffer: a record mark, then the reply.
    reply: &'b mut [u8],
    /// `reply[sent..end]` is still to be written.
    sent: usize,
    end: usize,
    /// Serving a connection (set when it is seen established, cleared when listening again).
    open: bool,
    /// Last time bytes moved either way (or the connection was seen first).
    last: Instant,
}

/// An RPC server over one UDP socket and up to `TCP` TCP sockets on the same port.
#[derive(Debug)]
pub struct RpcServer<'b, T, const TCP: usize> {
    dispatcher: Dispatcher<T>,
    port: u16,
    udp: Option<(SocketHandle, &'b mut [u8])>,
    conns: Vec<Conn<'b>, TCP>,
    idle_timeout: Option<Duration>,
    stats: ServerStats,
}

impl<'b, T: ProgramTable, const TCP: usize> RpcServer<'b, T, TCP> {
    /// Default for [`RpcServer::set_idle_timeout`]: 2 minutes.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

    /// A server for `dispatcher` on `port`, with no socket yet.
    pub fn new(dispatcher: Dispatcher<T>, port: u16) -> Self {
        RpcServer {
            dispatcher,
            port,
            udp: None,
            conns: Vec::new(),
            idle_timeout: Some(Self::DEFAULT_IDLE_TIMEOUT),
            stats: ServerStats::default(),
        }
    }

    /// Creates the UDP socket over `rx` and `tx`, binds it to the port and adds it to
    /// `sockets`. Replies are built in `reply` (its length is the largest UDP reply).
    pub fn add_udp<'s>(
        &mut self,
        sockets: &mut SocketSet<'s>,
        rx: udp::PacketBuffer<'s>,
        tx: udp::PacketBuffer<'s>,
        reply: &'b mut [u8],
    ) -> Result<SocketHandle, SetupError> {
        if self.udp.is_some() {
            return Err(SetupError::UdpAlreadySet);
        }
        if reply.len() < MIN_REPLY {
            return Err(SetupError::ReplyBufferTooSmall);
        }
        let handle = add_udp_socket(sockets, self.port, rx, tx).map_err(SetupError::Bind)?;
        self.udp = Some((handle, reply));
        Ok(handle)
    }

    /// Creates a TCP socket over `rx` and `tx`, makes it listen on the port and adds it to
    /// `sockets`: one more connection served at a time. Requests of up to `record.len()` bytes
    /// are accepted; replies of up to `reply.len() - 4` bytes are sent.
    pub fn add_tcp<'s>(
        &mut self,
        sockets: &mut SocketSet<'s>,
        rx: tcp::SocketBuffer<'s>,
        tx: tcp::SocketBuffer<'s>,
        record: &'b mut [u8],
        reply: &'b mut [u8],
    ) -> Result<SocketHandle, SetupError> {
        if self.conns.is_full() {
            return Err(SetupError::NoTcpSlot);
        }
        if reply.len() < RECORD_MARK + MIN_REPLY {
            return Err(SetupError::ReplyBufferTooSmall);
        }
        if self.port == 0 {
            return Err(SetupError::Listen(tcp::ListenError::Unaddressable));
        }
        let handle = add_tcp_socket(sockets, rx, tx);
        sockets.get_mut::<tcp::Socket>(handle).listen(self.port).map_err(SetupError::Listen)?;
        let conn = Conn {
            handle,
            records: RecordReader::new(record),
            reply,
            sent: 0,
            end: 0,
            open: false,
            last: Instant::ZERO,
        };
        // Cannot fail: checked above.
        let _ = self.conns.push(conn);
        Ok(handle)
    }

    /// Sets how long a TCP connection may make no progress (no byte received or sent) before
    /// it is aborted; `None` keeps connections forever. This is what frees a slot held by a
    /// peer that went away or stopped reading.
    pub fn set_idle_timeout(&mut self, timeout: Option<Duration>) {
        self.idle_timeout = timeout;
    }

    /// The dispatcher (and through it the programs and their counters).
    pub fn dispatcher(&mut self) -> &mut Dispatcher<T> {
        &mut self.dispatcher
    }

    /// The pump's counters.
    pub fn stats(&self) -> ServerStats {
        self.stats
    }

    /// When [`RpcServer::poll`] must run even if no packet arrives (the next idle timeout).
    /// Otherwise it only needs to run after `Interface::poll`.
    pub fn poll_at(&self) -> Option<Instant> {
        let idle = self.idle_timeout?;
        self.conns.iter().filter(|c| c.open).map(|c| c.last + idle).min()
    }

    /// Serves what the sockets hold: answers every datagram received (while the UDP send buffer
    /// has room) and, per TCP connection, finishes the pending reply, then reads and answers
    /// complete requests until a reply does not fit or no input is left. Call after each
    /// `Interface::poll`, and at [`RpcServer::poll_at`].
    pub fn poll(&mut self, now: Instant, sockets: &mut SocketSet<'_>) {
        self.dispatcher.advance_time(crate::core_instant(now));
        if let Some((handle, reply)) = &mut self.udp {
            let socket = sockets.get_mut::<udp::Socket>(*handle);
            serve_udp(&mut self.dispatcher, socket, reply, &mut self.stats);
        }
        for conn in &mut self.conns {
            let socket = sockets.get_mut::<tcp::Socket>(conn.handle);
            conn.poll(&mut self.dispatcher, socket, self.port, now, self.idle_timeout, &mut self.stats);
        }
    }
}

fn serve_udp<T: ProgramTable>(
    dispatcher: &mut Dispatcher<T>,
    socket: &mut udp::Socket<'_>,
    reply: &mut [u8],
    stats: &mut ServerStats,
) {
    // Requests stay queued while replies could not be queued.
    while socket.can_send() {
        let Ok((request, meta)) = socket.recv() else { return };
        let peer = Peer { addr: SocketAddr::from(meta.endpoint), transport: Transport::Udp };
        let Dispatch::Reply(n) = dispatcher.handle(peer, request, reply) else { continue };
        let mut to = udp::UdpMetadata::from(meta.endpoint);
        // Answer from the address that was called, unless that was a broadcast.
        to.local_address = meta.local_address.filter(|a| a.is_unicast());
        if socket.send_slice(&reply[..n], to).is_err() {
            stats.udp_replies_dropped = stats.udp_replies_dropped.saturating_add(1);
        }
    }
}

/// What reading from a connection ended with.
enum Read {
    /// No more input for now (or the receive half is closed).
    Drained,
    /// A whole record is in the reader.
    Record,
    /// The peer broke the record-marking limit.
    TooLarge,
}

impl Conn<'_> {
    fn poll<T: ProgramTable>(
        &mut self,
        dispatcher: &mut Dispatcher<T>,
        socket: &mut tcp::Socket<'_>,
        port: u16,
        now: Instant,
        idle: Option<Duration>,
        stats: &mut ServerStats,
    ) {
        use tcp::State;
        match socket.state() {
            // Aborted, and the reset is not sent yet: listening now would forget it.
            State::Closed if socket.remote_endpoint().is_some() => return,
            State::Closed | State::TimeWait => return self.listen_again(socket, port),
            State::Listen | State::SynSent | State::SynReceived => return,
            _ => {}
        }
        if !self.open {
            self.open = true;
            self.last = now;
            stats.connections = stats.connections.saturating_add(1);
        }
        if matches!(socket.state(), State::Established | State::CloseWait) {
            if let Some(remote) = socket.remote_endpoint() {
                let peer = Peer { addr: SocketAddr::from(remote), transport: Transport::Tcp };
                if self.serve(dispatcher, socket, peer, now).is_err() {
                    socket.abort();
                    stats.too_large = stats.too_large.saturating_add(1);
                    return;
                }
            }
            // The peer is done sending and has its answers: close our half too.
            if socket.state() == State::CloseWait && !socket.can_recv() && self.sent == self.end {
                socket.close();
            }
        }
        if idle.is_some_and(|t| now >= self.last + t) {
            socket.abort();
            stats.idle_aborts = stats.idle_aborts.saturating_add(1);
        }
    }

    /// Writes the pending reply, then reads and answers requests until a reply stays pending
    /// or the input runs out. `Err` when the peer broke the record limit.
    fn serve<T: ProgramTable>(
        &mut self,
        dispatcher: &mut Dispatcher<T>,
        socket: &mut tcp::Socket<'_>,
        peer: Peer,
        now: Instant,
    ) -> Result<(), ()> {
        loop {
            if self.sent < self.end {
                let n = socket.send_slice(&self.reply[self.sent..self.end]).unwrap_or(0);
                self.sent += n;
                if n > 0 {
                    self.last = now;
                }
                if self.sent < self.end {
                    return Ok(()); // Back-pressure: no new request until this reply is out.
                }
            }
            match self.read(socket, now) {
                Read::Drained => return Ok(()),
                Read::TooLarge => return Err(()),
                Read::Record => self.answer(dispatcher, peer),
            }
        }
    }

    fn read(&mut self, socket: &mut tcp::Socket<'_>, now: Instant) -> Read {
        loop {
            let records = &mut self.records;
            let pushed = socket.recv(|data| match records.push(data) {
                Ok((n, done)) => (n, Some((n, done))),
                Err(_) => (0, None),
            });
            match pushed {
                // The receive half is closed; whatever part of a record arrived is dropped.
                Err(_) => return Read::Drained,
                Ok(None) => return Read::TooLarge,
                Ok(Some((n, done))) => {
                    if n > 0 {
                        self.last = now;
                    }
                    if done {
                        return Read::Record;
                    }
                    if n == 0 {
                        return Read::Drained;
                    }
                    // The socket's ring buffer may hold more past its wrap point: go on.
                }
            }
        }
    }

    fn answer<T: ProgramTable>(&mut self, dispatcher: &mut Dispatcher<T>, peer: Peer) {
        if let Some(request) = self.records.record() {
            // A record mark gives 31 bits of length.
            let end = self.reply.len().min(RECORD_MARK + (LAST_FRAGMENT - 1) as usize);
            if let Dispatch::Reply(n) = dispatcher.handle(peer, request, &mut self.reply[RECORD_MARK..end]) {
                let len = u32::try_from(n).unwrap_or(LAST_FRAGMENT - 1);
                self.reply[..RECORD_MARK].copy_from_slice(&fragment_header(len, true));
                self.sent = 0;
                self.end = RECORD_MARK + n;
            }
        }
        self.records.next_record();
    }

    fn listen_again(&mut self, socket: &mut tcp::Socket<'_>, port: u16) {
        self.records.reset();
        self.sent = 0;
        self.end = 0;
        self.open = false;
        // Cannot fail: the socket is closed and the port is not zero.
        let _ = socket.listen(port);
    }
}
