//! File system information: FSSTAT (§3.3.18), FSINFO (§3.3.19) and PATHCONF (§3.3.20).
//!
//! All fixed-size: the results carry the object's post-op attributes on both arms.

use super::{FileHandle, NfsRes, NfsTime, PostOpAttr, wire_struct};

/// FSINFO `properties` bits (`FSF3_*`).
pub mod fsf {
    /// The file system supports hard links.
    pub const LINK: u32 = 0x0001;
    /// The file system supports symbolic links.
    pub const SYMLINK: u32 = 0x0002;
    /// PATHCONF is the same for every file and directory.
    pub const HOMOGENEOUS: u32 = 0x0008;
    /// SETATTR can set times to the client's time.
    pub const CANSETTIME: u32 = 0x0010;
}

wire_struct! {
    /// `FSSTAT3args`.
    pub struct FsstatArgs<'a> {
        /// Any handle in the file system.
        pub fsroot: FileHandle<'a>,
    }
}

wire_struct! {
    /// `FSSTAT3resok`.
    pub struct FsstatResOk {
        /// The object's attributes.
        pub obj_attributes: PostOpAttr,
        /// Total size in bytes.
        pub tbytes: u64,
        /// Free bytes.
        pub fbytes: u64,
        /// Free bytes available to the caller.
        pub abytes: u64,
        /// Total file slots.
        pub tfiles: u64,
        /// Free file slots.
        pub ffiles: u64,
        /// Free file slots available to the caller.
        pub afiles: u64,
        /// Seconds for which this information is not expected to change (0: volatile).
        pub invarsec: u32,
    }
}

/// `FSSTAT3res`: the figures, or the object's attributes (`obj_attributes`).
pub type FsstatRes = NfsRes<FsstatResOk, PostOpAttr>;

wire_struct! {
    /// `FSINFO3args`.
    pub struct FsinfoArgs<'a> {
        /// Any handle in the file system (usually its root).
        pub fsroot: FileHandle<'a>,
    }
}

wire_struct! {
    /// `FSINFO3resok`.
    pub struct FsinfoResOk {
        /// The object's attributes.
        pub obj_attributes: PostOpAttr,
        /// Largest READ.
        pub rtmax: u32,
        /// Preferred READ size.
        pub rtpref: u32,
        /// Suggested multiple of READ sizes.
        pub rtmult: u32,
        /// Largest WRITE.
        pub wtmax: u32,
        /// Preferred WRITE size.
        pub wtpref: u32,
        /// Suggested multiple of WRITE sizes.
        pub wtmult: u32,
        /// Preferred READDIR `count`.
        pub dtpref: u32,
        /// Largest file size.
        pub maxfilesize: u64,
        /// Time granularity of the file system.
        pub time_delta: NfsTime,
        /// [`fsf`] bits.
        pub properties: u32,
    }
}

/// `FSINFO3res`: the figures, or the object's attributes (`obj_attributes`).
pub type FsinfoRes = NfsRes<FsinfoResOk, PostOpAttr>;

wire_struct! {
    /// `PATHCONF3args`.
    pub struct PathconfArgs<'a> {
        /// The object.
        pub object: FileHandle<'a>,
    }
}

wire_struct! {
    /// `PATHCONF3resok`.
    pub struct PathconfResOk {
        /// The object's attributes.
        pub obj_attributes: PostOpAttr,
        /// Most hard links to one object.
        pub linkmax: u32,
        /// Longest name.
        pub name_max: u32,
        /// True when longer names are refused (not truncated).
        pub no_trunc: bool,
        /// True when only a privileged user may change an owner.
        pub chown_restricted: bool,
        /// True when names are compared without case.
        pub case_insensitive: bool,
        /// True when names keep their case.
        pub case_preserving: bool,
    }
}

/// `PATHCONF3res`: the figures, or the object's attributes (`obj_attributes`).
pub type PathconfRes = NfsRes<PathconfResOk, PostOpAttr>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nfs3::NfsStat3;
    use crate::nfs3::testutil::{ATTR, roundtrip};

    #[test]
    fn roundtrips() {
        let mut buf = [0u8; 512];
        let fh = FileHandle::new(&[1; 8]).unwrap();
        roundtrip(&FsstatArgs { fsroot: fh }, &mut buf);
        let st = FsstatResOk {
            obj_attributes: Some(ATTR),
            tbytes: 1 << 40,
            fbytes: 1 << 30,
            abytes: 1 << 29,
            tfiles: 1000,
            ffiles: 10,
            afiles: 9,
            invarsec: 0,
        };
        assert_eq!(roundtrip(&FsstatRes::Ok(st), &mut buf), 4 + 88 + 48 + 4);
        roundtrip(&FsstatRes::Fail(NfsStat3::Stale, None), &mut buf);
        roundtrip(&FsinfoArgs { fsroot: fh }, &mut buf);
        let info = FsinfoResOk {
            obj_attributes: None,
            rtmax: 1 << 20,
            rtpref: 1 << 16,
            rtmult: 4096,
            wtmax: 1 << 20,
            wtpref: 1 << 16,
            wtmult: 4096,
            dtpref: 8192,
            maxfilesize: u64::MAX,
            time_delta: NfsTime { seconds: 0, nseconds: 1 },
            properties: fsf::LINK | fsf::SYMLINK | fsf::HOMOGENEOUS | fsf::CANSETTIME,
        };
        roundtrip(&FsinfoRes::Ok(info), &mut buf);
        roundtrip(&FsinfoRes::Fail(NfsStat3::ServerFault, Some(ATTR)), &mut buf);
        roundtrip(&PathconfArgs { object: fh }, &mut buf);
        let pc = PathconfResOk {
            obj_attributes: Some(ATTR),
            linkmax: 32000,
            name_max: 255,
            no_trunc: true,
            chown_restricted: true,
            case_insensitive: false,
            case_preserving: true,
        };
        roundtrip(&PathconfRes::Ok(pc), &mut buf);
        roundtrip(&PathconfRes::Fail(NfsStat3::BadHandle, None), &mut buf);
    }
}
