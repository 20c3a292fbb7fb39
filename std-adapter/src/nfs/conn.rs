//! [`Conn`]: one connection to one RPC program, with many calls in flight, driving the core's
//! [`Client`] and [`Reconnect`] machines.
//!
//! - Every call's message is kept (record-marked for TCP) until its reply comes, so it can be
//!   sent again: on a retransmission timer, and after a reconnect.
//! - TCP: a read error, a reset or the server closing the stream marks the link down; the
//!   [`Reconnect`] schedule says when to connect again (at once, then with back-off). A hard
//!   link tries forever; a soft one fails every call with [`NfsError::Unreachable`] after
//!   its give-up time. After a reconnect every outstanding call is sent again, oldest first
//!   (the server's duplicate request cache, or idempotency, makes that safe).
//! - UDP: nothing to reconnect; the retransmission timers do the work, and a refused
//!   datagram (ICMP port unreachable while the server restarts) is just a lost one.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use tern_core::nfs3::client::{self as core_client, LinkAction, Reconnect, Semantics, Timeouts};
use tern_core::rpc::client::{CallFailure, Client, ClientError, TimerEvent};
use tern_core::rpc::record::fragment_header;
use tern_core::rpc::{AuthSys, Credential, Gids, RecordReader};
use tern_core::time;
use tern_core::xdr::XdrStr;

use super::NfsError;
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
pub enum Event {
    /// A reply: the xid, and the result bytes or how the server refused the call.
    Reply(u32, Result<Vec<u8>, CallFailure>),
    /// A soft call got no reply in time.
    TimedOut(u32),
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
    inflight: BTreeMap<u64, (u32, Vec<u8>)>,
    order: u64,
    scratch: Vec<u8>,
    records: RecordReader<Vec<u8>>,
    input: Vec<u8>,
    input_len: usize,
    input_at: usize,
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
            inflight: BTreeMap::new(),
            order: 0,
            scratch: vec![0u8; 64 * 1024],
            records: RecordReader::new(vec![0u8; max_record]),
            input: vec![0u8; 256 * 1024],
            input_len: 0,
            input_at: 0,
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
        self.input_len = 0;
        self.input_at = 0;
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
        if self.scratch.len() < n {
            self.scratch.resize(n, 0);
        }
    }

    /// Calls outstanding.
    pub fn outstanding(&self) -> usize {
        self.inflight.len()
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
        let now = self.now();
        let name;
        let cred = match &self.auth {
            None => Credential::None,
            Some(a) => {
                name = XdrStr::new(&a.machine_name).map_err(ClientError::Encode)?;
                Credential::Sys(AuthSys {
                    stamp: 0,
                    machine_name: name,
                    uid: a.uid,
                    gid: a.gid,
                    gids: Gids::Slice(&a.gids),
                })
            }
        };
        let Some((xid, len)) = enc(&mut self.core, now, &cred, &mut self.scratch)? else { return Ok(None) };
        let mut msg = Vec::with_capacity(len + 4);
        if self.proto == Proto::Tcp {
            msg.extend_from_slice(&fragment_header(u32::try_from(len).unwrap_or(u32::MAX), true));
        }
        msg.extend_from_slice(&self.scratch[..len]);
        self.order += 1;
        self.inflight.insert(self.order, (xid, msg));
        self.transmit(self.order);
        Ok(Some(xid))
    }

    fn transmit(&mut self, key: u64) {
        let Some((_, msg)) = self.inflight.get(&key) else { return };
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

    fn forget(&mut self, xid: u32) {
        if let Some(k) = self.inflight.iter().find(|(_, (x, _))| *x == xid).map(|(k, _)| *k) {
            self.inflight.remove(&k);
        }
    }

    /// Gives up every outstanding call (their replies, if any come, are ignored).
    pub fn cancel_all(&mut self) {
        for (_, (xid, _)) in std::mem::take(&mut self.inflight) {
            self.core.cancel(xid);
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
                        let keys: Vec<u64> = self.inflight.keys().copied().collect();
                        for k in keys {
                            self.transmit(k);
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

    /// Waits for the next reply or soft time-out of any outstanding call.
    pub fn wait(&mut self) -> Result<Event, NfsError> {
        if self.inflight.is_empty() {
            return Err(NfsError::Protocol("waiting with no call outstanding".into()));
        }
        loop {
            let now = self.now();
            while let Some(ev) = self.core.handle_timeout(now) {
                match ev {
                    TimerEvent::Retransmit(x) => {
                        if let Some(k) = self.inflight.iter().find(|(_, (xid, _))| *xid == x).map(|(k, _)| *k) {
                            self.transmit(k);
                        }
                    }
                    TimerEvent::TimedOut(x) => {
                        self.forget(x);
                        return Ok(Event::TimedOut(x));
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
    fn receive(&mut self, wait: Duration) -> Result<Option<Event>, NfsError> {
        match &mut self.link {
            Some(Link::Udp(s)) => {
                s.set_read_timeout(Some(wait))?;
                match s.recv(&mut self.input) {
                    Ok(n) => Ok(take_reply(&mut self.core, &mut self.inflight, self.addr, &self.input[..n])),
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

    fn receive_tcp(&mut self, wait: Duration) -> Result<Option<Event>, NfsError> {
        let until = std::time::Instant::now() + wait;
        loop {
            // Bytes already read go to the record reader first.
            while self.input_at < self.input_len {
                let (used, done) = match self.records.push(&self.input[self.input_at..self.input_len]) {
                    Ok(r) => r,
                    Err(e) => {
                        self.down(&e);
                        return Ok(None);
                    }
                };
                self.input_at += used;
                if done {
                    let rec = self.records.record().unwrap_or(&[]);
                    let ev = take_reply(&mut self.core, &mut self.inflight, self.addr, rec);
                    self.records.next_record();
                    if ev.is_some() {
                        return Ok(ev);
                    }
                }
            }
            self.input_len = 0;
            self.input_at = 0;
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let Some(Link::Tcp(s)) = &mut self.link else { return Ok(None) };
            s.set_read_timeout(Some(left))?;
            match s.read(&mut self.input) {
                Ok(0) => {
                    self.down(&"closed by the server");
                    return Ok(None);
                }
                Ok(n) => self.input_len = n,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return Ok(None),
                Err(e) => {
                    self.down(&e);
                    return Ok(None);
                }
            }
        }
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
        let xid = self.start(enc)?;
        loop {
            match self.wait()? {
                Event::Reply(x, r) if x == xid => return r.map_err(NfsError::Refused),
                Event::TimedOut(x) if x == xid => return Err(NfsError::TimedOut),
                _ => {}
            }
        }
    }

    /// The semantics of this link.
    pub fn semantics(&self) -> Semantics {
        self.semantics
    }
}

/// Matches a message to its call: the event, or `None` for a late duplicate or junk.
fn take_reply(
    core: &mut Client<MAX_INFLIGHT>,
    inflight: &mut BTreeMap<u64, (u32, Vec<u8>)>,
    addr: SocketAddr,
    msg: &[u8],
) -> Option<Event> {
    match core.handle_reply(msg) {
        Ok(r) => {
            let xid = r.xid;
            let res = r.result.map(<[u8]>::to_vec);
            if let Some(k) = inflight.iter().find(|(_, (x, _))| *x == xid).map(|(k, _)| *k) {
                inflight.remove(&k);
            }
            Some(Event::Reply(xid, res))
        }
        Err(ClientError::UnknownXid(_)) => None,
        Err(e) => {
            tracing::debug!("ignoring a message from {addr}: {e}");
            None
        }
    }
}
