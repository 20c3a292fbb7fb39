//! One call's context: the export's back end, the caller's mapped identity, the time, and the
//! helpers every procedure uses (permission checks, name checks, attribute conversions, WCC).

use super::errors::nfs_status;
use super::handle::{WireHandle, compose};
use super::{Mount, ServerConfig};
use crate::exports::Access;
use crate::fs::{self, Attr, FileSystem, FileType};
use crate::nfs3::{
    FType3, Fattr3, Filename, NfsStat3, NfsTime, PostOpAttr, Sattr3, SetTime, SpecData3, StableHow, WccAttr, WccData,
};
use crate::rpc::auth::{AuthFlavor, Credential, MAX_GIDS};

/// Read permission (the `r` bit).
pub(super) const R: u32 = 4;
/// Write permission (the `w` bit).
pub(super) const W: u32 = 2;
/// Execute or search permission (the `x` bit).
pub(super) const X: u32 = 1;

/// Set-user-id, set-group-id and sticky bits.
const S_ISUID: u32 = 0o4000;
const S_ISGID: u32 = 0o2000;
const S_ISVTX: u32 = 0o1000;

/// WCC data with nothing in it.
pub(super) const NO_WCC: WccData = WccData { before: None, after: None };

/// The caller as the export sees it: uid, gid and groups after squashing, and `rw`/`ro`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Caller {
    pub(super) uid: u32,
    pub(super) gid: u32,
    gids: [u32; MAX_GIDS as usize],
    ngids: usize,
    pub(super) writable: bool,
}

impl Caller {
    /// Maps `cred` through `access` (AUTH_NONE is the anonymous identity). AUTH_SYS on an
    /// export whose `sec=` list lacks `sys` is refused with `NFS3ERR_ACCES`, as Linux answers
    /// a flavor the export does not allow (`nfserr_wrongsec`, mapped to `NFS3ERR_ACCES` for v3).
    pub(super) fn new(access: &Access, cred: &Credential<'_>) -> Result<Self, NfsStat3> {
        let mut who = Caller { uid: 0, gid: 0, gids: [0; MAX_GIDS as usize], ngids: 0, writable: access.writable() };
        match cred {
            Credential::None => {
                let id = access.options.anonymous();
                (who.uid, who.gid) = (id.uid, id.gid);
            }
            Credential::Sys(sys) => {
                if !access.options.sec.allows(AuthFlavor::Sys) {
                    return Err(NfsStat3::Acces);
                }
                let id = access.map_identity(sys.uid, sys.gid);
                (who.uid, who.gid) = (id.uid, id.gid);
                for (slot, g) in who.gids.iter_mut().zip(access.map_groups(sys.gids.iter())) {
                    *slot = g;
                    who.ngids += 1;
                }
            }
        }
        Ok(who)
    }

    /// True when `gid` is the caller's group or one of its supplementary groups.
    pub(super) fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.gids.get(..self.ngids).unwrap_or_default().contains(&gid)
    }

    /// True for the owner of `a` or uid 0.
    pub(super) fn owns(&self, a: &Attr) -> bool {
        self.uid == 0 || self.uid == a.uid
    }

    /// Whether the mode bits of `a` grant every bit of `want` ([`R`], [`W`], [`X`]). Uid 0
    /// (after squashing) gets everything, except execute on a non-directory without any `x`
    /// bit (Linux's `generic_permission`).
    pub(super) fn may(&self, a: &Attr, want: u32) -> bool {
        if self.uid == 0 {
            return want & X == 0 || a.ftype == FileType::Directory || a.mode & 0o111 != 0;
        }
        let bits = if self.uid == a.uid {
            a.mode >> 6
        } else if self.in_group(a.gid) {
            a.mode >> 3
        } else {
            a.mode
        };
        bits & want & 7 == want
    }

    /// [`Caller::may`] as a status (`NFS3ERR_ACCES`).
    pub(super) fn check(&self, a: &Attr, want: u32) -> Result<(), NfsStat3> {
        if self.may(a, want) { Ok(()) } else { Err(NfsStat3::Acces) }
    }

    /// The check of READ, WRITE, COMMIT and a size change: the owner always passes, for a
    /// client that checked at open time (Linux's `NFSD_MAY_OWNER_OVERRIDE`), and a file that
    /// may be executed may be read (`NFSD_MAY_READ_IF_EXEC`).
    pub(super) fn check_open(&self, a: &Attr, want: u32) -> Result<(), NfsStat3> {
        if self.uid == a.uid || self.may(a, want) || (want == R && a.ftype == FileType::Regular && self.may(a, X)) {
            Ok(())
        } else {
            Err(NfsStat3::Acces)
        }
    }

    /// The sticky-directory rule for removing or replacing an entry owned by `target_uid` in
    /// `dir`: only the entry's owner, the directory's owner or uid 0 (`NFS3ERR_PERM`).
    pub(super) fn check_sticky(&self, dir: &Attr, target_uid: u32) -> Result<(), NfsStat3> {
        if dir.mode & S_ISVTX == 0 || self.uid == 0 || self.uid == dir.uid || self.uid == target_uid {
            Ok(())
        } else {
            Err(NfsStat3::Perm)
        }
    }
}

/// What a procedure works on: one export's back end, the caller and the time.
pub(super) struct Req<'s, F> {
    /// The export's back end.
    pub(super) fs: &'s mut F,
    /// The export's slot, check bytes, root and properties.
    pub(super) mount: Mount,
    /// The caller.
    pub(super) who: Caller,
    /// The wall-clock time of the call.
    pub(super) now: fs::Time,
    /// The server's settings.
    pub(super) cfg: ServerConfig,
}

impl<F: FileSystem> Req<'_, F> {
    /// The back-end context of a change.
    pub(super) fn ctx(&self) -> fs::Ctx {
        fs::Ctx { now: self.now, uid: self.who.uid, gid: self.who.gid }
    }

    /// `NFS3ERR_ROFS` on a read-only export.
    pub(super) fn writable(&self) -> Result<(), NfsStat3> {
        if self.who.writable { Ok(()) } else { Err(NfsStat3::RoFs) }
    }

    /// True for the export's root directory.
    pub(super) fn is_root(&self, h: &fs::Handle) -> bool {
        *h == self.mount.root
    }

    /// The wire handle of `h`.
    pub(super) fn wire(&self, h: &fs::Handle) -> WireHandle {
        compose(self.mount.slot, self.mount.tag, h)
    }

    /// The attributes of `h`.
    pub(super) fn getattr(&mut self, h: &fs::Handle) -> Result<Attr, NfsStat3> {
        self.fs.getattr(h).map_err(nfs_status)
    }

    /// The attributes of `h` if the back end gives them (`post_op_attr`).
    pub(super) fn post(&mut self, h: &fs::Handle) -> PostOpAttr {
        self.fs.getattr(h).ok().map(|a| fattr(&a))
    }

    /// WCC data of `h`: `pre` before the change, the attributes now after it.
    pub(super) fn wcc(&mut self, h: &fs::Handle, pre: &Attr) -> WccData {
        WccData { before: Some(wcc_attr(pre)), after: self.post(h) }
    }

    /// Checks a name from the wire: empty, `/` or NUL → `NFS3ERR_INVAL`, longer than the back
    /// end's `max_name` → `NFS3ERR_NAMETOOLONG` (Linux's `nfsd3_check_filename`).
    pub(super) fn name<'n>(&self, name: Filename<'n>) -> Result<&'n [u8], NfsStat3> {
        let b = name.as_bytes();
        if b.is_empty() || b.iter().any(|&c| c == b'/' || c == 0) {
            return Err(NfsStat3::Inval);
        }
        if b.len() > self.mount.info.max_name as usize {
            return Err(NfsStat3::NameTooLong);
        }
        Ok(b)
    }

    /// [`Req::name`] for a name that a procedure creates or removes: `.` and `..` are refused
    /// with `dots` (Linux: `NFS3ERR_EXIST` to create, `NFS3ERR_ACCES` to remove,
    /// `NFS3ERR_PERM` to rename).
    pub(super) fn new_name<'n>(&self, name: Filename<'n>, dots: NfsStat3) -> Result<&'n [u8], NfsStat3> {
        let b = self.name(name)?;
        if is_dot(b) { Err(dots) } else { Ok(b) }
    }
}

/// True for `.` and `..`.
pub(super) fn is_dot(name: &[u8]) -> bool {
    name == b"." || name == b".."
}

/// `NFS3ERR_NOTDIR` unless `a` is a directory.
pub(super) fn dir(a: &Attr) -> Result<(), NfsStat3> {
    if a.ftype == FileType::Directory { Ok(()) } else { Err(NfsStat3::NotDir) }
}

/// `NFS3ERR_ISDIR` for a directory, `NFS3ERR_INVAL` for any other non-regular file (Linux's
/// `nfsd_mode_check` for READ, WRITE, COMMIT and a size change).
pub(super) fn regular(a: &Attr) -> Result<(), NfsStat3> {
    match a.ftype {
        FileType::Regular => Ok(()),
        FileType::Directory => Err(NfsStat3::IsDir),
        _ => Err(NfsStat3::Inval),
    }
}

/// An `nfstime3`.
pub(super) fn nfs_time(t: fs::Time) -> NfsTime {
    NfsTime { seconds: t.secs, nseconds: t.nsecs }
}

/// A back-end time from the wire.
pub(super) fn fs_time(t: NfsTime) -> fs::Time {
    fs::Time { secs: t.seconds, nsecs: t.nseconds }
}

/// `ftype3` of a file type.
pub(super) fn ftype3(t: FileType) -> FType3 {
    match t {
        FileType::Regular => FType3::Reg,
        FileType::Directory => FType3::Dir,
        FileType::Block => FType3::Blk,
        FileType::Char => FType3::Chr,
        FileType::Symlink => FType3::Lnk,
        FileType::Socket => FType3::Sock,
        FileType::Fifo => FType3::Fifo,
    }
}

/// `fattr3` of back-end attributes (mode cut to its 12 permission bits).
pub(super) fn fattr(a: &Attr) -> Fattr3 {
    Fattr3 {
        ftype: ftype3(a.ftype),
        mode: a.mode & 0o7777,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        size: a.size,
        used: a.used,
        rdev: SpecData3 { specdata1: a.rdev.0, specdata2: a.rdev.1 },
        fsid: a.fsid,
        fileid: a.fileid,
        atime: nfs_time(a.atime),
        mtime: nfs_time(a.mtime),
        ctime: nfs_time(a.ctime),
    }
}

/// The `wcc_attr` part of back-end attributes.
pub(super) fn wcc_attr(a: &Attr) -> WccAttr {
    WccAttr { size: a.size, mtime: nfs_time(a.mtime), ctime: nfs_time(a.ctime) }
}

/// Back-end settable attributes from a `sattr3` (mode cut to its 12 permission bits).
pub(super) fn set_attr(s: &Sattr3) -> fs::SetAttr {
    let time = |t: SetTime| match t {
        SetTime::DontChange => fs::SetTime::Keep,
        SetTime::ServerTime => fs::SetTime::ServerTime,
        SetTime::ClientTime(t) => fs::SetTime::Client(fs_time(t)),
    };
    fs::SetAttr {
        mode: s.mode.map(|m| m & 0o7777),
        uid: s.uid,
        gid: s.gid,
        size: s.size,
        atime: time(s.atime),
        mtime: time(s.mtime),
    }
}

/// The attributes a new object gets: the owner and group come from the caller (`fs::Ctx`)
/// unless the caller is uid 0 (Linux's `nfsd_create_setattr`), and only a regular file takes a
/// size.
pub(super) fn create_attr(s: &Sattr3, who: &Caller, file: bool) -> fs::SetAttr {
    let mut set = set_attr(s);
    if who.uid != 0 {
        (set.uid, set.gid) = (None, None);
    }
    if !file {
        set.size = None;
    }
    set
}

/// The mode bits a change of owner or group leaves on a non-directory: set-user-id cleared,
/// set-group-id cleared when the group may execute (Linux's `nfsd_sanitize_attrs`), or `None`
/// when nothing changes.
pub(super) fn kill_priv(a: &Attr, set: &fs::SetAttr) -> Option<u32> {
    if a.ftype == FileType::Directory || (set.uid.is_none() && set.gid.is_none()) {
        return None;
    }
    let mode = set.mode.unwrap_or(a.mode & 0o7777);
    let mut out = mode & !S_ISUID;
    if out & 0o010 != 0 {
        out &= !S_ISGID;
    }
    (out != mode).then_some(out)
}

/// Clears set-group-id from a new mode when the caller (not uid 0) is not in the file's group,
/// as `chmod` does on Linux.
pub(super) fn chmod_mode(mode: u32, group: u32, who: &Caller) -> u32 {
    if who.uid != 0 && !who.in_group(group) { mode & !S_ISGID } else { mode }
}

/// A `stable_how` as a back-end stability (`None` for a value outside the RFC).
pub(super) fn stability(s: StableHow) -> Option<fs::Stability> {
    match s {
        StableHow::Unstable => Some(fs::Stability::Unstable),
        StableHow::DataSync => Some(fs::Stability::DataSync),
        StableHow::FileSync => Some(fs::Stability::FileSync),
        StableHow::Unknown(_) => None,
    }
}

/// A back-end stability as a `stable_how`.
pub(super) fn stable_how(s: fs::Stability) -> StableHow {
    match s {
        fs::Stability::Unstable => StableHow::Unstable,
        fs::Stability::DataSync => StableHow::DataSync,
        fs::Stability::FileSync => StableHow::FileSync,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exports::Exports;
    use crate::rpc::auth::{AuthSys, Gids};
    use crate::xdr::XdrStr;

    fn attr(ftype: FileType, mode: u32, uid: u32, gid: u32) -> Attr {
        Attr {
            ftype,
            mode,
            nlink: 1,
            uid,
            gid,
            size: 0,
            used: 0,
            rdev: (0, 0),
            fsid: 0,
            fileid: 1,
            atime: fs::Time::default(),
            mtime: fs::Time::default(),
            ctime: fs::Time::default(),
        }
    }

    fn caller(opts: &str, uid: u32, gid: u32, gids: &'static [u32]) -> Caller {
        let text = std::format!("/x *({opts})");
        let t = Exports::<1, 1>::parse(std::boxed::Box::leak(text.into_boxed_str())).unwrap();
        let access = t.admit(0, "10.0.0.1".parse().unwrap(), 700, None).unwrap();
        let sys = AuthSys { stamp: 0, machine_name: XdrStr::new("h").unwrap(), uid, gid, gids: Gids::Slice(gids) };
        Caller::new(&access, &Credential::Sys(sys)).unwrap()
    }

    #[test]
    fn mode_bits_owner_group_other() {
        let f = attr(FileType::Regular, 0o640, 1000, 100);
        let owner = caller("rw,no_root_squash", 1000, 5, &[]);
        assert!(owner.may(&f, R | W) && !owner.may(&f, X));
        let member = caller("rw", 2000, 5, &[7, 100]);
        assert!(member.may(&f, R) && !member.may(&f, W));
        let other = caller("rw", 2000, 5, &[7]);
        assert!(!other.may(&f, R));
        // The owner class decides even when the group would grant more.
        let g = attr(FileType::Regular, 0o070, 1000, 5);
        assert!(!owner.may(&g, R));
        assert!(owner.check_open(&g, R).is_ok() && owner.check_open(&g, W).is_ok());
        let stranger = caller("rw", 2000, 6, &[]);
        assert_eq!(stranger.check_open(&g, R), Err(NfsStat3::Acces));
        // Read if executable.
        let x = attr(FileType::Regular, 0o111, 1, 1);
        assert!(other.check_open(&x, R).is_ok() && other.check_open(&x, W).is_err());
    }

    #[test]
    fn uid_zero_and_squashing() {
        let root = caller("rw,no_root_squash", 0, 0, &[]);
        let none = attr(FileType::Regular, 0o000, 1000, 100);
        assert!(root.may(&none, R | W) && !root.may(&none, X));
        assert!(root.may(&attr(FileType::Regular, 0o001, 1, 1), X));
        assert!(root.may(&attr(FileType::Directory, 0o000, 1, 1), R | W | X));
        let squashed = caller("rw", 0, 0, &[0, 4]);
        assert_eq!((squashed.uid, squashed.gid), (65534, 65534));
        assert!(!squashed.may(&none, R) && squashed.in_group(4) && !squashed.in_group(0));
        let all = caller("rw,all_squash,anonuid=7,anongid=8", 1000, 100, &[4]);
        assert_eq!((all.uid, all.gid, all.in_group(4)), (7, 8, false));
        assert!(all.writable && !caller("ro", 1, 1, &[]).writable);
    }

    #[test]
    fn flavors_and_anonymous() {
        let t = Exports::<1, 1>::parse("/x *(sec=none,anonuid=5,anongid=6)").unwrap();
        let access = t.admit(0, "10.0.0.1".parse().unwrap(), 700, None).unwrap();
        let sys = AuthSys { stamp: 0, machine_name: XdrStr::new("h").unwrap(), uid: 1, gid: 1, gids: Gids::Slice(&[]) };
        assert_eq!(Caller::new(&access, &Credential::Sys(sys)), Err(NfsStat3::Acces));
        let anon = Caller::new(&access, &Credential::None).unwrap();
        assert_eq!((anon.uid, anon.gid), (5, 6));
    }

    #[test]
    fn sticky_and_privileges() {
        let who = caller("rw", 1000, 100, &[]);
        let sticky = attr(FileType::Directory, 0o1777, 0, 0);
        assert!(who.check_sticky(&sticky, 1000).is_ok());
        assert_eq!(who.check_sticky(&sticky, 2000), Err(NfsStat3::Perm));
        assert!(who.check_sticky(&attr(FileType::Directory, 0o777, 0, 0), 2000).is_ok());
        let suid = attr(FileType::Regular, 0o6755, 1000, 100);
        let chown = fs::SetAttr { uid: Some(5), ..Default::default() };
        assert_eq!(kill_priv(&suid, &chown), Some(0o0755));
        // Set-group-id stays when the group may not execute (a mandatory-locking file).
        assert_eq!(kill_priv(&attr(FileType::Regular, 0o6745, 1, 1), &chown), Some(0o2745));
        assert_eq!(kill_priv(&attr(FileType::Regular, 0o2745, 1, 1), &chown), None);
        assert_eq!(kill_priv(&attr(FileType::Directory, 0o6755, 1, 1), &chown), None);
        assert_eq!(kill_priv(&suid, &fs::SetAttr::default()), None);
        assert_eq!(chmod_mode(0o2755, 7, &who), 0o755);
        assert_eq!(chmod_mode(0o2755, 100, &who), 0o2755);
    }
}
