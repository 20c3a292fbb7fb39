//! READLINK (RFC 1813 §3.3.5), READ (§3.3.6), WRITE (§3.3.7) and COMMIT (§3.3.21).
//!
//! READ and READLINK let the back end write straight into the reply buffer: the data is copied
//! once, from the back end into the reply.

use super::errors::nfs_status;
use super::req::{NO_WCC, R, Req, W, fattr, regular, stability, stable_how};
use crate::fs::{self, Attr, FileSystem, FileType};
use crate::nfs3::{
    CommitArgs, CommitRes, CommitResOk, NfsStat3, PostOpAttr, ReadArgs, ReadRes, ReadlinkRes, Verifier, WriteArgs,
    WriteRes, WriteResOk, encode_read_in_place,
};
use crate::xdr::{self, Writer, padded};

/// READLINK: the target, written by the back end into the reply.
pub(super) fn readlink<F: FileSystem>(r: &mut Req<'_, F>, h: fs::Handle, out: &mut Writer<'_>) -> xdr::Result<()> {
    let a = match r.getattr(&h) {
        Ok(a) => a,
        Err(s) => return out.write(&ReadlinkRes::Fail(s, None)),
    };
    let attrs = Some(fattr(&a));
    if a.ftype != FileType::Symlink {
        return out.write(&ReadlinkRes::Fail(NfsStat3::Inval, attrs));
    }
    let start = out.position();
    out.write(&NfsStat3::Ok)?;
    out.write(&attrs)?;
    let at = out.position();
    out.put_u32(0)?;
    let cap = (out.remaining() & !3).min(super::MAX_PATH_DECODE as usize);
    let filled = {
        let buf = zero_fill(out.tail(), cap)?;
        r.fs.readlink(&h, buf)
    };
    match filled {
        Ok(n) if n <= cap => {
            out.patch_u32(at, n as u32)?;
            out.advance(n)?;
            out.put_bytes(&[0; 3][..padded(n) - n])
        }
        res => {
            out.truncate(start);
            let s = res.map_or_else(nfs_status, |_| NfsStat3::ServerFault);
            out.write(&ReadlinkRes::Fail(s, attrs))
        }
    }
}

/// Fills a tail writer with `n` zero bytes and returns them for the back end to overwrite.
fn zero_fill(mut tail: Writer<'_>, n: usize) -> xdr::Result<&mut [u8]> {
    let zeros = [0u8; 256];
    let mut left = n;
    while left > 0 {
        let k = left.min(zeros.len());
        tail.put_bytes(&zeros[..k])?;
        left -= k;
    }
    Ok(tail.into_written())
}

/// READ: at most [`super::ServerConfig::max_read`] bytes (and what the reply buffer holds),
/// read by the back end straight into the reply.
pub(super) fn read<F: FileSystem>(
    r: &mut Req<'_, F>,
    h: fs::Handle,
    a: &ReadArgs<'_>,
    out: &mut Writer<'_>,
) -> xdr::Result<()> {
    let attr = match r.getattr(&h) {
        Ok(x) => x,
        Err(s) => return out.write(&ReadRes::Fail(s, None)),
    };
    let attrs: PostOpAttr = Some(fattr(&attr));
    if let Err(s) = regular(&attr).and_then(|()| r.who.check_open(&attr, R)) {
        return out.write(&ReadRes::Fail(s, attrs));
    }
    let count = a.count.min(r.cfg.max_read);
    let fs = &mut *r.fs;
    let fill = |buf: &mut [u8]| {
        let len = buf.len();
        fs.read(&h, a.offset, buf).map(|(n, eof)| (n.min(len), eof)).map_err(nfs_status)
    };
    encode_read_in_place(out, &attrs, count, fill).map(|_| ())
}

/// WRITE: at most [`super::ServerConfig::max_write`] bytes; the file's WCC data and the write
/// verifier.
pub(super) fn write<F: FileSystem>(
    r: &mut Req<'_, F>,
    h: fs::Handle,
    a: &WriteArgs<'_>,
    out: &mut Writer<'_>,
) -> xdr::Result<()> {
    let pre = match r.getattr(&h) {
        Ok(x) => x,
        Err(s) => return out.write(&WriteRes::Fail(s, NO_WCC)),
    };
    let res = checked_write(r, &h, &pre, a);
    let file_wcc = r.wcc(&h, &pre);
    out.write(&match res {
        Ok((count, committed)) => {
            let verf = Verifier(r.fs.write_verifier());
            WriteRes::Ok(WriteResOk { file_wcc, count, committed: stable_how(committed), verf })
        }
        Err(s) => WriteRes::Fail(s, file_wcc),
    })
}

fn checked_write<F: FileSystem>(
    r: &mut Req<'_, F>,
    h: &fs::Handle,
    pre: &Attr,
    a: &WriteArgs<'_>,
) -> Result<(u32, fs::Stability), NfsStat3> {
    r.writable()?;
    regular(pre)?;
    r.who.check_open(pre, W)?;
    let stable = stability(a.stable).ok_or(NfsStat3::Inval)?;
    let data = a.data.get(..r.cfg.max_write as usize).unwrap_or(a.data);
    a.offset.checked_add(data.len() as u64).ok_or(NfsStat3::FBig)?;
    let ctx = r.ctx();
    let (n, done) = r.fs.write(&ctx, h, a.offset, data, stable).map_err(nfs_status)?;
    Ok((n.min(data.len()) as u32, done.max(stable)))
}

/// COMMIT: the file's WCC data and the write verifier (clients resend unstable writes when it
/// changed).
pub(super) fn commit<F: FileSystem>(
    r: &mut Req<'_, F>,
    h: fs::Handle,
    a: &CommitArgs<'_>,
    out: &mut Writer<'_>,
) -> xdr::Result<()> {
    let pre = match r.getattr(&h) {
        Ok(x) => x,
        Err(s) => return out.write(&CommitRes::Fail(s, NO_WCC)),
    };
    let res = r
        .writable()
        .and_then(|()| regular(&pre))
        .and_then(|()| r.who.check_open(&pre, W))
        .and_then(|()| r.fs.commit(&h, a.offset, a.count).map_err(nfs_status));
    let file_wcc = r.wcc(&h, &pre);
    out.write(&match res {
        Ok(()) => CommitRes::Ok(CommitResOk { file_wcc, verf: Verifier(r.fs.write_verifier()) }),
        Err(s) => CommitRes::Fail(s, file_wcc),
    })
}
