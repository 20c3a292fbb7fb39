//! `tern ls`, `cat`, `stat`, `rm`, `mkdir`, `mv` and `showmount`.

use std::io::Write;

use tern_core::nfs3::client::Fh;
use tern_core::nfs3::{FType3, Fattr3, NfsStat3, NfsTime, Sattr3};

use super::{CliError, NetOpts, exit, open, parse_url, split_parent};
use crate::nfs::{ErrorKind, NfsError, Ordered, Proto, Session, export_list};

/// Writes a line to stdout; a closed pipe ends the command quietly.
fn out(w: &mut impl Write, line: std::fmt::Arguments<'_>) -> Result<(), CliError> {
    match w.write_fmt(line).and_then(|()| w.write_all(b"\n")) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(CliError::new(0, "")),
        Err(e) => Err(CliError::io("stdout", e)),
    }
}

fn type_char(t: FType3) -> char {
    match t {
        FType3::Dir => 'd',
        FType3::Lnk => 'l',
        FType3::Blk => 'b',
        FType3::Chr => 'c',
        FType3::Sock => 's',
        FType3::Fifo => 'p',
        _ => '-',
    }
}

/// Appends the `ls -l` mode column (type and permission bits) of `a`.
fn push_mode(out: &mut Vec<u8>, a: &Fattr3) {
    out.push(type_char(a.ftype) as u8);
    let m = a.mode;
    for (shift, special, sch) in [(6, 0o4000, b's'), (3, 0o2000, b's'), (0, 0o1000, b't')] {
        let bits = (m >> shift) & 7;
        out.push(if bits & 4 != 0 { b'r' } else { b'-' });
        out.push(if bits & 2 != 0 { b'w' } else { b'-' });
        let x = bits & 1 != 0;
        out.push(match (m & special != 0, x) {
            (true, true) => sch,
            (true, false) => sch.to_ascii_uppercase(),
            (false, true) => b'x',
            (false, false) => b'-',
        });
    }
}

fn mode_string(a: &Fattr3) -> String {
    let mut v = Vec::with_capacity(10);
    push_mode(&mut v, a);
    String::from_utf8_lossy(&v).into_owned()
}

/// Year, month, day, hour, minute, second (UTC) of a time stamp.
fn civil(t: NfsTime) -> (i64, i64, i64, i64, i64, i64) {
    let secs = i64::from(t.seconds);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem / 60 % 60, rem % 60)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a time stamp.
pub(crate) fn date(t: NfsTime) -> String {
    let (y, m, d, hh, mm, ss) = civil(t);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
}

/// Appends `n` in decimal, right-aligned in `width` columns (`pad` = b'0' to zero-pad).
fn push_num(out: &mut Vec<u8>, n: u64, width: usize, pad: u8) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let d = &digits[i..];
    out.extend(std::iter::repeat_n(pad, width.saturating_sub(d.len())));
    out.extend_from_slice(d);
}

/// Appends the `ls -l` line of `name` (without its newline): mode, links, uid, gid, size (or
/// device numbers), modification time to the minute (UTC), name. Written byte by byte: a
/// listing of 100,000 entries spends its time here otherwise.
fn long_line(out: &mut Vec<u8>, name: &str, a: &Fattr3) {
    push_mode(out, a);
    out.push(b' ');
    push_num(out, a.nlink.into(), 3, b' ');
    out.push(b' ');
    push_num(out, a.uid.into(), 5, b' ');
    out.push(b' ');
    push_num(out, a.gid.into(), 5, b' ');
    out.push(b' ');
    match a.ftype {
        FType3::Blk | FType3::Chr => {
            let dev = format!("{}, {}", a.rdev.specdata1, a.rdev.specdata2);
            out.extend(std::iter::repeat_n(b' ', 12usize.saturating_sub(dev.len())));
            out.extend_from_slice(dev.as_bytes());
        }
        _ => push_num(out, a.size, 12, b' '),
    }
    out.push(b' ');
    let (y, m, d, hh, mm, _) = civil(a.mtime);
    for (v, width, sep) in [(y, 4, b'-'), (m, 2, b'-'), (d, 2, b' '), (hh, 2, b':'), (mm, 2, b' ')] {
        push_num(out, v.unsigned_abs(), width, b'0');
        out.push(sep);
    }
    out.extend_from_slice(name.as_bytes());
}

/// Writes `line` and a newline to stdout's writer; a closed pipe ends the command quietly.
fn out_bytes(w: &mut impl Write, line: &[u8]) -> Result<(), CliError> {
    match w.write_all(line).and_then(|()| w.write_all(b"\n")) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(CliError::new(0, "")),
        Err(e) => Err(CliError::io("stdout", e)),
    }
}

/// `tern ls [-l] [-R] URL`.
pub fn ls(url: &str, long: bool, recursive: bool, net: &NetOpts) -> Result<(), CliError> {
    let url = parse_url(url)?;
    let (mut s, rest) = open(&url, net)?;
    let what = url.to_string();
    let (fh, a) = s.walk(&rest).map_err(|e| CliError::nfs(&what, e))?;
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::with_capacity(256 * 1024, stdout.lock());
    let res = if a.ftype != FType3::Dir {
        let name = split_parent(&rest).1;
        let name = if name.is_empty() { rest.as_str() } else { name };
        if long {
            let mut line = Vec::new();
            long_line(&mut line, name, &a);
            out_bytes(&mut w, &line)
        } else {
            out(&mut w, format_args!("{name}"))
        }
    } else {
        list_dir(&mut s, &mut w, &fh, &url.path, long, recursive, false)
    };
    let flushed = w.flush();
    match res {
        Err(e) if e.code == 0 => return Ok(()),
        r => r?,
    }
    flushed.map_err(|e| CliError::io("stdout", e))
}

fn list_dir(
    s: &mut Session,
    w: &mut impl Write,
    dir: &Fh,
    shown: &str,
    long: bool,
    recursive: bool,
    header: bool,
) -> Result<(), CliError> {
    if !long && !recursive {
        // Names only: READDIR, no attributes.
        let mut names = Vec::new();
        s.list_names(dir, &mut |n, _| {
            if n != b"." && n != b".." {
                names.push(String::from_utf8_lossy(n).into_owned());
            }
        })
        .map_err(|e| CliError::nfs(shown, e))?;
        names.sort_unstable();
        return names.iter().try_for_each(|n| out_bytes(w, n.as_bytes()));
    }
    let mut entries: Vec<(String, Option<Fattr3>, Option<Fh>)> = Vec::new();
    s.list(dir, &mut |name, a, fh| {
        if name != "." && name != ".." {
            entries.push((name.to_string(), a.copied(), fh));
        }
    })
    .map_err(|e| CliError::nfs(shown, e))?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    if header {
        out(w, format_args!("\n{shown}:"))?;
    } else if recursive {
        out(w, format_args!("{shown}:"))?;
    }
    let mut line = Vec::with_capacity(256);
    for (name, a, fh) in &mut entries {
        if long
            && a.is_none()
            && let Some(h) = fh
        {
            *a = s.getattr(h).ok();
        }
        line.clear();
        match (long, a) {
            (true, Some(a)) => long_line(&mut line, name, a),
            _ => line.extend_from_slice(name.as_bytes()),
        }
        out_bytes(w, &line)?;
    }
    if recursive {
        for (name, a, fh) in entries {
            let fh = match fh {
                Some(h) => h,
                None => s.lookup(dir, &name).map_err(|e| CliError::nfs(shown, e))?.0,
            };
            let is_dir = match a {
                Some(a) => a.ftype == FType3::Dir,
                None => s.getattr(&fh).map(|a| a.ftype == FType3::Dir).unwrap_or(false),
            };
            if is_dir {
                let sub = format!("{}/{name}", shown.trim_end_matches('/'));
                list_dir(s, w, &fh, &sub, long, recursive, true)?;
            }
        }
    }
    Ok(())
}

/// `tern cat URL...`.
pub fn cat(urls: &[String], net: &NetOpts) -> Result<(), CliError> {
    for u in urls {
        let url = parse_url(u)?;
        let (mut s, rest) = open(&url, net)?;
        let what = url.to_string();
        let (fh, a) = s.walk(&rest).map_err(|e| CliError::nfs(&what, e))?;
        if a.ftype == FType3::Dir {
            return Err(CliError::nfs(&what, NfsError::Status(NfsStat3::IsDir)));
        }
        let stdout = std::io::stdout();
        let mut ordered = Ordered::new(std::io::BufWriter::with_capacity(1 << 20, stdout.lock()), 0);
        let mut failed_io = None;
        let res = s.read_to(
            &fh,
            0,
            u64::MAX,
            &mut |off, data| {
                ordered.put(off, data).inspect_err(|e| {
                    failed_io = Some(e.kind());
                })
            },
            &mut |_| {},
        );
        if failed_io == Some(std::io::ErrorKind::BrokenPipe) {
            return Ok(());
        }
        res.map_err(|e| CliError::nfs(&what, e))?;
        ordered.finish().map_err(|e| CliError::io("stdout", e))?;
    }
    Ok(())
}

/// `tern stat URL`.
pub fn stat(url: &str, net: &NetOpts) -> Result<(), CliError> {
    let url = parse_url(url)?;
    let (mut s, rest) = open(&url, net)?;
    let what = url.to_string();
    let (_, a) = s.walk(&rest).map_err(|e| CliError::nfs(&what, e))?;
    let kind = match a.ftype {
        FType3::Reg => "regular file",
        FType3::Dir => "directory",
        FType3::Lnk => "symbolic link",
        FType3::Blk => "block device",
        FType3::Chr => "character device",
        FType3::Sock => "socket",
        FType3::Fifo => "fifo",
        FType3::Unknown(_) => "unknown",
    };
    let w = &mut std::io::stdout().lock();
    let r = (|| {
        out(w, format_args!("  File: {what}"))?;
        out(w, format_args!("  Type: {kind}"))?;
        out(w, format_args!("  Size: {}  Used: {}", a.size, a.used))?;
        out(w, format_args!("  Mode: {:04o} ({})  Links: {}", a.mode & 0o7777, mode_string(&a), a.nlink))?;
        out(w, format_args!("   Uid: {}  Gid: {}", a.uid, a.gid))?;
        out(w, format_args!("  Fsid: {:#x}  Fileid: {}", a.fsid, a.fileid))?;
        if matches!(a.ftype, FType3::Blk | FType3::Chr) {
            out(w, format_args!("Device: {}, {}", a.rdev.specdata1, a.rdev.specdata2))?;
        }
        for (n, t) in [("Access", a.atime), ("Modify", a.mtime), ("Change", a.ctime)] {
            out(w, format_args!("{n}: {}.{:09} UTC", date(t), t.nseconds))?;
        }
        Ok::<(), CliError>(())
    })();
    match r {
        Err(e) if e.code == 0 => Ok(()),
        r => r,
    }
}

/// A URL's parent directory and last name, with the session.
fn parent_of(url: &str, net: &NetOpts) -> Result<(Session, Fh, String, String), CliError> {
    let url = parse_url(url)?;
    let (mut s, rest) = open(&url, net)?;
    let what = url.to_string();
    let (parent, name) = split_parent(&rest);
    if name.is_empty() {
        return Err(CliError::new(exit::USAGE, format!("{what}: the export itself cannot be used here")));
    }
    let (dir, _) = s.walk(parent).map_err(|e| CliError::nfs(&what, e))?;
    Ok((s, dir, name.to_string(), what))
}

fn remove_tree(s: &mut Session, dir: &Fh, name: &str) -> Result<(), NfsError> {
    let (fh, a) = s.lookup(dir, name)?;
    let is_dir = match a {
        Some(a) => a.ftype == FType3::Dir,
        None => s.getattr(&fh)?.ftype == FType3::Dir,
    };
    if !is_dir {
        return s.remove(dir, name);
    }
    let mut names = Vec::new();
    s.list(&fh, &mut |n, _, _| {
        if n != "." && n != ".." {
            names.push(n.to_string());
        }
    })?;
    for n in names {
        remove_tree(s, &fh, &n)?;
    }
    s.rmdir(dir, name)
}

/// `tern rm [-r] URL...`.
pub fn rm(urls: &[String], recursive: bool, net: &NetOpts) -> Result<(), CliError> {
    for u in urls {
        let (mut s, dir, name, what) = parent_of(u, net)?;
        let res = if recursive {
            remove_tree(&mut s, &dir, &name)
        } else {
            match s.remove(&dir, &name) {
                // Some servers answer REMOVE of a directory with EISDIR, others with EPERM/EACCES:
                // say what it is.
                Err(NfsError::Status(NfsStat3::Perm | NfsStat3::Acces | NfsStat3::IsDir))
                    if s.lookup(&dir, &name).ok().and_then(|(_, a)| a).is_some_and(|a| a.ftype == FType3::Dir) =>
                {
                    Err(NfsError::Status(NfsStat3::IsDir))
                }
                r => r,
            }
        };
        res.map_err(|e| CliError::nfs(&what, e))?;
    }
    Ok(())
}

/// `tern mkdir [-p] URL...`.
pub fn mkdir(urls: &[String], parents: bool, mode: u32, net: &NetOpts) -> Result<(), CliError> {
    for u in urls {
        let url = parse_url(u)?;
        let (mut s, rest) = open(&url, net)?;
        let what = url.to_string();
        let attrs = Sattr3 { mode: Some(mode), ..Sattr3::UNCHANGED };
        if parents {
            let mut dir = s.root();
            for comp in rest.split('/').filter(|c| !c.is_empty()) {
                dir = match s.lookup(&dir, comp) {
                    Ok((fh, _)) => fh,
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        s.mkdir(&dir, comp, attrs).map_err(|e| CliError::nfs(&what, e))?
                    }
                    Err(e) => return Err(CliError::nfs(&what, e)),
                };
            }
            let a = s.getattr(&dir).map_err(|e| CliError::nfs(&what, e))?;
            if a.ftype != FType3::Dir {
                return Err(CliError::nfs(&what, NfsError::Status(NfsStat3::NotDir)));
            }
        } else {
            let (parent, name) = split_parent(&rest);
            if name.is_empty() {
                return Err(CliError::nfs(&what, NfsError::Status(NfsStat3::Exist)));
            }
            let (dir, _) = s.walk(parent).map_err(|e| CliError::nfs(&what, e))?;
            s.mkdir(&dir, name, attrs).map_err(|e| CliError::nfs(&what, e))?;
        }
    }
    Ok(())
}

/// `tern mv SRC DST` (both in one export of one server).
pub fn mv(src: &str, dst: &str, net: &NetOpts) -> Result<(), CliError> {
    let (su, du) = (parse_url(src)?, parse_url(dst)?);
    if (su.host.as_str(), su.nfsport) != (du.host.as_str(), du.nfsport) {
        return Err(CliError::new(exit::USAGE, "mv: both URLs must name the same server (use cp, then rm)"));
    }
    let (mut s, rest) = open(&su, net)?;
    let export = s.export().trim_end_matches('/').to_string();
    let what = su.to_string();
    let Some(drest) = du.path.strip_prefix(&export).filter(|r| r.is_empty() || r.starts_with('/') || export.is_empty())
    else {
        return Err(CliError::new(exit::USAGE, format!("mv: {du} is not in the export {export} of {what}")));
    };
    let drest = drest.trim_start_matches('/').to_string();
    let (sp, sname) = split_parent(&rest);
    if sname.is_empty() {
        return Err(CliError::new(exit::USAGE, "mv: cannot move the export itself"));
    }
    let (sdir, _) = s.walk(sp).map_err(|e| CliError::nfs(&what, e))?;
    let (ddir, dname) = match s.walk(&drest) {
        Ok((fh, a)) if a.ftype == FType3::Dir => (fh, sname.to_string()),
        _ => {
            let (dp, dn) = split_parent(&drest);
            (s.walk(dp).map_err(|e| CliError::nfs(&du.to_string(), e))?.0, dn.to_string())
        }
    };
    s.rename(&sdir, sname, &ddir, &dname).map_err(|e| CliError::nfs(&what, e))
}

/// `tern showmount -e HOST`.
pub fn showmount(host: &str, mountport: Option<u16>, net: &NetOpts) -> Result<(), CliError> {
    let proto = if net.udp { Proto::Udp } else { Proto::Tcp };
    let list = export_list(host, mountport, proto).map_err(|e| CliError::nfs(host, e))?;
    let w = &mut std::io::stdout().lock();
    let r = (|| {
        out(w, format_args!("Export list for {host}:"))?;
        let width = list.iter().map(|(d, _)| d.len()).max().unwrap_or(0);
        for (dir, groups) in &list {
            let g = if groups.is_empty() { "(everyone)".to_string() } else { groups.join(",") };
            out(w, format_args!("{dir:width$} {g}"))?;
        }
        Ok::<(), CliError>(())
    })();
    match r {
        Err(e) if e.code == 0 => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_modes() {
        assert_eq!(date(NfsTime { seconds: 0, nseconds: 0 }), "1970-01-01 00:00:00");
        assert_eq!(date(NfsTime { seconds: 951_782_400, nseconds: 0 }), "2000-02-29 00:00:00");
        assert_eq!(date(NfsTime { seconds: 1_700_000_000, nseconds: 0 }), "2023-11-14 22:13:20");
        let mut a = Fattr3 {
            ftype: FType3::Dir,
            mode: 0o1755,
            nlink: 2,
            uid: 0,
            gid: 0,
            size: 0,
            used: 0,
            rdev: tern_core::nfs3::SpecData3 { specdata1: 0, specdata2: 0 },
            fsid: 0,
            fileid: 1,
            atime: NfsTime::default_time(),
            mtime: NfsTime::default_time(),
            ctime: NfsTime::default_time(),
        };
        assert_eq!(mode_string(&a), "drwxr-xr-t");
        // The long line, against the format! it replaced.
        let reference = |name: &str, a: &Fattr3| {
            let size = match a.ftype {
                FType3::Blk | FType3::Chr => format!("{}, {}", a.rdev.specdata1, a.rdev.specdata2),
                _ => a.size.to_string(),
            };
            format!(
                "{} {:>3} {:>5} {:>5} {:>12} {} {}",
                mode_string(a),
                a.nlink,
                a.uid,
                a.gid,
                size,
                &date(a.mtime)[..16],
                name
            )
        };
        let mut b = a;
        for (ft, nlink, uid, size, secs) in [
            (FType3::Dir, 2, 0, 0, 0),
            (FType3::Reg, 1, 1000, 268_435_456, 1_700_000_000),
            (FType3::Reg, 123_456, 4_294_967_295, u64::MAX, u32::MAX),
            (FType3::Chr, 1, 5, 0, 951_782_400),
            (FType3::Lnk, 9, 65_534, 12_345_678_901_234, 86_399),
        ] {
            (b.ftype, b.nlink, b.uid, b.gid, b.size, b.mtime.seconds) = (ft, nlink, uid, uid / 3, size, secs);
            b.rdev = tern_core::nfs3::SpecData3 { specdata1: 4, specdata2: nlink };
            let mut line = Vec::new();
            long_line(&mut line, "entry-0000001.dat", &b);
            assert_eq!(String::from_utf8(line).unwrap(), reference("entry-0000001.dat", &b));
        }
        a.ftype = FType3::Reg;
        a.mode = 0o4644;
        assert_eq!(mode_string(&a), "-rwSr--r--");
    }

    trait DefaultTime {
        fn default_time() -> NfsTime;
    }
    impl DefaultTime for NfsTime {
        fn default_time() -> NfsTime {
            NfsTime { seconds: 0, nseconds: 0 }
        }
    }
}
