//! [`RangeSet`]: sorted, disjoint, merged byte ranges `[start, end)` in a fixed capacity.
//!
//! Invariants: ranges are non-empty, sorted by start, and never touch (adjacent ranges are
//! merged), so a transfer whose chunks arrive in order keeps one range. Every operation checks
//! the capacity before it changes anything: on [`Full`] the set is as it was.

use heapless::Vec;

/// Ranges a set holds at most.
pub const CAPACITY: usize = 64;

/// The set is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// A set of byte ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    r: Vec<(u64, u64), CAPACITY>,
}

impl RangeSet {
    /// The empty set.
    pub const fn new() -> Self {
        RangeSet { r: Vec::new() }
    }

    /// True when no byte is in the set.
    pub fn is_empty(&self) -> bool {
        self.r.is_empty()
    }

    /// Number of disjoint ranges.
    pub fn ranges(&self) -> usize {
        self.r.len()
    }

    /// Total bytes in the set.
    pub fn bytes(&self) -> u64 {
        self.r.iter().map(|(s, e)| e - s).sum()
    }

    /// The ranges, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.r.iter().copied()
    }

    /// Adds `[start, end)`, merging with what it overlaps or touches.
    pub fn insert(&mut self, start: u64, end: u64) -> Result<(), Full> {
        if start >= end {
            return Ok(());
        }
        // First range that ends at or after `start` (could merge), and first that starts after
        // `end` (cannot).
        let lo = self.r.iter().position(|&(_, e)| e >= start).unwrap_or(self.r.len());
        let hi = self.r.iter().position(|&(s, _)| s > end).unwrap_or(self.r.len());
        if lo == hi {
            return self.r.insert(lo, (start, end)).map_err(|_| Full);
        }
        let (s0, _) = self.r[lo];
        let (_, e1) = self.r[hi - 1];
        self.r[lo] = (s0.min(start), e1.max(end));
        for _ in lo + 1..hi {
            self.r.remove(lo + 1);
        }
        Ok(())
    }

    /// Removes `[start, end)` (splitting a range needs room for one more).
    pub fn remove(&mut self, start: u64, end: u64) -> Result<(), Full> {
        if start >= end {
            return Ok(());
        }
        if let Some(i) = self.r.iter().position(|&(s, e)| s < start && e > end) {
            let (s, e) = self.r[i];
            if self.r.is_full() {
                return Err(Full);
            }
            self.r[i] = (s, start);
            return self.r.insert(i + 1, (end, e)).map_err(|_| Full);
        }
        let mut i = 0;
        while i < self.r.len() {
            let (s, e) = self.r[i];
            if e <= start || s >= end {
                i += 1;
            } else if s >= start && e <= end {
                self.r.remove(i);
            } else if s < start {
                self.r[i] = (s, start);
                i += 1;
            } else {
                self.r[i] = (end, e);
                i += 1;
            }
        }
        Ok(())
    }

    /// Takes up to `max` bytes from the front of the first range.
    pub fn pop_front(&mut self, max: u64) -> Option<(u64, u64)> {
        let (s, e) = *self.r.first()?;
        let end = e.min(s.saturating_add(max.max(1)));
        if end == e {
            self.r.remove(0);
        } else {
            self.r[0] = (end, e);
        }
        Some((s, end))
    }

    /// The first range, without taking it.
    pub fn first(&self) -> Option<(u64, u64)> {
        self.r.first().copied()
    }

    /// Drops everything at or after `at`.
    pub fn truncate(&mut self, at: u64) {
        self.r.retain(|(s, _)| *s < at);
        if let Some(last) = self.r.last_mut() {
            last.1 = last.1.min(at);
        }
    }

    /// Moves every range of `other` into `self`; on [`Full`] both sets are unchanged.
    pub fn absorb(&mut self, other: &mut RangeSet) -> Result<(), Full> {
        let mut merged = self.clone();
        for (s, e) in other.iter() {
            merged.insert(s, e)?;
        }
        *self = merged;
        other.r.clear();
        Ok(())
    }

    /// Empties the set.
    pub fn clear(&mut self) {
        self.r.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(r: &[(u64, u64)]) -> RangeSet {
        let mut s = RangeSet::new();
        for &(a, b) in r {
            s.insert(a, b).unwrap();
        }
        s
    }

    fn v(s: &RangeSet) -> std::vec::Vec<(u64, u64)> {
        s.iter().collect()
    }

    #[test]
    fn insert_merges() {
        assert_eq!(v(&set(&[(0, 10), (10, 20)])), [(0, 20)]);
        assert_eq!(v(&set(&[(20, 30), (0, 10)])), [(0, 10), (20, 30)]);
        assert_eq!(v(&set(&[(20, 30), (0, 10), (5, 25)])), [(0, 30)]);
        assert_eq!(v(&set(&[(0, 10), (20, 30), (40, 50), (9, 41)])), [(0, 50)]);
        assert_eq!(v(&set(&[(5, 5)])), []);
        assert_eq!(set(&[(0, 10), (20, 30)]).bytes(), 20);
    }

    #[test]
    fn remove_splits_and_trims() {
        let mut s = set(&[(0, 100)]);
        s.remove(10, 20).unwrap();
        assert_eq!(v(&s), [(0, 10), (20, 100)]);
        s.remove(5, 25).unwrap();
        assert_eq!(v(&s), [(0, 5), (25, 100)]);
        s.remove(0, 200).unwrap();
        assert!(s.is_empty());
    }

    #[test]
    fn pop_truncate_absorb() {
        let mut s = set(&[(0, 10), (20, 25)]);
        assert_eq!(s.pop_front(4), Some((0, 4)));
        assert_eq!(s.pop_front(100), Some((4, 10)));
        assert_eq!(s.first(), Some((20, 25)));
        s.truncate(22);
        assert_eq!(v(&s), [(20, 22)]);
        let mut o = set(&[(22, 30), (40, 50)]);
        s.absorb(&mut o).unwrap();
        assert!(o.is_empty());
        assert_eq!(v(&s), [(20, 30), (40, 50)]);
    }

    #[test]
    fn full_leaves_the_set_unchanged() {
        let mut s = RangeSet::new();
        for i in 0..CAPACITY as u64 {
            s.insert(i * 10, i * 10 + 5).unwrap();
        }
        let before = s.clone();
        assert_eq!(s.insert(1000, 1001), Err(Full));
        assert_eq!(s.remove(1, 2), Err(Full));
        assert_eq!(s, before);
        // Merging into an existing range needs no room.
        s.insert(5, 10).unwrap();
        assert_eq!(s.ranges(), CAPACITY - 1);
    }
}
