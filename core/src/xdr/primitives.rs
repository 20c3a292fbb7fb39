//! Fixed-size XDR items: integers, hypers, floats, booleans, void, optional data and fixed arrays
//! (RFC 4506 §4.1–4.9, 4.12, 4.16, 4.19).

use super::{Decode, Encode, Error, Reader, Result, Writer};

macro_rules! int_impl {
    ($t:ty, $len:expr, $get:ident, $put:ident, $via:ty) => {
        impl Encode for $t {
            fn encoded_len(&self) -> usize {
                $len
            }
            fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
                w.$put(*self as $via)
            }
        }
        impl<'a> Decode<'a> for $t {
            const MIN_LEN: usize = $len;
            fn decode(r: &mut Reader<'a>) -> Result<Self> {
                Ok(r.$get()? as $t)
            }
        }
    };
}

int_impl!(u32, 4, u32, put_u32, u32);
int_impl!(i32, 4, u32, put_u32, u32);
int_impl!(u64, 8, u64, put_u64, u64);
int_impl!(i64, 8, u64, put_u64, u64);

impl Encode for f32 {
    fn encoded_len(&self) -> usize {
        4
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.put_u32(self.to_bits())
    }
}

impl<'a> Decode<'a> for f32 {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        Ok(f32::from_bits(r.u32()?))
    }
}

impl Encode for f64 {
    fn encoded_len(&self) -> usize {
        8
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.put_u64(self.to_bits())
    }
}

impl<'a> Decode<'a> for f64 {
    const MIN_LEN: usize = 8;
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        Ok(f64::from_bits(r.u64()?))
    }
}

impl Encode for bool {
    fn encoded_len(&self) -> usize {
        4
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.put_u32(u32::from(*self))
    }
}

impl<'a> Decode<'a> for bool {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        match r.u32()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Error::InvalidBool),
        }
    }
}

/// `void`: no bytes at all.
impl Encode for () {
    fn encoded_len(&self) -> usize {
        0
    }
    fn encode(&self, _: &mut Writer<'_>) -> Result<()> {
        Ok(())
    }
}

impl<'a> Decode<'a> for () {
    const MIN_LEN: usize = 0;
    fn decode(_: &mut Reader<'a>) -> Result<Self> {
        Ok(())
    }
}

/// Optional data (`type *name`): a boolean, then the value when it is TRUE.
impl<T: Encode> Encode for Option<T> {
    fn encoded_len(&self) -> usize {
        4 + self.as_ref().map_or(0, Encode::encoded_len)
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            None => w.put_u32(0),
            Some(v) => {
                w.put_u32(1)?;
                v.encode(w)
            }
        }
    }
}

impl<'a, T: Decode<'a>> Decode<'a> for Option<T> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        if bool::decode(r)? { Ok(Some(T::decode(r)?)) } else { Ok(None) }
    }
}

/// Fixed-length array (`type name[n]`) of items that are cheap to copy; use [`super::List`]-like
/// lazy decoding for large arrays of borrowed items.
impl<T: Encode, const N: usize> Encode for [T; N] {
    fn encoded_len(&self) -> usize {
        self.iter().map(Encode::encoded_len).sum()
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        self.iter().try_for_each(|v| v.encode(w))
    }
}

impl<'a, T: Decode<'a> + Copy + Default, const N: usize> Decode<'a> for [T; N] {
    const MIN_LEN: usize = T::MIN_LEN * N;
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        if T::MIN_LEN.saturating_mul(N) > r.remaining() {
            return Err(Error::UnexpectedEnd);
        }
        let mut out = [T::default(); N];
        for slot in out.iter_mut() {
            *slot = T::decode(r)?;
        }
        Ok(out)
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encoded_len(&self) -> usize {
        (**self).encoded_len()
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        (**self).encode(w)
    }
}
