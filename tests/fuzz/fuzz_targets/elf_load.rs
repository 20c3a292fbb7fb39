//! Arbitrary bytes as a guest ELF: `Elf::parse` never panics, and what it accepts is sound
//! (segments inside the file and the address space, no overlap, entry in an executable
//! segment); `Process::load` either refuses cleanly (leaving the process empty and every frame
//! free) or maps exactly the segments with their bytes, and a short run never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_core::proc::{ArenaStore, Elf, Event, LoadOptions, PAGE_SIZE, Process};
use tern_core::time::Instant;

const FRAMES: usize = 64;

fuzz_target!(|data: &[u8]| {
    let Ok(elf) = Elf::parse(data) else { return check_refusal(data) };
    let segs = elf.segments();
    assert!(!segs.is_empty());
    for (i, s) in segs.iter().enumerate() {
        assert!(s.data.len() as u64 <= u64::from(s.memsz));
        assert!(u64::from(s.vaddr) + u64::from(s.memsz) <= 1 << 32);
        let start = s.data.as_ptr() as usize - data.as_ptr() as usize;
        assert!(start + s.data.len() <= data.len());
        for t in &segs[i + 1..] {
            assert!(s.end() <= t.vaddr || t.end() <= s.vaddr, "overlap");
        }
    }
    assert!(segs.iter().any(|s| elf.entry >= s.vaddr && elf.entry < s.end() && s.flags & 1 != 0));
    check_refusal(data);
});

/// Loads into a small process: success maps the image exactly; failure leaves nothing.
fn check_refusal(data: &[u8]) {
    let mut store = Box::new(ArenaStore::<FRAMES>::new());
    let mut p = Box::new(Process::<512>::new());
    let opts = LoadOptions { stack_pages: 4, ..LoadOptions::default() };
    match p.load(&mut *store, data, &[b"fuzz", b"arg"], opts) {
        Err(_) => {
            assert_eq!(p.mem.mapped_pages(), 0);
            assert_eq!(store.free_frames(), FRAMES);
            assert!(p.cb.threads.is_empty());
        }
        Ok(()) => {
            let elf = Elf::parse(data).expect("loaded, so it parses");
            for s in elf.segments() {
                let mut got = vec![0u8; s.data.len()];
                p.read_guest(&*store, s.vaddr, &mut got).expect("segment mapped");
                assert_eq!(got, s.data);
                let bss = (s.memsz as usize - s.data.len()).min(PAGE_SIZE);
                let mut zeros = vec![0u8; bss];
                p.read_guest(&*store, s.vaddr + s.data.len() as u32, &mut zeros).expect("bss mapped");
                assert!(zeros.iter().all(|b| *b == 0));
            }
            assert!(p.cb.brk_start as u64 >= elf.end() as u64);
            assert_eq!(p.cb.threads[0].regs.pc, elf.entry);
            match p.run(&mut *store, Instant::ZERO, 2_000) {
                Event::Budget | Event::Exited { .. } | Event::Faulted(_) | Event::Call { .. } | Event::Idle { .. } => {}
                Event::PageFault { vpn } => panic!("page {vpn} is not present in a freshly loaded process"),
            }
            p.release(&mut *store);
            assert_eq!(store.free_frames(), FRAMES);
        }
    }
}
