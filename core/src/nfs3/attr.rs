//! Attribute procedures: GETATTR (§3.3.1), SETATTR (§3.3.2) and ACCESS (§3.3.4).
//!
//! SETATTR's result carries WCC data on both arms; ACCESS's `access` word is a mask of the
//! [`access`] bits (the reply may only clear bits the request set).

use super::{Fattr3, FileHandle, NfsRes, PostOpAttr, Sattr3, SetattrGuard, WccData, wire_struct};

/// ACCESS permission bits (`ACCESS3_*`).
pub mod access {
    /// Read data from a file or list a directory.
    pub const READ: u32 = 0x0001;
    /// Look up a name in a directory.
    pub const LOOKUP: u32 = 0x0002;
    /// Rewrite existing file data or modify existing directory entries.
    pub const MODIFY: u32 = 0x0004;
    /// Write new data or add directory entries.
    pub const EXTEND: u32 = 0x0008;
    /// Delete an existing directory entry.
    pub const DELETE: u32 = 0x0010;
    /// Execute a file (no meaning for a directory).
    pub const EXECUTE: u32 = 0x0020;
    /// Every bit RFC 1813 defines.
    pub const ALL: u32 = READ | LOOKUP | MODIFY | EXTEND | DELETE | EXECUTE;
}

wire_struct! {
    /// `GETATTR3args`.
    pub struct GetattrArgs<'a> {
        /// The object.
        pub object: FileHandle<'a>,
    }
}

/// `GETATTR3res`: the attributes (`GETATTR3resok`), or nothing.
pub type GetattrRes = NfsRes<Fattr3, ()>;

wire_struct! {
    /// `SETATTR3args`.
    pub struct SetattrArgs<'a> {
        /// The object.
        pub object: FileHandle<'a>,
        /// The attributes to change.
        pub new_attributes: Sattr3,
        /// Apply only if the object's ctime is this one.
        pub guard: SetattrGuard,
    }
}

/// `SETATTR3res`: the object's WCC data on both arms (`obj_wcc`).
pub type SetattrRes = NfsRes<WccData, WccData>;

wire_struct! {
    /// `ACCESS3args`.
    pub struct AccessArgs<'a> {
        /// The object.
        pub object: FileHandle<'a>,
        /// The [`access`] bits to check.
        pub access: u32,
    }
}

wire_struct! {
    /// `ACCESS3resok`.
    pub struct AccessResOk {
        /// The object's attributes.
        pub obj_attributes: PostOpAttr,
        /// The requested [`access`] bits that are granted.
        pub access: u32,
    }
}

/// `ACCESS3res`: the granted bits, or the object's attributes (`obj_attributes`).
pub type AccessRes = NfsRes<AccessResOk, PostOpAttr>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nfs3::testutil::{ATTR, WCC, roundtrip, words};
    use crate::nfs3::{Limits, NfsStat3, NfsTime, SetTime, decode_exact_with};
    use crate::xdr;

    const FH: &[u8] = &[0xaa, 0xbb, 0xcc, 0xdd, 0xee];

    #[test]
    fn getattr_reply_bytes() {
        let res = GetattrRes::Ok(ATTR);
        let mut buf = [0u8; 128];
        let n = xdr::encode_to(&res, &mut buf).unwrap();
        #[rustfmt::skip]
        let expect = words(&[
            0, // NFS3_OK
            1, 0o644, 1, 1000, 100, // type, mode, nlink, uid, gid
            0, 5, 0, 4096, // size, used
            0, 0, // rdev
            0x0102_0304, 0x0506_0708, 0, 42, // fsid, fileid
            1, 2, 3, 4, 5, 6, // atime, mtime, ctime
        ]);
        assert_eq!(&buf[..n], &expect[..]);
        assert_eq!(n, 88);
        let back: GetattrRes = decode_exact_with(&expect, &Limits::default()).unwrap();
        assert_eq!(back, res);
        let stale = words(&[70]);
        let back: GetattrRes = decode_exact_with(&stale, &Limits::default()).unwrap();
        assert_eq!(back, GetattrRes::Fail(NfsStat3::Stale, ()));
    }

    #[test]
    fn roundtrips() {
        let mut buf = [0u8; 512];
        let object = FileHandle::new(FH).unwrap();
        roundtrip(&GetattrArgs { object }, &mut buf);
        roundtrip(&GetattrRes::Ok(ATTR), &mut buf);
        roundtrip(&GetattrRes::Fail(NfsStat3::BadHandle, ()), &mut buf);
        let new_attributes = crate::nfs3::Sattr3 { mode: Some(0o600), atime: SetTime::ServerTime, ..Sattr3::UNCHANGED };
        roundtrip(&SetattrArgs { object, new_attributes, guard: None }, &mut buf);
        let guard = Some(NfsTime { seconds: 9, nseconds: 8 });
        roundtrip(&SetattrArgs { object, new_attributes, guard }, &mut buf);
        roundtrip(&SetattrRes::Ok(WCC), &mut buf);
        roundtrip(&SetattrRes::Fail(NfsStat3::NotSync, WCC), &mut buf);
        roundtrip(&AccessArgs { object, access: access::ALL }, &mut buf);
        roundtrip(&AccessRes::Ok(AccessResOk { obj_attributes: Some(ATTR), access: access::READ }), &mut buf);
        roundtrip(&AccessRes::Fail(NfsStat3::Stale, None), &mut buf);
    }

    #[test]
    fn empty_handle_and_trailing_bytes() {
        let l = Limits::default();
        let args: GetattrArgs<'_> = decode_exact_with(&[0, 0, 0, 0], &l).unwrap();
        assert!(args.object.is_empty());
        assert_eq!(decode_exact_with::<_, GetattrArgs<'_>>(&[0, 0, 0, 0, 0], &l), Err(xdr::Error::TrailingBytes));
    }
}
