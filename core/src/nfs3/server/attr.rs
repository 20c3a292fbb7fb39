//! GETATTR (RFC 1813 §3.3.1), SETATTR (§3.3.2) and ACCESS (§3.3.4).

use super::errors::nfs_status;
use super::req::{R, Req, W, X, chmod_mode, fattr, fs_time, kill_priv, set_attr};
use crate::fs::{self, Attr, FileSystem, FileType};
use crate::nfs3::{AccessRes, AccessResOk, GetattrRes, NfsStat3, SetattrArgs, SetattrRes, access};
use crate::xdr::{self, Writer};

/// GETATTR: the attributes; no permission is needed.
pub(super) fn getattr<F: FileSystem>(r: &mut Req<'_, F>, h: fs::Handle, out: &mut Writer<'_>) -> xdr::Result<()> {
    out.write(&match r.getattr(&h) {
        Ok(a) => GetattrRes::Ok(fattr(&a)),
        Err(s) => GetattrRes::Fail(s, ()),
    })
}

/// SETATTR with its ctime guard; WCC data on both arms.
pub(super) fn setattr<F: FileSystem>(
    r: &mut Req<'_, F>,
    h: fs::Handle,
    a: &SetattrArgs<'_>,
    out: &mut Writer<'_>,
) -> xdr::Result<()> {
    let pre = match r.getattr(&h) {
        Ok(p) => p,
        Err(s) => return out.write(&SetattrRes::Fail(s, super::NO_WCC)),
    };
    let res = checked_setattr(r, &h, &pre, a);
    let wcc = r.wcc(&h, &pre);
    out.write(&match res {
        Ok(()) => SetattrRes::Ok(wcc),
        Err(s) => SetattrRes::Fail(s, wcc),
    })
}

fn checked_setattr<F: FileSystem>(
    r: &mut Req<'_, F>,
    h: &fs::Handle,
    pre: &Attr,
    a: &SetattrArgs<'_>,
) -> Result<(), NfsStat3> {
    r.writable()?;
    let mut set = set_attr(&a.new_attributes);
    check_setattr(r, pre, &mut set)?;
    if let Some(guard) = a.guard
        && fs_time(guard) != pre.ctime
    {
        return Err(NfsStat3::NotSync);
    }
    if let Some(mode) = kill_priv(pre, &set) {
        set.mode = Some(mode);
    }
    r.fs.setattr(&r.ctx(), h, &set).map(|_| ()).map_err(nfs_status)
}

/// The POSIX rules for each attribute (Linux's `setattr_prepare` and `nfsd_setattr`).
fn check_setattr<F: FileSystem>(r: &Req<'_, F>, pre: &Attr, set: &mut fs::SetAttr) -> Result<(), NfsStat3> {
    let who = &r.who;
    if let Some(mode) = set.mode {
        if !who.owns(pre) {
            return Err(NfsStat3::Perm);
        }
        set.mode = Some(chmod_mode(mode, set.gid.unwrap_or(pre.gid), who));
    }
    if let Some(uid) = set.uid
        && who.uid != 0
        && !(uid == pre.uid && who.uid == pre.uid)
    {
        return Err(NfsStat3::Perm);
    }
    if let Some(gid) = set.gid
        && who.uid != 0
        && !(who.uid == pre.uid && (gid == pre.gid || who.in_group(gid)))
    {
        return Err(NfsStat3::Perm);
    }
    if set.size.is_some() {
        super::req::regular(pre)?;
        who.check_open(pre, W)?;
    }
    for t in [set.atime, set.mtime] {
        match t {
            fs::SetTime::Keep => {}
            fs::SetTime::Client(_) if !who.owns(pre) => return Err(NfsStat3::Perm),
            fs::SetTime::ServerTime if !who.owns(pre) => who.check(pre, W)?,
            _ => {}
        }
    }
    Ok(())
}

/// ACCESS: the requested bits the caller's mapped identity is granted (Linux's `nfsd_access`
/// maps: regular files READ/EXECUTE/MODIFY/EXTEND, directories READ/LOOKUP/MODIFY/EXTEND/
/// DELETE, other types READ/EXECUTE/MODIFY/EXTEND without the read-only check).
pub(super) fn access<F: FileSystem>(
    r: &mut Req<'_, F>,
    h: fs::Handle,
    want: u32,
    out: &mut Writer<'_>,
) -> xdr::Result<()> {
    out.write(&match r.getattr(&h) {
        Ok(a) => AccessRes::Ok(AccessResOk { obj_attributes: Some(fattr(&a)), access: granted(r, &a, want) }),
        Err(s) => AccessRes::Fail(s, None),
    })
}

/// The ACCESS bits of `want` granted on `a`.
pub(super) fn granted<F>(r: &Req<'_, F>, a: &Attr, want: u32) -> u32 {
    let who = &r.who;
    let can = |bits| who.may(a, bits);
    let mut ok = 0;
    let mut grant = |bit: u32, yes: bool| {
        if yes {
            ok |= bit;
        }
    };
    grant(access::READ, can(R));
    match a.ftype {
        FileType::Directory => {
            let change = who.writable && can(W | X);
            grant(access::LOOKUP, can(X));
            grant(access::MODIFY | access::EXTEND | access::DELETE, change);
        }
        FileType::Regular => {
            grant(access::EXECUTE, can(X));
            grant(access::MODIFY | access::EXTEND, who.writable && can(W));
        }
        _ => {
            grant(access::EXECUTE, can(X));
            grant(access::MODIFY | access::EXTEND, can(W));
        }
    }
    ok & want
}
