//! `tern cp SRC DST`: local → remote, remote → local, remote → remote, with a window of
//! WRITEs (UNSTABLE, then COMMIT) or READs in flight.
//!
//! A destination that is an existing directory gets the source's name inside it; an existing
//! file is truncated and overwritten. Remote sources must be regular files. After the copy
//! the destination's size is checked against the source's.

use std::fs::File;
use std::os::unix::fs::FileExt;

use tern_core::nfs3::client::Fh;
use tern_core::nfs3::{CreateHow3, FType3, Sattr3};

use super::progress::Progress;
use super::{CliError, NetOpts, exit, open, parse_url, split_parent};
use crate::nfs::{NfsError, NfsUrl, Session};

/// A remote file ready to be written: the session and the file's handle.
fn remote_target(dst: &NfsUrl, src_name: &str, net: &NetOpts) -> Result<(Session, Fh, String), CliError> {
    let (mut s, rest) = open(dst, net)?;
    let what = dst.to_string();
    let (dir, name) = match s.walk(&rest) {
        Ok((fh, a)) if a.ftype == FType3::Dir => (fh, src_name.to_string()),
        Ok(_) => {
            let (parent, name) = split_parent(&rest);
            (s.walk(parent).map_err(|e| CliError::nfs(&what, e))?.0, name.to_string())
        }
        Err(e) if e.kind() == crate::nfs::ErrorKind::NotFound => {
            let (parent, name) = split_parent(&rest);
            let (fh, a) = s.walk(parent).map_err(|e| CliError::nfs(&what, e))?;
            if a.ftype != FType3::Dir {
                return Err(CliError::nfs(&what, NfsError::Status(tern_core::nfs3::NfsStat3::NotDir)));
            }
            (fh, name.to_string())
        }
        Err(e) => return Err(CliError::nfs(&what, e)),
    };
    if name.is_empty() {
        return Err(CliError::new(exit::USAGE, format!("{what}: no file name to copy to")));
    }
    let attrs = Sattr3 { mode: Some(0o644), size: Some(0), ..Sattr3::UNCHANGED };
    let fh =
        s.create(&dir, &name, CreateHow3::Unchecked(attrs)).map_err(|e| CliError::nfs(&format!("{what}/{name}"), e))?;
    Ok((s, fh, format!("{what}/{name}")))
}

/// A remote regular file to read: session, handle, size.
fn remote_source(src: &NfsUrl, net: &NetOpts) -> Result<(Session, Fh, u64), CliError> {
    let (mut s, rest) = open(src, net)?;
    let (fh, a) = s.walk(&rest).map_err(|e| CliError::nfs(&src.to_string(), e))?;
    if a.ftype != FType3::Reg {
        let st =
            if a.ftype == FType3::Dir { tern_core::nfs3::NfsStat3::IsDir } else { tern_core::nfs3::NfsStat3::Inval };
        return Err(CliError::nfs(&src.to_string(), NfsError::Status(st)));
    }
    Ok((s, fh, a.size))
}

fn check_size(s: &mut Session, fh: &Fh, want: u64, what: &str) -> Result<(), CliError> {
    let a = s.getattr(fh).map_err(|e| CliError::nfs(what, e))?;
    if a.size != want {
        return Err(CliError::new(
            exit::PROTOCOL,
            format!("{what}: size is {} after the copy, expected {want}", a.size),
        ));
    }
    Ok(())
}

fn base_name(p: &str) -> &str {
    split_parent(p).1
}

/// `tern cp SRC DST`.
pub fn cp(src: &str, dst: &str, net: &NetOpts) -> Result<(), CliError> {
    match (NfsUrl::is_url(src), NfsUrl::is_url(dst)) {
        (false, true) => local_to_remote(src, &parse_url(dst)?, net),
        (true, false) => remote_to_local(&parse_url(src)?, dst, net),
        (true, true) => remote_to_remote(&parse_url(src)?, &parse_url(dst)?, net),
        (false, false) => Err(CliError::new(exit::USAGE, "cp: one of SRC and DST must be an nfs:// URL")),
    }
}

fn local_to_remote(src: &str, dst: &NfsUrl, net: &NetOpts) -> Result<(), CliError> {
    let file = File::open(src).map_err(|e| CliError::io(src, e))?;
    let meta = file.metadata().map_err(|e| CliError::io(src, e))?;
    if meta.is_dir() {
        return Err(CliError::new(exit::WRONG_TYPE, format!("{src}: is a directory")));
    }
    let size = meta.len();
    let (mut s, fh, what) = remote_target(dst, base_name(src), net)?;
    let mut bar = Progress::new(&what, size);
    let mut source = |off: u64, buf: &mut [u8]| file.read_exact_at(buf, off);
    let mut progress = |n: u64| bar.update(n);
    s.write_from(&fh, 0, size, &mut source, &mut progress).map_err(|e| CliError::nfs(&what, e))?;
    bar.finish(size);
    check_size(&mut s, &fh, size, &what)
}

fn remote_to_local(src: &NfsUrl, dst: &str, net: &NetOpts) -> Result<(), CliError> {
    let (mut s, fh, size) = remote_source(src, net)?;
    let path = match std::fs::metadata(dst) {
        Ok(m) if m.is_dir() => std::path::Path::new(dst).join(base_name(&src.path)),
        _ => std::path::PathBuf::from(dst),
    };
    let shown = path.display().to_string();
    let file = File::create(&path).map_err(|e| CliError::io(&shown, e))?;
    let mut bar = Progress::new(&shown, size);
    let mut sink = |off: u64, data: &[u8]| file.write_all_at(data, off);
    let mut progress = |n: u64| bar.update(n);
    let got = s.read_to(&fh, 0, size, &mut sink, &mut progress).map_err(|e| CliError::nfs(&src.to_string(), e))?;
    bar.finish(got);
    file.set_len(got).map_err(|e| CliError::io(&shown, e))?;
    if got != size {
        return Err(CliError::new(exit::PROTOCOL, format!("{src}: read {got} bytes, the file has {size}")));
    }
    Ok(())
}

fn remote_to_remote(src: &NfsUrl, dst: &NfsUrl, net: &NetOpts) -> Result<(), CliError> {
    let (mut from, sfh, size) = remote_source(src, net)?;
    let (mut to, dfh, what) = remote_target(dst, base_name(&src.path), net)?;
    let mut bar = Progress::new(&what, size);
    let mut failed = None;
    let res = {
        let mut source = |off: u64, buf: &mut [u8]| {
            let end = off + buf.len() as u64;
            let mut sink = |o: u64, d: &[u8]| {
                let at = (o - off) as usize;
                buf[at..at + d.len()].copy_from_slice(d);
                Ok(())
            };
            match from.read_to(&sfh, off, end, &mut sink, &mut |_| {}) {
                Ok(n) if n == end - off => Ok(()),
                Ok(_) => Err(std::io::Error::other(format!("{src}: the file shrank during the copy"))),
                Err(e) => {
                    let msg = e.to_string();
                    failed = Some(e);
                    Err(std::io::Error::other(msg))
                }
            }
        };
        let mut progress = |n: u64| bar.update(n);
        to.write_from(&dfh, 0, size, &mut source, &mut progress)
    };
    if let Some(e) = failed {
        return Err(CliError::nfs(&src.to_string(), e));
    }
    res.map_err(|e| CliError::nfs(&what, e))?;
    bar.finish(size);
    check_size(&mut to, &dfh, size, &what)
}
