//! XDR, the External Data Representation of RFC 4506.
//!
//! - Decoding is zero-copy: [`Opaque`], [`XdrStr`] and [`FixedOpaque`] borrow from the input, and
//!   arrays decode as lazy iterators ([`List`], [`ChainList`]) over the borrowed bytes.
//! - Every variable-length item carries a maximum (a const generic) that is checked against the
//!   length on the wire *before* anything else is read (RFC 4506 §4.10–4.13). Lengths are also
//!   checked against the bytes actually present, so a hostile length never causes a large read.
//! - Padding bytes must be zero (RFC 4506 §3: "the residual bytes are zero"); non-zero padding is
//!   an error, which makes decode → encode round trips byte-exact.
//! - Encoding writes into a caller's `&mut [u8]` through [`Writer`]; every type reports its
//!   encoded length through [`Encode::encoded_len`], so buffers can be sized before encoding.
//! - Enumerations are *open* ([`xdr_enum!`](crate::xdr_enum)): values this crate does not know are kept, so a
//!   newer peer's value survives decode → encode.
//!
//! Nothing here panics on input, allocates, or reads beyond the given slice.

mod list;
mod opaque;
mod primitives;
#[cfg(test)]
mod tests;

pub use list::{ChainIter, ChainList, List, ListIter, SliceChain, SliceList};
pub use opaque::{FixedOpaque, Opaque, XdrStr};

/// Why XDR bytes could not be decoded or encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The input ended before the item did.
    UnexpectedEnd,
    /// A length on the wire (or of a value to encode) is above the item's maximum.
    LengthExceeded,
    /// A padding byte was not zero.
    NonZeroPadding,
    /// A boolean was neither 0 nor 1.
    InvalidBool,
    /// A union discriminant has no arm and the union has no default arm.
    InvalidDiscriminant,
    /// The output buffer is too small.
    BufferFull,
    /// Bytes were left over after a complete item ([`decode_exact`]).
    TrailingBytes,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Error::UnexpectedEnd => "XDR input ends inside an item",
            Error::LengthExceeded => "XDR length above the item's maximum",
            Error::NonZeroPadding => "XDR padding is not zero",
            Error::InvalidBool => "XDR boolean is neither 0 nor 1",
            Error::InvalidDiscriminant => "XDR union discriminant has no arm",
            Error::BufferFull => "XDR output buffer is full",
            Error::TrailingBytes => "bytes left after the XDR item",
        })
    }
}

impl core::error::Error for Error {}

/// Result of an XDR operation.
pub type Result<T> = core::result::Result<T, Error>;

/// Bytes of padding after `len` bytes of data to reach a multiple of four.
pub const fn pad_len(len: usize) -> usize {
    (4 - (len % 4)) % 4
}

/// `len` rounded up to a multiple of four (saturating: a length near `usize::MAX`, possible
/// from the wire on 32-bit targets, gives `usize::MAX`, which no input or buffer can hold).
pub const fn padded(len: usize) -> usize {
    len.saturating_add(pad_len(len))
}

/// A cursor over borrowed XDR input.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub const fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The unread bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::UnexpectedEnd);
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Takes the next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads an unsigned 32-bit integer.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Reads an unsigned 64-bit integer (unsigned hyper).
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Checks and skips the zero padding after `len` bytes of data.
    pub fn padding(&mut self, len: usize) -> Result<()> {
        let pad = self.take(pad_len(len))?;
        if pad.iter().any(|&b| b != 0) {
            return Err(Error::NonZeroPadding);
        }
        Ok(())
    }

    /// Reads fixed-length opaque data of `len` bytes and its padding.
    pub fn fixed_opaque(&mut self, len: usize) -> Result<&'a [u8]> {
        if padded(len) > self.remaining() {
            return Err(Error::UnexpectedEnd);
        }
        let data = self.take(len)?;
        self.padding(len)?;
        Ok(data)
    }

    /// Reads variable-length opaque data of at most `max` bytes. The length is compared with
    /// `max` and with the input before the data is touched.
    pub fn var_opaque(&mut self, max: u32) -> Result<&'a [u8]> {
        let len = self.u32()?;
        if len > max {
            return Err(Error::LengthExceeded);
        }
        self.fixed_opaque(len as usize)
    }

    /// Decodes one item.
    pub fn read<T: Decode<'a>>(&mut self) -> Result<T> {
        T::decode(self)
    }

    /// Fails unless all input was consumed.
    pub fn finish(&self) -> Result<()> {
        if self.remaining() == 0 { Ok(()) } else { Err(Error::TrailingBytes) }
    }
}

/// A cursor writing XDR into a caller's buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Room left in the buffer.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.pos]
    }

    /// Gives back the written part of the buffer.
    pub fn into_written(self) -> &'a mut [u8] {
        &mut self.buf[..self.pos]
    }

    /// Appends raw bytes.
    pub fn put_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self.pos.checked_add(bytes.len()).ok_or(Error::BufferFull)?;
        if end > self.buf.len() {
            return Err(Error::BufferFull);
        }
        self.buf[self.pos..end].copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    /// Appends an unsigned 32-bit integer.
    pub fn put_u32(&mut self, v: u32) -> Result<()> {
        self.put_bytes(&v.to_be_bytes())
    }

    /// Appends an unsigned 64-bit integer.
    pub fn put_u64(&mut self, v: u64) -> Result<()> {
        self.put_bytes(&v.to_be_bytes())
    }

    /// Appends fixed-length opaque data and its zero padding.
    pub fn put_fixed_opaque(&mut self, data: &[u8]) -> Result<()> {
        if padded(data.len()) > self.remaining() {
            return Err(Error::BufferFull);
        }
        self.put_bytes(data)?;
        self.put_bytes(&[0u8; 3][..pad_len(data.len())])
    }

    /// Appends variable-length opaque data of at most `max` bytes.
    pub fn put_var_opaque(&mut self, data: &[u8], max: u32) -> Result<()> {
        let len = u32::try_from(data.len()).map_err(|_| Error::LengthExceeded)?;
        if len > max {
            return Err(Error::LengthExceeded);
        }
        self.put_u32(len)?;
        self.put_fixed_opaque(data)
    }

    /// Encodes one item.
    pub fn write<T: Encode + ?Sized>(&mut self, v: &T) -> Result<()> {
        v.encode(self)
    }

    /// Overwrites the 32-bit integer at byte offset `at` (already written).
    pub fn patch_u32(&mut self, at: usize, v: u32) -> Result<()> {
        let end = at.checked_add(4).ok_or(Error::BufferFull)?;
        if end > self.pos {
            return Err(Error::BufferFull);
        }
        self.buf[at..end].copy_from_slice(&v.to_be_bytes());
        Ok(())
    }

    /// Forgets everything after byte offset `at`.
    pub fn truncate(&mut self, at: usize) {
        self.pos = self.pos.min(at);
    }

    /// A writer over the unwritten rest of the buffer; call [`Writer::advance`] with what it wrote.
    pub fn tail(&mut self) -> Writer<'_> {
        Writer::new(&mut self.buf[self.pos..])
    }

    /// Counts `n` bytes written through [`Writer::tail`].
    pub fn advance(&mut self, n: usize) -> Result<()> {
        if n > self.remaining() {
            return Err(Error::BufferFull);
        }
        self.pos += n;
        Ok(())
    }
}

/// A type that encodes to XDR.
pub trait Encode {
    /// Exact number of bytes [`Encode::encode`] writes.
    fn encoded_len(&self) -> usize;
    /// Writes the value; fails with [`Error::BufferFull`] (having written a prefix) when the
    /// buffer is too small, or [`Error::LengthExceeded`] when a length is above its maximum.
    fn encode(&self, w: &mut Writer<'_>) -> Result<()>;
}

/// A type that decodes from XDR, borrowing from the input where it can.
pub trait Decode<'a>: Sized {
    /// Fewest bytes an encoding can take; lists use it to bound a count against the input.
    const MIN_LEN: usize = 4;
    /// Reads one value; on error the reader's position is unspecified.
    fn decode(r: &mut Reader<'a>) -> Result<Self>;
}

/// Decodes a `T` that must fill `buf` exactly.
pub fn decode_exact<'a, T: Decode<'a>>(buf: &'a [u8]) -> Result<T> {
    let mut r = Reader::new(buf);
    let v = T::decode(&mut r)?;
    r.finish()?;
    Ok(v)
}

/// Decodes a `T` from the start of `buf`, returning it with the unread remainder.
pub fn decode_prefix<'a, T: Decode<'a>>(buf: &'a [u8]) -> Result<(T, &'a [u8])> {
    let mut r = Reader::new(buf);
    let v = T::decode(&mut r)?;
    Ok((v, r.rest()))
}

/// Encodes `v` at the start of `buf`, returning the number of bytes written.
pub fn encode_to<T: Encode + ?Sized>(v: &T, buf: &mut [u8]) -> Result<usize> {
    let mut w = Writer::new(buf);
    v.encode(&mut w)?;
    Ok(w.position())
}

/// Defines an open XDR enumeration: known values become variants, and any other value is kept
/// in `Unknown(i32)` so that decode → encode gives back the same bytes.
///
/// ```
/// tern_core::xdr_enum! {
///     /// Colours.
///     pub enum Colour { Red = 0, Green = 1 }
/// }
/// assert_eq!(Colour::from(1), Colour::Green);
/// assert_eq!(i32::from(Colour::Unknown(7)), 7);
/// ```
#[macro_export]
macro_rules! xdr_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $var:ident = $val:expr),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        $vis enum $name {
            $(#[doc = concat!("`", stringify!($var), "` = ", stringify!($val), ".")] $(#[$vm])* $var,)+
            /// A value this implementation does not know, kept as it was on the wire.
            Unknown(i32),
        }
        impl From<i32> for $name {
            fn from(v: i32) -> Self {
                match v { $(x if x == $val => $name::$var,)+ other => $name::Unknown(other) }
            }
        }
        impl From<$name> for i32 {
            fn from(v: $name) -> i32 {
                match v { $($name::$var => $val,)+ $name::Unknown(x) => x }
            }
        }
        impl $crate::xdr::Encode for $name {
            fn encoded_len(&self) -> usize { 4 }
            fn encode(&self, w: &mut $crate::xdr::Writer<'_>) -> $crate::xdr::Result<()> {
                w.put_u32(i32::from(*self) as u32)
            }
        }
        impl<'a> $crate::xdr::Decode<'a> for $name {
            fn decode(r: &mut $crate::xdr::Reader<'a>) -> $crate::xdr::Result<Self> {
                Ok($name::from(r.u32()? as i32))
            }
        }
    };
}
