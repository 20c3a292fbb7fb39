//! FSSTAT (RFC 1813 §3.3.18), FSINFO (§3.3.19) and PATHCONF (§3.3.20).

use super::errors::nfs_status;
use super::req::{Req, fattr, nfs_time};
use crate::fs::{self, FileSystem};
use crate::nfs3::{
    FsinfoRes, FsinfoResOk, FsstatRes, FsstatResOk, NfsStat3, PathconfRes, PathconfResOk, PostOpAttr, fsf,
};
use crate::xdr::{self, Writer};

/// The object's attributes, or the failure to write.
fn attrs<F: FileSystem>(r: &mut Req<'_, F>, h: &fs::Handle) -> Result<PostOpAttr, NfsStat3> {
    r.getattr(h).map(|a| Some(fattr(&a)))
}

/// FSSTAT: the back end's totals (`invarsec` 0: they may change at any time).
pub(super) fn fsstat<F: FileSystem>(r: &mut Req<'_, F>, h: fs::Handle, out: &mut Writer<'_>) -> xdr::Result<()> {
    let obj_attributes = match attrs(r, &h) {
        Ok(a) => a,
        Err(s) => return out.write(&FsstatRes::Fail(s, None)),
    };
    out.write(&match r.fs.fsstat(&h) {
        Ok(s) => FsstatRes::Ok(FsstatResOk {
            obj_attributes,
            tbytes: s.total_bytes,
            fbytes: s.free_bytes,
            abytes: s.avail_bytes,
            tfiles: s.total_files,
            ffiles: s.free_files,
            afiles: s.avail_files,
            invarsec: 0,
        }),
        Err(e) => FsstatRes::Fail(nfs_status(e), obj_attributes),
    })
}

/// FSINFO: transfer sizes from the server's settings, the rest from the back end's
/// [`fs::FsInfo`]. The multiples are 4096 bytes (or the maximum when smaller).
pub(super) fn fsinfo<F: FileSystem>(r: &mut Req<'_, F>, h: fs::Handle, out: &mut Writer<'_>) -> xdr::Result<()> {
    let obj_attributes = match attrs(r, &h) {
        Ok(a) => a,
        Err(s) => return out.write(&FsinfoRes::Fail(s, None)),
    };
    let (cfg, info) = (r.cfg, r.mount.info);
    let mut properties = fsf::HOMOGENEOUS | fsf::CANSETTIME;
    if info.links {
        properties |= fsf::LINK;
    }
    if info.symlinks {
        properties |= fsf::SYMLINK;
    }
    out.write(&FsinfoRes::Ok(FsinfoResOk {
        obj_attributes,
        rtmax: cfg.max_read,
        rtpref: cfg.max_read,
        rtmult: cfg.max_read.min(4096),
        wtmax: cfg.max_write,
        wtpref: cfg.max_write,
        wtmult: cfg.max_write.min(4096),
        dtpref: cfg.max_readdir,
        maxfilesize: info.max_file_size,
        time_delta: nfs_time(info.time_delta),
        properties,
    }))
}

/// PATHCONF: from the back end's [`fs::FsInfo`]; names are never truncated, only uid 0 may
/// change an owner, and names keep their case.
pub(super) fn pathconf<F: FileSystem>(r: &mut Req<'_, F>, h: fs::Handle, out: &mut Writer<'_>) -> xdr::Result<()> {
    let obj_attributes = match attrs(r, &h) {
        Ok(a) => a,
        Err(s) => return out.write(&PathconfRes::Fail(s, None)),
    };
    let info = r.mount.info;
    out.write(&PathconfRes::Ok(PathconfResOk {
        obj_attributes,
        linkmax: info.max_links,
        name_max: info.max_name,
        no_trunc: true,
        chown_restricted: true,
        case_insensitive: info.case_insensitive,
        case_preserving: true,
    }))
}
