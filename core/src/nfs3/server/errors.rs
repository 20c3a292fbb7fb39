//! Status mapping: back-end errors to `nfsstat3` and `mountstat3`, refusals of the exports
//! table to `nfsstat3`.

use crate::exports::Refusal;
use crate::fs::FsError;
use crate::mount::MountStat;
use crate::nfs3::NfsStat3;

/// The `nfsstat3` for a back-end error: one status per [`FsError`], each the NFSv3 twin of the
/// POSIX error it stands for (RFC 1813 §2.6; Linux's `nfserrno` gives the same pairs).
pub fn nfs_status(e: FsError) -> NfsStat3 {
    match e {
        FsError::Perm => NfsStat3::Perm,
        FsError::NoEnt => NfsStat3::NoEnt,
        FsError::Io => NfsStat3::Io,
        FsError::Access => NfsStat3::Acces,
        FsError::Exist => NfsStat3::Exist,
        FsError::XDev => NfsStat3::XDev,
        FsError::NotDir => NfsStat3::NotDir,
        FsError::IsDir => NfsStat3::IsDir,
        FsError::Inval => NfsStat3::Inval,
        FsError::FBig => NfsStat3::FBig,
        FsError::NoSpace => NfsStat3::NoSpc,
        FsError::ReadOnly => NfsStat3::RoFs,
        FsError::MLink => NfsStat3::MLink,
        FsError::NameTooLong => NfsStat3::NameTooLong,
        FsError::NotEmpty => NfsStat3::NotEmpty,
        FsError::DQuot => NfsStat3::DQuot,
        FsError::Stale => NfsStat3::Stale,
        FsError::BadHandle => NfsStat3::BadHandle,
        FsError::BadCookie => NfsStat3::BadCookie,
        FsError::NotSupp => NfsStat3::NotSupp,
        FsError::NotSync => NfsStat3::NotSync,
        FsError::BadType => NfsStat3::BadType,
        FsError::ServerFault => NfsStat3::ServerFault,
    }
}

/// The `nfsstat3` for a caller the exports table refuses on an NFS call (see the module docs
/// of [`super`] for the Linux references): the export is gone → `NFS3ERR_STALE`; the client is
/// not listed → `NFS3ERR_ACCES`; a source port of 1024 or above on a `secure` export →
/// `NFS3ERR_PERM` (Linux's `nfsd_setuser_and_check_port`).
pub fn refusal_status(r: Refusal) -> NfsStat3 {
    match r {
        Refusal::NoExport | Refusal::BadPath => NfsStat3::Stale,
        Refusal::NotAllowed => NfsStat3::Acces,
        Refusal::InsecurePort => NfsStat3::Perm,
    }
}

/// The `mountstat3` for a back-end error met while resolving a MNT path. `mount.x` has fewer
/// statuses than `nfsstat3`: a handle that went stale reads as a missing path, and errors
/// without a twin become `MNT3ERR_SERVERFAULT` (I/O errors `MNT3ERR_IO`).
pub fn mount_status(e: FsError) -> MountStat {
    match e {
        FsError::Perm => MountStat::Perm,
        FsError::NoEnt | FsError::Stale | FsError::BadHandle => MountStat::NoEnt,
        FsError::Io => MountStat::Io,
        FsError::Access => MountStat::Acces,
        FsError::NotDir => MountStat::NotDir,
        FsError::Inval => MountStat::Inval,
        FsError::NameTooLong => MountStat::NameTooLong,
        FsError::NotSupp => MountStat::NotSupp,
        _ => MountStat::ServerFault,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [(FsError, NfsStat3, i32); 23] = [
        (FsError::Perm, NfsStat3::Perm, 1),
        (FsError::NoEnt, NfsStat3::NoEnt, 2),
        (FsError::Io, NfsStat3::Io, 5),
        (FsError::Access, NfsStat3::Acces, 13),
        (FsError::Exist, NfsStat3::Exist, 17),
        (FsError::XDev, NfsStat3::XDev, 18),
        (FsError::NotDir, NfsStat3::NotDir, 20),
        (FsError::IsDir, NfsStat3::IsDir, 21),
        (FsError::Inval, NfsStat3::Inval, 22),
        (FsError::FBig, NfsStat3::FBig, 27),
        (FsError::NoSpace, NfsStat3::NoSpc, 28),
        (FsError::ReadOnly, NfsStat3::RoFs, 30),
        (FsError::MLink, NfsStat3::MLink, 31),
        (FsError::NameTooLong, NfsStat3::NameTooLong, 63),
        (FsError::NotEmpty, NfsStat3::NotEmpty, 66),
        (FsError::DQuot, NfsStat3::DQuot, 69),
        (FsError::Stale, NfsStat3::Stale, 70),
        (FsError::BadHandle, NfsStat3::BadHandle, 10001),
        (FsError::NotSync, NfsStat3::NotSync, 10002),
        (FsError::BadCookie, NfsStat3::BadCookie, 10003),
        (FsError::NotSupp, NfsStat3::NotSupp, 10004),
        (FsError::ServerFault, NfsStat3::ServerFault, 10006),
        (FsError::BadType, NfsStat3::BadType, 10007),
    ];

    #[test]
    fn every_fs_error_has_its_own_status() {
        for (e, s, wire) in ALL {
            assert_eq!(nfs_status(e), s, "{e:?}");
            assert_eq!(i32::from(nfs_status(e)), wire, "{e:?}");
        }
        // One status per error: no two errors share one, and none is NFS3_OK.
        for (i, (a, ..)) in ALL.iter().enumerate() {
            assert_ne!(nfs_status(*a), NfsStat3::Ok);
            for (b, ..) in &ALL[i + 1..] {
                assert_ne!(nfs_status(*a), nfs_status(*b), "{a:?} and {b:?}");
            }
        }
    }

    #[test]
    fn refusals_and_mount_statuses() {
        assert_eq!(refusal_status(Refusal::NoExport), NfsStat3::Stale);
        assert_eq!(refusal_status(Refusal::BadPath), NfsStat3::Stale);
        assert_eq!(refusal_status(Refusal::NotAllowed), NfsStat3::Acces);
        assert_eq!(refusal_status(Refusal::InsecurePort), NfsStat3::Perm);
        assert_eq!(mount_status(FsError::NoEnt), MountStat::NoEnt);
        assert_eq!(mount_status(FsError::Stale), MountStat::NoEnt);
        assert_eq!(mount_status(FsError::NotDir), MountStat::NotDir);
        assert_eq!(mount_status(FsError::Access), MountStat::Acces);
        assert_eq!(mount_status(FsError::Io), MountStat::Io);
        assert_eq!(mount_status(FsError::NoSpace), MountStat::ServerFault);
        for (e, ..) in ALL {
            assert_ne!(mount_status(e), MountStat::Ok);
        }
    }
}
