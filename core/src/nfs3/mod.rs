//! NFS version 3 (RFC 1813): wire types for all 22 procedures.
//!
//! Being written (issue 3). Conventions for every type here:
//! - decoding borrows (`FileHandle`, names, paths, READ/WRITE data are slices of the request);
//! - every variable-length item is bounded before it is read: a file handle by
//!   [`FHSIZE`] (64 bytes), names and paths by the caller's [`Limits`] (255 and 1024 by
//!   default), data by `Limits::max_data`;
//! - argument types implement `DecodeWith<Limits>` (see [`DecodeWith`]); results implement
//!   [`Encode`](crate::xdr::Encode) for the server and `DecodeWith<Limits>` for the client.

use crate::xdr::{self, Reader};

/// Largest NFSv3 file handle (`NFS3_FHSIZE`).
pub const FHSIZE: u32 = 64;

/// Bounds applied while decoding NFSv3 messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest file name (`filename3`), in bytes.
    pub max_name: u32,
    /// Longest path (`nfspath3`, a symlink's target), in bytes.
    pub max_path: u32,
    /// Most data bytes in one READ result or WRITE argument.
    pub max_data: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_name: 255, max_path: 1024, max_data: 1024 * 1024 }
    }
}

/// Decoding that needs run-time bounds (a context `C`, such as [`Limits`]).
pub trait DecodeWith<'a, C>: Sized {
    /// Reads one value, checking every length against `cx` before reading the bytes.
    fn decode_with(r: &mut Reader<'a>, cx: &C) -> xdr::Result<Self>;
}

/// Decodes a `T` that must fill `buf` exactly, with context `cx`.
pub fn decode_exact_with<'a, C, T: DecodeWith<'a, C>>(buf: &'a [u8], cx: &C) -> xdr::Result<T> {
    let mut r = Reader::new(buf);
    let v = T::decode_with(&mut r, cx)?;
    r.finish()?;
    Ok(v)
}
