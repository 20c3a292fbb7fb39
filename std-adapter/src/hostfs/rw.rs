//! READ, WRITE, COMMIT and FSSTAT.

use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;

use tern_core::fs::{FsError, FsResult, FsStat, Handle, Stability};

use super::errno::io_err;
use super::{HostFs, Open};
use crate::sys;

impl HostFs {
    pub(super) fn read_impl(&self, fh: &Handle, offset: u64, out: &mut [u8]) -> FsResult<(usize, bool)> {
        let (f, meta) = self.resolve_meta(fh, Open::Read)?;
        if offset > i64::MAX as u64 {
            return Ok((0, true));
        }
        if offset >= meta.len() {
            // Nothing to read: answer from the metadata just read.
            return Ok((0, true));
        }
        let mut n = 0;
        while n < out.len() {
            match f.read_at(&mut out[n..], offset + n as u64) {
                Ok(0) => return Ok((n, true)),
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        self.soft.note_read(fh, offset, n as u64);
        let size = f.metadata().map_err(io_err)?.len();
        Ok((n, offset.saturating_add(n as u64) >= size))
    }

    pub(super) fn write_impl(
        &self,
        fh: &Handle,
        offset: u64,
        data: &[u8],
        stable: Stability,
    ) -> FsResult<(usize, Stability)> {
        let f = self.resolve(fh, Open::Write)?;
        if offset.checked_add(data.len() as u64).is_none_or(|end| end > i64::MAX as u64) {
            return Err(FsError::FBig);
        }
        f.write_all_at(data, offset).map_err(io_err)?;
        match stable {
            Stability::Unstable => {}
            Stability::DataSync => f.sync_data().map_err(io_err)?,
            Stability::FileSync => f.sync_all().map_err(io_err)?,
        }
        Ok((data.len(), stable))
    }

    /// Makes the whole file stable (`fsync`; a range sync would not cover the metadata that
    /// finds the data).
    pub(super) fn commit_impl(&self, fh: &Handle, _offset: u64, _count: u32) -> FsResult<()> {
        self.resolve(fh, Open::Read)?.sync_all().map_err(io_err)
    }

    pub(super) fn fsstat_impl(&self, fh: &Handle) -> FsResult<FsStat> {
        let f = self.resolve(fh, Open::Path)?;
        let v = sys::fstatvfs(f.as_fd()).map_err(io_err)?;
        Ok(FsStat {
            total_bytes: v.blocks.saturating_mul(v.frsize),
            free_bytes: v.bfree.saturating_mul(v.frsize),
            avail_bytes: v.bavail.saturating_mul(v.frsize),
            total_files: v.files,
            free_files: v.ffree,
            avail_files: v.favail,
        })
    }
}
