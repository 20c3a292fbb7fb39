//! Arrays decoded lazily (RFC 4506 §4.13) and optional-data chains (§4.19, the `*next` lists
//! used by the portmapper's DUMP and NFS's READDIR).
//!
//! Decoding a [`List`] or [`ChainList`] validates every element once, so that the remainder of
//! the input is known and iteration cannot fail; iteration then decodes each element again from
//! the borrowed bytes without copying them. The element count is compared with `MAX`, and with
//! the bytes present, before the first element is read.

use core::marker::PhantomData;

use super::{Decode, Encode, Error, Reader, Result, Writer};

/// A counted array (`T name<MAX>`) kept as borrowed, already validated bytes.
pub struct List<'a, T, const MAX: u32> {
    count: u32,
    body: &'a [u8],
    _t: PhantomData<fn() -> T>,
}

impl<T, const MAX: u32> Clone for List<'_, T, MAX> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, const MAX: u32> Copy for List<'_, T, MAX> {}

impl<T, const MAX: u32> core::fmt::Debug for List<'_, T, MAX> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("List").field("count", &self.count).field("bytes", &self.body.len()).finish()
    }
}

impl<T, const MAX: u32> PartialEq for List<'_, T, MAX> {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.body == other.body
    }
}

impl<'a, T: Decode<'a>, const MAX: u32> List<'a, T, MAX> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when the list has no elements.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The elements, decoded one at a time from the borrowed bytes.
    pub fn iter(&self) -> ListIter<'a, T> {
        ListIter { r: Reader::new(self.body), left: self.count, _t: PhantomData }
    }
}

impl<'a, T: Decode<'a>, const MAX: u32> IntoIterator for List<'a, T, MAX> {
    type Item = T;
    type IntoIter = ListIter<'a, T>;
    fn into_iter(self) -> ListIter<'a, T> {
        self.iter()
    }
}

/// Iterator over a [`List`].
pub struct ListIter<'a, T> {
    r: Reader<'a>,
    left: u32,
    _t: PhantomData<fn() -> T>,
}

impl<'a, T: Decode<'a>> Iterator for ListIter<'a, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The bytes were validated when the list was decoded; an error here cannot happen, and
        // would end the iteration rather than panic.
        T::decode(&mut self.r).ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl<'a, T: Decode<'a>, const MAX: u32> Decode<'a> for List<'a, T, MAX> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        let count = r.u32()?;
        if count > MAX {
            return Err(Error::LengthExceeded);
        }
        if count as usize > r.remaining() / T::MIN_LEN.max(1) {
            return Err(Error::UnexpectedEnd);
        }
        let mut probe = r.clone();
        for _ in 0..count {
            T::decode(&mut probe)?;
        }
        let body = r.take(probe.position() - r.position())?;
        Ok(List { count, body, _t: PhantomData })
    }
}

impl<T, const MAX: u32> Encode for List<'_, T, MAX> {
    fn encoded_len(&self) -> usize {
        4 + self.body.len()
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.put_u32(self.count)?;
        w.put_bytes(self.body)
    }
}

/// A counted array to encode from a slice (`T name<MAX>`).
#[derive(Debug, Clone, Copy)]
pub struct SliceList<'s, T, const MAX: u32>(pub &'s [T]);

impl<T: Encode, const MAX: u32> Encode for SliceList<'_, T, MAX> {
    fn encoded_len(&self) -> usize {
        4 + self.0.iter().map(Encode::encoded_len).sum::<usize>()
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let n = u32::try_from(self.0.len()).map_err(|_| Error::LengthExceeded)?;
        if n > MAX {
            return Err(Error::LengthExceeded);
        }
        w.put_u32(n)?;
        self.0.iter().try_for_each(|v| v.encode(w))
    }
}

/// A linked list in XDR's optional-data form (`struct l { T item; l *next; }`): each element is
/// preceded by TRUE and the list ends with FALSE. At most `MAX` elements are accepted.
pub struct ChainList<'a, T, const MAX: u32> {
    count: u32,
    body: &'a [u8],
    _t: PhantomData<fn() -> T>,
}

impl<T, const MAX: u32> Clone for ChainList<'_, T, MAX> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, const MAX: u32> Copy for ChainList<'_, T, MAX> {}

impl<T, const MAX: u32> PartialEq for ChainList<'_, T, MAX> {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.body == other.body
    }
}

impl<T, const MAX: u32> core::fmt::Debug for ChainList<'_, T, MAX> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChainList").field("count", &self.count).finish()
    }
}

impl<'a, T: Decode<'a>, const MAX: u32> ChainList<'a, T, MAX> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when the list has no elements.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The elements, decoded one at a time from the borrowed bytes.
    pub fn iter(&self) -> ChainIter<'a, T> {
        ChainIter { r: Reader::new(self.body), left: self.count, _t: PhantomData }
    }
}

/// Iterator over a [`ChainList`].
pub struct ChainIter<'a, T> {
    r: Reader<'a>,
    left: u32,
    _t: PhantomData<fn() -> T>,
}

impl<'a, T: Decode<'a>> Iterator for ChainIter<'a, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        self.r.u32().ok()?;
        T::decode(&mut self.r).ok()
    }
}

impl<'a, T: Decode<'a>, const MAX: u32> Decode<'a> for ChainList<'a, T, MAX> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        let mut probe = r.clone();
        let mut count = 0u32;
        while bool::decode(&mut probe)? {
            if count == MAX {
                return Err(Error::LengthExceeded);
            }
            count += 1;
            T::decode(&mut probe)?;
        }
        let body = r.take(probe.position() - r.position())?;
        Ok(ChainList { count, body, _t: PhantomData })
    }
}

impl<T, const MAX: u32> Encode for ChainList<'_, T, MAX> {
    fn encoded_len(&self) -> usize {
        self.body.len()
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.put_bytes(self.body)
    }
}

/// An optional-data chain to encode from a slice.
#[derive(Debug, Clone, Copy)]
pub struct SliceChain<'s, T, const MAX: u32>(pub &'s [T]);

impl<T: Encode, const MAX: u32> Encode for SliceChain<'_, T, MAX> {
    fn encoded_len(&self) -> usize {
        4 + self.0.iter().map(|v| 4 + v.encoded_len()).sum::<usize>()
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        if self.0.len() as u64 > u64::from(MAX) {
            return Err(Error::LengthExceeded);
        }
        for v in self.0 {
            w.put_u32(1)?;
            v.encode(w)?;
        }
        w.put_u32(0)
    }
}
