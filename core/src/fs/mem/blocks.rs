//! Data blocks: the (node, index) → block hash table, file block lists, reads and writes.

use super::nodes::Body;
use super::{BLOCK_SIZE, MemFs, NONE};

/// One data block of a [`MemFs`] with its index fields (532 bytes). Opaque: allocate tables of
/// [`Block::ZERO`].
#[derive(Debug, Clone, Copy)]
pub struct Block {
    pub(super) data: [u8; BLOCK_SIZE],
    /// Owning node ([`NONE`] when free).
    pub(super) owner: u32,
    /// Index of the block in the owner's data (offset / [`BLOCK_SIZE`]).
    pub(super) index: u32,
    /// Next block on the same hash chain.
    pub(super) chain: u32,
    /// Next block of the same file, or next free block.
    pub(super) next: u32,
    /// Head of hash bucket `i` (this block's slot number), unrelated to the block itself.
    pub(super) bucket: u32,
}

impl Block {
    /// An unformatted slot (all zeros).
    pub const ZERO: Block = Block { data: [0; BLOCK_SIZE], owner: 0, index: 0, chain: 0, next: 0, bucket: 0 };
}

/// A 32-bit mix of a pair of 32-bit keys (the finalizer of MurmurHash3's 64-bit variant).
pub(super) fn mix(a: u32, b: u32) -> u32 {
    let mut h = u64::from(a) << 32 | u64::from(b);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h as u32
}

/// Maps a 32-bit hash onto `0..len` without a division.
pub(super) fn bucket_of(h: u32, len: usize) -> usize {
    ((u64::from(h) * len as u64) >> 32) as usize
}

impl MemFs<'_> {
    /// Puts every block on the free list and empties the hash table.
    pub(super) fn format_blocks(&mut self) {
        let n = self.blocks.len() as u32;
        for (i, b) in self.blocks.iter_mut().enumerate() {
            b.owner = NONE;
            b.chain = NONE;
            b.bucket = NONE;
            b.next = if i as u32 + 1 < n { i as u32 + 1 } else { NONE };
        }
        self.free_blocks.head = if n > 0 { 0 } else { NONE };
        self.free_blocks.count = n;
    }

    /// The block holding data block `index` of node `n`, if allocated.
    pub(super) fn find_block(&self, n: u32, index: u32) -> Option<usize> {
        let mut b = self.blocks.get(bucket_of(mix(n, index), self.blocks.len()))?.bucket;
        while let Some(blk) = self.blocks.get(b as usize) {
            if blk.owner == n && blk.index == index {
                return Some(b as usize);
            }
            b = blk.chain;
        }
        None
    }

    /// Allocates a zeroed block for data block `index` of file `n`; `None` when none is free.
    fn alloc_block(&mut self, n: u32, index: u32) -> Option<usize> {
        let b = self.free_blocks.head;
        let h = bucket_of(mix(n, index), self.blocks.len());
        if b as usize >= self.blocks.len() || h >= self.blocks.len() {
            return None;
        }
        let Body::File { head, blocks } = &mut self.nodes[n as usize].body else { return None };
        *blocks += 1;
        let file_head = core::mem::replace(head, b);
        let chain = core::mem::replace(&mut self.blocks[h].bucket, b);
        let blk = &mut self.blocks[b as usize];
        self.free_blocks.head = blk.next;
        self.free_blocks.count -= 1;
        *blk = Block { data: [0; BLOCK_SIZE], owner: n, index, chain, next: file_head, bucket: blk.bucket };
        Some(b as usize)
    }

    /// Unhooks block `b` from its hash chain and puts it on the free list (the caller unhooks
    /// it from its file list).
    fn release_block(&mut self, b: u32) {
        let blk = &self.blocks[b as usize];
        let h = bucket_of(mix(blk.owner, blk.index), self.blocks.len());
        let chain = blk.chain;
        if self.blocks[h].bucket == b {
            self.blocks[h].bucket = chain;
        } else {
            let mut p = self.blocks[h].bucket;
            while let Some(prev) = self.blocks.get_mut(p as usize) {
                if prev.chain == b {
                    prev.chain = chain;
                    break;
                }
                p = prev.chain;
            }
        }
        let blk = &mut self.blocks[b as usize];
        blk.owner = NONE;
        blk.chain = NONE;
        blk.next = self.free_blocks.head;
        self.free_blocks.head = b;
        self.free_blocks.count += 1;
    }

    /// Frees the blocks of file `n` from data block `keep` on; returns how many were freed.
    pub(super) fn truncate_blocks(&mut self, n: u32, keep: u64) -> u32 {
        let Body::File { head, .. } = self.nodes[n as usize].body else { return 0 };
        let (mut new_head, mut last, mut freed) = (NONE, NONE, 0);
        let mut b = head;
        while let Some(blk) = self.blocks.get(b as usize) {
            let next = blk.next;
            if u64::from(blk.index) >= keep {
                self.release_block(b);
                freed += 1;
            } else {
                if last == NONE {
                    new_head = b;
                } else {
                    self.blocks[last as usize].next = b;
                }
                last = b;
            }
            b = next;
        }
        if last != NONE {
            self.blocks[last as usize].next = NONE;
        }
        if let Body::File { head, blocks } = &mut self.nodes[n as usize].body {
            *head = new_head;
            *blocks -= freed;
        }
        freed
    }

    /// Sets file `n`'s size, freeing blocks beyond it and zeroing the tail of the last one.
    pub(super) fn set_size(&mut self, n: u32, size: u64) {
        let bs = BLOCK_SIZE as u64;
        if size < self.nodes[n as usize].size {
            self.truncate_blocks(n, size.div_ceil(bs));
            let tail = (size % bs) as usize;
            if tail != 0
                && let Some(b) = self.find_block(n, (size / bs) as u32)
            {
                self.blocks[b].data[tail..].fill(0);
            }
        }
        self.nodes[n as usize].size = size;
    }

    /// Reads file `n` from `offset` into `out` (holes as zeros); returns (count, eof).
    pub(super) fn read_data(&self, n: u32, offset: u64, out: &mut [u8]) -> (usize, bool) {
        let size = self.nodes[n as usize].size;
        if offset >= size {
            return (0, true);
        }
        let len = (size - offset).min(out.len() as u64) as usize;
        let mut done = 0;
        while done < len {
            let pos = offset + done as u64;
            let (index, at) = ((pos / BLOCK_SIZE as u64) as u32, (pos % BLOCK_SIZE as u64) as usize);
            let k = (BLOCK_SIZE - at).min(len - done);
            let dst = &mut out[done..done + k];
            match self.find_block(n, index) {
                Some(b) => dst.copy_from_slice(&self.blocks[b].data[at..at + k]),
                None => dst.fill(0),
            }
            done += k;
        }
        (len, offset + len as u64 == size)
    }

    /// Writes `data` at `offset` into file `n` (the caller checked the range), allocating
    /// blocks; stops at the first block it cannot allocate. Returns the count written.
    pub(super) fn write_data(&mut self, n: u32, offset: u64, data: &[u8]) -> usize {
        let mut done = 0;
        while done < data.len() {
            let pos = offset + done as u64;
            let (index, at) = ((pos / BLOCK_SIZE as u64) as u32, (pos % BLOCK_SIZE as u64) as usize);
            let k = (BLOCK_SIZE - at).min(data.len() - done);
            let b = match self.find_block(n, index) {
                Some(b) => b,
                None if self.free_blocks.count > 0 => match self.alloc_block(n, index) {
                    Some(b) => b,
                    None => break,
                },
                None => break,
            };
            self.blocks[b].data[at..at + k].copy_from_slice(&data[done..done + k]);
            done += k;
        }
        let end = offset + done as u64;
        let node = &mut self.nodes[n as usize];
        if done > 0 && end > node.size {
            node.size = end;
        }
        done
    }
}
