//! [`Conn`]: one connection to one RPC program, with many calls in flight, driving the core's
//! [`Client`] and [`Reconnect`] machines.
//!
//! - Every call's message is kept (record-marked for TCP) until its reply comes, so it can be
//!   sent again: on a retransmission timer, and after a reconnect. Messages are encoded where
//!   they are sent from, in buffers that are reused from call to call (no allocation, no copy
//!   per call); a WRITE's data can be read straight into its message ([`Conn::prepare`]).
//! - Replies are handed out by reference ([`Event`]), where the socket read them: a TCP
//!   record is rebuilt in the receive buffer itself ([`RecordBuf`]).
//! - TCP: a read error, a reset or the server closing the stream marks the link down; the
//!   [`Reconnect`] schedule says when to connect again (at once, then with back-off). A hard
//!   link tries forever; a soft one fails every call with [`NfsError::Unreachable`] after
//!   its give-up time. After a reconnect every outstanding call is sent again, oldest first
//!   (the server's duplicate request cache, or idempotency, makes that safe).
//! - UDP: nothing to reconnect; the retransmission timers do the work, and a refused
//!   datagram (ICMP port unreachable while the server restarts) is just a lost one.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::ops::Range;
use std::time::Duration;

use tern_core::nfs3::client::{self as core_client, LinkAction, Reconnect, Semantics, Timeouts};
use tern_core::rpc::client::{CallFailure, Client, ClientError, TimerEvent};
use tern_core::rpc::record::fragment_header;
use tern_core::rpc::{AuthSys, Credential, Gids};
use tern_core::time;
use tern_core::xdr::XdrStr;

use super::NfsError;
use super::records::RecordBuf;
use crate::client::AuthSysParams;

/// Most calls in flight on one connection.
pub const MAX_INFLIGHT: usize = 64;

/// The transport of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// TCP with record marking.
    Tcp,
    /// UDP datagrams.
    Udp,
}

enum Link {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

/// Something that happened to a call.
#[derive(Debug)]
pub enum Event<'a> {
    /// A reply: the xid, and the result bytes (borrowed from the connection's receive buffer)
    /// or how the server refused the call.
    Reply(u32, Result<&'a [u8], CallFailure>),
    /// A soft call got no reply in time.
    TimedOut(u32),
}

/// What the receive path found, with the result as a range of the receive buffer.
enum Got {
    Reply(u32, Result<Range<usize>, CallFailure>),
    TimedOut(u32),
}

/// A call's message, kept until its reply for retransmission: `buf[..len]` is sent.
struct Msg {
    xid: u32,
    buf: Vec<u8>,
    len: usize,
}

/// Where a message's encoding starts: after the TCP record mark.
fn body_at(proto: Proto) -> usize {
    if proto == Proto::Tcp { 4 } else { 0 }
}

/// A connection to one program at one address; see the module docs.
pub struct Conn {
    addr: SocketAddr,
    proto: Proto,
    link: Option<Link>,
    core: Client<MAX_INFLIGHT>,
    reconnect: Reconnect,
    semantics: Semantics,
    epoch: std::time::Instant,
    /// Calls outstanding, oldest first.
    inflight: Vec<Msg>,
    /// A call encoded but not sent yet ([`Conn::prepare`]).
    prepared: Option<Msg>,
    /// Message buffers to reuse.
    pool: Vec<Vec<u8>>,
    /// Bytes a message buffer holds ([`Conn::reserve`]).
    msg_size: usize,
    records: RecordBuf,
    /// UDP: the datagram buffer.
    input: Vec<u8>,
    auth: Option<AuthSysParams>,
    /// Reconnects so far (for tests and logs).
    pub reconnects: u32,
}

fn xid_seed() -> u32 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (t.as_nanos() as u32) ^ std::process::id().rotate_left(16)
}

fn to_std(d: time::Duration) -> Duration {
    Duration::from_micros(d.as_micros())
}

impl Conn {
    /// A connection to `addr` over `proto`, connected before returning (a soft link that
    /// cannot connect within its give-up time fails with [`NfsError::Unreachable`]; a hard
    /// one fails only when the first attempts are refused outright, so that a typo does not
    /// hang: `first_try_only`).
    pub fn open(
        addr: SocketAddr,
        proto: Proto,
        semantics: Semantics,
        timeouts: Timeouts,
        max_record: usize,
        first_try_only: bool,
    ) -> Result<Self, NfsError> {
        let epoch = std::time::Instant::now();
        let reconnect = Reconnect::new(
            time::Instant::ZERO,
            semantics,
            time::Duration::from_millis(100),
            time::Duration::from_secs(5),
            timeouts.give_up,
        );
        let mut c = Conn {
            addr,
            proto,
            link: None,
            core: Client::new(timeouts.rpc_config(semantics), xid_seed()),
            reconnect,
            semantics,
            epoch,
            inflight: Vec::new(),
            prepared: None,
            pool: Vec::new(),
            msg_size: 64 * 1024,
            records: RecordBuf::new(if proto == Proto::Tcp { max_record } else { 0 }),
            input: if proto == Proto::Udp { vec![0u8; 65_536] } else { Vec::new() },
            auth: None,
            reconnects: 0,
        };
        match c.try_connect() {
            Ok(()) => Ok(c),
            Err(e) if first_try_only => Err(NfsError::Unreachable(format!("{addr}: {e}"))),
            Err(_) => {
                c.reconnect.lost(c.now());
                c.ensure_up()?;
                Ok(c)
            }
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends AUTH_SYS from now on (`None`: AUTH_NONE).
    pub fn set_auth(&mut self, auth: Option<AuthSysParams>) {
        self.auth = auth;
    }

    fn now(&self) -> time::Instant {
        time::Instant::from_micros(u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    fn try_connect(&mut self) -> io::Result<()> {
        let link = match self.proto {
            Proto::Tcp => {
                let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(3))?;
                s.set_nodelay(true)?;
                Link::Tcp(s)
            }
            Proto::Udp => {
                let local: SocketAddr =
                    if self.addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().map_err(io::Error::other)?;
                let s = UdpSocket::bind(local)?;
                s.connect(self.addr)?;
                Link::Udp(s)
            }
        };
        self.link = Some(link);
        self.records.reset();
        self.reconnect.connected();
        Ok(())
    }

    fn down(&mut self, why: &dyn std::fmt::Display) {
        if self.link.take().is_some() {
            tracing::debug!("connection to {} lost: {why}", self.addr);
        }
        self.reconnect.lost(self.now());
    }

    /// Makes room for requests of `n` bytes.
    pub fn reserve(&mut self, n: usize) {
        self.msg_size = self.msg_size.max(n + 4);
    }

    /// Calls outstanding.
    pub fn outstanding(&self) -> usize {
        self.inflight.len()
    }

    /// A message buffer of `msg_size` bytes (reused when one is free). A new one comes zeroed
    /// from the allocator, so only the pages a message touches are ever mapped (a READ call
    /// uses the first of the 1 MiB a WRITE needs).
    fn buffer(&mut self) -> Vec<u8> {
        match self.pool.pop() {
            Some(b) if b.len() >= self.msg_size => b,
            _ => vec![0; self.msg_size],
        }
    }

    fn recycle(&mut self, m: Msg) {
        if self.pool.len() <= MAX_INFLIGHT {
            self.pool.push(m.buf);
        }
    }

    fn credential(auth: &Option<AuthSysParams>) -> Result<Credential<'_>, NfsError> {
        Ok(match auth {
            None => Credential::None,
            Some(a) => Credential::Sys(AuthSys {
                stamp: 0,
                machine_name: XdrStr::new(&a.machine_name).map_err(ClientError::Encode)?,
                uid: a.uid,
                gid: a.gid,
                gids: Gids::Slice(&a.gids),
            }),
        })
    }

    /// Starts a call: `enc` encodes it with the core client into the buffer it is given
    /// (see [`Conn::reserve`]); the message is sent (or queued until the link is up).
    pub fn start(
        &mut self,
        enc: impl FnOnce(
            &mut Client<MAX_INFLIGHT>,
            time::Instant,
            &Credential<'_>,
            &mut [u8],
        ) -> Result<(u32, usize), core_client::Error>,
    ) -> Result<u32, NfsError> {
        self.start_opt(|c, now, cred, buf| enc(c, now, cred, buf).map(Some))?
            .ok_or_else(|| NfsError::Protocol("nothing to send".into()))
    }

    /// [`Conn::start`] for encoders that may have nothing to send (`None`).
    pub fn start_opt(
        &mut self,
        enc: impl FnOnce(
            &mut Client<MAX_INFLIGHT>,
            time::Instant,
            &Credential<'_>,
            &mut [u8],
        ) -> Result<Option<(u32, usize)>, core_client::Error>,
    ) -> Result<Option<u32>, NfsError> {
        let got = self.encode(|c, now, cred, buf| Ok(enc(c, now, cred, buf)?.map(|(x, n)| (x, n, 0..0))))?;
        let Some((xid, _)) = got else { return Ok(None) };
        self.send_prepared();
        Ok(Some(xid))
    }

    /// Encodes a call whose message the caller completes before it is sent: `enc` returns the
    /// xid, the message's length and a range of it; that range of the message is handed back
    /// to be filled (a WRITE's data, read from the source straight into place). Then
    /// [`Conn::send_prepared`] sends it, or [`Conn::abort_prepared`] forgets the call.
    pub fn prepare(
        &mut self,
        enc: impl FnOnce(
            &mut Client<MAX_INFLIGHT>,
            time::Instant,
            &Credential<'_>,
            &mut [u8],
        ) -> Result<(u32, usize, Range<usize>), core_client::Error>,
    ) -> Result<(u32, &mut [u8]), NfsError> {
        let (xid, r) = self
            .encode(|c, now, cred, buf| enc(c, now, cred, buf).map(Some))?
            .ok_or_else(|| NfsError::Protocol("nothing to send".into()))?;
        let m = self.prepared.as_mut().ok_or_else(|| NfsError::Protocol("no prepared call".into()))?;
        let part = m.buf.get_mut(r).ok_or_else(|| NfsError::Protocol("range outside the message".into()))?;
        Ok((xid, part))
    }

    /// Encodes a call into a message buffer, kept in `prepared`; the range is shifted to
    /// the message buffer.
    fn encode(
        &mut self,
        enc: impl FnOnce(
            &mut Client<MAX_INFLIGHT>,
            time::Instant,
            &Credential<'_>,
            &mut [u8],
        ) -> Result<Option<(u32, usize, Range<usize>)>, core_client::Error>,
    ) -> Result<Option<(u32, Range<usize>)>, NfsError> {
        self.abort_prepared();
        let now = self.now();
        let mut buf = self.buffer();
        let at = body_at(self.proto);
        let cred = Self::credential(&self.auth)?;
        let got = match enc(&mut self.core, now, &cred, &mut buf[at..]) {
            Ok(Some(g)) => g,
            Ok(None) => {
                self.pool.push(buf);
                return Ok(None);
            }
            Err(e) => {
                self.pool.push(buf);
                return Err(e.into());
            }
        };
        let (xid, len, r) = got;
        if self.proto == Proto::Tcp {
            buf[..4].copy_from_slice(&fragment_header(u32::try_from(len).unwrap_or(u32::MAX), true));
        }
        self.prepared = Some(Msg { xid, buf, len: at + len });
        Ok(Some((xid, r.start + at..r.end + at)))
    }

    /// Sends the call [`Conn::prepare`] encoded.
    pub fn send_prepared(&mut self) {
        if let Some(m) = self.prepared.take() {
            self.inflight.push(m);
            self.transmit(self.inflight.len() - 1);
        }
    }

    /// Forgets the call [`Conn::prepare`] encoded, unsent (its reply, if one ever came, would
    /// be ignored).
    pub fn abort_prepared(&mut self) {
        if let Some(m) = self.prepared.take() {
            self.core.cancel(m.xid);
            self.recycle(m);
        }
    }

    fn transmit(&mut self, i: usize) {
        let Some(m) = self.inflight.get(i) else { return };
        let msg = &m.buf[..m.len];
        let res = match &mut self.link {
            Some(Link::Tcp(s)) => s.write_all(msg),
            Some(Link::Udp(s)) => match s.send(msg) {
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
                r => r.map(|_| ()),
            },
            None => return,
        };
        if let Err(e) = res {
            self.down(&e);
        }
    }

    /// Drops the message of `xid` (its call is over).
    fn forget(&mut self, xid: u32) {
        if let Some(i) = self.inflight.iter().position(|m| m.xid == xid) {
            let m = self.inflight.remove(i);
            self.recycle(m);
        }
    }

    /// Gives up every outstanding call (their replies, if any come, are ignored).
    pub fn cancel_all(&mut self) {
        self.abort_prepared();
        for m in std::mem::take(&mut self.inflight) {
            self.core.cancel(m.xid);
            self.recycle(m);
        }
    }

    /// Brings the link up (reconnecting per the schedule), or fails for a soft link past its
    /// give-up time.
    fn ensure_up(&mut self) -> Result<(), NfsError> {
        while self.link.is_none() {
            let now = self.now();
            match self.reconnect.poll(now) {
                LinkAction::Up => break,
                LinkAction::GiveUp => {
                    self.cancel_all();
                    return Err(NfsError::Unreachable(format!("{}: no connection", self.addr)));
                }
                LinkAction::Wait(t) => {
                    std::thread::sleep(to_std(t.saturating_since(now)).max(Duration::from_millis(1)))
                }
                LinkAction::Connect => match self.try_connect() {
                    Ok(()) => {
                        self.reconnects += 1;
                        tracing::info!("reconnected to {}; sending {} calls again", self.addr, self.inflight.len());
                        for i in 0..self.inflight.len() {
                            self.transmit(i);
                        }
                    }
                    Err(e) => {
                        tracing::debug!("connect to {}: {e}", self.addr);
                        self.reconnect.lost(self.now());
                    }
                },
            }
        }
        Ok(())
    }

    /// Waits for the next reply or soft time-out of any outstanding call. A reply's bytes
    /// are borrowed from the receive buffer until the next call on this connection.
    pub fn wait(&mut self) -> Result<Event<'_>, NfsError> {
        Ok(match self.wait_range()? {
            Got::Reply(xid, r) => Event::Reply(xid, r.map(|r| self.received(r))),
            Got::TimedOut(xid) => Event::TimedOut(xid),
        })
    }

    fn received(&self, r: Range<usize>) -> &[u8] {
        match self.proto {
            Proto::Tcp => self.records.get(r),
            Proto::Udp => self.input.get(r).unwrap_or(&[]),
        }
    }

    fn wait_range(&mut self) -> Result<Got, NfsError> {
        if self.inflight.is_empty() {
            return Err(NfsError::Protocol("waiting with no call outstanding".into()));
        }
        loop {
            let now = self.now();
            while let Some(ev) = self.core.handle_timeout(now) {
                match ev {
                    TimerEvent::Retransmit(x) => {
                        if let Some(i) = self.inflight.iter().position(|m| m.xid == x) {
                            self.transmit(i);
                        }
                    }
                    TimerEvent::TimedOut(x) => {
                        self.forget(x);
                        return Ok(Got::TimedOut(x));
                    }
                }
            }
            self.ensure_up()?;
            let deadline = self.core.poll_timeout().unwrap_or(now + time::Duration::from_secs(1));
            let wait =
                to_std(deadline.saturating_since(self.now())).clamp(Duration::from_millis(1), Duration::from_secs(1));
            if let Some(ev) = self.receive(wait)? {
                return Ok(ev);
            }
        }
    }

    /// Takes one message off the link within `wait`; `None` when nothing (or nothing of
    /// ours) came.
    fn receive(&mut self, wait: Duration) -> Result<Option<Got>, NfsError> {
        match &mut self.link {
            Some(Link::Udp(s)) => {
                s.set_read_timeout(Some(wait))?;
                match s.recv(&mut self.input) {
                    Ok(n) => Ok(self.take_reply(0..n)),
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::ConnectionRefused
                        ) =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Some(Link::Tcp(_)) => self.receive_tcp(wait),
            None => Ok(None),
        }
    }

    fn receive_tcp(&mut self, wait: Duration) -> Result<Option<Got>, NfsError> {
        let until = std::time::Instant::now() + wait;
        loop {
            // Records already read first.
            loop {
                match self.records.next() {
                    Ok(Some(rec)) => {
                        if let Some(got) = self.take_reply(rec) {
                            return Ok(Some(got));
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        self.down(&e);
                        return Ok(None);
                    }
                }
            }
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let Some(Link::Tcp(s)) = &mut self.link else { return Ok(None) };
            s.set_read_timeout(Some(left))?;
            match s.read(self.records.space()) {
                Ok(0) => {
                    self.down(&"closed by the server");
                    return Ok(None);
                }
                Ok(n) => self.records.filled(n),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return Ok(None),
                Err(e) => {
                    self.down(&e);
                    return Ok(None);
                }
            }
        }
    }

    /// Matches the message at `msg` (of the receive buffer) to its call: the result as a
    /// range of the same buffer, or `None` for a late duplicate or junk.
    fn take_reply(&mut self, msg: Range<usize>) -> Option<Got> {
        let bytes = match self.proto {
            Proto::Tcp => self.records.get(msg.clone()),
            Proto::Udp => self.input.get(msg.clone()).unwrap_or(&[]),
        };
        let base = bytes.as_ptr() as usize;
        let (xid, res) = match self.core.handle_reply(bytes) {
            Ok(r) => {
                // The results are a slice of the message: their place in it, by address.
                let res = r.result.map(|b| {
                    let at = msg.start + (b.as_ptr() as usize - base);
                    at..at + b.len()
                });
                (r.xid, res)
            }
            Err(ClientError::UnknownXid(_)) => return None,
            Err(e) => {
                tracing::debug!("ignoring a message from {}: {e}", self.addr);
                return None;
            }
        };
        self.forget(xid);
        Some(Got::Reply(xid, res))
    }

    /// Runs one call to completion: its result bytes.
    pub fn call(
        &mut self,
        enc: impl FnOnce(
            &mut Client<MAX_INFLIGHT>,
            time::Instant,
            &Credential<'_>,
            &mut [u8],
        ) -> Result<(u32, usize), core_client::Error>,
    ) -> Result<Vec<u8>, NfsError> {
        self.call_ref(enc).map(<[u8]>::to_vec)
    }

    /// [`Conn::call`] with the result bytes borrowed from the receive buffer.
    pub fn call_ref(
        &mut self,
        enc: impl FnOnce(
            &mut Client<MAX_INFLIGHT>,
            time::Instant,
            &Credential<'_>,
            &mut [u8],
        ) -> Result<(u32, usize), core_client::Error>,
    ) -> Result<&[u8], NfsError> {
        let xid = self.start(enc)?;
        loop {
            match self.wait_range()? {
                Got::Reply(x, r) if x == xid => return r.map(|r| self.received(r)).map_err(NfsError::Refused),
                Got::TimedOut(x) if x == xid => return Err(NfsError::TimedOut),
                _ => {}
            }
        }
    }

    /// The semantics of this link.
    pub fn semantics(&self) -> Semantics {
        self.semantics
    }
}
