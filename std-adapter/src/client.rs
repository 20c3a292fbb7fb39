//! A blocking RPC client over TCP or UDP, driving the core's sans-IO
//! [`Client`]: one call at a time, retransmission with
//! back-off over UDP, one deadline over TCP.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use tern_core::rpc::client::{CallFailure, Client, ClientConfig, ClientError, TimerEvent};
use tern_core::rpc::record::{RecordError, fragments};
use tern_core::rpc::{AuthSys, Credential, Gids, RecordReader};
use tern_core::time;
use tern_core::xdr::{self, Encode, XdrStr};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// A socket error.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// No reply in time.
    #[error("no reply from the server in time")]
    Timeout,
    /// The server refused the call.
    #[error("server refused the call: {0}")]
    Refused(CallFailure),
    /// The call could not be made or the reply not understood.
    #[error("{0}")]
    Protocol(#[from] ClientError),
    /// The results did not decode.
    #[error("cannot decode the results: {0}")]
    Decode(#[from] xdr::Error),
    /// The reply stream broke record marking.
    #[error("{0}")]
    Record(#[from] RecordError),
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
}

enum Link {
    Tcp { stream: TcpStream, records: RecordReader<Vec<u8>> },
    Udp { sock: UdpSocket, buf: Vec<u8> },
}

/// AUTH_SYS parameters owned by the client.
#[derive(Debug, Clone)]
pub struct AuthSysParams {
    /// Machine name (at most 255 bytes).
    pub machine_name: String,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Supplementary groups (at most 16).
    pub gids: Vec<u32>,
}

/// A blocking client connected to one server address.
pub struct RpcClient {
    link: Link,
    core: Client<1>,
    epoch: Instant,
    request: Vec<u8>,
    auth: Option<AuthSysParams>,
    fragment: usize,
    server: SocketAddr,
}

/// Largest record or datagram accepted from a server by default.
const DEFAULT_MAX_REPLY: usize = 2 * 1024 * 1024;

fn xid_seed() -> u32 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (t.as_nanos() as u32) ^ std::process::id().rotate_left(16)
}

impl RpcClient {
    /// Connects over TCP; `timeout` bounds the connect and each call.
    pub fn tcp(server: SocketAddr, timeout: Duration) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&server, timeout)?;
        stream.set_nodelay(true)?;
        let cfg = ClientConfig { timeout: to_core(timeout), max_timeout: to_core(timeout), retries: 0 };
        let records = RecordReader::new(vec![0u8; DEFAULT_MAX_REPLY]);
        Ok(Self::with_link(Link::Tcp { stream, records }, cfg, server))
    }

    /// Talks to `server` over UDP with the core's default retransmission schedule.
    pub fn udp(server: SocketAddr) -> io::Result<Self> {
        let local: SocketAddr =
            if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().map_err(io::Error::other)?;
        let sock = UdpSocket::bind(local)?;
        sock.connect(server)?;
        Ok(Self::with_link(Link::Udp { sock, buf: vec![0u8; 65_536] }, ClientConfig::datagram(), server))
    }

    fn with_link(link: Link, cfg: ClientConfig, server: SocketAddr) -> Self {
        RpcClient {
            link,
            core: Client::new(cfg, xid_seed()),
            epoch: Instant::now(),
            request: vec![0u8; 64 * 1024],
            auth: None,
            fragment: usize::MAX,
            server,
        }
    }

    /// The server's address.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// Sends AUTH_SYS credentials from now on (`None`: AUTH_NONE).
    pub fn set_auth_sys(&mut self, auth: Option<AuthSysParams>) {
        self.auth = auth;
    }

    /// Splits each TCP request into record-marking fragments of at most `n` bytes.
    pub fn set_fragment_size(&mut self, n: usize) {
        self.fragment = n.max(1);
    }

    /// Makes room for requests of `n` bytes.
    pub fn reserve_request(&mut self, n: usize) {
        if self.request.len() < n {
            self.request.resize(n, 0);
        }
    }

    fn now(&self) -> time::Instant {
        time::Instant::from_micros(u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    /// Calls procedure `proc_` of `prog` version `vers`; returns the result bytes.
    pub fn call<A: Encode + ?Sized>(
        &mut self,
        prog: u32,
        vers: u32,
        proc_: u32,
        args: &A,
    ) -> Result<Vec<u8>, RpcError> {
        let need = 512 + args.encoded_len();
        self.reserve_request(need);
        let auth = self.auth.as_ref();
        let name;
        let cred = match auth {
            None => Credential::None,
            Some(a) => {
                name = XdrStr::new(&a.machine_name)?;
                Credential::Sys(AuthSys {
                    stamp: 0,
                    machine_name: name,
                    uid: a.uid,
                    gid: a.gid,
                    gids: Gids::Slice(&a.gids),
                })
            }
        };
        let now = self.now();
        let (xid, len) = self.core.call(now, prog, vers, proc_, &cred, args, &mut self.request)?;
        self.send(len)?;
        let out = self.wait(xid, len);
        self.core.cancel(xid);
        out
    }

    /// Pings procedure 0 (NULL).
    pub fn null(&mut self, prog: u32, vers: u32) -> Result<(), RpcError> {
        self.call(prog, vers, 0, &()).map(|_| ())
    }

    fn send(&mut self, len: usize) -> io::Result<()> {
        match &mut self.link {
            Link::Udp { sock, .. } => sock.send(&self.request[..len]).map(|_| ()),
            Link::Tcp { stream, .. } => {
                let mut out = Vec::with_capacity(len + 4 * (len / self.fragment + 1));
                for (h, d) in fragments(&self.request[..len], self.fragment) {
                    out.extend_from_slice(&h);
                    out.extend_from_slice(d);
                }
                stream.write_all(&out)
            }
        }
    }

    fn wait(&mut self, xid: u32, len: usize) -> Result<Vec<u8>, RpcError> {
        loop {
            let deadline = self.core.poll_timeout().ok_or(RpcError::Timeout)?;
            let wait = deadline.saturating_since(self.now()).as_micros().max(1000);
            if let Some(n) = self.receive(Duration::from_micros(wait))? {
                let msg = match &self.link {
                    Link::Tcp { records, .. } => records.record().unwrap_or(&[]),
                    Link::Udp { buf, .. } => &buf[..n],
                };
                let out = match self.core.handle_reply(msg) {
                    Ok(r) if r.xid == xid => Some(r.result.map(<[u8]>::to_vec).map_err(RpcError::Refused)),
                    Ok(_) | Err(ClientError::UnknownXid(_)) => None,
                    Err(e) => {
                        tracing::debug!("ignoring a message from {}: {e}", self.server);
                        None
                    }
                };
                if let Link::Tcp { records, .. } = &mut self.link {
                    records.next_record();
                }
                match out {
                    Some(r) => return r,
                    None => continue,
                }
            }
            let now = self.now();
            while let Some(ev) = self.core.handle_timeout(now) {
                match ev {
                    TimerEvent::Retransmit(x) if x == xid => self.send(len)?,
                    TimerEvent::Retransmit(_) => {}
                    TimerEvent::TimedOut(_) => return Err(RpcError::Timeout),
                }
            }
        }
    }

    /// Waits up to `wait` for one message; returns its length (UDP) or that a record is
    /// complete (TCP), or `None` when the wait ran out.
    fn receive(&mut self, wait: Duration) -> Result<Option<usize>, RpcError> {
        let until = Instant::now() + wait;
        match &mut self.link {
            Link::Udp { sock, buf } => {
                sock.set_read_timeout(Some(wait))?;
                match sock.recv(buf) {
                    Ok(n) => Ok(Some(n)),
                    Err(e) if timed_out(&e) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
            Link::Tcp { stream, records } => {
                let mut chunk = [0u8; 16 * 1024];
                loop {
                    // Bytes of a next record may already sit in the reader.
                    if let (_, true) = records.push(&[])? {
                        return Ok(Some(0));
                    }
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    stream.set_read_timeout(Some(left))?;
                    let n = match stream.read(&mut chunk) {
                        Ok(0) => return Err(RpcError::Closed),
                        Ok(n) => n,
                        Err(e) if timed_out(&e) => return Ok(None),
                        Err(e) => return Err(e.into()),
                    };
                    let mut input = &chunk[..n];
                    while !input.is_empty() {
                        let (used, done) = records.push(input)?;
                        input = &input[used..];
                        if done && !input.is_empty() {
                            // A second reply in the same read: one call at a time means it can
                            // only be a late duplicate; it is dropped with the current one.
                            tracing::debug!("dropping {} bytes after a reply", input.len());
                            input = &[];
                        }
                    }
                }
            }
        }
    }
}

fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

fn to_core(d: Duration) -> time::Duration {
    time::Duration::from_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
