//! The TCP side: an accepting thread and one thread per connection.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use tern_core::rpc::record::fragment_header;
use tern_core::rpc::{Dispatch, Peer, ProgramTable, RecordReader, Transport};

use super::{ServerConfig, Shards, SharedDispatcher, lock, shard_of};

pub(super) struct Acceptor<T> {
    pub(super) listener: TcpListener,
    pub(super) shards: Shards<T>,
    pub(super) cfg: ServerConfig,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) active: Arc<AtomicUsize>,
}

impl<T: ProgramTable + Send + 'static> Acceptor<T> {
    pub(super) fn run(self) {
        let mut conns = Vec::new();
        for stream in self.listener.incoming() {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            conns.retain(|h: &std::thread::JoinHandle<()>| !h.is_finished());
            let stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    // Out of file descriptors and the like: back off a little.
                    std::thread::sleep(self.cfg.poll_interval);
                    continue;
                }
            };
            if self.active.load(Ordering::SeqCst) >= self.cfg.max_connections {
                tracing::warn!("connection limit {} reached, closing a new one", self.cfg.max_connections);
                continue;
            }
            let Ok(peer) = stream.peer_addr() else {
                continue;
            };
            self.active.fetch_add(1, Ordering::SeqCst);
            let conn = Connection {
                stream,
                peer,
                dispatcher: self.shards[shard_of(&self.shards, &peer)].clone(),
                cfg: self.cfg,
                stop: self.stop.clone(),
            };
            let active = self.active.clone();
            let spawned = std::thread::Builder::new().name(format!("rpc-tcp {peer}")).spawn(move || {
                conn.run();
                active.fetch_sub(1, Ordering::SeqCst);
            });
            match spawned {
                Ok(h) => conns.push(h),
                Err(e) => {
                    tracing::warn!("cannot start a connection thread: {e}");
                    self.active.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
        for h in conns {
            let _ = h.join();
        }
    }
}

struct Connection<T> {
    stream: TcpStream,
    peer: SocketAddr,
    dispatcher: SharedDispatcher<T>,
    cfg: ServerConfig,
    stop: Arc<AtomicBool>,
}

impl<T: ProgramTable> Connection<T> {
    fn run(mut self) {
        tracing::debug!(peer = %self.peer, "connection opened");
        match self.serve() {
            Ok(why) => tracing::debug!(peer = %self.peer, "connection closed: {why}"),
            Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe) => {
                tracing::debug!(peer = %self.peer, "connection closed: {e}")
            }
            Err(e) => tracing::info!(peer = %self.peer, "connection closed: {e}"),
        }
    }

    fn serve(&mut self) -> io::Result<&'static str> {
        self.stream.set_read_timeout(Some(self.cfg.poll_interval))?;
        self.stream.set_write_timeout(Some(self.cfg.stall_timeout))?;
        self.stream.set_nodelay(true)?;
        let mut records = RecordReader::new(vec![0u8; self.cfg.max_record]);
        let mut reply = vec![0u8; self.cfg.max_reply + 4];
        let mut chunk = vec![0u8; 64 * 1024];
        let peer = Peer { addr: self.peer, transport: Transport::Tcp };
        let mut last = Instant::now();
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Ok("server shutting down");
            }
            let n = match self.stream.read(&mut chunk) {
                Ok(0) => return Ok("closed by peer"),
                Ok(n) => n,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    let limit = if records.is_idle() { self.cfg.idle_timeout } else { self.cfg.stall_timeout };
                    if last.elapsed() > limit {
                        return Ok(if records.is_idle() { "idle" } else { "stalled inside a record" });
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            last = Instant::now();
            let mut input = &chunk[..n];
            while !input.is_empty() {
                let (used, done) = records.push(input).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                input = &input[used..];
                if let Some(record) = records.record().filter(|_| done) {
                    let out = lock(&self.dispatcher).handle_at(super::core_now(), peer, record, &mut reply[4..]);
                    if let Dispatch::Reply(len) = out {
                        let header = fragment_header(u32::try_from(len).unwrap_or(0), true);
                        reply[..4].copy_from_slice(&header);
                        self.stream.write_all(&reply[..4 + len])?;
                    }
                    records.next_record();
                }
            }
        }
    }
}
