//! Helpers for the NFSv3 tests: sample values and a decode → encode round trip.

use core::fmt::Debug;
use std::vec::Vec;

use super::{DecodeWith, FType3, Fattr3, Limits, NfsTime, SpecData3, WccAttr, WccData, decode_exact_with};
use crate::xdr::{self, Encode};

/// Sample attributes.
pub(crate) const ATTR: Fattr3 = Fattr3 {
    ftype: FType3::Reg,
    mode: 0o644,
    nlink: 1,
    uid: 1000,
    gid: 100,
    size: 5,
    used: 4096,
    rdev: SpecData3 { specdata1: 0, specdata2: 0 },
    fsid: 0x0102_0304_0506_0708,
    fileid: 42,
    atime: NfsTime { seconds: 1, nseconds: 2 },
    mtime: NfsTime { seconds: 3, nseconds: 4 },
    ctime: NfsTime { seconds: 5, nseconds: 6 },
};

/// Sample WCC data with both sides present.
pub(crate) const WCC: WccData = WccData {
    before: Some(WccAttr {
        size: 5,
        mtime: NfsTime { seconds: 3, nseconds: 4 },
        ctime: NfsTime { seconds: 5, nseconds: 6 },
    }),
    after: Some(ATTR),
};

/// Big-endian bytes of `words`.
pub(crate) fn words(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// Encodes `v` into `buf` (checking `encoded_len`), decodes it back with default limits, checks
/// equality and that the decoded value encodes to the same bytes; returns the encoded length.
pub(crate) fn roundtrip<'a, T>(v: &T, buf: &'a mut [u8]) -> usize
where
    T: Encode + DecodeWith<'a, Limits> + PartialEq + Debug,
{
    let n = xdr::encode_to(v, buf).expect("encode");
    assert_eq!(n, v.encoded_len(), "encoded_len of {v:?}");
    let bytes: &'a [u8] = &buf[..n];
    let back: T = decode_exact_with(bytes, &Limits::default()).expect("decode");
    assert_eq!(&back, v);
    let mut again = std::vec![0u8; n];
    assert_eq!(xdr::encode_to(&back, &mut again), Ok(n));
    assert_eq!(&again[..], bytes);
    n
}
