//! RPC servers on std sockets, driving a shared core [`Dispatcher`].
//!
//! Threads: one accepting TCP connections, one per TCP connection, one for UDP. Bounds:
//! at most [`ServerConfig::max_connections`] connections (more are closed at once), each with
//! one record buffer of [`ServerConfig::max_record`] bytes and one reply buffer, so memory is
//! bounded by the cap; a record claiming more than the maximum closes that connection only. A
//! connection that sends half a record and stalls, or stops reading replies, is closed after
//! [`ServerConfig::stall_timeout`]; an idle one after [`ServerConfig::idle_timeout`]. The
//! dispatcher's lock is held only while one request is dispatched.
//!
//! # Shards
//! A server may run several dispatchers ([`Server::sharded`]), each behind its own lock, so
//! that calls of different clients run in parallel. A client's socket address (IP, port)
//! always picks the same shard (a fixed hash of the address), so per-client state of a dispatcher (the
//! duplicate request cache, keyed by that address) behaves as with one dispatcher. Whatever
//! else the shards' programs hold must be shared between them by the caller (or be
//! per-client, like the DRC).

mod tcp;
mod udp;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tern_core::rpc::{Dispatcher, ProgramTable};

/// Limits and timers of a server.
#[derive(Debug, Clone, Copy)]
pub struct ServerConfig {
    /// Largest request record accepted on TCP.
    pub max_record: usize,
    /// Largest reply (without the record mark).
    pub max_reply: usize,
    /// Most TCP connections served at once.
    pub max_connections: usize,
    /// A connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// A connection stuck inside a record, or not reading its replies, for this long is closed.
    pub stall_timeout: Duration,
    /// How often blocked threads look at the shutdown flag.
    pub poll_interval: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_record: 64 * 1024,
            max_reply: 64 * 1024,
            max_connections: 512,
            idle_timeout: Duration::from_secs(300),
            stall_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(200),
        }
    }
}

/// Locks a mutex even if a thread panicked while holding it (programs must not panic, and the
/// dispatcher's state stays consistent between calls).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The core's time now: microseconds since the first call in this process.
pub fn core_now() -> tern_core::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    tern_core::time::Instant::from_micros(u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX))
}

/// A dispatcher shared by every thread of a server.
pub type SharedDispatcher<T> = Arc<Mutex<Dispatcher<T>>>;

/// The dispatchers of one server (one or more shards).
pub(crate) type Shards<T> = Arc<[SharedDispatcher<T>]>;

/// The shard that serves `peer`: fixed for an address (a deterministic hash), so a client's
/// retransmissions meet the same duplicate request cache.
pub(crate) fn shard_of<T>(shards: &[SharedDispatcher<T>], peer: &SocketAddr) -> usize {
    use std::hash::{Hash, Hasher};
    if shards.len() <= 1 {
        return 0;
    }
    let mut h = std::hash::DefaultHasher::new();
    peer.ip().hash(&mut h);
    peer.port().hash(&mut h);
    (h.finish() % shards.len() as u64) as usize
}

/// An RPC server over TCP and UDP for the programs of `T`.
pub struct Server<T> {
    shards: Shards<T>,
    cfg: ServerConfig,
}

impl<T: ProgramTable + Send + 'static> Server<T> {
    /// A server for `table` with the given limits.
    pub fn new(table: T, cfg: ServerConfig) -> Self {
        Self::with_dispatcher(Arc::new(Mutex::new(Dispatcher::new(table))), cfg)
    }

    /// A server with one dispatcher per table (at least one), each behind its own lock; see
    /// the module docs on shards.
    pub fn sharded(tables: Vec<T>, cfg: ServerConfig) -> Self {
        let shards: Vec<SharedDispatcher<T>> =
            tables.into_iter().map(|t| Arc::new(Mutex::new(Dispatcher::new(t)))).collect();
        Server { shards: shards.into(), cfg }
    }

    /// A server over the same shards as `other` (another port for the same programs).
    pub fn alongside(other: &Server<T>, cfg: ServerConfig) -> Self {
        Server { shards: other.shards.clone(), cfg }
    }

    /// A server over an existing shared dispatcher, so that several ports (NFS and MOUNT, for
    /// example) serve the same programs and state.
    pub fn with_dispatcher(dispatcher: SharedDispatcher<T>, cfg: ServerConfig) -> Self {
        Server { shards: Arc::new([dispatcher]), cfg }
    }

    /// The first (or only) shard's dispatcher (to reach the programs while the server runs).
    pub fn dispatcher(&self) -> SharedDispatcher<T> {
        self.shards[0].clone()
    }

    /// Every shard's dispatcher.
    pub fn shards(&self) -> &[SharedDispatcher<T>] {
        &self.shards
    }

    /// Starts serving on the given sockets; at least one should be given.
    pub fn spawn(&self, tcp: Option<TcpListener>, udp: Option<UdpSocket>) -> io::Result<ServerHandle> {
        let stop = Arc::new(AtomicBool::new(false));
        let active = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        let tcp_addr = tcp.as_ref().map(TcpListener::local_addr).transpose()?;
        let udp_addr = udp.as_ref().map(UdpSocket::local_addr).transpose()?;
        if let Some(listener) = tcp {
            let ctx = tcp::Acceptor {
                listener,
                shards: self.shards.clone(),
                cfg: self.cfg,
                stop: stop.clone(),
                active: active.clone(),
            };
            threads.push(std::thread::Builder::new().name("rpc-tcp-accept".into()).spawn(move || ctx.run())?);
        }
        if let Some(sock) = udp {
            sock.set_read_timeout(Some(self.cfg.poll_interval))?;
            let (d, stop) = (self.shards.clone(), stop.clone());
            threads.push(std::thread::Builder::new().name("rpc-udp".into()).spawn(move || udp::serve(sock, d, stop))?);
        }
        Ok(ServerHandle { stop, active, tcp_addr, udp_addr, threads })
    }
}

/// A running server; [`ServerHandle::shutdown`] stops it.
pub struct ServerHandle {
    stop: Arc<AtomicBool>,
    active: Arc<AtomicUsize>,
    tcp_addr: Option<SocketAddr>,
    udp_addr: Option<SocketAddr>,
    threads: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The TCP address served, if any.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// The UDP address served, if any.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp_addr
    }

    /// TCP connections open now.
    pub fn connections(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Stops accepting, closes every connection, and waits for all threads.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(mut a) = self.tcp_addr {
            // Wake the blocked accept() with a connection of our own.
            if a.ip().is_unspecified() {
                a.set_ip(if a.is_ipv4() { [127, 0, 0, 1].into() } else { std::net::Ipv6Addr::LOCALHOST.into() });
            }
            let _ = TcpStream::connect_timeout(&a, Duration::from_secs(1));
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
