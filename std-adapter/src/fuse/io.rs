//! File data: open/release, read, write, flush/fsync (COMMIT).
//!
//! Invariants:
//! - a read fills the whole request unless the file ends (FUSE takes a short read for the end
//!   of the file), looping over back ends that return less than asked;
//! - a write writes all of the data or reports how much it wrote (a short write) or, when
//!   nothing was written, the error;
//! - a node is dirty exactly while the back end holds unstable data of ours for it; `commit`
//!   clears it first and sets it again if the commit fails, so data written during a commit
//!   is never forgotten.

use fuser::Errno;
use tern_core::fs::{Ctx, FileSystem, Stability};

use super::convert::{self, errno};
use super::{FuseFs, State};

impl<F: FileSystem + Send + 'static> FuseFs<F> {
    /// OPEN of `ino`: counts an open file description (no back-end call: it is stateless).
    pub(crate) fn do_open(&self, ino: u64) -> Result<(), Errno> {
        if self.lock().inodes.open(ino) { Ok(()) } else { Err(Errno::ESTALE) }
    }

    /// RELEASE of one open file description of `ino`: commits what is still unstable (data
    /// written through a shared mapping arrives without a flush) and, after the last one of
    /// a file unlinked while open, removes its hidden name.
    pub(crate) fn do_release(&self, ino: u64) -> Result<(), Errno> {
        let mut st = self.lock();
        let committed = st.commit(ino);
        if let Some(h) = st.inodes.release(ino) {
            let ctx = convert::ctx(0, 0);
            if let Err(e) = st.fs.remove(&ctx, &h.dir, &h.name) {
                tracing::warn!(name = %String::from_utf8_lossy(&h.name), "cannot remove a hidden file: {e}");
            }
        }
        committed
    }

    /// FLUSH (each `close(2)`) and FSYNC: commits `ino`'s unstable writes.
    pub(crate) fn do_commit(&self, ino: u64) -> Result<(), Errno> {
        self.lock().commit(ino)
    }

    /// READ of up to `buf.len()` bytes of `ino` at `offset`; returns the count (less only at
    /// the end of the file).
    pub(crate) fn do_read(&self, ino: u64, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let mut st = self.lock();
        let h = st.handle(ino)?;
        let mut done = 0;
        while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
            let Some(at) = offset.checked_add(done as u64) else { break };
            match st.fs.read(&h, at, rest) {
                Ok((n, eof)) => {
                    done += n.min(rest.len());
                    if eof || n == 0 {
                        break;
                    }
                }
                Err(e) if done == 0 => return Err(errno(e)),
                Err(_) => break,
            }
        }
        Ok(done)
    }

    /// WRITE of `data` to `ino` at `offset` (unstable); returns the count written.
    pub(crate) fn do_write(&self, ctx: &Ctx, ino: u64, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        let mut st = self.lock();
        let h = st.handle(ino)?;
        let mut done = 0;
        let mut unstable = false;
        let mut failure = None;
        while let Some(rest) = data.get(done..).filter(|r| !r.is_empty()) {
            let Some(at) = offset.checked_add(done as u64) else {
                failure = Some(Errno::EFBIG);
                break;
            };
            match st.fs.write(ctx, &h, at, rest, Stability::Unstable) {
                Ok((0, _)) => {
                    failure = Some(Errno::EIO);
                    break;
                }
                Ok((n, how)) => {
                    done += n.min(rest.len());
                    unstable |= how == Stability::Unstable;
                }
                Err(e) => {
                    failure = Some(errno(e));
                    break;
                }
            }
        }
        if unstable && let Some(node) = st.inodes.get_mut(ino) {
            node.dirty = true;
        }
        match failure {
            Some(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }
}

impl<F: FileSystem> State<F> {
    /// Commits `ino`'s unstable writes, if any.
    fn commit(&mut self, ino: u64) -> Result<(), Errno> {
        let Some(node) = self.inodes.get_mut(ino).filter(|n| n.dirty) else { return Ok(()) };
        node.dirty = false;
        let h = node.handle;
        self.fs.commit(&h, 0, 0).map_err(|e| {
            if let Some(node) = self.inodes.get_mut(ino) {
                node.dirty = true;
            }
            errno(e)
        })
    }
}
