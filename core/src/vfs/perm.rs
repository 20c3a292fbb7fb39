//! Permission checks from mode bits, as Linux's `generic_permission`, `may_delete` and
//! `setattr_prepare` decide them.

use super::error::{VfsError, VfsResult};
use super::types::Cred;
use crate::fs::{Attr, FileType, SetAttr, SetTime};

/// Read permission (the `r` bit).
pub(super) const R: u32 = 4;
/// Write permission (the `w` bit).
pub(super) const W: u32 = 2;
/// Search (directories) or execute permission (the `x` bit).
pub(super) const X: u32 = 1;

const S_ISGID: u32 = 0o2000;
const S_ISVTX: u32 = 0o1000;

/// Whether the mode bits of `a` grant `cred` every bit of `want`. uid 0 gets everything except
/// execute on a non-directory without any `x` bit.
pub(super) fn may(cred: &Cred<'_>, a: &Attr, want: u32) -> bool {
    if cred.uid == 0 {
        return want & X == 0 || a.ftype == FileType::Directory || a.mode & 0o111 != 0;
    }
    let bits = if cred.uid == a.uid {
        a.mode >> 6
    } else if cred.in_group(a.gid) {
        a.mode >> 3
    } else {
        a.mode
    };
    bits & want & 7 == want
}

/// [`may`] as [`VfsError::Access`].
pub(super) fn check(cred: &Cred<'_>, a: &Attr, want: u32) -> VfsResult<()> {
    if may(cred, a, want) { Ok(()) } else { Err(VfsError::Access) }
}

/// The checks of removing or replacing the entry `victim` in `dir`: write and search on the
/// directory, and in a sticky directory only the owner of the entry or of the directory (or
/// uid 0) passes ([`VfsError::Perm`]).
pub(super) fn may_delete(cred: &Cred<'_>, dir: &Attr, victim: &Attr) -> VfsResult<()> {
    check(cred, dir, W | X)?;
    if dir.mode & S_ISVTX != 0 && cred.uid != 0 && cred.uid != dir.uid && cred.uid != victim.uid {
        return Err(VfsError::Perm);
    }
    Ok(())
}

/// Vets a SETATTR by `cred` on an object with attributes `a`, as Linux's `setattr_prepare` and
/// `chmod_common`: changing the mode or setting times to given values needs the owner (or uid
/// 0); setting them to now needs the owner or write permission; changing the owner needs uid 0;
/// changing the group needs the owner and membership of the new group; a size needs write
/// permission on a regular file. Returns the attributes to apply: a `chmod` by a caller outside
/// the file's group drops set-group-id.
pub(super) fn vet_setattr(cred: &Cred<'_>, a: &Attr, set: &SetAttr) -> VfsResult<SetAttr> {
    let mut set = *set;
    let owner = cred.uid == 0 || cred.uid == a.uid;
    if let Some(mode) = set.mode {
        if !owner {
            return Err(VfsError::Perm);
        }
        let mut mode = mode & 0o7777;
        if cred.uid != 0 && !cred.in_group(set.gid.unwrap_or(a.gid)) {
            mode &= !S_ISGID;
        }
        set.mode = Some(mode);
    }
    if set.uid.is_some_and(|u| u != a.uid) && cred.uid != 0 {
        return Err(VfsError::Perm);
    }
    if let Some(g) = set.gid
        && g != a.gid
        && cred.uid != 0
        && !(cred.uid == a.uid && cred.in_group(g))
    {
        return Err(VfsError::Perm);
    }
    for t in [set.atime, set.mtime] {
        match t {
            SetTime::Keep => {}
            SetTime::Client(_) if !owner => return Err(VfsError::Perm),
            SetTime::ServerTime if !owner => check(cred, a, W)?,
            _ => {}
        }
    }
    if set.size.is_some() {
        match a.ftype {
            FileType::Regular => check(cred, a, W)?,
            FileType::Directory => return Err(VfsError::IsDir),
            _ => return Err(VfsError::Inval),
        }
    }
    Ok(set)
}
