//! Operations that remove or move names: REMOVE, RMDIR and RENAME.

use super::dirs::name_hash;
use super::names::record_len;
use super::ops::{check_name, is_dots};
use super::{MAX_LINKS, MAX_NAME, MemFs, ROOT};
use crate::fs::{Ctx, FsError, FsResult};

impl MemFs<'_> {
    /// The entry for an existing `name` in directory `d`.
    fn existing(&self, d: u32, name: &[u8]) -> FsResult<u32> {
        self.dir(d)?;
        if name.len() > MAX_NAME {
            return Err(FsError::NameTooLong);
        }
        self.find_entry(d, name).ok_or(FsError::NoEnt)
    }

    /// REMOVE of `name` (not a directory) from directory `d`.
    pub(super) fn unlink(&mut self, ctx: &Ctx, d: u32, name: &[u8]) -> FsResult<()> {
        self.dir(d)?;
        if is_dots(name) {
            return Err(FsError::IsDir);
        }
        let e = self.existing(d, name)?;
        let c = self.entries[e as usize].child;
        if self.nodes[c as usize].is_dir() {
            return Err(FsError::IsDir);
        }
        self.remove_entry(e);
        self.drop_link(c, ctx.now);
        self.touch_dir(d, ctx.now);
        Ok(())
    }

    /// RMDIR of the empty directory `name` in directory `d`.
    pub(super) fn remove_dir(&mut self, ctx: &Ctx, d: u32, name: &[u8]) -> FsResult<()> {
        self.dir(d)?;
        match name {
            b"." => return Err(FsError::Inval),
            b".." => return Err(FsError::NotEmpty),
            _ => {}
        }
        let e = self.existing(d, name)?;
        let c = self.entries[e as usize].child;
        if self.dir(c)?.count > 0 {
            return Err(FsError::NotEmpty);
        }
        self.remove_entry(e);
        self.free_node(c);
        self.nodes[d as usize].nlink -= 1;
        self.touch_dir(d, ctx.now);
        Ok(())
    }

    /// True when directory `d` is `s` or lies below it.
    fn is_within(&self, mut d: u32, s: u32) -> bool {
        for _ in 0..self.nodes.len() {
            if d == s {
                return true;
            }
            if d == ROOT {
                return false;
            }
            match self.dir(d) {
                Ok(dir) => d = dir.parent,
                Err(_) => return false,
            }
        }
        false
    }

    /// Checks a RENAME of entry `se` (node `s`) onto `to` in `td` (target entry `de`).
    fn check_rename(&self, se: u32, fd: u32, td: u32, to: &[u8], de: Option<u32>) -> FsResult<()> {
        let s = self.entries[se as usize].child;
        let s_dir = self.nodes[s as usize].is_dir();
        if s_dir && self.is_within(td, s) {
            return Err(FsError::Inval);
        }
        match de {
            Some(de) => {
                let t = self.entries[de as usize].child;
                match (s_dir, self.nodes[t as usize].is_dir()) {
                    (true, false) => Err(FsError::NotDir),
                    (false, true) => Err(FsError::IsDir),
                    (true, true) if self.dir(t)?.count > 0 => Err(FsError::NotEmpty),
                    _ => Ok(()),
                }
            }
            None if s_dir && fd != td && self.nodes[td as usize].nlink >= MAX_LINKS => Err(FsError::MLink),
            // The old name's record is freed before the new one is stored.
            None if self.names_room() + record_len(self.name(self.entries[se as usize].name).len())
                < record_len(to.len()) =>
            {
                Err(FsError::NoSpace)
            }
            None => Ok(()),
        }
    }

    /// RENAME of `from` in `fd` to `to` in `td`, with POSIX semantics.
    pub(super) fn move_entry(&mut self, ctx: &Ctx, fd: u32, from: &[u8], td: u32, to: &[u8]) -> FsResult<()> {
        self.dir(fd)?;
        self.dir(td)?;
        if is_dots(from) || is_dots(to) {
            return Err(FsError::Inval);
        }
        check_name(to)?;
        let se = self.existing(fd, from)?;
        let s = self.entries[se as usize].child;
        let de = self.find_entry(td, to);
        if de.is_some_and(|de| self.entries[de as usize].child == s) {
            return Ok(()); // the same file under both names: nothing to do
        }
        self.check_rename(se, fd, td, to, de)?;
        let now = ctx.now;
        if let Some(de) = de {
            // Replace the target: its entry goes, its name record becomes the moved entry's.
            let t = self.entries[de as usize].child;
            let off = self.entries[de as usize].name;
            self.detach_entry(de);
            self.release_entry(de);
            if self.nodes[t as usize].is_dir() {
                self.free_node(t);
                self.nodes[td as usize].nlink -= 1;
            } else {
                self.drop_link(t, now);
            }
            self.detach_entry(se);
            self.free_name(self.entries[se as usize].name);
            self.give_name(off, se);
            self.entries[se as usize].name = off;
        } else {
            self.detach_entry(se);
            self.free_name(self.entries[se as usize].name);
            self.entries[se as usize].name = self.alloc_name(to, se);
        }
        self.entries[se as usize].hash = name_hash(td, to);
        self.attach_entry(se, td);
        if fd != td
            && let Some(d) = self.dir_mut(s)
        {
            d.parent = td;
            self.nodes[fd as usize].nlink -= 1;
            self.nodes[td as usize].nlink += 1;
        }
        self.nodes[s as usize].ctime = now;
        self.touch_dir(fd, now);
        self.touch_dir(td, now);
        Ok(())
    }
}
