//! Directory operations: LOOKUP (§3.3.3), CREATE (§3.3.8), MKDIR (§3.3.9), SYMLINK (§3.3.10),
//! MKNOD (§3.3.11), REMOVE (§3.3.12), RMDIR (§3.3.13), RENAME (§3.3.14) and LINK (§3.3.15).
//!
//! Every name is a [`Filename`] bounded by [`Limits::max_name`](super::Limits) on decode. The
//! four procedures that make an object share one result shape ([`CreateResOk`]: the new
//! handle, its attributes, the directory's WCC data); every mutating procedure returns the WCC
//! data of each directory it changed on both arms (RFC 1813 §2.6).

use super::{
    CreateHow3, DirOpArgs3, FileHandle, MknodData3, NfsRes, PostOpAttr, PostOpFh3, Sattr3, SymlinkData3, WccData,
    wire_struct,
};

wire_struct! {
    /// `LOOKUP3args`.
    pub struct LookupArgs<'a> {
        /// The directory and the name to find.
        pub what: DirOpArgs3<'a>,
    }
}

wire_struct! {
    /// `LOOKUP3resok`.
    pub struct LookupResOk<'a> {
        /// The object found.
        pub object: FileHandle<'a>,
        /// Its attributes.
        pub obj_attributes: PostOpAttr,
        /// The directory's attributes.
        pub dir_attributes: PostOpAttr,
    }
}

/// `LOOKUP3res`: the object, or the directory's attributes (`dir_attributes`).
pub type LookupRes<'a> = NfsRes<LookupResOk<'a>, PostOpAttr>;

wire_struct! {
    /// `CREATE3args`.
    pub struct CreateArgs<'a> {
        /// The directory and the new name (RFC field `where`).
        pub where_: DirOpArgs3<'a>,
        /// The mode and its attributes or verifier.
        pub how: CreateHow3,
    }
}

wire_struct! {
    /// `CREATE3resok`, also `MKDIR3resok`, `SYMLINK3resok` and `MKNOD3resok`.
    pub struct CreateResOk<'a> {
        /// The new object's handle.
        pub obj: PostOpFh3<'a>,
        /// Its attributes.
        pub obj_attributes: PostOpAttr,
        /// The directory's WCC data.
        pub dir_wcc: WccData,
    }
}

/// `CREATE3res`: the new object, or the directory's WCC data (`dir_wcc`).
pub type CreateRes<'a> = NfsRes<CreateResOk<'a>, WccData>;

wire_struct! {
    /// `MKDIR3args`.
    pub struct MkdirArgs<'a> {
        /// The parent directory and the new name (RFC field `where`).
        pub where_: DirOpArgs3<'a>,
        /// Attributes of the new directory.
        pub attributes: Sattr3,
    }
}

/// `MKDIR3res`: the new directory, or the parent's WCC data.
pub type MkdirRes<'a> = NfsRes<CreateResOk<'a>, WccData>;

wire_struct! {
    /// `SYMLINK3args`.
    pub struct SymlinkArgs<'a> {
        /// The directory and the link's name (RFC field `where`).
        pub where_: DirOpArgs3<'a>,
        /// The link's attributes and target.
        pub symlink: SymlinkData3<'a>,
    }
}

/// `SYMLINK3res`: the new link, or the directory's WCC data.
pub type SymlinkRes<'a> = NfsRes<CreateResOk<'a>, WccData>;

wire_struct! {
    /// `MKNOD3args`.
    pub struct MknodArgs<'a> {
        /// The directory and the node's name (RFC field `where`).
        pub where_: DirOpArgs3<'a>,
        /// The type and its data.
        pub what: MknodData3,
    }
}

/// `MKNOD3res`: the new node, or the directory's WCC data.
pub type MknodRes<'a> = NfsRes<CreateResOk<'a>, WccData>;

wire_struct! {
    /// `REMOVE3args`.
    pub struct RemoveArgs<'a> {
        /// The directory and the name to remove.
        pub object: DirOpArgs3<'a>,
    }
}

/// `REMOVE3res`: the directory's WCC data (`dir_wcc`) on both arms.
pub type RemoveRes = NfsRes<WccData, WccData>;

wire_struct! {
    /// `RMDIR3args`.
    pub struct RmdirArgs<'a> {
        /// The parent directory and the name of the directory to remove.
        pub object: DirOpArgs3<'a>,
    }
}

/// `RMDIR3res`: the parent's WCC data (`dir_wcc`) on both arms.
pub type RmdirRes = NfsRes<WccData, WccData>;

wire_struct! {
    /// `RENAME3args`.
    pub struct RenameArgs<'a> {
        /// The source directory and name.
        pub from: DirOpArgs3<'a>,
        /// The target directory and name.
        pub to: DirOpArgs3<'a>,
    }
}

wire_struct! {
    /// `RENAME3resok` and `RENAME3resfail`: both directories' WCC data.
    pub struct RenameWcc {
        /// The source directory's WCC data.
        pub fromdir_wcc: WccData,
        /// The target directory's WCC data.
        pub todir_wcc: WccData,
    }
}

/// `RENAME3res`: both directories' WCC data on both arms.
pub type RenameRes = NfsRes<RenameWcc, RenameWcc>;

wire_struct! {
    /// `LINK3args`.
    pub struct LinkArgs<'a> {
        /// The existing file.
        pub file: FileHandle<'a>,
        /// The directory and name of the new link.
        pub link: DirOpArgs3<'a>,
    }
}

wire_struct! {
    /// `LINK3resok` and `LINK3resfail`: the file's attributes and the directory's WCC data.
    pub struct LinkWcc {
        /// The file's attributes.
        pub file_attributes: PostOpAttr,
        /// The directory's WCC data.
        pub linkdir_wcc: WccData,
    }
}

/// `LINK3res`: the same shape on both arms.
pub type LinkRes = NfsRes<LinkWcc, LinkWcc>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nfs3::testutil::{ATTR, WCC, roundtrip, words};
    use crate::nfs3::{
        DeviceData3, FType3, Filename, Limits, NfsPath, NfsStat3, SpecData3, Verifier, decode_exact_with,
    };
    use crate::xdr::{self, Encode};

    fn dirop<'a>(fh: &'a [u8], name: &'a str) -> DirOpArgs3<'a> {
        DirOpArgs3 { dir: FileHandle::new(fh).unwrap(), name: Filename::from_str(name) }
    }

    #[test]
    fn lookup_args_bytes() {
        let wire = [0, 0, 0, 4, 1, 2, 3, 4, 0, 0, 0, 3, b'a', b'b', b'c', 0];
        let args: LookupArgs<'_> = decode_exact_with(&wire, &Limits::default()).unwrap();
        assert_eq!(args.what.dir.as_bytes(), &[1, 2, 3, 4]);
        assert_eq!(args.what.name.as_bytes(), b"abc");
        let mut buf = [0u8; 16];
        assert_eq!(xdr::encode_to(&args, &mut buf), Ok(16));
        assert_eq!(buf, wire);
        // Non-zero padding after the name.
        let mut bad = wire;
        bad[15] = 1;
        assert_eq!(decode_exact_with::<_, LookupArgs<'_>>(&bad, &Limits::default()), Err(xdr::Error::NonZeroPadding));
    }

    #[test]
    fn long_name_refused() {
        let l = Limits::default();
        let mut wire = words(&[1, 0, 256]);
        wire.extend_from_slice(&[b'x'; 256]);
        assert_eq!(decode_exact_with::<_, LookupArgs<'_>>(&wire, &l), Err(xdr::Error::LengthExceeded));
        let mut wire = words(&[1, 0, 255]);
        wire.extend_from_slice(&[b'x'; 255]);
        wire.push(0);
        assert!(decode_exact_with::<_, LookupArgs<'_>>(&wire, &l).is_ok());
    }

    #[test]
    fn roundtrips() {
        let mut buf = [0u8; 1024];
        let fh = FileHandle::new(&[9; 64]).unwrap();
        let what = dirop(&[1, 2], "name");
        roundtrip(&LookupArgs { what }, &mut buf);
        let ok = LookupResOk { object: fh, obj_attributes: Some(ATTR), dir_attributes: None };
        roundtrip(&LookupRes::Ok(ok), &mut buf);
        roundtrip(&LookupRes::Fail(NfsStat3::NoEnt, Some(ATTR)), &mut buf);

        for how in [CreateHow3::Unchecked(Sattr3::UNCHANGED), CreateHow3::Exclusive(Verifier([1; 8]))] {
            roundtrip(&CreateArgs { where_: what, how }, &mut buf);
        }
        let made = CreateResOk { obj: Some(fh), obj_attributes: Some(ATTR), dir_wcc: WCC };
        roundtrip(&CreateRes::Ok(made), &mut buf);
        roundtrip(&CreateRes::Ok(CreateResOk { obj: None, obj_attributes: None, dir_wcc: WCC }), &mut buf);
        roundtrip(&CreateRes::Fail(NfsStat3::Exist, WCC), &mut buf);

        roundtrip(&MkdirArgs { where_: what, attributes: Sattr3 { mode: Some(0o755), ..Sattr3::UNCHANGED } }, &mut buf);
        roundtrip(&MkdirRes::Ok(made), &mut buf);
        roundtrip(&MkdirRes::Fail(NfsStat3::NoSpc, WCC), &mut buf);

        let symlink = SymlinkData3 { symlink_attributes: Sattr3::UNCHANGED, symlink_data: NfsPath::from_str("../t") };
        roundtrip(&SymlinkArgs { where_: what, symlink }, &mut buf);
        roundtrip(&SymlinkRes::Ok(made), &mut buf);
        roundtrip(&SymlinkRes::Fail(NfsStat3::NotSupp, WCC), &mut buf);

        let dev = DeviceData3 { dev_attributes: Sattr3::UNCHANGED, spec: SpecData3 { specdata1: 1, specdata2: 3 } };
        roundtrip(&MknodArgs { where_: what, what: MknodData3::Chr(dev) }, &mut buf);
        roundtrip(&MknodArgs { where_: what, what: MknodData3::Other(FType3::Dir) }, &mut buf);
        roundtrip(&MknodRes::Ok(made), &mut buf);
        roundtrip(&MknodRes::Fail(NfsStat3::BadType, WCC), &mut buf);

        roundtrip(&RemoveArgs { object: what }, &mut buf);
        roundtrip(&RemoveRes::Ok(WCC), &mut buf);
        roundtrip(&RemoveRes::Fail(NfsStat3::NoEnt, WCC), &mut buf);
        roundtrip(&RmdirArgs { object: what }, &mut buf);
        roundtrip(&RmdirRes::Ok(WCC), &mut buf);
        roundtrip(&RmdirRes::Fail(NfsStat3::NotEmpty, WccData { before: None, after: None }), &mut buf);

        roundtrip(&RenameArgs { from: what, to: dirop(&[3], "other") }, &mut buf);
        let both = RenameWcc { fromdir_wcc: WCC, todir_wcc: WCC };
        roundtrip(&RenameRes::Ok(both), &mut buf);
        roundtrip(&RenameRes::Fail(NfsStat3::XDev, both), &mut buf);

        roundtrip(&LinkArgs { file: fh, link: what }, &mut buf);
        let link = LinkWcc { file_attributes: Some(ATTR), linkdir_wcc: WCC };
        roundtrip(&LinkRes::Ok(link), &mut buf);
        roundtrip(&LinkRes::Fail(NfsStat3::MLink, link), &mut buf);
    }

    #[test]
    fn symlink_path_bounded() {
        let target = [b'p'; 1025];
        let args = SymlinkArgs {
            where_: dirop(&[1], "l"),
            symlink: SymlinkData3 { symlink_attributes: Sattr3::UNCHANGED, symlink_data: NfsPath::new(&target) },
        };
        let mut buf = [0u8; 2048];
        let n = xdr::encode_to(&args, &mut buf).unwrap();
        assert_eq!(n, args.encoded_len());
        let l = Limits::default();
        assert_eq!(decode_exact_with::<_, SymlinkArgs<'_>>(&buf[..n], &l), Err(xdr::Error::LengthExceeded));
        let wide = Limits { max_path: 1025, ..l };
        assert_eq!(decode_exact_with::<_, SymlinkArgs<'_>>(&buf[..n], &wide), Ok(args));
    }
}
