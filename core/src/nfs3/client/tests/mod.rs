//! The client against the real in-core server ([`Nfs3Server`] over [`MemFs`]) on a virtual
//! clock and a virtual link that can lose, reorder and repeat messages.
//!
//! The back end is [`Volatile`]: a [`MemFs`] whose UNSTABLE writes stay at risk until COMMIT;
//! [`Volatile::crash`] loses them (the ranges read as zeros) and changes the write verifier,
//! as a server restart does.

mod procs;
mod transfers;

use std::boxed::Box;
use std::collections::{BTreeMap, VecDeque};
use std::vec::Vec;

use crate::exports::Exports;
use crate::fs::mem::{Block, Config, Entry, MemFs, Node, Parts};
use crate::fs::{
    Attr, CreateHow, Ctx, DirEntry, FileSystem, FsInfo, FsResult, FsStat, Handle, NodeKind, ReaddirEnd, SetAttr,
    Stability, Time,
};
use crate::nfs3::server::{Nfs3Server, NfsService, ServerConfig};
use crate::rpc::auth::{AuthSys, Credential, Gids};
use crate::rpc::client::{CallFailure, Client, ClientConfig, TimerEvent};
use crate::rpc::server::{Dispatch, Dispatcher, Peer, Transport};
use crate::time::Instant;
use crate::xdr::XdrStr;

/// A [`MemFs`] whose unstable writes can be lost.
#[derive(Debug)]
pub(super) struct Volatile {
    inner: MemFs<'static>,
    verf: [u8; 8],
    /// Unstable writes not yet committed: (file, start, end).
    at_risk: Vec<(Handle, u64, u64)>,
    pub(super) commits: usize,
}

fn leak<T: Clone>(v: T, n: usize) -> &'static mut [T] {
    Box::leak(std::vec![v; n].into_boxed_slice())
}

impl Volatile {
    fn new() -> Self {
        let parts = Parts {
            nodes: leak(Node::ZERO, 256),
            entries: leak(Entry::ZERO, 256),
            blocks: leak(Block::ZERO, 4096),
            names: leak(0u8, 8192),
        };
        let config = Config { root_mode: 0o777, ..Config::new(7, *b"verf0000") };
        Volatile {
            inner: MemFs::from_parts(parts, config).unwrap(),
            verf: *b"verf0000",
            at_risk: Vec::new(),
            commits: 0,
        }
    }

    /// A restart: uncommitted unstable data is lost (zeroed) and the verifier changes.
    pub(super) fn crash(&mut self) {
        let ctx = Ctx { now: Time::default(), uid: 0, gid: 0 };
        for (fh, s, e) in core::mem::take(&mut self.at_risk) {
            let zeros = std::vec![0u8; (e - s) as usize];
            self.inner.write(&ctx, &fh, s, &zeros, Stability::FileSync).unwrap();
        }
        self.verf[7] = self.verf[7].wrapping_add(1);
    }

    /// The whole content of the file `name` in the root.
    pub(super) fn content(&mut self, name: &str) -> Vec<u8> {
        let fh = self.inner.lookup(&self.inner.root(), name.as_bytes()).unwrap();
        let size = self.inner.getattr(&fh).unwrap().size as usize;
        let mut out = std::vec![0u8; size];
        let (n, _) = self.inner.read(&fh, 0, &mut out).unwrap();
        assert_eq!(n, size);
        out
    }
}

impl FileSystem for Volatile {
    fn root(&self) -> Handle {
        self.inner.root()
    }
    fn info(&self) -> FsInfo {
        self.inner.info()
    }
    fn getattr(&mut self, fh: &Handle) -> FsResult<Attr> {
        self.inner.getattr(fh)
    }
    fn setattr(&mut self, ctx: &Ctx, fh: &Handle, set: &SetAttr) -> FsResult<Attr> {
        self.inner.setattr(ctx, fh, set)
    }
    fn lookup(&mut self, dir: &Handle, name: &[u8]) -> FsResult<Handle> {
        self.inner.lookup(dir, name)
    }
    fn readlink(&mut self, fh: &Handle, out: &mut [u8]) -> FsResult<usize> {
        self.inner.readlink(fh, out)
    }
    fn read(&mut self, fh: &Handle, offset: u64, out: &mut [u8]) -> FsResult<(usize, bool)> {
        self.inner.read(fh, offset, out)
    }
    fn write(
        &mut self,
        ctx: &Ctx,
        fh: &Handle,
        offset: u64,
        data: &[u8],
        s: Stability,
    ) -> FsResult<(usize, Stability)> {
        let (n, _) = self.inner.write(ctx, fh, offset, data, s)?;
        if s == Stability::Unstable {
            self.at_risk.push((*fh, offset, offset + n as u64));
            return Ok((n, Stability::Unstable));
        }
        Ok((n, Stability::FileSync))
    }
    fn commit(&mut self, fh: &Handle, offset: u64, count: u32) -> FsResult<()> {
        self.commits += 1;
        self.at_risk.retain(|r| r.0 != *fh);
        self.inner.commit(fh, offset, count)
    }
    fn write_verifier(&self) -> [u8; 8] {
        self.verf
    }
    fn create(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], how: &CreateHow) -> FsResult<Handle> {
        self.inner.create(ctx, dir, name, how)
    }
    fn mkdir(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], attr: &SetAttr) -> FsResult<Handle> {
        self.inner.mkdir(ctx, dir, name, attr)
    }
    fn symlink(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], target: &[u8], attr: &SetAttr) -> FsResult<Handle> {
        self.inner.symlink(ctx, dir, name, target, attr)
    }
    fn mknod(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], kind: NodeKind, attr: &SetAttr) -> FsResult<Handle> {
        self.inner.mknod(ctx, dir, name, kind, attr)
    }
    fn remove(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8]) -> FsResult<()> {
        self.inner.remove(ctx, dir, name)
    }
    fn rmdir(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8]) -> FsResult<()> {
        self.inner.rmdir(ctx, dir, name)
    }
    fn rename(&mut self, ctx: &Ctx, fd: &Handle, from: &[u8], td: &Handle, to: &[u8]) -> FsResult<()> {
        self.inner.rename(ctx, fd, from, td, to)
    }
    fn link(&mut self, ctx: &Ctx, fh: &Handle, dir: &Handle, name: &[u8]) -> FsResult<()> {
        self.inner.link(ctx, fh, dir, name)
    }
    fn readdir(
        &mut self,
        dir: &Handle,
        cookie: u64,
        verifier: [u8; 8],
        emit: &mut dyn FnMut(&DirEntry<'_>) -> bool,
    ) -> FsResult<ReaddirEnd> {
        self.inner.readdir(dir, cookie, verifier, emit)
    }
    fn fsstat(&mut self, fh: &Handle) -> FsResult<FsStat> {
        self.inner.fsstat(fh)
    }
}

type Server = Nfs3Server<'static, Volatile, 1, 1, 4>;
type Service = NfsService<'static, Server, 1, 4, 4, 64>;

/// The exported path.
pub(super) const EXPORT: &str = "/mem";

/// What the link does to messages.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Faults {
    /// Lose every n-th reply (0: none).
    pub(super) lose_reply_every: usize,
    /// Deliver each batch of replies in reverse order.
    pub(super) reverse: bool,
    /// Deliver every reply twice.
    pub(super) duplicate: bool,
    /// Lose every reply (a server that is down).
    pub(super) down: bool,
}

/// The server, the RPC client and the link between them.
pub(super) struct Rig {
    d: Dispatcher<Service>,
    pub(super) c: Client<16>,
    pub(super) now: Instant,
    sent: BTreeMap<u32, Vec<u8>>,
    to_server: VecDeque<Vec<u8>>,
    pub(super) faults: Faults,
    replies: usize,
    pub(super) retransmissions: usize,
}

pub(super) fn cred() -> Credential<'static> {
    Credential::Sys(AuthSys {
        stamp: 1,
        machine_name: XdrStr::new("c").unwrap(),
        uid: 0,
        gid: 0,
        gids: Gids::Slice(&[]),
    })
}

impl Rig {
    /// A server with max READ `rmax` and max WRITE `wmax`, and a client with `cfg`.
    pub(super) fn new(rmax: u32, wmax: u32, cfg: ClientConfig) -> Self {
        let exports = Exports::parse("/mem *(rw,no_root_squash,insecure)").unwrap();
        let sc = ServerConfig { max_read: rmax, max_write: wmax, ..ServerConfig::new(1, Time { secs: 100, nsecs: 0 }) };
        let mut s = Server::new(exports, sc);
        assert_eq!(s.add(EXPORT, Volatile::new()).ok(), Some(0));
        Rig {
            d: Dispatcher::new(NfsService::new(s)),
            c: Client::new(cfg, 0x1000),
            now: Instant::from_millis(1),
            sent: BTreeMap::new(),
            to_server: VecDeque::new(),
            faults: Faults::default(),
            replies: 0,
            retransmissions: 0,
        }
    }

    pub(super) fn fs(&mut self) -> &mut Volatile {
        self.d.programs().nfs().fs_mut(0).unwrap()
    }

    /// Queues a call encoded in `buf[..len]` as `xid`.
    pub(super) fn send(&mut self, xid: u32, msg: &[u8]) {
        self.sent.insert(xid, msg.to_vec());
        self.to_server.push_back(msg.to_vec());
    }

    /// Delivers every queued call to the server and the replies to the client (as the faults
    /// say); returns the replies the RPC client matched, owned.
    pub(super) fn pump(&mut self) -> Vec<(u32, Result<Vec<u8>, CallFailure>)> {
        let peer = Peer { addr: "10.0.0.1:900".parse().unwrap(), transport: Transport::Udp };
        let mut replies = Vec::new();
        while let Some(req) = self.to_server.pop_front() {
            let mut out = std::vec![0u8; 128 * 1024];
            if let Dispatch::Reply(n) = self.d.handle_at(self.now, peer, &req, &mut out) {
                self.replies += 1;
                let lost = self.faults.down
                    || (self.faults.lose_reply_every > 0 && self.replies.is_multiple_of(self.faults.lose_reply_every));
                if !lost {
                    out.truncate(n);
                    if self.faults.duplicate {
                        replies.push(out.clone());
                    }
                    replies.push(out);
                }
            }
        }
        if self.faults.reverse {
            replies.reverse();
        }
        let mut done = Vec::new();
        for r in replies {
            if let Ok(rep) = self.c.handle_reply(&r) {
                self.sent.remove(&rep.xid);
                done.push((rep.xid, rep.result.map(<[u8]>::to_vec)));
            }
        }
        done
    }

    /// Moves the clock to the next timer and handles it: retransmissions are queued, timed-out
    /// xids returned. Panics when no call is outstanding.
    pub(super) fn tick(&mut self) -> Vec<u32> {
        let t = self.c.poll_timeout().expect("a call is outstanding");
        self.now = t;
        let mut dead = Vec::new();
        while let Some(ev) = self.c.handle_timeout(self.now) {
            match ev {
                TimerEvent::Retransmit(x) => {
                    self.retransmissions += 1;
                    let msg = self.sent[&x].clone();
                    self.to_server.push_back(msg);
                }
                TimerEvent::TimedOut(x) => {
                    self.sent.remove(&x);
                    dead.push(x);
                }
            }
        }
        dead
    }

    /// Runs one call to completion: `enc` encodes it; returns the result bytes.
    pub(super) fn call(
        &mut self,
        enc: impl FnOnce(&mut Client<16>, Instant, &mut [u8]) -> (u32, usize),
    ) -> Result<Vec<u8>, CallFailure> {
        let mut buf = std::vec![0u8; 128 * 1024];
        let (xid, n) = enc(&mut self.c, self.now, &mut buf);
        self.send(xid, &buf[..n]);
        loop {
            if let Some((_, r)) = self.pump().into_iter().find(|(x, _)| *x == xid) {
                return r;
            }
            assert!(self.tick().is_empty(), "call timed out");
        }
    }
}

/// `n` bytes of a pseudo-random pattern.
pub(super) fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
