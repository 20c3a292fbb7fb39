//! File I/O: READLINK (§3.3.5), READ (§3.3.6), WRITE (§3.3.7) and COMMIT (§3.3.21).
//!
//! Invariants:
//! - READ result data and WRITE argument data are slices borrowed from the message, at most
//!   [`Limits::max_data`] bytes when decoded (checked on the length word, before the bytes).
//! - The `count` word before WRITE's data (and READ's result data) must equal the data's length,
//!   as Linux's nfsd (WRITE) and Linux's client (READ) require; a mismatch fails with
//!   [`xdr::Error::LengthExceeded`]. [`WriteArgs`] and [`ReadResOk`] therefore hold no `count`:
//!   encoding writes the data's length twice. WRITE's *result* `count` (bytes actually written)
//!   and READ's *argument* `count` (bytes wanted) are ordinary fields.
//! - [`encode_read_in_place`] lets a server read file data straight into the reply buffer.

use super::wire_struct;
use super::{DecodeWith, FileHandle, Limits, NfsPath, NfsRes, NfsStat3, PostOpAttr, StableHow, Verifier, WccData};
use crate::xdr::{self, Encode, Reader, Writer, padded};

/// Reads `count` then an `opaque<>` that must be `count` bytes long and at most `max` bytes.
fn counted_data<'a>(r: &mut Reader<'a>, count: u32, max: u32) -> xdr::Result<&'a [u8]> {
    let len = r.u32()?;
    if len > max || len != count {
        return Err(xdr::Error::LengthExceeded);
    }
    r.fixed_opaque(len as usize)
}

/// The data's length as a `count3`.
fn data_count(data: &[u8]) -> xdr::Result<u32> {
    u32::try_from(data.len()).map_err(|_| xdr::Error::LengthExceeded)
}

wire_struct! {
    /// `READLINK3args`.
    pub struct ReadlinkArgs<'a> {
        /// The symbolic link.
        pub symlink: FileHandle<'a>,
    }
}

wire_struct! {
    /// `READLINK3resok`.
    pub struct ReadlinkResOk<'a> {
        /// The link's attributes.
        pub symlink_attributes: PostOpAttr,
        /// The target, at most [`Limits::max_path`] bytes when decoded.
        pub data: NfsPath<'a>,
    }
}

/// `READLINK3res`: the target, or the link's attributes (`symlink_attributes`).
pub type ReadlinkRes<'a> = NfsRes<ReadlinkResOk<'a>, PostOpAttr>;

wire_struct! {
    /// `READ3args`.
    pub struct ReadArgs<'a> {
        /// The file.
        pub file: FileHandle<'a>,
        /// Where to start.
        pub offset: u64,
        /// Bytes wanted (the server may return fewer, e.g. at most its `rtmax`).
        pub count: u32,
    }
}

/// `READ3resok`; the wire's `count` is `data.len()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadResOk<'a> {
    /// The file's attributes.
    pub file_attributes: PostOpAttr,
    /// True when the data ends at the end of the file.
    pub eof: bool,
    /// The data read, borrowed.
    pub data: &'a [u8],
}

impl Encode for ReadResOk<'_> {
    fn encoded_len(&self) -> usize {
        self.file_attributes.encoded_len() + 12 + padded(self.data.len())
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        let count = data_count(self.data)?;
        w.write(&self.file_attributes)?;
        w.put_u32(count)?;
        w.write(&self.eof)?;
        w.put_u32(count)?;
        w.put_fixed_opaque(self.data)
    }
}

impl<'a> DecodeWith<'a, Limits> for ReadResOk<'a> {
    fn decode_with(r: &mut Reader<'a>, l: &Limits) -> xdr::Result<Self> {
        let file_attributes = PostOpAttr::decode_with(r, l)?;
        let count = r.u32()?;
        let eof = r.read()?;
        Ok(ReadResOk { file_attributes, eof, data: counted_data(r, count, l.max_data)? })
    }
}

/// `READ3res`: the data, or the file's attributes (`file_attributes`).
pub type ReadRes<'a> = NfsRes<ReadResOk<'a>, PostOpAttr>;

/// Writes a READ result into `w` with the data produced in place: `fill` gets a zeroed buffer of
/// at most `count` bytes (fewer when `w` has less room) and returns how many bytes it filled and
/// whether they end at the end of the file, or a status for a failed read, which is then encoded
/// as `READ3resfail` with `file_attributes`. Returns the status written; fails with
/// [`xdr::Error::BufferFull`] when `w` cannot hold even an empty result, and with
/// [`xdr::Error::LengthExceeded`] when `fill` claims more bytes than it was given.
pub fn encode_read_in_place(
    w: &mut Writer<'_>,
    file_attributes: &PostOpAttr,
    count: u32,
    fill: impl FnOnce(&mut [u8]) -> Result<(usize, bool), NfsStat3>,
) -> xdr::Result<NfsStat3> {
    let start = w.position();
    let header = 4 + file_attributes.encoded_len() + 12;
    let room = w.remaining().checked_sub(header).ok_or(xdr::Error::BufferFull)?;
    let avail = (count as usize).min(room & !3);
    w.write(&NfsStat3::Ok)?;
    w.write(file_attributes)?;
    let at = w.position();
    w.put_bytes(&[0; 12])?;
    let filled = {
        let mut tail = w.tail();
        let zeros = [0u8; 256];
        let mut left = avail;
        while left > 0 {
            let n = left.min(zeros.len());
            tail.put_bytes(&zeros[..n])?;
            left -= n;
        }
        fill(tail.into_written())
    };
    match filled {
        Ok((n, eof)) if n <= avail => {
            let n32 = u32::try_from(n).map_err(|_| xdr::Error::LengthExceeded)?;
            w.patch_u32(at, n32)?;
            w.patch_u32(at + 4, u32::from(eof))?;
            w.patch_u32(at + 8, n32)?;
            // `fill` may have written past `n`: the padding is zeroed again.
            w.advance(n)?;
            w.put_bytes(&[0; 3][..padded(n) - n])?;
            Ok(NfsStat3::Ok)
        }
        Ok(_) => {
            w.truncate(start);
            Err(xdr::Error::LengthExceeded)
        }
        Err(status) => {
            w.truncate(start);
            let status = if status == NfsStat3::Ok { NfsStat3::ServerFault } else { status };
            w.write(&ReadRes::Fail(status, *file_attributes))?;
            Ok(status)
        }
    }
}

/// `WRITE3args`; the wire's `count` is `data.len()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteArgs<'a> {
    /// The file.
    pub file: FileHandle<'a>,
    /// Where to start.
    pub offset: u64,
    /// How far the data must reach stable storage before the reply.
    pub stable: StableHow,
    /// The data, borrowed; at most [`Limits::max_data`] bytes when decoded.
    pub data: &'a [u8],
}

impl Encode for WriteArgs<'_> {
    fn encoded_len(&self) -> usize {
        self.file.encoded_len() + 8 + 4 + 4 + 4 + padded(self.data.len())
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        let count = data_count(self.data)?;
        w.write(&self.file)?;
        w.put_u64(self.offset)?;
        w.put_u32(count)?;
        w.write(&self.stable)?;
        w.put_u32(count)?;
        w.put_fixed_opaque(self.data)
    }
}

impl<'a> DecodeWith<'a, Limits> for WriteArgs<'a> {
    fn decode_with(r: &mut Reader<'a>, l: &Limits) -> xdr::Result<Self> {
        let file = r.read()?;
        let offset = r.u64()?;
        let count = r.u32()?;
        let stable = r.read()?;
        Ok(WriteArgs { file, offset, stable, data: counted_data(r, count, l.max_data)? })
    }
}

wire_struct! {
    /// `WRITE3resok`.
    pub struct WriteResOk {
        /// The file's WCC data.
        pub file_wcc: WccData,
        /// Bytes written (may be fewer than sent).
        pub count: u32,
        /// How far the data reached (at least the request's `stable`).
        pub committed: StableHow,
        /// The server's write verifier; it changes when the server restarts.
        pub verf: Verifier,
    }
}

/// `WRITE3res`: the outcome, or the file's WCC data (`file_wcc`).
pub type WriteRes = NfsRes<WriteResOk, WccData>;

wire_struct! {
    /// `COMMIT3args`.
    pub struct CommitArgs<'a> {
        /// The file.
        pub file: FileHandle<'a>,
        /// Start of the range to commit.
        pub offset: u64,
        /// Bytes to commit; 0 means to the end of the file.
        pub count: u32,
    }
}

wire_struct! {
    /// `COMMIT3resok`.
    pub struct CommitResOk {
        /// The file's WCC data.
        pub file_wcc: WccData,
        /// The server's write verifier (the same as WRITE's).
        pub verf: Verifier,
    }
}

/// `COMMIT3res`: the verifier, or the file's WCC data (`file_wcc`).
pub type CommitRes = NfsRes<CommitResOk, WccData>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nfs3::decode_exact_with;
    use crate::nfs3::testutil::{ATTR, WCC, roundtrip, words};

    #[test]
    fn write_args_bytes() {
        let args = WriteArgs {
            file: FileHandle::new(&[0xf0, 0x0d]).unwrap(),
            offset: 0x1_0000_0002,
            stable: StableHow::FileSync,
            data: b"hello",
        };
        let mut expect = words(&[2, 0xf00d_0000, 1, 2, 5, 2, 5]);
        expect.extend_from_slice(b"hello\0\0\0");
        let mut buf = [0u8; 64];
        let n = xdr::encode_to(&args, &mut buf).unwrap();
        assert_eq!(&buf[..n], &expect[..]);
        assert_eq!(n, args.encoded_len());
        let back: WriteArgs<'_> = decode_exact_with(&expect, &Limits::default()).unwrap();
        assert_eq!(back, args);
        // Zero-copy: the data is the input's bytes.
        assert_eq!(back.data.as_ptr(), expect[28..].as_ptr());
    }

    #[test]
    fn write_count_must_match() {
        let l = Limits::default();
        let mut wire = words(&[0, 0, 0, 4, 0, 5]);
        wire.extend_from_slice(b"hello\0\0\0");
        assert_eq!(decode_exact_with::<_, WriteArgs<'_>>(&wire, &l), Err(xdr::Error::LengthExceeded));
        wire[15] = 5;
        assert!(decode_exact_with::<_, WriteArgs<'_>>(&wire, &l).is_ok());
        let mut res = words(&[0, 4, 1, 5]);
        res.extend_from_slice(b"hello\0\0\0");
        assert_eq!(decode_exact_with::<_, ReadResOk<'_>>(&res, &l), Err(xdr::Error::LengthExceeded));
    }

    #[test]
    fn data_over_max_refused() {
        let l = Limits { max_data: 8, ..Limits::default() };
        let mut wire = words(&[0, 0, 0, 9, 0, 9]);
        // Only the length word: refused before the bytes are looked at.
        assert_eq!(decode_exact_with::<_, WriteArgs<'_>>(&wire, &l), Err(xdr::Error::LengthExceeded));
        wire.extend_from_slice(&[1; 12]);
        assert_eq!(decode_exact_with::<_, WriteArgs<'_>>(&wire, &l), Err(xdr::Error::LengthExceeded));
        let read = words(&[0, 0, 9, 0, 9, 0, 0, 0]);
        assert_eq!(decode_exact_with::<_, ReadRes<'_>>(&read, &l), Err(xdr::Error::LengthExceeded));
        // Default limit: 1 MiB.
        let big = words(&[0, 0, 0, 0x10_0001, 0, 0x10_0001]);
        let d = Limits::default();
        assert_eq!(decode_exact_with::<_, WriteArgs<'_>>(&big, &d), Err(xdr::Error::LengthExceeded));
    }

    #[test]
    fn roundtrips() {
        let mut buf = [0u8; 1024];
        let file = FileHandle::new(&[4; 32]).unwrap();
        roundtrip(&ReadlinkArgs { symlink: file }, &mut buf);
        let ok = ReadlinkResOk { symlink_attributes: Some(ATTR), data: NfsPath::from_str("/a/b") };
        roundtrip(&ReadlinkRes::Ok(ok), &mut buf);
        roundtrip(&ReadlinkRes::Fail(NfsStat3::Inval, None), &mut buf);
        roundtrip(&ReadArgs { file, offset: 7, count: 4096 }, &mut buf);
        roundtrip(&ReadRes::Ok(ReadResOk { file_attributes: Some(ATTR), eof: true, data: b"abc" }), &mut buf);
        roundtrip(&ReadRes::Ok(ReadResOk { file_attributes: None, eof: false, data: b"" }), &mut buf);
        roundtrip(&ReadRes::Fail(NfsStat3::Io, Some(ATTR)), &mut buf);
        for stable in [StableHow::Unstable, StableHow::DataSync, StableHow::Unknown(9)] {
            roundtrip(&WriteArgs { file, offset: 1, stable, data: b"12345678" }, &mut buf);
        }
        let wok = WriteResOk { file_wcc: WCC, count: 8, committed: StableHow::FileSync, verf: Verifier(*b"bootverf") };
        roundtrip(&WriteRes::Ok(wok), &mut buf);
        roundtrip(&WriteRes::Fail(NfsStat3::RoFs, WCC), &mut buf);
        roundtrip(&CommitArgs { file, offset: 0, count: 0 }, &mut buf);
        roundtrip(&CommitRes::Ok(CommitResOk { file_wcc: WCC, verf: Verifier([7; 8]) }), &mut buf);
        roundtrip(&CommitRes::Fail(NfsStat3::Io, WCC), &mut buf);
    }

    #[test]
    fn read_in_place() {
        let l = Limits::default();
        let mut buf = [0xffu8; 200];
        let mut w = Writer::new(&mut buf);
        let st = encode_read_in_place(&mut w, &Some(ATTR), 10, |b| {
            assert_eq!(b.len(), 10);
            b.copy_from_slice(b"hello, you");
            Ok((5, true))
        });
        assert_eq!(st, Ok(NfsStat3::Ok));
        let res: ReadRes<'_> = decode_exact_with(w.written(), &l).unwrap();
        assert_eq!(res, ReadRes::Ok(ReadResOk { file_attributes: Some(ATTR), eof: true, data: b"hello" }));

        // Room for the header and 9 bytes: the buffer offered is cut to 8 (padding must fit).
        let mut small = [0u8; 4 + 4 + 12 + 9];
        let mut w = Writer::new(&mut small);
        let st = encode_read_in_place(&mut w, &None, 100, |b| Ok((b.len(), false)));
        assert_eq!(st, Ok(NfsStat3::Ok));
        let res: ReadRes<'_> = decode_exact_with(w.written(), &l).unwrap();
        assert_eq!(res.ok().map(|r| r.data.len()), Some(8));

        let mut w = Writer::new(&mut buf);
        assert_eq!(encode_read_in_place(&mut w, &None, 8, |_| Err(NfsStat3::Io)), Ok(NfsStat3::Io));
        assert_eq!(decode_exact_with::<_, ReadRes<'_>>(w.written(), &l), Ok(ReadRes::Fail(NfsStat3::Io, None)));
        let mut w = Writer::new(&mut buf);
        assert_eq!(encode_read_in_place(&mut w, &None, 8, |_| Ok((9, false))), Err(xdr::Error::LengthExceeded));
        assert_eq!(w.position(), 0);
        let mut tiny = [0u8; 19];
        let mut w = Writer::new(&mut tiny);
        assert_eq!(encode_read_in_place(&mut w, &None, 8, |_| Ok((0, true))), Err(xdr::Error::BufferFull));
    }
}
