//! CREATE (RFC 1813 §3.3.8), MKDIR (§3.3.9), SYMLINK (§3.3.10) and MKNOD (§3.3.11): one result
//! shape, the new object's handle and attributes and the directory's WCC data.

use super::MAX_SYMLINK;
use super::errors::nfs_status;
use super::req::{NO_WCC, Req, W, X, create_attr, dir, regular};
use crate::fs::{self, Attr, CreateHow, FileSystem, FsError, NodeKind};
use crate::nfs3::{
    CreateArgs, CreateHow3, CreateRes, CreateResOk, Filename, MkdirArgs, MknodArgs, MknodData3, NfsStat3, SymlinkArgs,
};
use crate::xdr::{self, Writer};

/// Checks shared by the four procedures (name, `ro`, directory), then `op` with the
/// directory's attributes and the name; writes the result.
fn make<F: FileSystem>(
    r: &mut Req<'_, F>,
    d: fs::Handle,
    name: Filename<'_>,
    out: &mut Writer<'_>,
    op: impl FnOnce(&mut Req<'_, F>, &fs::Handle, &Attr, &[u8]) -> Result<fs::Handle, NfsStat3>,
) -> xdr::Result<()> {
    let pre = match r.getattr(&d) {
        Ok(a) => a,
        Err(s) => return out.write(&CreateRes::Fail(s, NO_WCC)),
    };
    let res = r.new_name(name, NfsStat3::Exist).and_then(|name| {
        r.writable()?;
        dir(&pre)?;
        op(r, &d, &pre, name)
    });
    let dir_wcc = r.wcc(&d, &pre);
    match res {
        Ok(h) => {
            let wire = r.wire(&h);
            let obj_attributes = r.post(&h);
            out.write(&CreateRes::Ok(CreateResOk { obj: Some(wire.file_handle()), obj_attributes, dir_wcc }))
        }
        Err(s) => out.write(&CreateRes::Fail(s, dir_wcc)),
    }
}

/// CREATE: UNCHECKED, GUARDED, or EXCLUSIVE with the verifier kept by the back end (a
/// retransmission with the same verifier gets the same file; the client then sends SETATTR).
pub(super) fn create<F: FileSystem>(
    r: &mut Req<'_, F>,
    d: fs::Handle,
    a: &CreateArgs<'_>,
    out: &mut Writer<'_>,
) -> xdr::Result<()> {
    make(r, d, a.where_.name, out, |r, d, da, name| {
        r.who.check(da, X)?;
        let existing = match r.fs.lookup(d, name) {
            Ok(h) => Some(r.getattr(&h)?),
            Err(FsError::NoEnt) => None,
            Err(e) => return Err(nfs_status(e)),
        };
        let how = match (a.how, existing) {
            (CreateHow3::Guarded(_), Some(_)) => return Err(NfsStat3::Exist),
            // An existing regular file only takes the size (Linux's `nfsd3_create_file`).
            (CreateHow3::Unchecked(s), Some(t)) => {
                regular(&t).map_err(|_| NfsStat3::Exist)?;
                if s.size.is_some() {
                    r.who.check_open(&t, W)?;
                }
                CreateHow::Unchecked(fs::SetAttr { size: s.size, ..fs::SetAttr::default() })
            }
            (CreateHow3::Exclusive(v), Some(_)) => CreateHow::Exclusive(v.0),
            (how, None) => {
                r.who.check(da, W | X)?;
                match how {
                    CreateHow3::Unchecked(s) => CreateHow::Unchecked(create_attr(&s, &r.who, true)),
                    CreateHow3::Guarded(s) => CreateHow::Guarded(create_attr(&s, &r.who, true)),
                    CreateHow3::Exclusive(v) => CreateHow::Exclusive(v.0),
                }
            }
        };
        let ctx = r.ctx();
        r.fs.create(&ctx, d, name, &how).map_err(nfs_status)
    })
}

/// MKDIR.
pub(super) fn mkdir<F: FileSystem>(
    r: &mut Req<'_, F>,
    d: fs::Handle,
    a: &MkdirArgs<'_>,
    out: &mut Writer<'_>,
) -> xdr::Result<()> {
    make(r, d, a.where_.name, out, |r, d, da, name| {
        r.who.check(da, W | X)?;
        let (ctx, set) = (r.ctx(), create_attr(&a.attributes, &r.who, false));
        r.fs.mkdir(&ctx, d, name, &set).map_err(nfs_status)
    })
}

/// SYMLINK: the target must be 1 to [`MAX_SYMLINK`] bytes without NUL.
pub(super) fn symlink<F: FileSystem>(
    r: &mut Req<'_, F>,
    d: fs::Handle,
    a: &SymlinkArgs<'_>,
    out: &mut Writer<'_>,
) -> xdr::Result<()> {
    make(r, d, a.where_.name, out, |r, d, da, name| {
        let target = a.symlink.symlink_data.as_bytes();
        if target.is_empty() || target.contains(&0) {
            return Err(NfsStat3::Inval);
        }
        if target.len() > MAX_SYMLINK {
            return Err(NfsStat3::NameTooLong);
        }
        r.who.check(da, W | X)?;
        let (ctx, set) = (r.ctx(), create_attr(&a.symlink.symlink_attributes, &r.who, false));
        r.fs.symlink(&ctx, d, name, target, &set).map_err(nfs_status)
    })
}

/// MKNOD: character and block devices (uid 0 only), sockets and named pipes.
pub(super) fn mknod<F: FileSystem>(
    r: &mut Req<'_, F>,
    d: fs::Handle,
    a: &MknodArgs<'_>,
    out: &mut Writer<'_>,
) -> xdr::Result<()> {
    make(r, d, a.where_.name, out, |r, d, da, name| {
        let (kind, attrs) = match a.what {
            MknodData3::Chr(dev) => (NodeKind::Char(dev.spec.specdata1, dev.spec.specdata2), dev.dev_attributes),
            MknodData3::Blk(dev) => (NodeKind::Block(dev.spec.specdata1, dev.spec.specdata2), dev.dev_attributes),
            MknodData3::Sock(s) => (NodeKind::Socket, s),
            MknodData3::Fifo(s) => (NodeKind::Fifo, s),
            MknodData3::Other(_) => return Err(NfsStat3::BadType),
        };
        if matches!(kind, NodeKind::Char(..) | NodeKind::Block(..)) && r.who.uid != 0 {
            return Err(NfsStat3::Perm);
        }
        r.who.check(da, W | X)?;
        let (ctx, set) = (r.ctx(), create_attr(&attrs, &r.who, false));
        r.fs.mknod(&ctx, d, name, kind, &set).map_err(nfs_status)
    })
}
