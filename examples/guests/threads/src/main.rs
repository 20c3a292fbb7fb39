//! Worker threads over shared memory: `threads WORKERS ITEMS [trace]`.
//!
//! Main fills an array of `ITEMS` words; each worker sums its share of the array, stores its
//! partial sum in its own slot, folds a hash of its share into a shared atomic, counts a
//! futex latch down and exits with its index + 10; main waits on the latch, joins every
//! worker (checking the exit codes) and prints the totals. The output depends only on the
//! arguments, whatever the interleaving; with `trace`, the workers also log which of them
//! got to every 256th item first, and main prints a hash of that log: a fingerprint of the
//! schedule (the same for the same instruction-count schedule, wherever it ran).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use tern_guest::println;
use tern_guest::sync::Latch;

tern_guest::entry!(main);

const MAX_WORKERS: usize = 14;

/// Partial sums, low and high halves per worker (RV32 has no 64-bit atomics).
static PARTS: [[AtomicU32; 2]; MAX_WORKERS] = [const { [AtomicU32::new(0), AtomicU32::new(0)] }; MAX_WORKERS];
static XOR: AtomicU32 = AtomicU32::new(0);
static DONE: Latch = Latch::new(0);
static WORKERS: AtomicU32 = AtomicU32::new(0);
static DATA_PTR: AtomicU32 = AtomicU32::new(0);
static DATA_LEN: AtomicU32 = AtomicU32::new(0);
static TRACE: AtomicU32 = AtomicU32::new(0);
static LOG: [AtomicU32; 1024] = [const { AtomicU32::new(0) }; 1024];
static LOG_LEN: AtomicU32 = AtomicU32::new(0);

fn data() -> &'static [u32] {
    let (p, n) = (DATA_PTR.load(Ordering::Acquire), DATA_LEN.load(Ordering::Acquire));
    // SAFETY: main published a heap array of n words at p before starting any worker and
    // never writes it again.
    unsafe { core::slice::from_raw_parts(p as usize as *const u32, n as usize) }
}

fn worker(i: usize) -> i32 {
    let n = WORKERS.load(Ordering::Relaxed) as usize;
    let d = data();
    let chunk = d.len().div_ceil(n);
    let mine = d.get(i * chunk..((i + 1) * chunk).min(d.len())).unwrap_or(&[]);
    let (mut s, mut x) = (0u64, 0u32);
    for (k, v) in mine.iter().enumerate() {
        s += u64::from(*v);
        x ^= v.rotate_left(k as u32 % 32);
        if k % 256 == 0 && TRACE.load(Ordering::Relaxed) != 0 {
            let at = LOG_LEN.fetch_add(1, Ordering::AcqRel) as usize;
            if let Some(slot) = LOG.get(at) {
                slot.store(i as u32 + 1, Ordering::Release);
            }
        }
        if k % 4096 == 4095 {
            tern_guest::yield_now();
        }
    }
    PARTS[i][0].store(s as u32, Ordering::Release);
    PARTS[i][1].store((s >> 32) as u32, Ordering::Release);
    XOR.fetch_xor(x, Ordering::AcqRel);
    DONE.count_down();
    i as i32 + 10
}

fn main(args: tern_guest::Args) -> i32 {
    let workers = args.num(1, 4).clamp(1, MAX_WORKERS as u64) as usize;
    let items = args.num(2, 100_000) as usize;
    let trace = args.str(3) == Some("trace");
    TRACE.store(u32::from(trace), Ordering::Relaxed);
    let Some(mem) = tern_guest::sbrk(items * 4) else { return 1 };
    let mut x: u32 = 7;
    for w in mem.chunks_exact_mut(4) {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        w.copy_from_slice(&(x >> 4).to_le_bytes());
    }
    DATA_PTR.store(mem.as_ptr() as u32, Ordering::Release);
    DATA_LEN.store(items as u32, Ordering::Release);
    WORKERS.store(workers as u32, Ordering::Relaxed);
    DONE.set(workers as u32);
    let mut handles = [const { None }; MAX_WORKERS];
    for (i, h) in handles.iter_mut().enumerate().take(workers) {
        match tern_guest::spawn(worker, i, 16 * 1024) {
            Ok(j) => *h = Some(j),
            Err(e) => {
                println!("spawn: {e}");
                return 1;
            }
        }
    }
    DONE.wait();
    let mut codes = 0;
    let mut sum = 0u64;
    for (i, h) in handles.iter_mut().enumerate() {
        if let Some(h) = h.take() {
            let c = h.join().unwrap_or(-1);
            if c != i as i32 + 10 {
                println!("worker {i} exited with {c}");
                return 1;
            }
            codes += c;
            sum +=
                u64::from(PARTS[i][0].load(Ordering::Acquire)) | u64::from(PARTS[i][1].load(Ordering::Acquire)) << 32;
        }
    }
    println!("workers {workers} items {items} codes {codes}");
    println!("sum {sum} xor {:08x}", XOR.load(Ordering::Acquire));
    if trace {
        let n = (LOG_LEN.load(Ordering::Acquire) as usize).min(LOG.len());
        let h = LOG[..n].iter().fold(0x811c_9dc5u32, |h, v| (h ^ v.load(Ordering::Acquire)).wrapping_mul(0x0100_0193));
        println!("trace {n} {h:08x}");
    }
    0
}
