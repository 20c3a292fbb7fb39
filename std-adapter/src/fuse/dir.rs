//! Directory listings: opendir/releasedir, READDIR and READDIRPLUS.
//!
//! A FUSE offset is the back end's cookie (0: from the start; each entry carries the cookie that
//! resumes after it), and each open directory keeps the cookie verifier of its last listing
//! (the trait checks it when resuming). Entries are read from the back end in batches (it
//! calls back with the directory borrowed), then each is looked up for its type and
//! attributes (the trait's listing carries only names and file ids) and added to the reply
//! until the kernel's buffer is full; the next request resumes after the last entry added.
//!
//! Invariants: an entry added to a READDIRPLUS reply counts one lookup, except `.` and `..`
//! (the kernel does not link those), and an entry that did not fit counts none. Entries that
//! vanish between the listing and their lookup (removed meanwhile) are left out.

use fuser::{Errno, FileAttr, FileType as KernelType, INodeNo};
use tern_core::fs::{FileSystem, FsError};

use super::convert::{self, errno};
use super::{FuseFs, State};

/// Entries read from the back end per batch.
const BATCH: usize = 64;

/// One entry for the kernel.
pub(crate) struct Item<'a> {
    /// The entry's node id (`d_ino`).
    pub(crate) ino: u64,
    /// The offset that resumes after it.
    pub(crate) offset: u64,
    /// Its name.
    pub(crate) name: &'a [u8],
    /// Its attributes (`kind` and `ino` are all a plain READDIR uses).
    pub(crate) attr: FileAttr,
}

/// One entry as listed by the back end.
struct Listed {
    fileid: u64,
    cookie: u64,
    name: Vec<u8>,
}

impl<F: FileSystem + Send + 'static> FuseFs<F> {
    /// OPENDIR: a new directory stream (its FUSE file handle).
    pub(crate) fn do_opendir(&self, ino: u64) -> Result<u64, Errno> {
        let mut st = self.lock();
        st.handle(ino)?;
        st.next_dir = st.next_dir.wrapping_add(1);
        let fh = st.next_dir;
        st.dirs.insert(fh, [0; 8]);
        Ok(fh)
    }

    /// RELEASEDIR of stream `fh`.
    pub(crate) fn do_releasedir(&self, fh: u64) {
        self.lock().dirs.remove(&fh);
    }

    /// READDIR (`plus` false) or READDIRPLUS of `ino` on stream `fh` from `offset`: calls `add`
    /// per entry until it returns true (the reply is full; that entry was not taken).
    pub(crate) fn do_readdir(
        &self,
        ino: u64,
        fh: u64,
        offset: u64,
        plus: bool,
        add: &mut dyn FnMut(&Item<'_>) -> bool,
    ) -> Result<(), Errno> {
        let mut st = self.lock();
        let dir = st.handle(ino)?;
        let blksize = self.cfg.max_io.max(4096);
        let mut cookie = offset;
        loop {
            let verifier = st.dirs.get(&fh).copied().unwrap_or([0; 8]);
            let mut batch = Vec::with_capacity(BATCH);
            let end = st
                .fs
                .readdir(&dir, cookie, verifier, &mut |e| {
                    if batch.len() >= BATCH {
                        return false;
                    }
                    batch.push(Listed { fileid: e.fileid, cookie: e.cookie, name: e.name.to_vec() });
                    true
                })
                .map_err(errno)?;
            if let Some(v) = st.dirs.get_mut(&fh) {
                *v = end.verifier;
            }
            for e in &batch {
                let Some(attr) = st.describe(ino, &dir, e, plus, blksize)? else {
                    cookie = e.cookie;
                    continue;
                };
                let counted = plus && !is_dot(&e.name);
                if add(&Item { ino: attr.ino.0, offset: e.cookie, name: &e.name, attr }) {
                    if counted {
                        st.inodes.forget(attr.ino.0, 1);
                    }
                    return Ok(());
                }
                cookie = e.cookie;
            }
            if end.eof || batch.is_empty() {
                return Ok(());
            }
        }
    }
}

fn is_dot(name: &[u8]) -> bool {
    name == b"." || name == b".."
}

impl<F: FileSystem> State<F> {
    /// The attributes of one listed entry of `dir` (node `dir_ino`); with `plus`, a lookup is
    /// counted for it (except `.` and `..`). `None` when the entry is gone.
    fn describe(
        &mut self,
        dir_ino: u64,
        dir: &tern_core::fs::Handle,
        e: &Listed,
        plus: bool,
        blksize: u32,
    ) -> Result<Option<FileAttr>, Errno> {
        if is_dot(&e.name) {
            // The kernel uses only the name, `d_ino` and type of these.
            let ino = if e.name == b"." {
                dir_ino
            } else {
                match self.fs.lookup(dir, b"..") {
                    Ok(h) => self.inodes.peek(&h, e.fileid),
                    Err(_) => e.fileid,
                }
            };
            let mut attr = convert::file_attr(ino, &dot_attr(), blksize);
            attr.ino = INodeNo(ino);
            attr.kind = KernelType::Directory;
            return Ok(Some(attr));
        }
        let h = match self.fs.lookup(dir, &e.name) {
            Ok(h) => h,
            Err(FsError::NoEnt | FsError::Stale) => return Ok(None),
            Err(err) => return Err(errno(err)),
        };
        let a = match self.fs.getattr(&h) {
            Ok(a) => a,
            Err(FsError::NoEnt | FsError::Stale) => return Ok(None),
            Err(err) => return Err(errno(err)),
        };
        let ino = if plus { self.inodes.remember(h, a.fileid) } else { self.inodes.peek(&h, a.fileid) };
        Ok(Some(convert::file_attr(ino, &a, blksize)))
    }
}

/// Attributes for `.` and `..` in a listing (not used by the kernel beyond the type).
fn dot_attr() -> tern_core::fs::Attr {
    use tern_core::fs::{Attr, FileType, Time};
    Attr {
        ftype: FileType::Directory,
        mode: 0o755,
        nlink: 2,
        uid: 0,
        gid: 0,
        size: 0,
        used: 0,
        rdev: (0, 0),
        fsid: 0,
        fileid: 0,
        atime: Time::default(),
        mtime: Time::default(),
        ctime: Time::default(),
    }
}
