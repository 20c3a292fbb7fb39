//! Fixture of the VM benchmark: a guest run to its exit in a fresh process.

use tern_core::proc::Event;
use tern_core::time::Instant;
use tern_std::run::{HeapStore, new_process};

/// Runs `elf` with `args` to its exit; returns the instructions it retired.
pub fn run_guest(elf: &[u8], args: &[&[u8]]) -> u64 {
    let mut s = HeapStore::new();
    let mut p = new_process();
    p.load(&mut s, elf, args, Default::default()).expect("load the guest");
    let mut console = Vec::new();
    let mut services = tern_std::run::Services::<tern_std::hostfs::HostFs>::new(None);
    loop {
        match p.run(&mut s, Instant::ZERO, u64::MAX) {
            Event::Exited { code: 0 } => return p.cb.instret,
            Event::Call { call, .. } => {
                let r = services.serve(&mut *p, &mut s, call, &mut |b| console.extend_from_slice(b));
                p.complete(&mut s, r).expect("reply fits");
            }
            e => panic!("unexpected {e:?}: {}", String::from_utf8_lossy(&console)),
        }
    }
}
