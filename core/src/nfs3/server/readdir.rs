//! READDIR (RFC 1813 §3.3.16) and READDIRPLUS (§3.3.17).
//!
//! The cookie and cookie verifier of the request go to the back end, which checks them
//! ([`FileSystem::readdir`]); the reply carries the verifier the back end gives. The writers of
//! [`crate::nfs3`] keep the result within `count` (READDIR) or `dircount` and `maxcount`
//! (READDIRPLUS), each cut to [`super::ServerConfig::max_readdir`], and answer
//! `NFS3ERR_TOOSMALL` when not even one entry fits.
//!
//! READDIR streams the entries from the back end into the reply; a first call that takes no
//! entry checks the cookie and learns the verifier, which the reply's header carries.
//! READDIRPLUS needs a LOOKUP and a GETATTR per entry, which cannot run while the back end is
//! listing: entries are read in batches of up to 32 (names up to 1024 bytes in all), then
//! completed and written, and the listing resumes after the last one (as Linux's
//! `nfsd_buffered_readdir`). `.` gets the directory's handle and attributes; `..` of the export
//! root gets neither (as Linux's `compose_entry_fh`); no entry gets them when the caller may
//! not search the directory.

use super::errors::nfs_status;
use super::req::{R, Req, X, dir, fattr};
use crate::fs::{self, Attr, DirEntry, FileSystem};
use crate::nfs3::{
    Entry3, EntryPlus3, Filename, NfsStat3, PostOpAttr, ReaddirArgs, ReaddirRes, ReaddirWriter, ReaddirplusArgs,
    ReaddirplusRes, ReaddirplusWriter, Verifier,
};
use crate::xdr::{self, Writer};

/// The directory's attributes, after the checks both procedures share.
fn open_dir<F: FileSystem>(r: &mut Req<'_, F>, d: &fs::Handle) -> Result<Attr, (NfsStat3, PostOpAttr)> {
    let a = r.getattr(d).map_err(|s| (s, None))?;
    dir(&a).and_then(|()| r.who.check(&a, R)).map_err(|s| (s, Some(fattr(&a))))?;
    Ok(a)
}

/// READDIR.
pub(super) fn readdir<F: FileSystem>(
    r: &mut Req<'_, F>,
    d: fs::Handle,
    a: &ReaddirArgs<'_>,
    out: &mut Writer<'_>,
) -> xdr::Result<()> {
    let da = match open_dir(r, &d) {
        Ok(x) => x,
        Err((s, attrs)) => return out.write(&ReaddirRes::Fail(s, attrs)),
    };
    let attrs = Some(fattr(&da));
    let verifier = match r.fs.readdir(&d, a.cookie, a.cookieverf.0, &mut |_| false) {
        Ok(end) => end.verifier,
        Err(e) => return out.write(&ReaddirRes::Fail(nfs_status(e), attrs)),
    };
    let count = a.count.min(r.cfg.max_readdir);
    let mut w = ReaddirWriter::new(out, &attrs, Verifier(verifier), count)?;
    let mut emit = |e: &DirEntry<'_>| {
        let entry = Entry3 { fileid: e.fileid, name: Filename::new(e.name), cookie: e.cookie };
        w.push(&entry).unwrap_or(false)
    };
    match r.fs.readdir(&d, a.cookie, a.cookieverf.0, &mut emit) {
        Ok(end) => w.finish(end.eof).map(|_| ()),
        Err(e) => w.fail(nfs_status(e)),
    }
}

/// Entries per READDIRPLUS batch.
const BATCH: usize = 32;
/// Name bytes per READDIRPLUS batch.
const NAMES: usize = 1024;

/// Entries read from the back end, waiting for their handles and attributes.
struct Batch {
    names: [u8; NAMES],
    used: usize,
    items: [(u64, u64, u16, u16); BATCH],
    len: usize,
    full: bool,
}

impl Batch {
    fn new() -> Self {
        Batch { names: [0; NAMES], used: 0, items: [(0, 0, 0, 0); BATCH], len: 0, full: false }
    }

    /// Takes an entry; false (and full) when there is no room.
    fn push(&mut self, e: &DirEntry<'_>) -> bool {
        let end = self.used + e.name.len();
        let (Some(item), Some(dst)) = (self.items.get_mut(self.len), self.names.get_mut(self.used..end)) else {
            self.full = true;
            return false;
        };
        dst.copy_from_slice(e.name);
        *item = (e.fileid, e.cookie, self.used as u16, e.name.len() as u16);
        self.used = end;
        self.len += 1;
        true
    }

    /// Entry `i`: file id, cookie, name.
    fn get(&self, i: usize) -> Option<(u64, u64, &[u8])> {
        let &(fileid, cookie, at, len) = self.items.get(..self.len)?.get(i)?;
        let name = self.names.get(usize::from(at)..usize::from(at) + usize::from(len))?;
        Some((fileid, cookie, name))
    }

    fn clear(&mut self) {
        (self.used, self.len, self.full) = (0, 0, false);
    }
}

/// READDIRPLUS.
pub(super) fn readdirplus<F: FileSystem>(
    r: &mut Req<'_, F>,
    d: fs::Handle,
    a: &ReaddirplusArgs<'_>,
    out: &mut Writer<'_>,
) -> xdr::Result<()> {
    let da = match open_dir(r, &d) {
        Ok(x) => x,
        Err((s, attrs)) => return out.write(&ReaddirplusRes::Fail(s, attrs)),
    };
    let attrs = Some(fattr(&da));
    let search = r.who.may(&da, X);
    let mut batch = Batch::new();
    let mut end = match r.fs.readdir(&d, a.cookie, a.cookieverf.0, &mut |e| batch.push(e)) {
        Ok(end) => end,
        Err(e) => return out.write(&ReaddirplusRes::Fail(nfs_status(e), attrs)),
    };
    let maxcount = a.maxcount.min(r.cfg.max_readdir);
    let mut w = ReaddirplusWriter::new(out, &attrs, Verifier(end.verifier), a.dircount, maxcount)?;
    loop {
        if batch.len == 0 && batch.full && w.entries() == 0 {
            // An entry whose name alone does not fit a batch.
            return w.fail(NfsStat3::NameTooLong);
        }
        let mut last = None;
        for i in 0..batch.len {
            let Some((fileid, cookie, name)) = batch.get(i) else { break };
            let (name_attributes, handle) = extras(r, &d, &da, name, search);
            let wire = handle.map(|h| r.wire(&h));
            let name_handle = wire.as_ref().map(|w| w.file_handle());
            let e = EntryPlus3 { fileid, name: Filename::new(name), cookie, name_attributes, name_handle };
            if !w.push(&e)? {
                return w.finish(false).map(|_| ());
            }
            last = Some(cookie);
        }
        let Some(cookie) = last.filter(|_| batch.full && !end.eof) else {
            return w.finish(end.eof).map(|_| ());
        };
        batch.clear();
        end = match r.fs.readdir(&d, cookie, end.verifier, &mut |e| batch.push(e)) {
            Ok(x) => x,
            Err(e) => return w.fail(nfs_status(e)),
        };
    }
}

/// The attributes and handle of entry `name` of `d` (none when they cannot be had).
fn extras<F: FileSystem>(
    r: &mut Req<'_, F>,
    d: &fs::Handle,
    da: &Attr,
    name: &[u8],
    search: bool,
) -> (PostOpAttr, Option<fs::Handle>) {
    let h = match name {
        b"." => *d,
        b".." if r.is_root(d) => return (None, None),
        _ if !search => return (None, None),
        _ => match r.fs.lookup(d, name) {
            Ok(h) => h,
            Err(_) => return (None, None),
        },
    };
    if h == *d {
        return (Some(fattr(da)), Some(h));
    }
    match r.fs.getattr(&h) {
        Ok(a) => (Some(fattr(&a)), Some(h)),
        Err(_) => (None, None),
    }
}
