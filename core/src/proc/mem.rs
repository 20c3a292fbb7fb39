//! A process's address space: 4 KiB pages with exact present and dirty bits, over a pluggable
//! [`PageStore`] that holds the page frames.
//!
//! The guest address space is `[0, P × 4096)` (`P` < 2^20); page `vpn` has one page-table entry. A page is in
//! one of four states:
//! - **unmapped**: not part of the process; any access is a fault ([`MemFault::Unmapped`]);
//! - **zero**: mapped, no frame yet; reads give zeros, the first write allocates a frame;
//! - **resident**: mapped with a frame in the store;
//! - **remote** (not present): mapped, but its contents are elsewhere (post-copy migration).
//!   An access gives [`MemFault::NotPresent`], which the interpreter surfaces as
//!   [`Event::PageFault`](super::Event::PageFault) *before* the instruction has any effect;
//!   the caller installs the page ([`AddressSpace::install_page`]) and runs again.
//!
//! Invariants: every write by the guest, by a system call or through [`AddressSpace::write_bytes`]
//! sets the page's dirty bit (exact dirty tracking for pre-copy), and so does every change of
//! the layout ([`AddressSpace::map_zero`] of a page not mapped, [`AddressSpace::unmap`] of a
//! mapped one: an unmapped page keeps its dirty bit until it is taken), so a migration that
//! copies the dirty pages also copies the changes of `brk`; only the migration layer clears
//! it ([`AddressSpace::take_dirty`]); installing a page leaves it clean. A range operation ([`AddressSpace::check_range`], `read_bytes`, `write_bytes`) checks the
//! whole range before touching any byte, so a fault never leaves a partial write behind. An
//! address space must always be used with the same store; frames are freed only through it.

use core::fmt;

/// Bytes per page.
pub const PAGE_SIZE: usize = 4096;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 12;
/// One page of memory.
pub type Page = [u8; PAGE_SIZE];

/// The most frames a page-table entry can name (24 bits of frame number).
pub const MAX_FRAMES: u32 = 1 << 24;

const MAPPED: u32 = 1 << 31;
const RESIDENT: u32 = 1 << 30;
const REMOTE: u32 = 1 << 29;
const DIRTY: u32 = 1 << 28;
const FRAME: u32 = MAX_FRAMES - 1;

/// A frame in a [`PageStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FrameId(pub u32);

/// Where page frames live: a static arena on a board ([`ArenaStore`]), heap memory on a host.
///
/// Contract: `alloc` returns a zero-filled frame not currently allocated (or `None` when full),
/// `get`/`get_mut` return the frame for every id `alloc` returned and that was not freed since
/// (`None` otherwise, never a panic), and `free` of an id that is not allocated does nothing.
pub trait PageStore {
    /// A zero-filled frame, or `None` when the store is full.
    fn alloc(&mut self) -> Option<FrameId>;
    /// Returns a frame to the store.
    fn free(&mut self, frame: FrameId);
    /// The contents of an allocated frame.
    fn get(&self, frame: FrameId) -> Option<&Page>;
    /// The contents of an allocated frame, for writing.
    fn get_mut(&mut self, frame: FrameId) -> Option<&mut Page>;
}

/// A fixed arena of `N` frames with a free list: no allocation, usable in a `static`.
pub struct ArenaStore<const N: usize> {
    frames: [Page; N],
    /// `next[i]`: the free frame after `i` in the free list (`u32::MAX` ends it); `ALLOCATED`
    /// when frame `i` is in use.
    next: [u32; N],
    head: u32,
    free: usize,
}

const END: u32 = u32::MAX;
const ALLOCATED: u32 = u32::MAX - 1;

impl<const N: usize> ArenaStore<N> {
    /// An arena with every frame free (`const`, so it can initialise a `static`).
    pub const fn new() -> Self {
        let mut next = [END; N];
        let mut i = 0;
        while i + 1 < N {
            next[i] = (i + 1) as u32;
            i += 1;
        }
        ArenaStore { frames: [[0; PAGE_SIZE]; N], next, head: if N == 0 { END } else { 0 }, free: N }
    }

    /// Frames not allocated.
    pub fn free_frames(&self) -> usize {
        self.free
    }
}

impl<const N: usize> Default for ArenaStore<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> PageStore for ArenaStore<N> {
    fn alloc(&mut self) -> Option<FrameId> {
        let i = self.head;
        let slot = self.next.get_mut(i as usize)?;
        self.head = *slot;
        *slot = ALLOCATED;
        self.free -= 1;
        if let Some(f) = self.frames.get_mut(i as usize) {
            f.fill(0);
        }
        Some(FrameId(i))
    }

    fn free(&mut self, frame: FrameId) {
        if let Some(slot) = self.next.get_mut(frame.0 as usize)
            && *slot == ALLOCATED
        {
            *slot = self.head;
            self.head = frame.0;
            self.free += 1;
        }
    }

    fn get(&self, frame: FrameId) -> Option<&Page> {
        if *self.next.get(frame.0 as usize)? != ALLOCATED {
            return None;
        }
        self.frames.get(frame.0 as usize)
    }

    fn get_mut(&mut self, frame: FrameId) -> Option<&mut Page> {
        if *self.next.get(frame.0 as usize)? != ALLOCATED {
            return None;
        }
        self.frames.get_mut(frame.0 as usize)
    }
}

/// Why a memory access failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MemFault {
    /// The address is not mapped in the process.
    Unmapped(u32),
    /// The address is not aligned to the access size.
    Misaligned(u32),
    /// The page is the process's but its contents are elsewhere: install page `vpn`.
    NotPresent(u32),
    /// The store has no free frame for a first write to a page.
    OutOfMemory(u32),
    /// The store lost a frame the page table names (a host bug, never the guest's).
    LostFrame(u32),
}

impl fmt::Display for MemFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemFault::Unmapped(a) => write!(f, "address {a:#010x} is not mapped"),
            MemFault::Misaligned(a) => write!(f, "address {a:#010x} is misaligned"),
            MemFault::NotPresent(v) => write!(f, "page {v:#x} is not present"),
            MemFault::OutOfMemory(a) => write!(f, "no free page frame for address {a:#010x}"),
            MemFault::LostFrame(v) => write!(f, "the page store lost the frame of page {v:#x}"),
        }
    }
}

impl core::error::Error for MemFault {}

/// What the migration layer sees of one mapped page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PageInfo {
    /// Page number (address >> 12).
    pub vpn: u32,
    /// The contents are here (false: remote, a post-copy page not fetched yet).
    pub present: bool,
    /// Written since the dirty bit was last cleared.
    pub dirty: bool,
    /// Never written since mapped or installed as zero: all zeros, no frame.
    pub zero: bool,
}

/// The page table of one process: `P` pages, so addresses `[0, P × 4096)`.
#[derive(Clone)]
pub struct AddressSpace<const P: usize> {
    pte: [u32; P],
}

impl<const P: usize> Default for AddressSpace<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const P: usize> AddressSpace<P> {
    /// Pages in the address space.
    pub const PAGES: usize = P;

    /// An empty address space (every page unmapped). `P` must be below 2^20 (a 4 GiB space
    /// minus one page), checked at compile time.
    pub const fn new() -> Self {
        const { assert!(P < 1 << 20, "an address space has fewer than 2^20 pages") };
        AddressSpace { pte: [0; P] }
    }

    /// One past the highest address.
    pub const fn limit() -> u32 {
        (P as u32) << PAGE_SHIFT
    }

    #[inline]
    fn entry(&self, vpn: u32) -> u32 {
        self.pte.get(vpn as usize).copied().unwrap_or(0)
    }

    /// State of page `vpn`, `None` when unmapped.
    pub fn page(&self, vpn: u32) -> Option<PageInfo> {
        let e = self.entry(vpn);
        (e & MAPPED != 0).then_some(PageInfo {
            vpn,
            present: e & REMOTE == 0,
            dirty: e & DIRTY != 0,
            zero: e & (RESIDENT | REMOTE) == 0,
        })
    }

    /// Every mapped page, lowest first.
    pub fn pages(&self) -> impl Iterator<Item = PageInfo> + '_ {
        (0..P as u32).filter_map(|v| self.page(v))
    }

    /// Mapped pages.
    pub fn mapped_pages(&self) -> usize {
        self.pte.iter().filter(|e| *e & MAPPED != 0).count()
    }

    /// Pages holding a frame.
    pub fn resident_pages(&self) -> usize {
        self.pte.iter().filter(|e| *e & RESIDENT != 0).count()
    }

    /// Pages with the dirty bit set (unmapped ones included).
    pub fn dirty_pages(&self) -> usize {
        self.pte.iter().filter(|e| *e & DIRTY != 0).count()
    }

    /// Pages not present (remote).
    pub fn remote_pages(&self) -> usize {
        self.pte.iter().filter(|e| *e & REMOTE != 0).count()
    }

    /// Maps pages `[first, first + count)` as zero pages (already mapped pages are left as
    /// they are; the newly mapped ones are dirty). `false` (and nothing changed) when the range
    /// leaves the address space.
    pub fn map_zero(&mut self, first: u32, count: u32) -> bool {
        let end = (first as usize).saturating_add(count as usize);
        let Some(range) = self.pte.get_mut(first as usize..end) else { return false };
        for e in range {
            if *e & MAPPED == 0 {
                *e = MAPPED | DIRTY;
            }
        }
        true
    }

    /// Unmaps pages `[first, first + count)`, returning their frames to `store`; the pages that
    /// were mapped stay dirty (unmapped) until [`take_dirty`](Self::take_dirty).
    pub fn unmap<S: PageStore + ?Sized>(&mut self, store: &mut S, first: u32, count: u32) {
        for vpn in first..first.saturating_add(count) {
            if let Some(e) = self.pte.get_mut(vpn as usize) {
                if *e & RESIDENT != 0 {
                    store.free(FrameId(*e & FRAME));
                }
                *e = if *e & MAPPED != 0 { DIRTY } else { *e };
            }
        }
    }

    /// Calls `f` with every page whose dirty bit is set (written, newly mapped, or unmapped
    /// since the last call), lowest first, and clears the bits.
    pub fn take_dirty(&mut self, mut f: impl FnMut(u32)) {
        for (vpn, e) in self.pte.iter_mut().enumerate() {
            if *e & DIRTY != 0 {
                *e &= !DIRTY;
                f(vpn as u32);
            }
        }
    }

    /// Unmaps everything, returning every frame to `store`.
    pub fn clear<S: PageStore + ?Sized>(&mut self, store: &mut S) {
        self.unmap(store, 0, P as u32);
    }

    /// Maps page `vpn` as not present (its contents are elsewhere), dropping any frame.
    /// `false` when `vpn` is outside the address space.
    pub fn map_remote<S: PageStore + ?Sized>(&mut self, store: &mut S, vpn: u32) -> bool {
        let Some(e) = self.pte.get_mut(vpn as usize) else { return false };
        if *e & RESIDENT != 0 {
            store.free(FrameId(*e & FRAME));
        }
        *e = MAPPED | REMOTE;
        true
    }

    /// Marks every mapped page not present and frees its frame (the source side of a
    /// post-copy hand-off, or a destination preparing the layout). Dirty bits are cleared.
    pub fn mark_all_remote<S: PageStore + ?Sized>(&mut self, store: &mut S) {
        for e in self.pte.iter_mut() {
            if *e & RESIDENT != 0 {
                store.free(FrameId(*e & FRAME));
            }
            *e = if *e & MAPPED != 0 { MAPPED | REMOTE } else { 0 };
        }
    }

    /// Installs the contents of page `vpn` (mapping it if needed): present, clean. An all-zero
    /// `data` makes it a zero page and frees its frame.
    pub fn install_page<S: PageStore + ?Sized>(
        &mut self,
        store: &mut S,
        vpn: u32,
        data: &Page,
    ) -> Result<(), MemFault> {
        let addr = vpn.wrapping_shl(PAGE_SHIFT);
        let e = *self.pte.get(vpn as usize).ok_or(MemFault::Unmapped(addr))?;
        if data.iter().all(|b| *b == 0) {
            return self.install_zero(store, vpn);
        }
        let frame = if e & RESIDENT != 0 { FrameId(e & FRAME) } else { alloc(store, addr)? };
        let Some(page) = store.get_mut(frame) else { return Err(MemFault::LostFrame(vpn)) };
        page.copy_from_slice(data);
        self.set(vpn, MAPPED | RESIDENT | frame.0);
        Ok(())
    }

    /// Installs page `vpn` as a zero page (mapping it if needed): present, clean, no frame.
    pub fn install_zero<S: PageStore + ?Sized>(&mut self, store: &mut S, vpn: u32) -> Result<(), MemFault> {
        let e = self.pte.get_mut(vpn as usize).ok_or(MemFault::Unmapped(vpn.wrapping_shl(PAGE_SHIFT)))?;
        if *e & RESIDENT != 0 {
            store.free(FrameId(*e & FRAME));
        }
        *e = MAPPED;
        Ok(())
    }

    /// The contents of a present page: `Ok(None)` for a zero page.
    pub fn read_page<'s, S: PageStore + ?Sized>(&self, store: &'s S, vpn: u32) -> Result<Option<&'s Page>, MemFault> {
        let e = self.entry(vpn);
        if e & MAPPED == 0 {
            return Err(MemFault::Unmapped(vpn.wrapping_shl(PAGE_SHIFT)));
        }
        if e & REMOTE != 0 {
            return Err(MemFault::NotPresent(vpn));
        }
        if e & RESIDENT == 0 {
            return Ok(None);
        }
        store.get(FrameId(e & FRAME)).map(Some).ok_or(MemFault::LostFrame(vpn))
    }

    /// Clears the dirty bit of page `vpn`; returns whether it was set.
    pub fn clear_dirty(&mut self, vpn: u32) -> bool {
        match self.pte.get_mut(vpn as usize) {
            Some(e) => {
                let was = *e & DIRTY != 0;
                *e &= !DIRTY;
                was
            }
            None => false,
        }
    }

    /// Clears every dirty bit (the start of a pre-copy round).
    pub fn clear_all_dirty(&mut self) {
        for e in self.pte.iter_mut() {
            *e &= !DIRTY;
        }
    }

    fn set(&mut self, vpn: u32, v: u32) {
        if let Some(e) = self.pte.get_mut(vpn as usize) {
            *e = v;
        }
    }

    /// Page `vpn`'s frame for reading: `Ok(None)` for a zero page.
    #[inline]
    fn frame_for_read(&self, addr: u32) -> Result<Option<FrameId>, MemFault> {
        let vpn = addr >> PAGE_SHIFT;
        let e = self.entry(vpn);
        if e & (MAPPED | RESIDENT | REMOTE) == MAPPED | RESIDENT {
            return Ok(Some(FrameId(e & FRAME)));
        }
        if e & MAPPED == 0 {
            Err(MemFault::Unmapped(addr))
        } else if e & REMOTE != 0 {
            Err(MemFault::NotPresent(vpn))
        } else {
            Ok(None)
        }
    }

    /// Page `vpn`'s frame for writing (allocating one for a zero page); sets the dirty bit.
    #[inline]
    fn frame_for_write<S: PageStore + ?Sized>(&mut self, store: &mut S, addr: u32) -> Result<FrameId, MemFault> {
        let vpn = addr >> PAGE_SHIFT;
        let e = self.entry(vpn);
        if e & (MAPPED | RESIDENT | REMOTE) == MAPPED | RESIDENT {
            self.set(vpn, e | DIRTY);
            return Ok(FrameId(e & FRAME));
        }
        if e & MAPPED == 0 {
            return Err(MemFault::Unmapped(addr));
        }
        if e & REMOTE != 0 {
            return Err(MemFault::NotPresent(vpn));
        }
        let f = alloc(store, addr)?;
        self.set(vpn, MAPPED | RESIDENT | DIRTY | f.0);
        Ok(f)
    }

    /// Checks that an access of `size` bytes (1, 2 or 4) at `addr` would succeed (alignment,
    /// mapping, presence) without performing it.
    #[inline]
    pub fn probe(&self, addr: u32, size: u32) -> Result<(), MemFault> {
        if !matches!(size, 1 | 2 | 4) || addr & (size - 1) != 0 {
            return Err(MemFault::Misaligned(addr));
        }
        self.frame_for_read(addr).map(|_| ())
    }

    /// Loads `size` (1, 2 or 4) bytes little-endian from an aligned `addr`.
    #[inline]
    pub fn load<S: PageStore + ?Sized>(&self, store: &S, addr: u32, size: u32) -> Result<u32, MemFault> {
        if !matches!(size, 1 | 2 | 4) || addr & (size - 1) != 0 {
            return Err(MemFault::Misaligned(addr));
        }
        let Some(frame) = self.frame_for_read(addr)? else { return Ok(0) };
        let page = store.get(frame).ok_or(MemFault::LostFrame(addr >> PAGE_SHIFT))?;
        let off = (addr as usize) & (PAGE_SIZE - 1);
        let mut b = [0u8; 4];
        let src = page.get(off..off + size as usize).ok_or(MemFault::Misaligned(addr))?;
        b[..size as usize].copy_from_slice(src);
        Ok(u32::from_le_bytes(b))
    }

    /// Stores the low `size` (1, 2 or 4) bytes of `value` little-endian at an aligned `addr`.
    #[inline]
    pub fn store<S: PageStore + ?Sized>(
        &mut self,
        store: &mut S,
        addr: u32,
        size: u32,
        value: u32,
    ) -> Result<(), MemFault> {
        if !matches!(size, 1 | 2 | 4) || addr & (size - 1) != 0 {
            return Err(MemFault::Misaligned(addr));
        }
        let frame = self.frame_for_write(store, addr)?;
        let page = store.get_mut(frame).ok_or(MemFault::LostFrame(addr >> PAGE_SHIFT))?;
        let off = (addr as usize) & (PAGE_SIZE - 1);
        let dst = page.get_mut(off..off + size as usize).ok_or(MemFault::Misaligned(addr))?;
        dst.copy_from_slice(&value.to_le_bytes()[..size as usize]);
        Ok(())
    }

    /// Fetches the instruction bits at a 2-aligned `pc`: 32 bits when they lie in one page,
    /// else the low 16 bits alone when they are a compressed instruction (so a compressed
    /// instruction at the end of a page never touches the next page), else the 32 bits across
    /// the two pages.
    #[inline]
    pub fn fetch<S: PageStore + ?Sized>(&self, store: &S, pc: u32) -> Result<u32, MemFault> {
        if pc & 1 != 0 {
            return Err(MemFault::Misaligned(pc));
        }
        let off = (pc as usize) & (PAGE_SIZE - 1);
        let Some(frame) = self.frame_for_read(pc)? else { return Ok(0) };
        let page = store.get(frame).ok_or(MemFault::LostFrame(pc >> PAGE_SHIFT))?;
        if let Some(w) = page.get(off..off + 4) {
            return Ok(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        }
        let lo = u32::from(page[PAGE_SIZE - 2]) | (u32::from(page[PAGE_SIZE - 1]) << 8);
        if lo & 3 != 3 {
            return Ok(lo);
        }
        let hi = self.load(store, pc.wrapping_add(2), 2)?;
        Ok(lo | (hi << 16))
    }

    /// Checks that `[addr, addr + len)` is mapped and present (a wrapping range is unmapped).
    /// Reports the first failing page.
    pub fn check_range(&self, addr: u32, len: u32) -> Result<(), MemFault> {
        if len == 0 {
            return Ok(());
        }
        let last = addr.checked_add(len - 1).ok_or(MemFault::Unmapped(u32::MAX))?;
        let mut a = addr;
        loop {
            self.frame_for_read(a)?;
            let next = (a | (PAGE_SIZE as u32 - 1)).wrapping_add(1);
            if next == 0 || next > last {
                return Ok(());
            }
            a = next;
        }
    }

    /// Copies guest bytes at `addr` into `out` (all of the range is checked first).
    pub fn read_bytes<S: PageStore + ?Sized>(&self, store: &S, addr: u32, out: &mut [u8]) -> Result<(), MemFault> {
        let len = u32::try_from(out.len()).map_err(|_| MemFault::Unmapped(addr))?;
        self.check_range(addr, len)?;
        let mut done = 0usize;
        while done < out.len() {
            let a = addr.wrapping_add(done as u32);
            let off = (a as usize) & (PAGE_SIZE - 1);
            let n = (PAGE_SIZE - off).min(out.len() - done);
            let dst = out.get_mut(done..done + n).ok_or(MemFault::Unmapped(a))?;
            match self.frame_for_read(a)? {
                None => dst.fill(0),
                Some(f) => {
                    let page = store.get(f).ok_or(MemFault::LostFrame(a >> PAGE_SHIFT))?;
                    dst.copy_from_slice(page.get(off..off + n).ok_or(MemFault::Unmapped(a))?);
                }
            }
            done += n;
        }
        Ok(())
    }

    /// Copies `data` into guest memory at `addr` (all of the range is checked first; the
    /// pages written become dirty). A store too full for a first write gives
    /// [`MemFault::OutOfMemory`] after the pages before it were written.
    pub fn write_bytes<S: PageStore + ?Sized>(
        &mut self,
        store: &mut S,
        addr: u32,
        data: &[u8],
    ) -> Result<(), MemFault> {
        let len = u32::try_from(data.len()).map_err(|_| MemFault::Unmapped(addr))?;
        self.check_range(addr, len)?;
        let mut done = 0usize;
        while done < data.len() {
            let a = addr.wrapping_add(done as u32);
            let off = (a as usize) & (PAGE_SIZE - 1);
            let n = (PAGE_SIZE - off).min(data.len() - done);
            let f = self.frame_for_write(store, a)?;
            let page = store.get_mut(f).ok_or(MemFault::LostFrame(a >> PAGE_SHIFT))?;
            let src = data.get(done..done + n).ok_or(MemFault::Unmapped(a))?;
            page.get_mut(off..off + n).ok_or(MemFault::Unmapped(a))?.copy_from_slice(src);
            done += n;
        }
        Ok(())
    }

    /// A 64-bit FNV-1a checksum of every mapped page's number and contents (zero pages
    /// included), for comparing memories across runs and migrations.
    pub fn checksum<S: PageStore + ?Sized>(&self, store: &S) -> Result<u64, MemFault> {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut mix = |b: u8| {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        };
        for p in self.pages() {
            p.vpn.to_le_bytes().into_iter().for_each(&mut mix);
            match self.read_page(store, p.vpn)? {
                Some(page) => page.iter().for_each(|b| mix(*b)),
                None => (0..PAGE_SIZE).for_each(|_| mix(0)),
            }
        }
        Ok(h)
    }
}

fn alloc<S: PageStore + ?Sized>(store: &mut S, addr: u32) -> Result<FrameId, MemFault> {
    let f = store.alloc().ok_or(MemFault::OutOfMemory(addr))?;
    if f.0 >= MAX_FRAMES {
        store.free(f);
        return Err(MemFault::OutOfMemory(addr));
    }
    Ok(f)
}
