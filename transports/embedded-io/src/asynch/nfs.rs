//! [`NfsClient`]: MOUNT and NFSv3 over an async [`Rpc`] driver (the blocking client with
//! `.await`).

use core::ops::ControlFlow;

use embedded_io_async::{Read, Write};
use tern_core::nfs3::client::{Fh, IoSizes, ListCursor, Next, ReadTransfer, WriteTransfer};
use tern_core::nfs3::{CreateHow3, Entry3, Fattr3, FsinfoResOk, FsstatResOk, Limits, Sattr3, StableHow, Verifier};
use tern_core::rpc::auth::Credential;

use super::Rpc;
use crate::ops::{self, Mounts, Op, Source};
use crate::{Event, NfsError, Timer, WriteStats};

/// Runs one operation on `rpc`; a failed one leaves no call outstanding.
async fn exec<S: Read + Write, C: Timer, const N: usize, O: Op>(
    rpc: &mut Rpc<'_, S, C, N>,
    cred: &Credential<'_>,
    limits: &Limits,
    mut op: O,
) -> Result<O::Out, NfsError> {
    let out = match rpc.call(|c, now, buf| op.encode(c, now, cred, buf)).await {
        Ok(results) => op.decode(results, limits),
        Err(e) => Err(e),
    };
    if out.is_err() {
        rpc.cancel_all();
    }
    out
}

/// An NFSv3 client over one stream (MOUNT too, when the server serves it on the same port);
/// see the crate docs. `N` bounds the calls in flight, so a transfer's window.
#[derive(Debug)]
pub struct NfsClient<'b, S, C, const N: usize> {
    rpc: Rpc<'b, S, C, N>,
    cred: Credential<'b>,
    limits: Limits,
    sizes: IoSizes,
    window: usize,
    mounts: Mounts,
}

impl<'b, S: Read + Write, C: Timer, const N: usize> NfsClient<'b, S, C, N> {
    /// A client over `rpc` calling with `cred` (AUTH_SYS for a server that checks
    /// permissions). Until FSINFO ([`NfsClient::mount`] asks it) READ and WRITE sizes are as
    /// large as the buffers allow; the window is `N` (at most 4 while `N` is larger).
    pub fn new(rpc: Rpc<'b, S, C, N>, cred: Credential<'b>) -> Self {
        let limits = Limits::default();
        let sizes = ops::io_sizes(rpc.max_call() + crate::RECORD_MARK, rpc.max_reply(), None, &limits);
        NfsClient { rpc, cred, limits, sizes, window: N.clamp(1, 4), mounts: Mounts::new() }
    }

    /// The RPC driver (to reconnect with [`Rpc::replace_io`], or make other calls).
    pub fn rpc(&mut self) -> &mut Rpc<'b, S, C, N> {
        &mut self.rpc
    }

    /// Gives a new connected stream after a failure; the old one comes back.
    pub fn replace_io(&mut self, io: S) -> S {
        self.rpc.replace_io(io)
    }

    /// READ, WRITE and READDIR sizes in use.
    pub fn io_sizes(&self) -> IoSizes {
        self.sizes
    }

    /// READs or WRITEs a transfer keeps in flight (1..=`N`).
    pub fn set_window(&mut self, window: usize) {
        self.window = window.clamp(1, N.max(1));
    }

    /// The window in use.
    pub fn window(&self) -> usize {
        self.window
    }

    /// The directories mounted through this client.
    pub fn mounts(&self) -> impl Iterator<Item = &str> {
        self.mounts.iter().map(|m| m.path.as_str())
    }

    async fn run<O: Op>(&mut self, op: O) -> Result<O::Out, NfsError> {
        exec(&mut self.rpc, &self.cred, &self.limits, op).await
    }

    /// MNT of `path` on this stream's server, then FSINFO of the export for the I/O sizes;
    /// the root handle. The mount is recorded (see [`NfsClient::umount`]).
    pub async fn mount(&mut self, path: &str) -> Result<Fh, NfsError> {
        let root = exec(&mut self.rpc, &self.cred, &self.limits, ops::Mnt(&mut self.mounts, path)).await?;
        self.fsinfo(&root).await?;
        Ok(root)
    }

    /// [`NfsClient::mount`] with MNT sent on another connection (a MOUNT server on its own
    /// port); FSINFO goes on this client's stream.
    pub async fn mount_via<S2: Read + Write, C2: Timer, const N2: usize>(
        &mut self,
        mountd: &mut Rpc<'_, S2, C2, N2>,
        path: &str,
    ) -> Result<Fh, NfsError> {
        let root = exec(mountd, &self.cred, &self.limits, ops::Mnt(&mut self.mounts, path)).await?;
        self.fsinfo(&root).await?;
        Ok(root)
    }

    /// UMNT of a mounted `path` (forgotten here even if the server does not answer).
    pub async fn umount(&mut self, path: &str) -> Result<(), NfsError> {
        exec(&mut self.rpc, &self.cred, &self.limits, ops::Umnt(&mut self.mounts, path)).await
    }

    /// [`NfsClient::umount`] with UMNT sent on another connection.
    pub async fn umount_via<S2: Read + Write, C2: Timer, const N2: usize>(
        &mut self,
        mountd: &mut Rpc<'_, S2, C2, N2>,
        path: &str,
    ) -> Result<(), NfsError> {
        exec(mountd, &self.cred, &self.limits, ops::Umnt(&mut self.mounts, path)).await
    }

    /// NULL: is the server there?
    pub async fn null(&mut self) -> Result<(), NfsError> {
        self.run(ops::Null).await
    }

    /// FSINFO of the export whose root is `root`; sets the READ, WRITE and READDIR sizes from
    /// it (within the buffers).
    pub async fn fsinfo(&mut self, root: &Fh) -> Result<FsinfoResOk, NfsError> {
        let info = self.run(ops::Fsinfo(root)).await?;
        let call = self.rpc.max_call() + crate::RECORD_MARK;
        self.sizes = ops::io_sizes(call, self.rpc.max_reply(), Some(&info), &self.limits);
        Ok(info)
    }

    /// FSSTAT: space and file slots.
    pub async fn fsstat(&mut self, fh: &Fh) -> Result<FsstatResOk, NfsError> {
        self.run(ops::Fsstat(fh)).await
    }

    /// GETATTR.
    pub async fn getattr(&mut self, fh: &Fh) -> Result<Fattr3, NfsError> {
        self.run(ops::Getattr(fh)).await
    }

    /// SETATTR (no guard): the attributes after, when the server sent them.
    pub async fn setattr(&mut self, fh: &Fh, set: Sattr3) -> Result<Option<Fattr3>, NfsError> {
        self.run(ops::Setattr(fh, set)).await
    }

    /// LOOKUP of `name` in `dir`: the handle and, when sent, the attributes.
    pub async fn lookup(&mut self, dir: &Fh, name: &str) -> Result<(Fh, Option<Fattr3>), NfsError> {
        self.run(ops::Lookup(dir, name)).await
    }

    /// Walks `path` (`/`-separated, relative to `from`) with one LOOKUP per component.
    pub async fn walk(&mut self, from: &Fh, path: &str) -> Result<Fh, NfsError> {
        let mut fh = *from;
        for name in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
            fh = self.lookup(&fh, name).await?.0;
        }
        Ok(fh)
    }

    /// The handle a CREATE, MKDIR or SYMLINK gave, or a LOOKUP's when it gave none.
    async fn made(&mut self, fh: Option<Fh>, dir: &Fh, name: &str) -> Result<Fh, NfsError> {
        match fh {
            Some(fh) => Ok(fh),
            None => Ok(self.lookup(dir, name).await?.0),
        }
    }

    /// CREATE of `name` in `dir`: the new file's handle.
    pub async fn create(&mut self, dir: &Fh, name: &str, how: CreateHow3) -> Result<Fh, NfsError> {
        let fh = self.run(ops::Create(dir, name, how)).await?;
        self.made(fh, dir, name).await
    }

    /// MKDIR of `name` in `dir`: the new directory's handle.
    pub async fn mkdir(&mut self, dir: &Fh, name: &str, attrs: Sattr3) -> Result<Fh, NfsError> {
        let fh = self.run(ops::Mkdir(dir, name, attrs)).await?;
        self.made(fh, dir, name).await
    }

    /// SYMLINK `name` in `dir` pointing to `target`: the link's handle.
    pub async fn symlink(&mut self, dir: &Fh, name: &str, target: &[u8], attrs: Sattr3) -> Result<Fh, NfsError> {
        let fh = self.run(ops::Symlink(dir, name, target, attrs)).await?;
        self.made(fh, dir, name).await
    }

    /// READLINK into `out`: the target's length (`out` too small: `Client(Full)`).
    pub async fn readlink(&mut self, fh: &Fh, out: &mut [u8]) -> Result<usize, NfsError> {
        self.run(ops::Readlink(fh, out)).await
    }

    /// REMOVE of the file `name` in `dir`.
    pub async fn remove(&mut self, dir: &Fh, name: &str) -> Result<(), NfsError> {
        self.run(ops::Remove(dir, name)).await
    }

    /// RMDIR of the empty directory `name` in `dir`.
    pub async fn rmdir(&mut self, dir: &Fh, name: &str) -> Result<(), NfsError> {
        self.run(ops::Rmdir(dir, name)).await
    }

    /// RENAME `from` in `from_dir` to `to` in `to_dir`.
    pub async fn rename(&mut self, from_dir: &Fh, from: &str, to_dir: &Fh, to: &str) -> Result<(), NfsError> {
        self.run(ops::Rename(from_dir, from, to_dir, to)).await
    }

    /// COMMIT of the whole file: the write verifier.
    pub async fn commit(&mut self, fh: &Fh) -> Result<Verifier, NfsError> {
        self.run(ops::Commit(fh)).await
    }

    /// Lists `dir` with READDIR, page after page, handing `each` every entry (`.` and `..`
    /// included, as the server sends them).
    pub async fn readdir<F: FnMut(&Entry3<'_>)>(&mut self, dir: &Fh, mut each: F) -> Result<(), NfsError> {
        let mut cursor = ListCursor::new(*dir);
        let count = self.sizes.dtsize;
        while !cursor.is_done() {
            self.run(ops::ReaddirPage { cursor: &mut cursor, count, each: &mut each }).await?;
        }
        Ok(())
    }

    /// Reads `[start, end)` of `fh` (`end` = `u64::MAX`: to the end of the file) with a
    /// window of READs in flight, handing each piece to `sink` with its offset, in the order
    /// the replies come; `Break` stops with [`NfsError::Aborted`]. The bytes read (fewer than
    /// asked when the file ends first).
    pub async fn read_to<F>(&mut self, fh: &Fh, start: u64, end: u64, mut sink: F) -> Result<u64, NfsError>
    where
        F: FnMut(u64, &[u8]) -> ControlFlow<()>,
    {
        let mut t = ReadTransfer::<N>::new(*fh, start, end, self.sizes.rsize, self.window);
        let r = self.read_loop(&mut t, &mut sink).await;
        if r.is_err() {
            self.rpc.cancel_all();
        }
        r
    }

    async fn read_loop<F>(&mut self, t: &mut ReadTransfer<N>, sink: &mut F) -> Result<u64, NfsError>
    where
        F: FnMut(u64, &[u8]) -> ControlFlow<()>,
    {
        let (cred, limits) = (self.cred, self.limits);
        loop {
            while self
                .rpc
                .start_opt(|c, now, buf| Ok::<_, NfsError>(t.poll_transmit(c, now, &cred, buf)?))
                .await?
                .is_some()
            {}
            if t.is_done() {
                return Ok(t.received());
            }
            match self.rpc.next_event().await? {
                Event::Reply(r) if t.owns(r.xid) => {
                    let (offset, data) = t.handle_reply(r.xid, r.result, &limits)?;
                    if !data.is_empty() && sink(offset, data).is_break() {
                        return Err(NfsError::Aborted);
                    }
                }
                Event::TimedOut(x) if t.owns(x) => t.handle_timeout(x)?,
                _ => {}
            }
        }
    }

    /// Reads `out.len()` bytes of `fh` from `offset` into `out`, windowed; the bytes read
    /// (fewer at the end of the file).
    pub async fn read_file(&mut self, fh: &Fh, offset: u64, out: &mut [u8]) -> Result<usize, NfsError> {
        let end = offset.saturating_add(out.len() as u64);
        let n = self.read_to(fh, offset, end, ops::into_slice(offset, out)).await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Writes `data` to `fh` at `offset`: a window of UNSTABLE WRITEs, then COMMIT, with the
    /// write verifier checked (what a restarted server may have lost is written again).
    pub async fn write_file(&mut self, fh: &Fh, offset: u64, data: &[u8]) -> Result<WriteStats, NfsError> {
        let end = offset.saturating_add(data.len() as u64);
        self.write_with(fh, offset, end, &mut ops::SliceSource { start: offset, data }).await
    }

    /// Writes `[start, end)` of `fh` like [`NfsClient::write_file`], with bytes from `fill`:
    /// it is given a chunk's offset and a slice of `chunk` (at least the wsize long) to fill,
    /// in any order and possibly more than once for the same range; `Break` stops with
    /// [`NfsError::Aborted`].
    pub async fn write_from<F>(
        &mut self,
        fh: &Fh,
        start: u64,
        end: u64,
        chunk: &mut [u8],
        fill: F,
    ) -> Result<WriteStats, NfsError>
    where
        F: FnMut(u64, &mut [u8]) -> ControlFlow<()>,
    {
        self.write_with(fh, start, end, &mut ops::FillSource { chunk, fill }).await
    }

    async fn write_with<Src: Source>(
        &mut self,
        fh: &Fh,
        start: u64,
        end: u64,
        src: &mut Src,
    ) -> Result<WriteStats, NfsError> {
        let mut t = WriteTransfer::<N>::new(*fh, start, end, self.sizes.wsize, self.window, StableHow::Unstable);
        let r = self.write_loop(&mut t, src).await;
        if r.is_err() {
            self.rpc.cancel_all();
        }
        r
    }

    async fn write_loop<Src: Source>(
        &mut self,
        t: &mut WriteTransfer<N>,
        src: &mut Src,
    ) -> Result<WriteStats, NfsError> {
        let (cred, limits) = (self.cred, self.limits);
        loop {
            while let Some(next) = t.poll_transmit() {
                match next {
                    Next::Write(ch) => {
                        let data = src.bytes(ch.offset, ch.len as usize)?;
                        self.rpc
                            .start(|c, now, buf| Ok::<_, NfsError>(t.send_write(c, now, &cred, ch, data, buf)?))
                            .await?;
                    }
                    Next::Commit => {
                        self.rpc.start(|c, now, buf| Ok::<_, NfsError>(t.send_commit(c, now, &cred, buf)?)).await?;
                    }
                };
            }
            if t.is_done() {
                return Ok(WriteStats { acked: t.acked(), resent: t.resent(), verifier_changes: t.verifier_changes() });
            }
            match self.rpc.next_event().await? {
                Event::Reply(r) if t.owns(r.xid) => t.handle_reply(r.xid, r.result, &limits)?,
                Event::TimedOut(x) if t.owns(x) => t.handle_timeout(x)?,
                _ => {}
            }
        }
    }
}
