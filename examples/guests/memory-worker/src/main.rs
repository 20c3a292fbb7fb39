//! Keeps a working set dirty: `memory-worker PAGES ROUNDS DIRTY [SLEEP_US]`.
//!
//! Maps `PAGES` pages of heap and fills them, then for `ROUNDS` rounds writes one word into
//! each of `DIRTY` pseudo-randomly chosen pages, sleeping `SLEEP_US` µs after every round (the
//! dirty rate is `DIRTY` pages per `SLEEP_US` µs plus the time the writes take). Prints the
//! FNV-1a checksum of the working set at the end. The output depends only on the arguments.
#![no_std]
#![no_main]

use tern_guest::println;

tern_guest::entry!(main);

const PAGE: usize = 4096;

fn main(args: tern_guest::Args) -> i32 {
    let pages = args.num(1, 256) as usize;
    let rounds = args.num(2, 100);
    let dirty = args.num(3, 16);
    let sleep = args.num(4, 0);
    let Some(ws) = tern_guest::sbrk(pages * PAGE) else {
        println!("cannot map {pages} pages");
        return 1;
    };
    for (i, w) in ws.chunks_exact_mut(4).enumerate() {
        w.copy_from_slice(&(i as u32).wrapping_mul(2_654_435_761).to_le_bytes());
    }
    let mut x: u32 = 0x1234_5678;
    for round in 0..rounds {
        for _ in 0..dirty {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let page = (x as usize) % pages;
            let word = ((x >> 8) as usize) % (PAGE / 4);
            let at = page * PAGE + word * 4;
            let old = u32::from_le_bytes([ws[at], ws[at + 1], ws[at + 2], ws[at + 3]]);
            ws[at..at + 4].copy_from_slice(&(old ^ x ^ round as u32).to_le_bytes());
        }
        if sleep > 0 {
            tern_guest::sleep_us(sleep);
        }
    }
    let mut h: u32 = 0x811c_9dc5;
    for b in ws.iter() {
        h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
    }
    println!("pages {pages} rounds {rounds} dirty {dirty}");
    println!("checksum {h:08x}");
    0
}
