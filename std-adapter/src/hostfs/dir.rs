//! LOOKUP (one component at a time, never following symlinks, never leaving the export),
//! READDIR over the kernel's directory offsets, and READLINK.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

use tern_core::fs::{DirEntry, FsError, FsResult, Handle, ReaddirEnd};

use super::errno::{component, errno, io_err};
use super::{HostFs, MAX_WALK, Open, file};
use crate::sys;

/// The cookie verifier of every directory: cookies are the file system's own stable
/// offsets (ext4: name hashes), so no verifier is needed (Linux knfsd also sends 0).
pub(super) const COOKIE_VERIFIER: [u8; 8] = [0; 8];

/// Cookie after `.`: resume with `..`. Kernel directory positions are `loff_t` values below
/// 2^63, so the two top cookies never collide with them.
const DOT_COOKIE: u64 = u64::MAX - 1;
/// Cookie after `..`: resume at the file system's first entry (its own `.` and `..` are
/// skipped wherever they appear).
const DOTDOT_COOKIE: u64 = u64::MAX;

/// Bytes of `getdents64` records fetched per system call.
const DIRENT_BUF: usize = 16 * 1024;

impl HostFs {
    pub(super) fn lookup_impl(&self, dir: &Handle, name: &[u8]) -> FsResult<Handle> {
        let cname = component(name)?;
        let (d, dmeta) = self.resolve_meta(dir, Open::Path)?;
        if !dmeta.is_dir() {
            return Err(FsError::NotDir);
        }
        match name {
            b"." => Ok(*dir),
            b".." if self.is_root(&dmeta) => Ok(self.root),
            b".." => {
                let parent = file(sys::openat(d.as_fd(), c"..", libc::O_PATH | libc::O_DIRECTORY, 0).map_err(io_err)?);
                let h = self.issue(parent.as_fd())?;
                self.check_inside(parent)?;
                Ok(h)
            }
            _ => {
                let child = sys::openat(d.as_fd(), &cname, libc::O_PATH | libc::O_NOFOLLOW, 0).map_err(io_err)?;
                self.issue(child.as_fd())
            }
        }
    }

    /// Checks that a directory reached by `..` is the export root or below it, by walking
    /// `..` up (at most [`MAX_WALK`] levels); [`FsError::Stale`] when the walk reaches the
    /// host's root first (the directory was moved out of the export on the host).
    fn check_inside(&self, start: File) -> FsResult<()> {
        let mut cur = start;
        let mut meta = cur.metadata().map_err(io_err)?;
        for _ in 0..MAX_WALK {
            if self.is_root(&meta) {
                return Ok(());
            }
            let up = file(sys::openat(cur.as_fd(), c"..", libc::O_PATH | libc::O_DIRECTORY, 0).map_err(io_err)?);
            let up_meta = up.metadata().map_err(io_err)?;
            if (up_meta.dev(), up_meta.ino()) == (meta.dev(), meta.ino()) {
                return Err(FsError::Stale);
            }
            (cur, meta) = (up, up_meta);
        }
        Err(FsError::Stale)
    }

    pub(super) fn readdir_impl(
        &self,
        dir: &Handle,
        cookie: u64,
        verifier: [u8; 8],
        emit: &mut dyn FnMut(&DirEntry<'_>) -> bool,
    ) -> FsResult<ReaddirEnd> {
        if cookie != 0 && verifier != COOKIE_VERIFIER {
            return Err(FsError::BadCookie);
        }
        let (d, meta) = self.resolve_meta(dir, Open::Dir)?;
        let more = ReaddirEnd { verifier: COOKIE_VERIFIER, eof: false };
        // `.` and `..` first, whatever order the file system keeps them in.
        if cookie == 0 || cookie == DOT_COOKIE {
            if cookie == 0 && !emit(&DirEntry { fileid: meta.ino(), name: b".", cookie: DOT_COOKIE }) {
                return Ok(more);
            }
            let parent = if self.is_root(&meta) {
                meta.ino()
            } else {
                let up = file(sys::openat(d.as_fd(), c"..", libc::O_PATH | libc::O_DIRECTORY, 0).map_err(io_err)?);
                up.metadata().map_err(io_err)?.ino()
            };
            if !emit(&DirEntry { fileid: parent, name: b"..", cookie: DOTDOT_COOKIE }) {
                return Ok(more);
            }
        }
        if ![0, DOT_COOKIE, DOTDOT_COOKIE].contains(&cookie) {
            (&*d).seek(SeekFrom::Start(cookie)).map_err(|e| match errno(&e) {
                libc::EINVAL => FsError::BadCookie,
                _ => io_err(e),
            })?;
        }
        let mut buf = vec![0u8; DIRENT_BUF];
        loop {
            let n = sys::getdents(d.as_fd(), &mut buf).map_err(io_err)?;
            if n == 0 {
                return Ok(ReaddirEnd { verifier: COOKIE_VERIFIER, eof: true });
            }
            for ent in Dirents(&buf[..n]) {
                let ent = ent?;
                if ent.name == b"." || ent.name == b".." {
                    continue;
                }
                if ent.off == 0 || ent.off > i64::MAX as u64 {
                    // Positions 0 ("from the start") and above 2^63 (the `.`/`..` cookies)
                    // cannot be cookies: such a file system cannot be listed statelessly.
                    return Err(FsError::ServerFault);
                }
                if !emit(&DirEntry { fileid: ent.ino, name: ent.name, cookie: ent.off }) {
                    return Ok(more);
                }
            }
        }
    }

    pub(super) fn readlink_impl(&self, fh: &Handle, out: &mut [u8]) -> FsResult<usize> {
        let (f, meta) = self.resolve_meta(fh, Open::Path)?;
        if !meta.file_type().is_symlink() {
            return Err(FsError::Inval);
        }
        let mut buf = [0u8; libc::PATH_MAX as usize];
        let n = sys::readlink_fd(f.as_fd(), &mut buf).map_err(io_err)?;
        let target = buf.get(..n).ok_or(FsError::ServerFault)?;
        out.get_mut(..n).ok_or(FsError::ServerFault)?.copy_from_slice(target);
        Ok(n)
    }
}

/// One `struct linux_dirent64` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dirent<'a> {
    pub(super) ino: u64,
    /// `d_off`: the position after this entry.
    pub(super) off: u64,
    pub(super) name: &'a [u8],
}

/// The records of a `getdents64` buffer (checked, so a bad buffer gives an error, not a panic).
pub(super) struct Dirents<'a>(pub(super) &'a [u8]);

impl<'a> Iterator for Dirents<'a> {
    type Item = FsResult<Dirent<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let parsed = parse_dirent(self.0);
        match parsed {
            Some((ent, reclen)) => {
                self.0 = &self.0[reclen..];
                Some(Ok(ent))
            }
            None => {
                self.0 = &[];
                Some(Err(FsError::ServerFault))
            }
        }
    }
}

/// Parses one record: `d_ino` (8), `d_off` (8), `d_reclen` (2), `d_type` (1), name, NUL.
fn parse_dirent(b: &[u8]) -> Option<(Dirent<'_>, usize)> {
    const NAME: usize = 19;
    let ino = u64::from_ne_bytes(b.get(0..8)?.try_into().ok()?);
    let off = u64::from_ne_bytes(b.get(8..16)?.try_into().ok()?);
    let reclen = usize::from(u16::from_ne_bytes(b.get(16..18)?.try_into().ok()?));
    let rec = b.get(NAME..reclen)?;
    let len = rec.iter().position(|&c| c == 0)?;
    Some((Dirent { ino, off, name: &rec[..len] }, reclen))
}
