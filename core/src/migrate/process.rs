//! What the protocol needs from a process: the [`Migratable`] trait, and [`PageSet`], the bitmap
//! of pages both sides keep in caller-provided memory.
//!
//! The protocol never owns the process: every state-machine call that touches it takes
//! `&mut P` (or `&P`), so the runner keeps running the process between calls (pre-copy copies
//! while it runs). Within one call the process does not run, so what the protocol reads in one
//! call is a consistent snapshot.

use super::{Error, PAGE_SIZE};

/// What a virtual page holds, as far as the address space knows without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PageKind {
    /// Not part of the address space: an access is a real fault of the guest.
    Unmapped,
    /// Mapped and known to hold only zero bytes (for example never written).
    Zero,
    /// Mapped with contents (which may still happen to be all zero).
    Data,
}

/// The contents a destination installs in one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageContent<'a> {
    /// Remove the page from the address space.
    Unmapped,
    /// Map the page, filled with zero bytes.
    Zero,
    /// Map the page with these bytes.
    Data(&'a [u8; PAGE_SIZE]),
}

/// Why a process refused a protocol request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ProcessError {
    /// No memory for another page (the page store is full).
    OutOfMemory,
    /// The page number is outside the address space.
    BadPage,
    /// The control block does not fit the buffer, or the bytes are not a valid control block.
    BadControl,
}

impl core::fmt::Display for ProcessError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ProcessError::OutOfMemory => "no memory for another page",
            ProcessError::BadPage => "page outside the address space",
            ProcessError::BadControl => "invalid or oversized control block",
        })
    }
}

impl core::error::Error for ProcessError {}

/// A process as the page-transfer protocol sees it: an address space of `page_count` pages of
/// [`PAGE_SIZE`] bytes (virtual page numbers `0..page_count`) with present and dirty bits, a
/// control block that serializes to bytes, and a switch to stop and resume it.
///
/// Contract (the protocol is only correct if every implementation keeps it):
/// - **Dirty bits**: every change to a page (a write, mapping it, unmapping it) sets its dirty
///   bit; [`take_dirty`](Self::take_dirty) adds every dirty page to the set and clears the bits,
///   atomically with respect to the process (it does not run during the call). Installing a
///   page ([`install_page`](Self::install_page)) leaves it clean.
/// - **Stop**: after [`stop`](Self::stop) returns, the process changes neither memory nor its
///   control block until [`resume`](Self::resume); the runner must not run it meanwhile.
/// - **A source has every page present**: a process whose post-copy migration has not
///   completed (some page absent) must not be the source of another migration.
/// - **Absent pages** ([`mark_absent`](Self::mark_absent)) stay mapped, but any access by the
///   process is reported to the runner (which calls
///   [`Destination::fault`](super::Destination::fault)) instead of touching memory.
pub trait Migratable {
    /// Number of virtual pages: page numbers are `0..page_count()`. Constant for a process.
    fn page_count(&self) -> u32;

    /// What page `vpn` holds, without reading it ([`PageKind::Unmapped`] when out of range).
    fn page_kind(&self, vpn: u32) -> PageKind;

    /// Copies page `vpn` into `buf` when it is [`PageKind::Data`]; for the other kinds `buf` is
    /// left as it is. Returns the page's kind, like [`page_kind`](Self::page_kind).
    fn read_page(&self, vpn: u32, buf: &mut [u8; PAGE_SIZE]) -> PageKind;

    /// Adds the pages changed since the previous call (or since the process started) to
    /// `into`, and clears their dirty bits.
    fn take_dirty(&mut self, into: &mut PageSet<'_>);

    /// Makes page `vpn` hold `page`, present and clean, replacing what was there.
    fn install_page(&mut self, vpn: u32, page: PageContent<'_>) -> Result<(), ProcessError>;

    /// Maps page `vpn` but not present: the process faults on it until it is installed.
    fn mark_absent(&mut self, vpn: u32) -> Result<(), ProcessError>;

    /// Serializes the control block (registers, threads, descriptors, ...) into `buf` and
    /// returns its length; [`ProcessError::BadControl`] if it does not fit.
    fn save_control(&self, buf: &mut [u8]) -> Result<usize, ProcessError>;

    /// Replaces the control block with one [`save_control`](Self::save_control) produced.
    fn load_control(&mut self, bytes: &[u8]) -> Result<(), ProcessError>;

    /// Stops the process (see the contract above). Idempotent.
    fn stop(&mut self);

    /// Lets the process run again. Idempotent.
    fn resume(&mut self);
}

/// A set of page numbers `0..capacity`, one bit per page in caller-provided words.
///
/// Insert, remove and membership are O(1); [`len`](Self::len) is kept as a count;
/// [`next_from`](Self::next_from) scans 32 pages per word. Page numbers at or above the capacity
/// are never members (insert ignores them).
#[derive(Debug)]
pub struct PageSet<'a> {
    words: &'a mut [u32],
    pages: u32,
    len: u32,
}

impl<'a> PageSet<'a> {
    /// Words of storage a set of `pages` pages needs.
    pub const fn words_for(pages: u32) -> usize {
        (pages as usize).div_ceil(32)
    }

    /// An empty set of `pages` pages over `words` (cleared here);
    /// [`Error::StorageTooSmall`] if `words` is shorter than [`words_for`](Self::words_for).
    pub fn new(words: &'a mut [u32], pages: u32) -> Result<Self, Error> {
        let n = Self::words_for(pages);
        let words = words.get_mut(..n).ok_or(Error::StorageTooSmall)?;
        words.fill(0);
        Ok(PageSet { words, pages, len: 0 })
    }

    /// Number of pages the set can hold (`0..capacity`).
    pub fn capacity(&self) -> u32 {
        self.pages
    }

    /// Number of members.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the set has no member.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot(&self, vpn: u32) -> Option<(usize, u32)> {
        (vpn < self.pages).then_some(((vpn / 32) as usize, 1u32 << (vpn % 32)))
    }

    /// Whether `vpn` is a member.
    pub fn contains(&self, vpn: u32) -> bool {
        self.slot(vpn).and_then(|(w, bit)| self.words.get(w).map(|x| x & bit != 0)).unwrap_or(false)
    }

    /// Adds `vpn`; returns whether it was not a member (false also when out of range).
    pub fn insert(&mut self, vpn: u32) -> bool {
        let Some((w, bit)) = self.slot(vpn) else { return false };
        let Some(x) = self.words.get_mut(w) else { return false };
        let new = *x & bit == 0;
        *x |= bit;
        self.len += u32::from(new);
        new
    }

    /// Removes `vpn`; returns whether it was a member.
    pub fn remove(&mut self, vpn: u32) -> bool {
        let Some((w, bit)) = self.slot(vpn) else { return false };
        let Some(x) = self.words.get_mut(w) else { return false };
        let was = *x & bit != 0;
        *x &= !bit;
        self.len -= u32::from(was);
        was
    }

    /// Removes every member.
    pub fn clear(&mut self) {
        self.words.fill(0);
        self.len = 0;
    }

    /// The smallest member at or above `vpn`.
    pub fn next_from(&self, vpn: u32) -> Option<u32> {
        if self.len == 0 || vpn >= self.pages {
            return None;
        }
        let mut w = (vpn / 32) as usize;
        let mut bits = self.words.get(w)? & (u32::MAX << (vpn % 32));
        loop {
            if bits != 0 {
                let found = w as u32 * 32 + bits.trailing_zeros();
                return (found < self.pages).then_some(found);
            }
            w += 1;
            bits = *self.words.get(w)?;
        }
    }

    /// The smallest member at or above `vpn`, or else the smallest member (wrapping around).
    pub fn next_wrapping(&self, vpn: u32) -> Option<u32> {
        self.next_from(vpn).or_else(|| self.next_from(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_set_basics() {
        let mut w = [0xffff_ffffu32; 4];
        let mut s = PageSet::new(&mut w, 70).unwrap();
        assert!(s.is_empty());
        assert_eq!(s.next_from(0), None);
        assert!(s.insert(3) && s.insert(69) && s.insert(32));
        assert!(!s.insert(3));
        assert!(!s.insert(70), "out of range");
        assert_eq!(s.len(), 3);
        assert_eq!(s.next_from(0), Some(3));
        assert_eq!(s.next_from(4), Some(32));
        assert_eq!(s.next_from(33), Some(69));
        assert_eq!(s.next_from(70), None);
        assert_eq!(s.next_wrapping(40), Some(69));
        assert!(s.remove(69) && !s.remove(69));
        assert_eq!(s.next_wrapping(40), Some(3));
        assert!(s.contains(32) && !s.contains(31) && !s.contains(1000));
        s.clear();
        assert_eq!((s.len(), s.next_from(0)), (0, None));
    }

    #[test]
    fn page_set_storage_checked() {
        let mut w = [0u32; 2];
        assert_eq!(PageSet::new(&mut w, 65).err(), Some(Error::StorageTooSmall));
        assert!(PageSet::new(&mut w, 64).is_ok());
    }
}
