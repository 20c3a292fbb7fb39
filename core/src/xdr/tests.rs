//! Byte-vector tests of the XDR codec, including the RFC 4506 §7 example.

use super::*;
use crate::xdr_enum;

const MAXUSERNAME: u32 = 32;
const MAXFILELEN: u32 = 65535;
const MAXNAMELEN: u32 = 255;

xdr_enum! {
    /// RFC 4506 §7 `filekind`.
    enum FileKind { Text = 0, Data = 1, Exec = 2 }
}

/// RFC 4506 §7 `filetype`: a discriminated union without a default arm.
#[derive(Debug, PartialEq)]
enum FileType<'a> {
    Text,
    Data { creator: XdrStr<'a, MAXNAMELEN> },
    Exec { interpretor: XdrStr<'a, MAXNAMELEN> },
}

impl Encode for FileType<'_> {
    fn encoded_len(&self) -> usize {
        4 + match self {
            FileType::Text => 0,
            FileType::Data { creator: s } | FileType::Exec { interpretor: s } => s.encoded_len(),
        }
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            FileType::Text => w.write(&FileKind::Text),
            FileType::Data { creator } => {
                w.write(&FileKind::Data)?;
                w.write(creator)
            }
            FileType::Exec { interpretor } => {
                w.write(&FileKind::Exec)?;
                w.write(interpretor)
            }
        }
    }
}

impl<'a> Decode<'a> for FileType<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        match FileKind::decode(r)? {
            FileKind::Text => Ok(FileType::Text),
            FileKind::Data => Ok(FileType::Data { creator: r.read()? }),
            FileKind::Exec => Ok(FileType::Exec { interpretor: r.read()? }),
            FileKind::Unknown(_) => Err(Error::InvalidDiscriminant),
        }
    }
}

/// RFC 4506 §7 `file`.
#[derive(Debug, PartialEq)]
struct File<'a> {
    filename: XdrStr<'a, MAXNAMELEN>,
    kind: FileType<'a>,
    owner: XdrStr<'a, MAXUSERNAME>,
    data: Opaque<'a, MAXFILELEN>,
}

impl Encode for File<'_> {
    fn encoded_len(&self) -> usize {
        self.filename.encoded_len() + self.kind.encoded_len() + self.owner.encoded_len() + self.data.encoded_len()
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.write(&self.filename)?;
        w.write(&self.kind)?;
        w.write(&self.owner)?;
        w.write(&self.data)
    }
}

impl<'a> Decode<'a> for File<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        Ok(File { filename: r.read()?, kind: r.read()?, owner: r.read()?, data: r.read()? })
    }
}

/// The 48 bytes printed in RFC 4506 §7.
const RFC_FILE: [u8; 48] = [
    0x00, 0x00, 0x00, 0x09, 0x73, 0x69, 0x6c, 0x6c, 0x79, 0x70, 0x72, 0x6f, 0x67, 0x00, 0x00, 0x00, //
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x04, 0x6c, 0x69, 0x73, 0x70, 0x00, 0x00, 0x00, 0x04, //
    0x6a, 0x6f, 0x68, 0x6e, 0x00, 0x00, 0x00, 0x06, 0x28, 0x71, 0x75, 0x69, 0x74, 0x29, 0x00, 0x00,
];

fn rfc_file() -> File<'static> {
    File {
        filename: XdrStr::new("sillyprog").unwrap(),
        kind: FileType::Exec { interpretor: XdrStr::new("lisp").unwrap() },
        owner: XdrStr::new("john").unwrap(),
        data: Opaque::new(b"(quit)").unwrap(),
    }
}

#[test]
fn rfc4506_section7_emit() {
    let f = rfc_file();
    assert_eq!(f.encoded_len(), 48);
    let mut buf = [0xffu8; 64];
    let n = encode_to(&f, &mut buf).unwrap();
    assert_eq!(&buf[..n], &RFC_FILE[..]);
}

#[test]
fn rfc4506_section7_parse() {
    let f: File<'_> = decode_exact(&RFC_FILE).unwrap();
    assert_eq!(f, rfc_file());
    assert_eq!(f.filename.to_str(), Some("sillyprog"));
    // Zero-copy: the data borrows from the input.
    assert_eq!(f.data.as_bytes().as_ptr(), RFC_FILE[40..].as_ptr());
}

#[test]
fn rfc4506_section7_rejects_bad_variants() {
    let mut bad = RFC_FILE;
    bad[19] = 7; // unknown filekind
    assert_eq!(decode_exact::<File<'_>>(&bad), Err(Error::InvalidDiscriminant));
    let mut bad = RFC_FILE;
    bad[15] = 1; // padding after "sillyprog"
    assert_eq!(decode_exact::<File<'_>>(&bad), Err(Error::NonZeroPadding));
    for cut in 0..RFC_FILE.len() {
        assert!(decode_exact::<File<'_>>(&RFC_FILE[..cut]).is_err());
    }
    let mut long = [0u8; 52];
    long[..48].copy_from_slice(&RFC_FILE);
    assert_eq!(decode_exact::<File<'_>>(&long), Err(Error::TrailingBytes));
}

#[test]
fn integers_and_hypers() {
    let mut buf = [0u8; 8];
    assert_eq!(encode_to(&-2i32, &mut buf), Ok(4));
    assert_eq!(buf[..4], [0xff, 0xff, 0xff, 0xfe]);
    assert_eq!(decode_exact::<i32>(&buf[..4]), Ok(-2));
    assert_eq!(decode_exact::<u32>(&buf[..4]), Ok(0xffff_fffe));
    encode_to(&0x0102_0304_0506_0708u64, &mut buf).unwrap();
    assert_eq!(buf, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(decode_exact::<i64>(&buf), Ok(0x0102_0304_0506_0708));
    assert_eq!(decode_exact::<u64>(&buf[..7]), Err(Error::UnexpectedEnd));
}

#[test]
fn floats_are_ieee_big_endian() {
    let mut buf = [0u8; 8];
    encode_to(&1.5f32, &mut buf).unwrap();
    assert_eq!(buf[..4], [0x3f, 0xc0, 0, 0]);
    assert_eq!(decode_exact::<f32>(&buf[..4]), Ok(1.5));
    encode_to(&-2.0f64, &mut buf).unwrap();
    assert_eq!(buf, [0xc0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(decode_exact::<f64>(&buf), Ok(-2.0));
}

#[test]
fn bool_only_zero_or_one() {
    assert_eq!(decode_exact::<bool>(&[0, 0, 0, 1]), Ok(true));
    assert_eq!(decode_exact::<bool>(&[0, 0, 0, 0]), Ok(false));
    assert_eq!(decode_exact::<bool>(&[0, 0, 0, 2]), Err(Error::InvalidBool));
}

#[test]
fn open_enum_keeps_unknown_values() {
    let k: FileKind = decode_exact(&[0, 0, 0, 9]).unwrap();
    assert_eq!(k, FileKind::Unknown(9));
    let mut buf = [0u8; 4];
    encode_to(&k, &mut buf).unwrap();
    assert_eq!(buf, [0, 0, 0, 9]);
}

#[test]
fn opaque_length_checked_before_reading() {
    // Claims 2^31 bytes: refused as too long for the maximum, not as truncated.
    let wire = [0x80, 0, 0, 0, 1, 2, 3, 4];
    assert_eq!(decode_exact::<Opaque<'_, 1024>>(&wire), Err(Error::LengthExceeded));
    // Within the maximum but beyond the input.
    let wire = [0, 0, 0, 5, 1, 2, 3, 4];
    assert_eq!(decode_exact::<Opaque<'_, 1024>>(&wire), Err(Error::UnexpectedEnd));
    assert_eq!(Opaque::<4>::new(b"12345"), Err(Error::LengthExceeded));
    let mut buf = [0u8; 16];
    let o = Opaque::<8>::new(b"abcde").unwrap();
    assert_eq!(o.encoded_len(), 12);
    assert_eq!(encode_to(&o, &mut buf), Ok(12));
    assert_eq!(buf[..12], [0, 0, 0, 5, b'a', b'b', b'c', b'd', b'e', 0, 0, 0]);
    assert_eq!(encode_to(&o, &mut buf[..11]), Err(Error::BufferFull));
}

#[test]
fn fixed_opaque_and_arrays() {
    let wire = [1, 2, 3, 0, 0, 0, 0, 7, 0, 0, 0, 8];
    let mut r = Reader::new(&wire);
    let f: FixedOpaque<'_, 3> = r.read().unwrap();
    assert_eq!(f.as_bytes(), &[1, 2, 3]);
    let a: [u32; 2] = r.read().unwrap();
    assert_eq!(a, [7, 8]);
    r.finish().unwrap();
    let mut buf = [0u8; 12];
    let mut w = Writer::new(&mut buf);
    w.write(&f).unwrap();
    w.write(&a).unwrap();
    assert_eq!(w.written(), &wire);
}

#[test]
fn optional_and_void() {
    let mut buf = [0u8; 8];
    assert_eq!(encode_to(&Some(5u32), &mut buf), Ok(8));
    assert_eq!(buf, [0, 0, 0, 1, 0, 0, 0, 5]);
    assert_eq!(decode_exact::<Option<u32>>(&buf), Ok(Some(5)));
    assert_eq!(decode_exact::<Option<u32>>(&[0, 0, 0, 0]), Ok(None));
    assert_eq!(decode_exact::<()>(&[]), Ok(()));
}

#[test]
fn variable_arrays_are_lazy_and_bounded() {
    let wire = [0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
    let l: List<'_, u32, 16> = decode_exact(&wire).unwrap();
    assert_eq!(l.len(), 3);
    assert!(l.iter().eq([1, 2, 3]));
    let mut buf = [0u8; 16];
    assert_eq!(encode_to(&l, &mut buf), Ok(16));
    assert_eq!(buf, wire);
    assert_eq!(encode_to(&SliceList::<u32, 16>(&[1, 2, 3]), &mut buf), Ok(16));
    assert_eq!(buf, wire);
    assert_eq!(decode_exact::<List<'_, u32, 2>>(&wire), Err(Error::LengthExceeded));
    // A count of a billion with four bytes of input is refused before any element is read.
    let wire = [0x40, 0, 0, 0, 0, 0, 0, 1];
    assert_eq!(decode_exact::<List<'_, u32, { u32::MAX }>>(&wire), Err(Error::UnexpectedEnd));
    assert_eq!(encode_to(&SliceList::<u32, 2>(&[1, 2, 3]), &mut buf), Err(Error::LengthExceeded));
}

#[test]
fn chains_are_lazy_and_bounded() {
    let wire = [0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0];
    let c: ChainList<'_, u32, 8> = decode_exact(&wire).unwrap();
    assert_eq!(c.len(), 2);
    assert!(c.iter().eq([7, 8]));
    let mut buf = [0u8; 20];
    assert_eq!(SliceChain::<u32, 8>(&[7, 8]).encoded_len(), 20);
    assert_eq!(encode_to(&SliceChain::<u32, 8>(&[7, 8]), &mut buf), Ok(20));
    assert_eq!(buf, wire);
    assert_eq!(decode_exact::<ChainList<'_, u32, 1>>(&wire), Err(Error::LengthExceeded));
    assert_eq!(decode_exact::<ChainList<'_, u32, 8>>(&wire[..16]), Err(Error::UnexpectedEnd));
}

#[test]
fn lengths_near_usize_max_do_not_overflow() {
    assert_eq!(Reader::new(&[]).fixed_opaque(usize::MAX - 2), Err(Error::UnexpectedEnd));
    assert_eq!(Reader::new(&[0; 8]).fixed_opaque(usize::MAX), Err(Error::UnexpectedEnd));
    assert_eq!(decode_exact::<Opaque<'_, { u32::MAX }>>(&[0xff; 8]), Err(Error::UnexpectedEnd));
    assert_eq!(padded(usize::MAX - 1), usize::MAX);
}
