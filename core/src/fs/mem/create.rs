//! Operations that add names: CREATE, MKDIR, SYMLINK, MKNOD and LINK.

use super::names::{SYMLINK_OWNER, record_len};
use super::nodes::Body;
use super::ops::{check_name, is_dots};
use super::{MAX_FILE_SIZE, MAX_LINKS, MemFs, NONE};
use crate::fs::{CreateHow, Ctx, FsError, FsResult, SetAttr};

impl MemFs<'_> {
    /// Checks that `name` can be added to directory `d`: a directory, a valid new name.
    fn check_new_name(&self, d: u32, name: &[u8]) -> FsResult<()> {
        self.dir(d)?;
        if is_dots(name) {
            return Err(FsError::Exist);
        }
        check_name(name)?;
        if self.find_entry(d, name).is_some() {
            return Err(FsError::Exist);
        }
        Ok(())
    }

    /// Creates a node `body` named `name` in directory `d` (with `extra` as a symlink target).
    /// Every check comes before any change.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new_object(
        &mut self,
        ctx: &Ctx,
        d: u32,
        name: &[u8],
        body: Body,
        mode: u32,
        set: &SetAttr,
        extra: &[u8],
    ) -> FsResult<u32> {
        self.check_new_name(d, name)?;
        let (is_dir, is_file) = (matches!(body, Body::Dir(_)), matches!(body, Body::File { .. }));
        let is_symlink = matches!(body, Body::Symlink { .. });
        if is_dir && self.nodes[d as usize].nlink >= MAX_LINKS {
            return Err(FsError::MLink);
        }
        let size = if is_file { set.size } else { None };
        if size.is_some_and(|s| s > MAX_FILE_SIZE) {
            return Err(FsError::FBig);
        }
        let need = record_len(name.len()) + if is_symlink { record_len(extra.len()) } else { 0 };
        if self.free_nodes.count == 0 || self.free_entries.count == 0 || self.names_room() < need {
            return Err(FsError::NoSpace);
        }
        let n = self.alloc_node(ctx, body, mode, set);
        if is_symlink {
            let off = self.alloc_name(extra, n | SYMLINK_OWNER);
            let node = &mut self.nodes[n as usize];
            node.body = Body::Symlink { name: off };
            node.size = extra.len() as u64;
        }
        if let Some(size) = size {
            self.nodes[n as usize].size = size;
        }
        self.add_entry(d, name, n);
        if is_dir {
            self.nodes[n as usize].nlink = 2;
            self.nodes[d as usize].nlink += 1;
        }
        self.touch_dir(d, ctx.now);
        Ok(n)
    }

    /// CREATE in directory `d`.
    pub(super) fn create_file(&mut self, ctx: &Ctx, d: u32, name: &[u8], how: &CreateHow) -> FsResult<u32> {
        self.dir(d)?;
        if !is_dots(name)
            && check_name(name).is_ok()
            && let Some(e) = self.find_entry(d, name)
        {
            let c = self.entries[e as usize].child;
            let node = &self.nodes[c as usize];
            let is_file = matches!(node.body, Body::File { .. });
            return match how {
                CreateHow::Unchecked(set) if is_file => self.apply_setattr(ctx, c, set).map(|()| c),
                CreateHow::Exclusive(v) if is_file && node.has_verifier(*v) => Ok(c),
                _ => Err(FsError::Exist),
            };
        }
        let set = match how {
            CreateHow::Unchecked(set) | CreateHow::Guarded(set) => *set,
            CreateHow::Exclusive(_) => SetAttr::default(),
        };
        let n = self.new_object(ctx, d, name, Body::File { head: NONE, blocks: 0 }, 0o644, &set, &[])?;
        if let CreateHow::Exclusive(v) = how {
            self.nodes[n as usize].set_verifier(*v);
        }
        Ok(n)
    }

    /// LINK: adds `name` in directory `d` for non-directory `n`.
    pub(super) fn add_link(&mut self, ctx: &Ctx, n: u32, d: u32, name: &[u8]) -> FsResult<()> {
        if self.nodes[n as usize].is_dir() {
            return Err(FsError::Perm);
        }
        self.check_new_name(d, name)?;
        if self.nodes[n as usize].nlink >= MAX_LINKS {
            return Err(FsError::MLink);
        }
        if self.free_entries.count == 0 || self.names_room() < record_len(name.len()) {
            return Err(FsError::NoSpace);
        }
        self.add_entry(d, name, n);
        let node = &mut self.nodes[n as usize];
        node.nlink += 1;
        node.ctime = ctx.now;
        self.touch_dir(d, ctx.now);
        Ok(())
    }
}
