//! What the driver tests share: a real NFS server (the in-core `Nfs3Server` over `MemFs`
//! behind `tern-std`'s std server, as `examples/memfs-server` builds it) that can be killed and
//! restarted on the same port with the same file system, a std `TcpStream` behind the
//! `embedded_io` and `embedded_io_async` traits, a clock, and a timer.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::future::Future;
use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use embedded_io::ErrorKind;
use tern_core::exports::Exports;
use tern_core::fs::Time;
use tern_core::fs::mem::{Block, Config, Entry, MemFs, Node, Parts};
use tern_core::nfs3::server::{self as nfsd, Nfs3Server, NfsService};
use tern_core::rpc::drc::DrcProgram;
use tern_core::rpc::{AuthSys, Credential, Gids};
use tern_core::time::Instant;
use tern_core::xdr::XdrStr;
use tern_eio::{Clock, Timer};
use tern_std::ServerHandle;
use tern_std::server::{Server, ServerConfig, SharedDispatcher};

pub const EXPORT: &str = "/mem";

type Nfs = DrcProgram<Nfs3Server<'static, MemFs<'static>, 1, 1, 4>, 256, 512>;
pub type Service = NfsService<'static, Nfs, 1, 4, 16, 256>;

fn leak<T: Clone>(zero: T, n: usize) -> &'static mut [T] {
    Box::leak(vec![zero; n].into_boxed_slice())
}

/// An NFS + MOUNT server (one port serves both) over a 16 MiB MemFs.
pub struct TestServer {
    dispatcher: SharedDispatcher<Service>,
    handle: Arc<Mutex<Option<ServerHandle>>>,
    pub addr: SocketAddr,
}

fn scfg() -> ServerConfig {
    ServerConfig { max_record: 1 << 20, max_reply: 1 << 20, ..ServerConfig::default() }
}

impl TestServer {
    pub fn start() -> Self {
        let line: &'static str = Box::leak(format!("{EXPORT} 127.0.0.1(rw,no_root_squash,insecure)").into_boxed_str());
        let table = Exports::<'static, 1, 4>::parse(line).expect("exports");
        let parts = Parts {
            nodes: leak(Node::ZERO, 1024),
            entries: leak(Entry::ZERO, 1024),
            blocks: leak(Block::ZERO, 32 * 1024),
            names: leak(0u8, 32 * 1024),
        };
        let mut cfg = Config::new(42, *b"eio-verf");
        cfg.root_mode = 0o1777;
        let fs = MemFs::from_parts(parts, cfg).expect("memfs");
        let mut ncfg = nfsd::ServerConfig::new(0x5eed, Time::default());
        ncfg.max_read = 1 << 20;
        ncfg.max_write = 1 << 20;
        ncfg.max_readdir = 64 * 1024;
        let mut nfs = Nfs3Server::new(table, ncfg);
        nfs.add(EXPORT, fs).map_err(|(e, _)| e).expect("add export");
        let server = Server::new(NfsService::new(DrcProgram::new(nfs)), scfg());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let handle = server.spawn(Some(listener), None).expect("spawn");
        TestServer { dispatcher: server.dispatcher(), handle: Arc::new(Mutex::new(Some(handle))), addr }
    }

    /// A function that stops the server and closes every connection (from any thread).
    pub fn killer(&self) -> impl FnOnce() + Send + 'static {
        let h = self.handle.clone();
        move || {
            if let Some(h) = h.lock().unwrap().take() {
                h.shutdown();
            }
        }
    }

    pub fn kill(&self) {
        (self.killer())()
    }

    pub fn is_running(&self) -> bool {
        self.handle.lock().unwrap().is_some()
    }

    /// Serves the same programs and file system again on the same port.
    pub fn restart(&self) {
        let listener = TcpListener::bind(self.addr).expect("bind again");
        let h = Server::with_dispatcher(self.dispatcher.clone(), scfg()).spawn(Some(listener), None).expect("spawn");
        *self.handle.lock().unwrap() = Some(h);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// AUTH_SYS uid 1000, gid 1000.
pub fn cred() -> Credential<'static> {
    Credential::Sys(AuthSys {
        stamp: 0,
        machine_name: XdrStr::new("eio-test").unwrap(),
        uid: 1000,
        gid: 1000,
        gids: Gids::Slice(&[]),
    })
}

/// Microseconds since the first reading, as core time.
pub fn now() -> Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    Instant::from_micros(epoch.elapsed().as_micros() as u64)
}

/// A clock over [`now`] and a timer that polls it.
#[derive(Debug, Clone, Copy)]
pub struct StdTimer;

impl Clock for StdTimer {
    fn now(&mut self) -> Instant {
        now()
    }
}

impl Timer for StdTimer {
    fn at(&mut self, at: Instant) -> impl Future<Output = ()> {
        std::future::poll_fn(move |cx| {
            if now() >= at {
                return Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
    }
}

/// Runs `action` once `after` bytes have gone through: in the stream's thread, before the
/// byte count is returned (a write trip: the server is gone before the next write), or in
/// another thread (`background`: for a read trip, as the server may be blocked writing to us).
pub struct Trip {
    pub after: usize,
    pub action: Box<dyn FnOnce() + Send>,
    pub background: bool,
}

/// A std TCP stream as an embedded-io stream: blocking reads and writes for the blocking
/// traits; for the async traits the socket is non-blocking and a read that would block is
/// `Pending` (woken at once, after a short sleep), so nothing is consumed when the read future
/// is dropped. A read time-out is [`ErrorKind::TimedOut`]. Optional trips fire after so many
/// bytes read or written (to kill the server mid-transfer).
pub struct StdStream {
    pub s: TcpStream,
    pub read: usize,
    pub written: usize,
    pub on_read: Option<Trip>,
    pub on_write: Option<Trip>,
    /// Writes since the last read, and the most seen (calls written before a reply is read).
    pub burst: usize,
    pub max_burst: usize,
    /// Each read and write waits this long (set once a background trip fired, so that the
    /// transfer is still running when the server goes).
    pub delay: Option<Duration>,
}

impl StdStream {
    pub fn connect(addr: SocketAddr) -> io::Result<Self> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_nodelay(true)?;
        Ok(StdStream { s, read: 0, written: 0, on_read: None, on_write: None, burst: 0, max_burst: 0, delay: None })
    }

    /// Reads fail with `TimedOut` after `d` without data (blocking traits).
    pub fn with_read_timeout(self, d: Duration) -> Self {
        self.s.set_read_timeout(Some(d)).unwrap();
        self
    }

    fn wrote(&mut self, n: usize) {
        self.burst += 1;
        self.max_burst = self.max_burst.max(self.burst);
        self.written += n;
        let fired = Self::trip(self.written, &mut self.on_write);
        self.slow_down(fired);
    }

    fn got(&mut self, n: usize) {
        self.burst = 0;
        self.read += n;
        let fired = Self::trip(self.read, &mut self.on_read);
        self.slow_down(fired);
    }

    fn slow_down(&mut self, background_trip: bool) {
        if background_trip {
            self.delay = Some(Duration::from_millis(10));
        }
        if let Some(d) = self.delay {
            std::thread::sleep(d);
        }
    }

    /// Fires the trip if `total` reached it; true for a background trip.
    fn trip(total: usize, trip: &mut Option<Trip>) -> bool {
        if trip.as_ref().is_none_or(|t| total < t.after) {
            return false;
        }
        let t = trip.take().unwrap();
        if t.background {
            std::thread::spawn(t.action);
            true
        } else {
            (t.action)();
            false
        }
    }
}

fn kind(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ErrorKind::TimedOut,
        io::ErrorKind::Interrupted => ErrorKind::Interrupted,
        io::ErrorKind::ConnectionReset => ErrorKind::ConnectionReset,
        io::ErrorKind::ConnectionAborted => ErrorKind::ConnectionAborted,
        io::ErrorKind::BrokenPipe => ErrorKind::BrokenPipe,
        io::ErrorKind::NotConnected => ErrorKind::NotConnected,
        _ => ErrorKind::Other,
    }
}

impl embedded_io::ErrorType for StdStream {
    type Error = ErrorKind;
}

impl embedded_io::Read for StdStream {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let n = self.s.read(buf).map_err(|e| kind(&e))?;
        self.got(n);
        Ok(n)
    }
}

impl embedded_io::Write for StdStream {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let n = self.s.write(buf).map_err(|e| kind(&e))?;
        self.wrote(n);
        Ok(n)
    }
    fn flush(&mut self) -> Result<(), ErrorKind> {
        self.s.flush().map_err(|e| kind(&e))
    }
}

/// Polls a non-blocking socket operation: `Pending` (after a short sleep) while it would block.
fn poll_io<T>(mut op: impl FnMut() -> io::Result<T>) -> impl Future<Output = io::Result<T>> {
    std::future::poll_fn(move |cx| match op() {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            std::thread::sleep(Duration::from_micros(50));
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        r => Poll::Ready(r),
    })
}

impl embedded_io_async::Read for StdStream {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.s.set_nonblocking(true).map_err(|e| kind(&e))?;
        let s = &self.s;
        let n = poll_io(|| (&*s).read(buf)).await.map_err(|e| kind(&e))?;
        self.got(n);
        Ok(n)
    }
}

impl embedded_io_async::Write for StdStream {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.s.set_nonblocking(true).map_err(|e| kind(&e))?;
        let s = &self.s;
        let n = poll_io(|| (&*s).write(buf)).await.map_err(|e| kind(&e))?;
        self.wrote(n);
        Ok(n)
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// Deterministic test data.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A listener that accepts connections and never answers (a hung server).
pub fn silent_server() -> (SocketAddr, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let mut sink = [0u8; 4096];
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
        }
    });
    (addr, t)
}
