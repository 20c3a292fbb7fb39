//! Types shared by the NFSv3 procedures (RFC 1813 §2.5–2.6 and §3.3): status and type enums,
//! handles, names, times, attributes, weak cache consistency data, settable attributes, and the
//! `nfsstat3` result union [`NfsRes`].
//!
//! Bounds: a [`FileHandle`] is at most [`FHSIZE`] bytes; a [`Filename`] at most
//! [`Limits::max_name`] and an [`NfsPath`] at most [`Limits::max_path`] bytes when decoded (the
//! `.x` file leaves `filename3`/`nfspath3` unbounded, so encoding accepts any length up to
//! `u32::MAX`). All lengths are checked before the bytes are read.

use super::{DecodeWith, FHSIZE, Limits, decode_with_plain, wire_struct};
use crate::xdr::{self, Decode, Encode, Opaque, Reader, Writer};
use crate::xdr_enum;

xdr_enum! {
    /// `nfsstat3`: the status of every NFSv3 result.
    pub enum NfsStat3 {
        Ok = 0, Perm = 1, NoEnt = 2, Io = 5, NxIo = 6, Acces = 13, Exist = 17, XDev = 18, NoDev = 19,
        NotDir = 20, IsDir = 21, Inval = 22, FBig = 27, NoSpc = 28, RoFs = 30, MLink = 31,
        NameTooLong = 63, NotEmpty = 66, DQuot = 69, Stale = 70, Remote = 71, BadHandle = 10001,
        NotSync = 10002, BadCookie = 10003, NotSupp = 10004, TooSmall = 10005, ServerFault = 10006,
        BadType = 10007, Jukebox = 10008,
    }
}

xdr_enum! {
    /// `ftype3`: the type of a file.
    pub enum FType3 { Reg = 1, Dir = 2, Blk = 3, Chr = 4, Lnk = 5, Sock = 6, Fifo = 7 }
}

xdr_enum! {
    /// `stable_how`: how far a WRITE must reach stable storage before the reply.
    pub enum StableHow { Unstable = 0, DataSync = 1, FileSync = 2 }
}

xdr_enum! {
    /// `createmode3`: how CREATE treats an existing file.
    pub enum CreateMode3 { Unchecked = 0, Guarded = 1, Exclusive = 2 }
}

xdr_enum! {
    /// `time_how`: how SETATTR sets a time.
    pub enum TimeHow { DontChange = 0, SetToServerTime = 1, SetToClientTime = 2 }
}

decode_with_plain!(u32, u64, bool, (), NfsStat3, FType3, StableHow, CreateMode3, TimeHow, Verifier);

/// An 8-byte verifier (`cookieverf3`, `createverf3`, `writeverf3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Verifier(pub [u8; 8]);

impl Encode for Verifier {
    fn encoded_len(&self) -> usize {
        8
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        w.put_bytes(&self.0)
    }
}

impl<'a> Decode<'a> for Verifier {
    const MIN_LEN: usize = 8;
    fn decode(r: &mut Reader<'a>) -> xdr::Result<Self> {
        Ok(Verifier(r.array()?))
    }
}

/// `nfs_fh3`: a file handle of at most [`FHSIZE`] (64) bytes, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileHandle<'a>(Opaque<'a, FHSIZE>);

impl<'a> FileHandle<'a> {
    /// Wraps `bytes`; fails with [`xdr::Error::LengthExceeded`] above 64 bytes.
    pub fn new(bytes: &'a [u8]) -> xdr::Result<Self> {
        Ok(FileHandle(Opaque::new(bytes)?))
    }

    /// The handle's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0.as_bytes()
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty handle.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Encode for FileHandle<'_> {
    fn encoded_len(&self) -> usize {
        self.0.encoded_len()
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        self.0.encode(w)
    }
}

impl<'a> Decode<'a> for FileHandle<'a> {
    fn decode(r: &mut Reader<'a>) -> xdr::Result<Self> {
        Ok(FileHandle(r.read()?))
    }
}

impl<'a> DecodeWith<'a, Limits> for FileHandle<'a> {
    fn decode_with(r: &mut Reader<'a>, _: &Limits) -> xdr::Result<Self> {
        r.read()
    }
}

/// Defines a borrowed `string<>` bounded on decode by one field of [`Limits`].
macro_rules! bounded_str {
    ($(#[$m:meta])* $name:ident, $field:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name<'a>(&'a [u8]);

        impl<'a> $name<'a> {
            /// Wraps raw bytes (the wire has no character set).
            pub const fn new(bytes: &'a [u8]) -> Self {
                $name(bytes)
            }

            /// Wraps a string's bytes.
            pub const fn from_str(s: &'a str) -> Self {
                $name(s.as_bytes())
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &'a [u8] {
                self.0
            }

            /// The bytes as UTF-8 text, `None` when they are not valid UTF-8.
            pub fn to_str(&self) -> Option<&'a str> {
                core::str::from_utf8(self.0).ok()
            }

            /// Number of bytes.
            pub fn len(&self) -> usize {
                self.0.len()
            }

            /// True when empty.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl Encode for $name<'_> {
            fn encoded_len(&self) -> usize {
                4 + xdr::padded(self.0.len())
            }
            fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
                w.put_var_opaque(self.0, u32::MAX)
            }
        }

        impl<'a> DecodeWith<'a, Limits> for $name<'a> {
            fn decode_with(r: &mut Reader<'a>, l: &Limits) -> xdr::Result<Self> {
                Ok($name(r.var_opaque(l.$field)?))
            }
        }
    };
}

bounded_str! {
    /// `filename3`: one path component, at most [`Limits::max_name`] bytes when decoded.
    Filename, max_name
}

bounded_str! {
    /// `nfspath3`: a symbolic link's target, at most [`Limits::max_path`] bytes when decoded.
    NfsPath, max_path
}

wire_struct! {
    /// `specdata3`: the major and minor numbers of a device.
    pub struct SpecData3 {
        /// Major number.
        pub specdata1: u32,
        /// Minor number.
        pub specdata2: u32,
    }
}

wire_struct! {
    /// `nfstime3`: seconds and nanoseconds since 1970-01-01 UTC.
    pub struct NfsTime {
        /// Seconds.
        pub seconds: u32,
        /// Nanoseconds (below 10^9 when sent by a correct peer; not checked).
        pub nseconds: u32,
    }
}

wire_struct! {
    /// `fattr3`: a file's attributes (84 bytes on the wire).
    pub struct Fattr3 {
        /// File type.
        pub ftype: FType3,
        /// Protection mode bits (the low 12 bits of `st_mode`).
        pub mode: u32,
        /// Number of hard links.
        pub nlink: u32,
        /// Owner.
        pub uid: u32,
        /// Group.
        pub gid: u32,
        /// Size in bytes.
        pub size: u64,
        /// Bytes of disk space used.
        pub used: u64,
        /// Device numbers for block and character devices.
        pub rdev: SpecData3,
        /// File system identifier.
        pub fsid: u64,
        /// File number, unique within the file system.
        pub fileid: u64,
        /// Last access.
        pub atime: NfsTime,
        /// Last data change.
        pub mtime: NfsTime,
        /// Last attribute change.
        pub ctime: NfsTime,
    }
}

wire_struct! {
    /// `wcc_attr`: the attributes weak cache consistency compares before an operation.
    pub struct WccAttr {
        /// Size in bytes.
        pub size: u64,
        /// Last data change.
        pub mtime: NfsTime,
        /// Last attribute change.
        pub ctime: NfsTime,
    }
}

/// `post_op_attr`: attributes after an operation, when the server has them.
pub type PostOpAttr = Option<Fattr3>;
/// `pre_op_attr`: attributes before an operation, when the server has them.
pub type PreOpAttr = Option<WccAttr>;
/// `post_op_fh3`: the handle of a new object, when the server returns it.
pub type PostOpFh3<'a> = Option<FileHandle<'a>>;
/// `sattrguard3`: SETATTR proceeds only if the object's ctime equals this time.
pub type SetattrGuard = Option<NfsTime>;

wire_struct! {
    /// `wcc_data`: weak cache consistency data of a mutating call (RFC 1813 §2.6).
    pub struct WccData {
        /// Attributes before the operation.
        pub before: PreOpAttr,
        /// Attributes after the operation.
        pub after: PostOpAttr,
    }
}

/// `set_atime` / `set_mtime`: how to change a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetTime {
    /// `DONT_CHANGE`.
    #[default]
    DontChange,
    /// `SET_TO_SERVER_TIME`: the server's current time.
    ServerTime,
    /// `SET_TO_CLIENT_TIME`: this time.
    ClientTime(NfsTime),
}

impl Encode for SetTime {
    fn encoded_len(&self) -> usize {
        if let SetTime::ClientTime(_) = self { 12 } else { 4 }
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        match self {
            SetTime::DontChange => w.write(&TimeHow::DontChange),
            SetTime::ServerTime => w.write(&TimeHow::SetToServerTime),
            SetTime::ClientTime(t) => {
                w.write(&TimeHow::SetToClientTime)?;
                w.write(t)
            }
        }
    }
}

impl<'a> DecodeWith<'a, Limits> for SetTime {
    /// Fails with [`xdr::Error::InvalidDiscriminant`] for a `time_how` outside the RFC.
    fn decode_with(r: &mut Reader<'a>, l: &Limits) -> xdr::Result<Self> {
        match r.read::<TimeHow>()? {
            TimeHow::DontChange => Ok(SetTime::DontChange),
            TimeHow::SetToServerTime => Ok(SetTime::ServerTime),
            TimeHow::SetToClientTime => Ok(SetTime::ClientTime(NfsTime::decode_with(r, l)?)),
            TimeHow::Unknown(_) => Err(xdr::Error::InvalidDiscriminant),
        }
    }
}

wire_struct! {
    /// `sattr3`: the attributes a client sets (`None` leaves a value unchanged).
    pub struct Sattr3 {
        /// `set_mode3`.
        pub mode: Option<u32>,
        /// `set_uid3`.
        pub uid: Option<u32>,
        /// `set_gid3`.
        pub gid: Option<u32>,
        /// `set_size3`.
        pub size: Option<u64>,
        /// `set_atime`.
        pub atime: SetTime,
        /// `set_mtime`.
        pub mtime: SetTime,
    }
}

impl Sattr3 {
    /// Changes nothing.
    pub const UNCHANGED: Sattr3 =
        Sattr3 { mode: None, uid: None, gid: None, size: None, atime: SetTime::DontChange, mtime: SetTime::DontChange };
}

impl Default for Sattr3 {
    fn default() -> Self {
        Sattr3::UNCHANGED
    }
}

wire_struct! {
    /// `diropargs3`: a name in a directory.
    pub struct DirOpArgs3<'a> {
        /// The directory.
        pub dir: FileHandle<'a>,
        /// The name.
        pub name: Filename<'a>,
    }
}

/// `createhow3`: the CREATE mode and its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateHow3 {
    /// `UNCHECKED`: create, or truncate an existing file per the attributes.
    Unchecked(Sattr3),
    /// `GUARDED`: fail with `NFS3ERR_EXIST` if the name exists.
    Guarded(Sattr3),
    /// `EXCLUSIVE`: create with this verifier stored, so that a retransmission succeeds.
    Exclusive(Verifier),
}

impl Encode for CreateHow3 {
    fn encoded_len(&self) -> usize {
        4 + match self {
            CreateHow3::Unchecked(a) | CreateHow3::Guarded(a) => a.encoded_len(),
            CreateHow3::Exclusive(v) => v.encoded_len(),
        }
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        match self {
            CreateHow3::Unchecked(a) => {
                w.write(&CreateMode3::Unchecked)?;
                w.write(a)
            }
            CreateHow3::Guarded(a) => {
                w.write(&CreateMode3::Guarded)?;
                w.write(a)
            }
            CreateHow3::Exclusive(v) => {
                w.write(&CreateMode3::Exclusive)?;
                w.write(v)
            }
        }
    }
}

impl<'a> DecodeWith<'a, Limits> for CreateHow3 {
    /// Fails with [`xdr::Error::InvalidDiscriminant`] for an unknown `createmode3`.
    fn decode_with(r: &mut Reader<'a>, l: &Limits) -> xdr::Result<Self> {
        match r.read::<CreateMode3>()? {
            CreateMode3::Unchecked => Ok(CreateHow3::Unchecked(Sattr3::decode_with(r, l)?)),
            CreateMode3::Guarded => Ok(CreateHow3::Guarded(Sattr3::decode_with(r, l)?)),
            CreateMode3::Exclusive => Ok(CreateHow3::Exclusive(r.read()?)),
            CreateMode3::Unknown(_) => Err(xdr::Error::InvalidDiscriminant),
        }
    }
}

wire_struct! {
    /// `symlinkdata3`: a new link's attributes and target.
    pub struct SymlinkData3<'a> {
        /// Attributes of the link.
        pub symlink_attributes: Sattr3,
        /// The target path.
        pub symlink_data: NfsPath<'a>,
    }
}

wire_struct! {
    /// `devicedata3`: a new device's attributes and numbers.
    pub struct DeviceData3 {
        /// Attributes of the device node.
        pub dev_attributes: Sattr3,
        /// Major and minor numbers.
        pub spec: SpecData3,
    }
}

/// `mknoddata3`: what MKNOD creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MknodData3 {
    /// `NF3CHR`: a character device.
    Chr(DeviceData3),
    /// `NF3BLK`: a block device.
    Blk(DeviceData3),
    /// `NF3SOCK`: a socket.
    Sock(Sattr3),
    /// `NF3FIFO`: a named pipe.
    Fifo(Sattr3),
    /// Any other type (the `default: void` arm): the server answers `NFS3ERR_BADTYPE`. Holding
    /// `Chr`, `Blk`, `Sock` or `Fifo` here is refused by `encode`.
    Other(FType3),
}

impl Encode for MknodData3 {
    fn encoded_len(&self) -> usize {
        4 + match self {
            MknodData3::Chr(d) | MknodData3::Blk(d) => d.encoded_len(),
            MknodData3::Sock(a) | MknodData3::Fifo(a) => a.encoded_len(),
            MknodData3::Other(_) => 0,
        }
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        match self {
            MknodData3::Chr(d) => {
                w.write(&FType3::Chr)?;
                w.write(d)
            }
            MknodData3::Blk(d) => {
                w.write(&FType3::Blk)?;
                w.write(d)
            }
            MknodData3::Sock(a) => {
                w.write(&FType3::Sock)?;
                w.write(a)
            }
            MknodData3::Fifo(a) => {
                w.write(&FType3::Fifo)?;
                w.write(a)
            }
            MknodData3::Other(FType3::Chr | FType3::Blk | FType3::Sock | FType3::Fifo) => {
                Err(xdr::Error::InvalidDiscriminant)
            }
            MknodData3::Other(t) => w.write(t),
        }
    }
}

impl<'a> DecodeWith<'a, Limits> for MknodData3 {
    fn decode_with(r: &mut Reader<'a>, l: &Limits) -> xdr::Result<Self> {
        Ok(match r.read::<FType3>()? {
            FType3::Chr => MknodData3::Chr(DeviceData3::decode_with(r, l)?),
            FType3::Blk => MknodData3::Blk(DeviceData3::decode_with(r, l)?),
            FType3::Sock => MknodData3::Sock(Sattr3::decode_with(r, l)?),
            FType3::Fifo => MknodData3::Fifo(Sattr3::decode_with(r, l)?),
            other => MknodData3::Other(other),
        })
    }
}

/// An NFSv3 result: `union switch (nfsstat3 status) { case NFS3_OK: T resok; default: F resfail; }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NfsRes<T, F> {
    /// `NFS3_OK` and the `resok` arm.
    Ok(T),
    /// Any other status and the `resfail` arm. `encode` refuses `NfsStat3::Ok` here.
    Fail(NfsStat3, F),
}

impl<T, F> NfsRes<T, F> {
    /// The status on the wire.
    pub fn status(&self) -> NfsStat3 {
        match self {
            NfsRes::Ok(_) => NfsStat3::Ok,
            NfsRes::Fail(s, _) => *s,
        }
    }

    /// The `resok` arm, if any.
    pub fn ok(&self) -> Option<&T> {
        match self {
            NfsRes::Ok(t) => Some(t),
            NfsRes::Fail(..) => None,
        }
    }
}

impl<T: Encode, F: Encode> Encode for NfsRes<T, F> {
    fn encoded_len(&self) -> usize {
        4 + match self {
            NfsRes::Ok(t) => t.encoded_len(),
            NfsRes::Fail(_, f) => f.encoded_len(),
        }
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        match self {
            NfsRes::Ok(t) => {
                w.write(&NfsStat3::Ok)?;
                w.write(t)
            }
            NfsRes::Fail(NfsStat3::Ok, _) => Err(xdr::Error::InvalidDiscriminant),
            NfsRes::Fail(s, f) => {
                w.write(s)?;
                w.write(f)
            }
        }
    }
}

impl<'a, T: DecodeWith<'a, Limits>, F: DecodeWith<'a, Limits>> DecodeWith<'a, Limits> for NfsRes<T, F> {
    fn decode_with(r: &mut Reader<'a>, l: &Limits) -> xdr::Result<Self> {
        match r.read::<NfsStat3>()? {
            NfsStat3::Ok => Ok(NfsRes::Ok(T::decode_with(r, l)?)),
            s => Ok(NfsRes::Fail(s, F::decode_with(r, l)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nfs3::decode_exact_with;
    use crate::nfs3::testutil::{ATTR, WCC, roundtrip, words};

    #[test]
    fn handle_bounds() {
        assert_eq!(FileHandle::new(&[7; 65]), Err(xdr::Error::LengthExceeded));
        let mut wire = [0u8; 4 + 68];
        wire[..4].copy_from_slice(&65u32.to_be_bytes());
        let l = Limits::default();
        assert_eq!(decode_exact_with::<_, FileHandle<'_>>(&wire, &l), Err(xdr::Error::LengthExceeded));
        wire[..4].copy_from_slice(&64u32.to_be_bytes());
        let fh: FileHandle<'_> = decode_exact_with(&wire[..68], &l).unwrap();
        assert_eq!(fh.len(), 64);
    }

    #[test]
    fn name_bounds_checked_before_bytes() {
        let l = Limits::default();
        // Only the length word: the bound is checked before the (missing) bytes.
        let wire = 256u32.to_be_bytes();
        assert_eq!(decode_exact_with::<_, Filename<'_>>(&wire, &l), Err(xdr::Error::LengthExceeded));
        let wire = 1025u32.to_be_bytes();
        assert_eq!(decode_exact_with::<_, NfsPath<'_>>(&wire, &l), Err(xdr::Error::LengthExceeded));
        let mut wire = [0u8; 4 + 256];
        wire[..4].copy_from_slice(&255u32.to_be_bytes());
        assert!(decode_exact_with::<_, Filename<'_>>(&wire, &l).is_ok());
        let tight = Limits { max_name: 3, ..l };
        assert!(decode_exact_with::<_, Filename<'_>>(&[0, 0, 0, 4, b'a', b'b', b'c', b'd'], &tight).is_err());
        assert!(decode_exact_with::<_, Filename<'_>>(&[0, 0, 0, 3, b'a', b'b', b'c', 0], &tight).is_ok());
    }

    #[test]
    fn common_roundtrips() {
        let mut buf = [0u8; 512];
        roundtrip(&ATTR, &mut buf);
        roundtrip(&WCC, &mut buf);
        roundtrip(&WccData { before: None, after: None }, &mut buf);
        roundtrip(&Some(ATTR), &mut buf);
        for t in [SetTime::DontChange, SetTime::ServerTime, SetTime::ClientTime(NfsTime { seconds: 1, nseconds: 2 })] {
            roundtrip(&Sattr3 { mode: Some(0o644), size: Some(0), atime: t, mtime: t, ..Sattr3::UNCHANGED }, &mut buf);
        }
        roundtrip(&CreateHow3::Guarded(Sattr3::UNCHANGED), &mut buf);
        roundtrip(&CreateHow3::Unchecked(Sattr3 { uid: Some(1), gid: Some(2), ..Sattr3::UNCHANGED }), &mut buf);
        roundtrip(&CreateHow3::Exclusive(Verifier(*b"verifier")), &mut buf);
        let dev = DeviceData3 { dev_attributes: Sattr3::UNCHANGED, spec: SpecData3 { specdata1: 8, specdata2: 1 } };
        for m in [
            MknodData3::Chr(dev),
            MknodData3::Blk(dev),
            MknodData3::Sock(Sattr3::UNCHANGED),
            MknodData3::Fifo(Sattr3::UNCHANGED),
            MknodData3::Other(FType3::Reg),
            MknodData3::Other(FType3::Unknown(99)),
        ] {
            roundtrip(&m, &mut buf);
        }
        let name = DirOpArgs3 { dir: FileHandle::new(&[1, 2, 3]).unwrap(), name: Filename::from_str("abcde") };
        roundtrip(&name, &mut buf);
        roundtrip(&NfsRes::<Fattr3, ()>::Ok(ATTR), &mut buf);
        roundtrip(&NfsRes::<Fattr3, ()>::Fail(NfsStat3::Jukebox, ()), &mut buf);
        roundtrip(&NfsRes::<Fattr3, ()>::Fail(NfsStat3::Unknown(12345), ()), &mut buf);
    }

    #[test]
    fn refused_discriminants() {
        let l = Limits::default();
        // time_how 3 in set_atime.
        let wire = words(&[0, 0, 0, 0, 3, 0]);
        assert_eq!(decode_exact_with::<_, Sattr3>(&wire, &l), Err(xdr::Error::InvalidDiscriminant));
        assert_eq!(decode_exact_with::<_, CreateHow3>(&3u32.to_be_bytes(), &l), Err(xdr::Error::InvalidDiscriminant));
        // A bool other than 0/1 in set_mode3.
        let wire = words(&[2, 0, 0, 0, 0, 0]);
        assert_eq!(decode_exact_with::<_, Sattr3>(&wire, &l), Err(xdr::Error::InvalidBool));
        let mut buf = [0u8; 64];
        let bad: NfsRes<(), ()> = NfsRes::Fail(NfsStat3::Ok, ());
        assert_eq!(xdr::encode_to(&bad, &mut buf), Err(xdr::Error::InvalidDiscriminant));
        assert_eq!(xdr::encode_to(&MknodData3::Other(FType3::Fifo), &mut buf), Err(xdr::Error::InvalidDiscriminant));
    }
}
