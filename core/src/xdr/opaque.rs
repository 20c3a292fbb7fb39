//! Opaque data and strings (RFC 4506 §4.9–4.11), borrowed from the input.

use super::{Decode, Encode, Error, Reader, Result, Writer, padded};

/// Fixed-length opaque data of exactly `N` bytes (`opaque name[N]`), borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FixedOpaque<'a, const N: usize>(&'a [u8]);

impl<'a, const N: usize> FixedOpaque<'a, N> {
    /// Wraps `N` bytes; `None` when the length differs.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        (bytes.len() == N).then_some(FixedOpaque(bytes))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl<const N: usize> Encode for FixedOpaque<'_, N> {
    fn encoded_len(&self) -> usize {
        padded(N)
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.put_fixed_opaque(self.0)
    }
}

impl<'a, const N: usize> Decode<'a> for FixedOpaque<'a, N> {
    const MIN_LEN: usize = padded(N);
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        Ok(FixedOpaque(r.fixed_opaque(N)?))
    }
}

/// Variable-length opaque data of at most `MAX` bytes (`opaque name<MAX>`), borrowed.
/// Use `MAX = u32::MAX` for `opaque name<>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Opaque<'a, const MAX: u32>(&'a [u8]);

impl<'a, const MAX: u32> Opaque<'a, MAX> {
    /// No bytes.
    pub const EMPTY: Self = Opaque(&[]);

    /// Wraps `bytes`; fails when they are longer than `MAX`.
    pub fn new(bytes: &'a [u8]) -> Result<Self> {
        if bytes.len() as u64 > u64::from(MAX) {
            return Err(Error::LengthExceeded);
        }
        Ok(Opaque(bytes))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// Number of data bytes (without length word and padding).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no data bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<const MAX: u32> Encode for Opaque<'_, MAX> {
    fn encoded_len(&self) -> usize {
        4 + padded(self.0.len())
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.put_var_opaque(self.0, MAX)
    }
}

impl<'a, const MAX: u32> Decode<'a> for Opaque<'a, MAX> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        Ok(Opaque(r.var_opaque(MAX)?))
    }
}

/// A string of at most `MAX` bytes (`string name<MAX>`), borrowed. XDR strings are byte
/// sequences (RFC 4506 §4.11 says ASCII); [`XdrStr::to_str`] checks UTF-8 when text is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct XdrStr<'a, const MAX: u32>(Opaque<'a, MAX>);

impl<'a, const MAX: u32> XdrStr<'a, MAX> {
    /// Wraps `s`; fails when it is longer than `MAX` bytes.
    pub fn new(s: &'a str) -> Result<Self> {
        Ok(XdrStr(Opaque::new(s.as_bytes())?))
    }

    /// Wraps raw bytes; fails when they are longer than `MAX`.
    pub fn from_bytes(b: &'a [u8]) -> Result<Self> {
        Ok(XdrStr(Opaque::new(b)?))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0.as_bytes()
    }

    /// The string as UTF-8 text, `None` when it is not valid UTF-8.
    pub fn to_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.0.as_bytes()).ok()
    }
}

impl<const MAX: u32> Encode for XdrStr<'_, MAX> {
    fn encoded_len(&self) -> usize {
        self.0.encoded_len()
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        self.0.encode(w)
    }
}

impl<'a, const MAX: u32> Decode<'a> for XdrStr<'a, MAX> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        Ok(XdrStr(Opaque::decode(r)?))
    }
}
