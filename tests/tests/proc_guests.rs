//! The example guests (`examples/guests`) under `tern run`, with their results computed
//! natively here; and the determinism that migration relies on: a guest stopped at many
//! random points, its control block encoded and decoded and its pages copied (or fetched on
//! demand, as post-copy does) into a fresh process each time, ends with the same output,
//! exit code, instruction count and memory as an uninterrupted run.

use std::collections::HashMap;
use std::process::Command;

use tern_core::proc::{ControlBlock, Event, PAGE_SIZE, Page};
use tern_core::time::Instant;
use tern_std::hostfs::HostFs;
use tern_std::run::{HeapStore, HostProcess, Services, new_process};
use tern_tests::{guest, run, temp_dir, tern_bin};

fn tern_run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(tern_bin()).arg("run").args(args).output().expect("run tern");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fnv(h: u32, bytes: &[u8]) -> u32 {
    bytes.iter().fold(h, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

/// What memory-worker computes, natively.
fn memory_worker_checksum(pages: usize, rounds: u32, dirty: u32) -> u32 {
    let mut ws = vec![0u8; pages * PAGE_SIZE];
    for (i, w) in ws.chunks_exact_mut(4).enumerate() {
        w.copy_from_slice(&(i as u32).wrapping_mul(2_654_435_761).to_le_bytes());
    }
    let mut x: u32 = 0x1234_5678;
    for round in 0..rounds {
        for _ in 0..dirty {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let at = (x as usize % pages) * PAGE_SIZE + ((x >> 8) as usize % (PAGE_SIZE / 4)) * 4;
            let old = u32::from_le_bytes(ws[at..at + 4].try_into().unwrap());
            ws[at..at + 4].copy_from_slice(&(old ^ x ^ round).to_le_bytes());
        }
    }
    fnv(0x811c_9dc5, &ws)
}

/// What the threads guest prints, natively.
fn threads_output(workers: usize, items: usize) -> String {
    let mut x: u32 = 7;
    let data: Vec<u32> = (0..items)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            x >> 4
        })
        .collect();
    let chunk = items.div_ceil(workers);
    let (mut sum, mut xor, mut codes) = (0u64, 0u32, 0);
    for i in 0..workers {
        let mine = data.get(i * chunk..((i + 1) * chunk).min(items)).unwrap_or(&[]);
        for (k, v) in mine.iter().enumerate() {
            sum += u64::from(*v);
            xor ^= v.rotate_left(k as u32 % 32);
        }
        codes += i + 10;
    }
    format!("workers {workers} items {items} codes {codes}\nsum {sum} xor {xor:08x}\n")
}

#[test]
fn memory_worker_prints_the_native_checksum() {
    let g = guest("memory-worker");
    let (code, out, err) = tern_run(&[g.to_str().unwrap(), "48", "300", "12"]);
    assert_eq!(code, 0, "{err}");
    let want = memory_worker_checksum(48, 300, 12);
    assert_eq!(out, format!("pages 48 rounds 300 dirty 12\nchecksum {want:08x}\n"));
}

#[test]
fn memory_worker_sleeps_at_its_rate() {
    // 5 rounds with a 20 ms sleep each: at least 100 ms, driven by the host clock.
    let g = guest("memory-worker");
    let t = std::time::Instant::now();
    let (code, out, err) = tern_run(&[g.to_str().unwrap(), "4", "5", "2", "20000"]);
    assert_eq!(code, 0, "{err}");
    assert!(t.elapsed() >= std::time::Duration::from_millis(100), "{:?}", t.elapsed());
    assert!(out.contains(&format!("checksum {:08x}", memory_worker_checksum(4, 5, 2))), "{out}");
}

#[test]
fn file_worker_writes_the_result_file() {
    let dir = temp_dir("file-worker");
    let input: Vec<u8> = (0..50_000u32).map(|i| b"The quick brown fox, 0123456789!\n"[(i % 33) as usize]).collect();
    std::fs::write(dir.join("in.txt"), &input).unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    let g = guest("file-worker");
    let (code, out, err) =
        tern_run(&["--root", dir.to_str().unwrap(), g.to_str().unwrap(), "/in.txt", "sub/out.txt", "1000"]);
    assert_eq!(code, 0, "{out}{err}");
    let h = fnv(0x811c_9dc5, &input);
    let mut want: Vec<u8> = input
        .iter()
        .map(|b| match b {
            b'a'..=b'z' => (b - b'a' + 13) % 26 + b'a',
            b'A'..=b'Z' => (b - b'A' + 13) % 26 + b'A',
            _ => *b,
        })
        .collect();
    want.extend(format!("size {} fnv {h:08x}\n", input.len()).bytes());
    assert!(std::fs::read(dir.join("sub/out.txt")).unwrap() == want, "result file differs");
    let n = input.len();
    // The root lists ".", "..", "in.txt" and "sub".
    assert_eq!(out, format!("read {n} bytes (stat {n}, seek {n})\nfnv {h:08x}\ndir entries 4\n"));

    // A missing input: the guest reports it and exits 1; nothing escapes the root.
    let (code, out, _) = tern_run(&["--root", dir.to_str().unwrap(), g.to_str().unwrap(), "../../etc/passwd", "x"]);
    assert_eq!(code, 1);
    assert!(out.starts_with("open ../../etc/passwd: errno"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_processes_talk_over_a_channel() {
    let g = guest("chan-peer");
    let g = g.to_str().unwrap();
    let also = format!("{g} pong pp");
    let (code, out, err) = tern_run(&["--also", &also, g, "ping", "pp", "200"]);
    assert_eq!(code, 0, "{err}");
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(lines, ["ping: 200 rounds, sum 19900", "pong: answered 200"]);
}

#[test]
fn threads_agree_with_the_native_sums() {
    let g = guest("threads");
    let (code, out, err) = tern_run(&[g.to_str().unwrap(), "5", "30000"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, threads_output(5, 30000));
}

#[test]
fn bad_elf_panic_and_exit_status() {
    let dir = temp_dir("bad-elf");
    let bad = dir.join("bad.elf");
    std::fs::write(&bad, b"\x7fELF\x02\x01\x01").unwrap();
    let (code, out, err) = tern_run(&[bad.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (120, ""));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("bad ELF file: not an ELF file"), "{err}");
    // A host ELF (x86-64) is refused as such.
    let (code, _, err) = tern_run(&[tern_bin().to_str().unwrap()]);
    assert_eq!(code, 120);
    assert!(err.contains("not a 32-bit little-endian ELF file"), "{err}");
    // A guest that executes an illegal instruction: one line naming the fault, exit 121.
    let mut elf = b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0".to_vec();
    for v in [2u16, 243] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    for v in [1u32, 0x1000, 52, 0, 5] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    for v in [52u16, 32, 1, 40, 0, 0] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    // addi a0, zero, 1; then the all-ones word.
    for v in [1u32, 84, 0x1000, 0x1000, 8, 8, 5, 4, 0x0010_0513, 0xffff_ffff] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    let faulty = dir.join("faulty.elf");
    std::fs::write(&faulty, &elf).unwrap();
    let (code, _, err) = tern_run(&[faulty.to_str().unwrap()]);
    assert_eq!(code, 121, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("guest fault: illegal instruction 0xffffffff (thread 0, pc 0x00001004)"), "{err}");
    // A guest that panics (division by zero with 0 pages) exits 101 after printing it.
    let (code, out, _) = tern_run(&[guest("memory-worker").to_str().unwrap(), "0", "1", "1"]);
    assert_eq!(code, 101);
    assert!(out.starts_with("panic: "), "{out}");
    // The guest's own exit status passes through.
    let (code, out, _) = tern_run(&[guest("chan-peer").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(out.starts_with("usage"));
    let _ = std::fs::remove_dir_all(&dir);
    let (ok, _, _) = run(Command::new(tern_bin()).args(["run", "--help"]));
    assert!(ok);
}

/// The end of a run: console, exit code, memory checksum, instructions retired.
type Outcome = (Vec<u8>, i32, u64, u64);

/// Pages of a process that are not present, and where their contents are (None: zero).
type Remote = HashMap<u32, Option<Box<Page>>>;

/// Moves `p` to a fresh process and store through the control block codec. `lazy`: the new
/// address space starts with every page remote and pages come on demand from `remote`.
fn migrate(p: &HostProcess, s: &HeapStore, remote: &Remote, lazy: bool) -> (Box<HostProcess>, HeapStore, Remote) {
    let mut buf = vec![0u8; ControlBlock::MAX_ENCODED];
    let n = p.cb.encode(&mut buf).unwrap();
    let mut q = new_process();
    let mut t = HeapStore::new();
    q.cb = ControlBlock::decode(&buf[..n]).unwrap();
    let mut next = Remote::new();
    for pg in p.mem.pages() {
        let content: Option<Box<Page>> = if pg.present {
            p.mem.read_page(s, pg.vpn).unwrap().map(|page| Box::new(*page))
        } else {
            remote[&pg.vpn].clone()
        };
        if lazy {
            assert!(q.mem.map_remote(&mut t, pg.vpn));
            next.insert(pg.vpn, content);
        } else {
            match content {
                Some(page) => q.mem.install_page(&mut t, pg.vpn, &page).unwrap(),
                None => q.mem.install_zero(&mut t, pg.vpn).unwrap(),
            }
        }
    }
    (q, t, next)
}

/// Runs a guest in this process; with a seed, stops after random budgets and migrates.
fn run_in_vm(elf: &[u8], args: &[&str], seed: Option<u64>) -> (Outcome, usize) {
    let mut services = Services::<HostFs>::new(None);
    let mut s = HeapStore::new();
    let mut p = new_process();
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    p.load(&mut s, elf, &argv, Default::default()).unwrap();
    let mut remote = Remote::new();
    let (mut console, mut now, mut x, mut moves) = (Vec::new(), 0u64, seed.unwrap_or(0) | 1, 0);
    loop {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let budget = if seed.is_some() { x % 15_000 } else { u64::MAX };
        match p.run(&mut s, Instant::from_micros(now), budget) {
            Event::Budget => {
                (p, s, remote) = migrate(&p, &s, &remote, x % 3 == 0);
                moves += 1;
            }
            Event::PageFault { vpn } => {
                match remote.remove(&vpn).expect("a fault on a page that is remote") {
                    Some(page) => p.mem.install_page(&mut s, vpn, &page).unwrap(),
                    None => p.mem.install_zero(&mut s, vpn).unwrap(),
                }
                assert!(seed.is_some(), "no page is remote in an uninterrupted run");
            }
            Event::Call { call, .. } => {
                let r = services.serve(&mut *p, &mut s, call, &mut |b| console.extend_from_slice(b));
                p.complete(&mut s, r).unwrap();
            }
            Event::Idle { wake_at: Some(t) } => now = t.as_micros(),
            Event::Exited { code } => {
                // Fetch what is still remote so the whole memory can be compared.
                for (vpn, c) in remote.drain() {
                    match c {
                        Some(page) => p.mem.install_page(&mut s, vpn, &page).unwrap(),
                        None => p.mem.install_zero(&mut s, vpn).unwrap(),
                    }
                }
                return ((console, code, p.mem.checksum(&s).unwrap(), p.cb.instret), moves);
            }
            e => panic!("unexpected {e:?}"),
        }
    }
}

#[test]
fn interrupted_and_migrated_runs_match_an_uninterrupted_one() {
    // Large page tables: run on a thread with room for them in debug builds.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let seeds = [1, 0xdead_beef, 42, std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos() as u64];
            let cases: [(&str, &[&str]); 2] =
                [("memory-worker", &["mw", "40", "400", "20"]), ("threads", &["th", "3", "40000", "trace"])];
            for (name, args) in cases {
                let elf = std::fs::read(guest(name)).unwrap();
                let (want, _) = run_in_vm(&elf, args, None);
                assert_eq!(want.1, 0, "{}", String::from_utf8_lossy(&want.0));
                for seed in seeds {
                    let (got, moves) = run_in_vm(&elf, args, Some(seed));
                    assert!(moves > 20, "{name}: only {moves} migrations");
                    let show = |o: &Outcome| {
                        format!("{:?} exit {} memory {:#x} instret {}", String::from_utf8_lossy(&o.0), o.1, o.2, o.3)
                    };
                    assert!(got == want, "{name} with seed {seed:#x}: {} != {}", show(&got), show(&want));
                }
            }
        })
        .unwrap()
        .join()
        .unwrap();
}
