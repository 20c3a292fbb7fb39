//! LOOKUP (RFC 1813 §3.3.3), REMOVE (§3.3.12), RMDIR (§3.3.13), RENAME (§3.3.14) and LINK
//! (§3.3.15).

use super::errors::nfs_status;
use super::req::{NO_WCC, Req, W, X, dir, fattr};
use crate::fs::{self, Attr, FileSystem, FileType};
use crate::nfs3::{
    Filename, LinkRes, LinkWcc, LookupRes, LookupResOk, NfsStat3, RemoveRes, RenameArgs, RenameRes, RenameWcc,
};
use crate::xdr::{self, Writer};

/// LOOKUP: `.` is the directory, `..` of the export root the root itself.
pub(super) fn lookup<F: FileSystem>(
    r: &mut Req<'_, F>,
    d: fs::Handle,
    name: Filename<'_>,
    out: &mut Writer<'_>,
) -> xdr::Result<()> {
    let da = match r.getattr(&d) {
        Ok(a) => a,
        Err(s) => return out.write(&LookupRes::Fail(s, None)),
    };
    let dir_attributes = Some(fattr(&da));
    match find(r, &d, &da, name) {
        Ok(h) => {
            let wire = r.wire(&h);
            let obj_attributes = r.post(&h);
            out.write(&LookupRes::Ok(LookupResOk { object: wire.file_handle(), obj_attributes, dir_attributes }))
        }
        Err(s) => out.write(&LookupRes::Fail(s, dir_attributes)),
    }
}

fn find<F: FileSystem>(
    r: &mut Req<'_, F>,
    d: &fs::Handle,
    da: &Attr,
    name: Filename<'_>,
) -> Result<fs::Handle, NfsStat3> {
    let name = r.name(name)?;
    dir(da)?;
    r.who.check(da, X)?;
    if name == b"." || (name == b".." && r.is_root(d)) {
        return Ok(*d);
    }
    r.fs.lookup(d, name).map_err(nfs_status)
}

/// REMOVE (`rmdir` false) and RMDIR: the directory's WCC data on both arms.
pub(super) fn remove<F: FileSystem>(
    r: &mut Req<'_, F>,
    d: fs::Handle,
    name: Filename<'_>,
    rmdir: bool,
    out: &mut Writer<'_>,
) -> xdr::Result<()> {
    let pre = match r.getattr(&d) {
        Ok(a) => a,
        Err(s) => return out.write(&RemoveRes::Fail(s, NO_WCC)),
    };
    let res = unlink(r, &d, &pre, name, rmdir);
    let wcc = r.wcc(&d, &pre);
    out.write(&match res {
        Ok(()) => RemoveRes::Ok(wcc),
        Err(s) => RemoveRes::Fail(s, wcc),
    })
}

fn unlink<F: FileSystem>(
    r: &mut Req<'_, F>,
    d: &fs::Handle,
    da: &Attr,
    name: Filename<'_>,
    rmdir: bool,
) -> Result<(), NfsStat3> {
    let name = r.new_name(name, NfsStat3::Acces)?;
    r.writable()?;
    dir(da)?;
    r.who.check(da, W | X)?;
    sticky(r, d, da, name)?;
    let ctx = r.ctx();
    if rmdir { r.fs.rmdir(&ctx, d, name) } else { r.fs.remove(&ctx, d, name) }.map_err(nfs_status)
}

/// The sticky-directory rule for the entry `name` of `d`; returns the entry's attributes
/// (`None` when there is no such entry).
fn sticky<F: FileSystem>(r: &mut Req<'_, F>, d: &fs::Handle, da: &Attr, name: &[u8]) -> Result<Option<Attr>, NfsStat3> {
    let target = match r.fs.lookup(d, name) {
        Ok(h) => h,
        Err(fs::FsError::NoEnt) => return Ok(None),
        Err(e) => return Err(nfs_status(e)),
    };
    let ta = r.getattr(&target)?;
    r.who.check_sticky(da, ta.uid)?;
    Ok(Some(ta))
}

/// RENAME: both directories' WCC data on both arms.
pub(super) fn rename<F: FileSystem>(
    r: &mut Req<'_, F>,
    from: fs::Handle,
    to: fs::Handle,
    a: &RenameArgs<'_>,
    out: &mut Writer<'_>,
) -> xdr::Result<()> {
    let fpre = match r.getattr(&from) {
        Ok(x) => x,
        Err(s) => return out.write(&RenameRes::Fail(s, RenameWcc { fromdir_wcc: NO_WCC, todir_wcc: NO_WCC })),
    };
    let tpre = if to == from {
        fpre
    } else {
        match r.getattr(&to) {
            Ok(x) => x,
            Err(s) => {
                let fromdir_wcc = r.wcc(&from, &fpre);
                return out.write(&RenameRes::Fail(s, RenameWcc { fromdir_wcc, todir_wcc: NO_WCC }));
            }
        }
    };
    let res = checked_rename(r, (&from, &fpre), (&to, &tpre), a);
    let both = RenameWcc { fromdir_wcc: r.wcc(&from, &fpre), todir_wcc: r.wcc(&to, &tpre) };
    out.write(&match res {
        Ok(()) => RenameRes::Ok(both),
        Err(s) => RenameRes::Fail(s, both),
    })
}

fn checked_rename<F: FileSystem>(
    r: &mut Req<'_, F>,
    (from, fa): (&fs::Handle, &Attr),
    (to, ta): (&fs::Handle, &Attr),
    a: &RenameArgs<'_>,
) -> Result<(), NfsStat3> {
    let fname = r.new_name(a.from.name, NfsStat3::Perm)?;
    let tname = r.new_name(a.to.name, NfsStat3::Perm)?;
    r.writable()?;
    dir(fa)?;
    dir(ta)?;
    r.who.check(fa, W | X)?;
    r.who.check(ta, W | X)?;
    let Some(source) = sticky(r, from, fa, fname)? else { return Err(NfsStat3::NoEnt) };
    // A directory that changes parent has its `..` rewritten (Linux's `vfs_rename`).
    if source.ftype == FileType::Directory && from != to {
        r.who.check(&source, W)?;
    }
    sticky(r, to, ta, tname)?;
    let ctx = r.ctx();
    r.fs.rename(&ctx, from, fname, to, tname).map_err(nfs_status)
}

/// LINK: the file's attributes and the directory's WCC data on both arms.
pub(super) fn link<F: FileSystem>(
    r: &mut Req<'_, F>,
    file: fs::Handle,
    d: fs::Handle,
    name: Filename<'_>,
    out: &mut Writer<'_>,
) -> xdr::Result<()> {
    let fa = match r.getattr(&file) {
        Ok(x) => x,
        Err(s) => return out.write(&LinkRes::Fail(s, LinkWcc { file_attributes: None, linkdir_wcc: NO_WCC })),
    };
    let da = match r.getattr(&d) {
        Ok(x) => x,
        Err(s) => {
            let file_attributes = Some(fattr(&fa));
            return out.write(&LinkRes::Fail(s, LinkWcc { file_attributes, linkdir_wcc: NO_WCC }));
        }
    };
    let res = checked_link(r, &file, &fa, &d, &da, name);
    let linkdir_wcc = r.wcc(&d, &da);
    let both = LinkWcc { file_attributes: r.post(&file), linkdir_wcc };
    out.write(&match res {
        Ok(()) => LinkRes::Ok(both),
        Err(s) => LinkRes::Fail(s, both),
    })
}

fn checked_link<F: FileSystem>(
    r: &mut Req<'_, F>,
    file: &fs::Handle,
    fa: &Attr,
    d: &fs::Handle,
    da: &Attr,
    name: Filename<'_>,
) -> Result<(), NfsStat3> {
    let name = r.new_name(name, NfsStat3::Exist)?;
    r.writable()?;
    if fa.ftype == FileType::Directory {
        return Err(NfsStat3::IsDir);
    }
    dir(da)?;
    r.who.check(da, W | X)?;
    let ctx = r.ctx();
    r.fs.link(&ctx, file, d, name).map_err(nfs_status)
}
