//! A fake process for the protocol tests: Vec-backed pages with present and dirty bits, and a
//! deterministic workload whose whole state is in the control block, so a migrated process
//! and one that never moved compute the same memory after the same number of steps.
//!
//! The workload's step: pick a page (mostly from a hot set), and either read-modify-write a
//! word of it (mapping it first, zero-filled, if it was unmapped), or rarely unmap it. The value
//! written depends on the value read, so a wrong page at the destination spreads.

use std::vec;
use std::vec::Vec;

use crate::migrate::{Migratable, PAGE_SIZE, PageContent, PageKind, PageSet, ProcessError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PState {
    Unmapped,
    /// Present and known to be zero (never written since mapped).
    Zero,
    /// Present with data.
    Data,
    Absent,
}

/// The workload's state: all of it travels in the control block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Workload {
    pub(crate) step: u64,
    pub(crate) rng: u64,
    pub(crate) hot_base: u32,
    pub(crate) hot_len: u32,
    /// Per mille of steps in the hot set.
    pub(crate) hot_permille: u32,
    /// Control block padding (exercises multi-chunk control blocks).
    pub(crate) extra: u32,
}

pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[derive(Debug, Clone)]
pub(crate) struct FakeProcess {
    pub(crate) state: Vec<PState>,
    pub(crate) mem: Vec<u8>,
    pub(crate) dirty: Vec<bool>,
    pub(crate) running: bool,
    pub(crate) w: Workload,
    /// Control blocks loaded (for tests).
    pub(crate) loads: u32,
    /// Pages zeroed by the test after creation (see [`FakeProcess::zero_page`]).
    pub(crate) zeroed: Vec<u32>,
}

/// Layout of a fresh process: `data` pages of pseudo-random bytes, then `zero` zero pages,
/// then unmapped pages up to `pages`; a hot set of `hot_len` pages from `hot_base` takes
/// `hot_permille` of the writes, the others fall anywhere.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub(crate) pages: u32,
    pub(crate) data: u32,
    pub(crate) zero: u32,
    pub(crate) hot_base: u32,
    pub(crate) hot_len: u32,
    pub(crate) hot_permille: u32,
    pub(crate) extra: u32,
    pub(crate) seed: u64,
}

impl FakeProcess {
    /// An empty process (every page unmapped, stopped): what a destination starts with.
    pub(crate) fn empty(pages: u32) -> Self {
        FakeProcess {
            state: vec![PState::Unmapped; pages as usize],
            mem: vec![0; pages as usize * PAGE_SIZE],
            dirty: vec![false; pages as usize],
            running: false,
            w: Workload { step: 0, rng: 0, hot_base: 0, hot_len: 1, hot_permille: 0, extra: 0 },
            loads: 0,
            zeroed: Vec::new(),
        }
    }

    /// A running process with `layout`.
    pub(crate) fn new(l: Layout) -> Self {
        let mut p = Self::empty(l.pages);
        for vpn in 0..l.data.min(l.pages) {
            p.state[vpn as usize] = PState::Data;
            let page = &mut p.mem[vpn as usize * PAGE_SIZE..][..PAGE_SIZE];
            for (i, chunk) in page.chunks_exact_mut(8).enumerate() {
                chunk.copy_from_slice(&mix(l.seed ^ (u64::from(vpn) << 20) ^ i as u64).to_le_bytes());
            }
        }
        for vpn in l.data..(l.data + l.zero).min(l.pages) {
            p.state[vpn as usize] = PState::Zero;
        }
        p.running = true;
        let hot_len = l.hot_len.clamp(1, l.pages);
        p.w = Workload {
            step: 0,
            rng: l.seed,
            hot_base: l.hot_base.min(l.pages - hot_len),
            hot_len,
            hot_permille: l.hot_permille,
            extra: l.extra,
        };
        p
    }

    /// Fills a data page with zero bytes (it stays a data page: only its bytes say zero).
    pub(crate) fn zero_page(&mut self, vpn: u32) {
        self.page_mut(vpn).fill(0);
        self.zeroed.push(vpn);
    }

    pub(crate) fn page(&self, vpn: u32) -> &[u8] {
        &self.mem[vpn as usize * PAGE_SIZE..][..PAGE_SIZE]
    }

    fn page_mut(&mut self, vpn: u32) -> &mut [u8] {
        &mut self.mem[vpn as usize * PAGE_SIZE..][..PAGE_SIZE]
    }

    fn pages(&self) -> u32 {
        self.state.len() as u32
    }

    /// Runs one workload step; `Err(vpn)` if it touched an absent page (nothing changed).
    pub(crate) fn step(&mut self) -> Result<(), u32> {
        let r = mix(self.w.rng);
        let vpn = if (r % 1000) < u64::from(self.w.hot_permille) {
            self.w.hot_base + ((r >> 10) % u64::from(self.w.hot_len)) as u32
        } else {
            ((r >> 10) % u64::from(self.pages())) as u32
        };
        let i = vpn as usize;
        if self.state[i] == PState::Absent {
            return Err(vpn);
        }
        if (r >> 40).is_multiple_of(500) && self.state[i] != PState::Unmapped {
            self.state[i] = PState::Unmapped;
            self.page_mut(vpn).fill(0);
        } else {
            self.state[i] = PState::Data;
            let off = ((r >> 20) % (PAGE_SIZE as u64 / 8)) as usize * 8;
            let step = self.w.step;
            let word = &mut self.page_mut(vpn)[off..off + 8];
            let old = u64::from_le_bytes(word.try_into().unwrap());
            word.copy_from_slice(&mix(old ^ step).to_le_bytes());
        }
        self.dirty[i] = true;
        self.w.rng = r;
        self.w.step += 1;
        Ok(())
    }

    /// Runs `n` steps; stops at the first fault.
    pub(crate) fn run(&mut self, n: u64) -> Result<(), u32> {
        for _ in 0..n {
            self.step()?;
        }
        Ok(())
    }

    fn control_bytes(&self, out: &mut Vec<u8>) {
        let w = &self.w;
        for x in
            [w.step, w.rng, u64::from(w.hot_base), u64::from(w.hot_len), u64::from(w.hot_permille), u64::from(w.extra)]
        {
            out.extend_from_slice(&x.to_le_bytes());
        }
        for i in 0..w.extra {
            out.push(mix(w.rng ^ u64::from(i)) as u8);
        }
    }

    /// Pages that differ from `other`: mapped in one and not the other, absent, or other bytes.
    pub(crate) fn diff(&self, other: &FakeProcess) -> Vec<u32> {
        let mapped = |p: &FakeProcess, v: u32| p.state[v as usize] != PState::Unmapped;
        let absent = |p: &FakeProcess, v: u32| p.state[v as usize] == PState::Absent;
        (0..self.pages())
            .filter(|&v| {
                mapped(self, v) != mapped(other, v)
                    || absent(self, v)
                    || absent(other, v)
                    || self.page(v) != other.page(v)
            })
            .collect()
    }
}

impl Migratable for FakeProcess {
    fn page_count(&self) -> u32 {
        self.pages()
    }

    fn page_kind(&self, vpn: u32) -> PageKind {
        match self.state.get(vpn as usize) {
            Some(PState::Zero) => PageKind::Zero,
            Some(PState::Data) | Some(PState::Absent) => PageKind::Data,
            _ => PageKind::Unmapped,
        }
    }

    fn read_page(&self, vpn: u32, buf: &mut [u8; PAGE_SIZE]) -> PageKind {
        let kind = self.page_kind(vpn);
        if kind == PageKind::Data {
            buf.copy_from_slice(self.page(vpn));
        }
        kind
    }

    fn take_dirty(&mut self, into: &mut PageSet<'_>) {
        for (vpn, d) in self.dirty.iter_mut().enumerate() {
            if *d {
                into.insert(vpn as u32);
                *d = false;
            }
        }
    }

    fn install_page(&mut self, vpn: u32, page: PageContent<'_>) -> Result<(), ProcessError> {
        let i = vpn as usize;
        if i >= self.state.len() {
            return Err(ProcessError::BadPage);
        }
        match page {
            PageContent::Unmapped => {
                self.state[i] = PState::Unmapped;
                self.page_mut(vpn).fill(0);
            }
            PageContent::Zero => {
                self.state[i] = PState::Zero;
                self.page_mut(vpn).fill(0);
            }
            PageContent::Data(d) => {
                self.state[i] = PState::Data;
                self.page_mut(vpn).copy_from_slice(d);
            }
        }
        self.dirty[i] = false;
        Ok(())
    }

    fn mark_absent(&mut self, vpn: u32) -> Result<(), ProcessError> {
        let s = self.state.get_mut(vpn as usize).ok_or(ProcessError::BadPage)?;
        *s = PState::Absent;
        Ok(())
    }

    fn save_control(&self, buf: &mut [u8]) -> Result<usize, ProcessError> {
        let mut v = Vec::new();
        self.control_bytes(&mut v);
        buf.get_mut(..v.len()).ok_or(ProcessError::BadControl)?.copy_from_slice(&v);
        Ok(v.len())
    }

    fn load_control(&mut self, bytes: &[u8]) -> Result<(), ProcessError> {
        if bytes.len() < 48 {
            return Err(ProcessError::BadControl);
        }
        let f = |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap());
        let w = Workload {
            step: f(0),
            rng: f(1),
            hot_base: f(2) as u32,
            hot_len: f(3) as u32,
            hot_permille: f(4) as u32,
            extra: f(5) as u32,
        };
        let old = self.w;
        self.w = w;
        let mut v = Vec::new();
        self.control_bytes(&mut v);
        if v != bytes {
            self.w = old;
            return Err(ProcessError::BadControl);
        }
        self.loads += 1;
        Ok(())
    }

    fn stop(&mut self) {
        self.running = false;
    }

    fn resume(&mut self) {
        self.running = true;
    }
}
