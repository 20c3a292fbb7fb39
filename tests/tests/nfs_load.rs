//! 64 concurrent NFS clients against one `tern serve`: each thread has its own TCP connection
//! and its own subdirectory of one export, and mixes READ, WRITE, GETATTR, LOOKUP,
//! CREATE + REMOVE and READDIR for `TERN_LOAD_SECONDS` (default 20). Every reply must be
//! `NFS3_OK` with what the thread's model of its files predicts (every read gives back what
//! was written), and the server's peak resident memory (`VmHWM`) must stay under 512 MiB.
//! The operations per second and the peak RSS are printed.
//!
//! The issue asks for 60 s: `TERN_LOAD_SECONDS=60 cargo test -p tern-tests --test nfs_load --
//! --nocapture` (add `--release` to measure an optimised server).

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tern_core::nfs3::{CreateHow3, FType3, NfsRes, Sattr3, StableHow, Verifier};
use tern_std::client::RpcError;
use tern_tests::nfs::{NfsClient, TernServe, export_line, temp_dir};

const CLIENTS: usize = 64;
const FILES: usize = 4;
const FILE_MAX: usize = 48 * 1024;
const WRITE_MAX: usize = 8 * 1024;
const RSS_LIMIT_KIB: u64 = 512 * 1024;
const OPS: [&str; 6] = ["READ", "WRITE", "GETATTR", "LOOKUP", "CREATE+REMOVE", "READDIR"];

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// What one client did.
#[derive(Default)]
struct Outcome {
    /// NFS calls made in the timed loop (CREATE + REMOVE counts two).
    ops: u64,
    /// Loop iterations per kind of [`OPS`].
    per_op: [u64; OPS.len()],
    errors: Vec<String>,
    failures: u64,
}

impl Outcome {
    fn fail(&mut self, msg: String) {
        self.failures += 1;
        if self.errors.len() < 20 {
            self.errors.push(msg);
        }
    }

    /// The `resok` of a reply, or `None` with the error recorded.
    fn ok<T, F: Debug>(&mut self, what: &str, r: Result<NfsRes<T, F>, RpcError>) -> Option<T> {
        match r {
            Ok(NfsRes::Ok(t)) => Some(t),
            Ok(NfsRes::Fail(s, f)) => {
                self.fail(format!("{what}: {s:?} ({f:?})"));
                None
            }
            Err(e) => {
                self.fail(format!("{what}: {e}"));
                None
            }
        }
    }

    fn check(&mut self, cond: bool, what: impl FnOnce() -> String) {
        if !cond {
            self.fail(what());
        }
    }
}

struct File {
    name: String,
    fh: Vec<u8>,
    data: Vec<u8>,
}

/// Connects as uid `2000 + id` and makes the client's directory `client-ID` with its files;
/// `None` (with the error recorded) when that fails. Never panics: the other threads wait for
/// this one at the start barrier.
fn setup(id: usize, s: &TernServe, root: &[u8], out: &mut Outcome) -> Option<(NfsClient, String, Vec<u8>, Vec<File>)> {
    let uid = 2000 + id as u32;
    let mut c = match NfsClient::tcp(s.nfs_addr()) {
        Ok(c) => c.as_user(uid, uid),
        Err(e) => {
            out.fail(format!("client {id}: connect: {e}"));
            return None;
        }
    };
    let dname = format!("client-{id:02}");
    let attrs = Sattr3 { mode: Some(0o755), ..Sattr3::UNCHANGED };
    let dir = out.ok("MKDIR", c.mkdir(root, &dname, attrs))?.obj?;
    let mut files = Vec::new();
    for i in 0..FILES {
        let name = format!("file-{i}");
        let made = out.ok("CREATE", c.create(&dir, &name, CreateHow3::Guarded(Sattr3::UNCHANGED)))?;
        files.push(File { name, fh: made.obj?, data: Vec::new() });
    }
    Some((c, dname, dir, files))
}

/// One client: its own connection and directory, mixed operations until `until` says stop.
fn client(id: usize, s: &TernServe, root: &[u8], export: &Path, start: &Barrier, until: &dyn Fn() -> bool) -> Outcome {
    let mut out = Outcome::default();
    let ready = setup(id, s, root, &mut out);
    start.wait();
    let Some((mut c, dname, dir, mut files)) = ready else {
        out.fail(format!("client {id}: set-up failed"));
        return out;
    };
    let uid = 2000 + id as u32;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (id as u64 + 1).wrapping_mul(0x1234_5678_9abc_def1));
    let mut tmp = 0u64;
    while !until() {
        let op = match rng.below(100) {
            0..25 => 0,
            25..50 => 1,
            50..65 => 2,
            65..80 => 3,
            80..90 => 4,
            _ => 5,
        };
        let f = rng.below(FILES);
        match op {
            0 => {
                let want = &files[f].data;
                if let Some(r) = out.ok("READ", c.read(&files[f].fh, 0, FILE_MAX as u32 + 1)) {
                    out.check(r.data == *want && r.eof, || {
                        format!("client {id}: READ {} gave {} bytes, wrote {}", files[f].name, r.data.len(), want.len())
                    });
                }
            }
            1 => {
                let off = rng.below(FILE_MAX - WRITE_MAX);
                let len = 1 + rng.below(WRITE_MAX);
                let data = rng.bytes(len);
                let stable = [StableHow::Unstable, StableHow::DataSync, StableHow::FileSync][rng.below(3)];
                if let Some(w) = out.ok("WRITE", c.write(&files[f].fh, off as u64, &data, stable)) {
                    out.check(w.count as usize == data.len(), || format!("client {id}: WRITE short: {}", w.count));
                    let model = &mut files[f].data;
                    if model.len() < off + data.len() {
                        model.resize(off + data.len(), 0);
                    }
                    model[off..off + data.len()].copy_from_slice(&data);
                }
            }
            2 => {
                if let Some(a) = out.ok("GETATTR", c.getattr(&files[f].fh)) {
                    let want = files[f].data.len() as u64;
                    out.check(a.size == want && a.ftype == FType3::Reg && a.uid == uid, || {
                        format!("client {id}: GETATTR {}: {a:?}, want size {want}", files[f].name)
                    });
                }
            }
            3 => {
                if let Some(l) = out.ok("LOOKUP", c.lookup(&dir, &files[f].name)) {
                    out.check(l.object == files[f].fh, || format!("client {id}: LOOKUP gave another handle"));
                }
            }
            4 => {
                tmp += 1;
                let name = format!("tmp-{tmp}");
                if out.ok("CREATE tmp", c.create(&dir, &name, CreateHow3::Guarded(Sattr3::UNCHANGED))).is_some() {
                    out.ok("REMOVE tmp", c.remove(&dir, &name));
                    out.ops += 1;
                }
            }
            _ => {
                if let Some(p) = out.ok("READDIR", c.readdir(&dir, 0, Verifier::default(), 8192)) {
                    let got: BTreeSet<String> = p.entries.iter().map(|e| e.name()).collect();
                    let want: BTreeSet<String> =
                        files.iter().map(|f| f.name.clone()).chain([".".into(), "..".into()]).collect();
                    out.check(p.eof && got == want, || format!("client {id}: READDIR {got:?}"));
                }
            }
        }
        out.ops += 1;
        out.per_op[op] += 1;
    }
    // Every file, through NFS and on the host, holds what the model says.
    for f in &files {
        if let Some(r) = out.ok("final READ", c.read(&f.fh, 0, FILE_MAX as u32 + 1)) {
            out.check(r.data == f.data, || format!("client {id}: final READ of {} differs", f.name));
        }
        let host = std::fs::read(export.join(&dname).join(&f.name)).unwrap_or_default();
        out.check(host == f.data, || format!("client {id}: {} on the host differs", f.name));
    }
    out
}

#[test]
fn sixty_four_clients_mixed_load() {
    let secs: u64 = std::env::var("TERN_LOAD_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let dir = temp_dir("load");
    let export = dir.join("export");
    std::fs::create_dir_all(&export).unwrap();
    std::fs::set_permissions(&export, std::fs::Permissions::from_mode(0o777)).unwrap();
    let s = TernServe::start(&[export_line(&export, "rw,no_root_squash,insecure")], &dir.join("state"), None);
    let root = s.mount_root(&export);
    let idle_kib = s.proc_kib("VmHWM");

    let start = Barrier::new(CLIENTS + 1);
    let stop = AtomicBool::new(false);
    let mut began = Instant::now();
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|id| {
                let (s, root, export, start, stop) = (&s, &root, &export, &start, &stop);
                scope.spawn(move || client(id, s, root, export, start, &|| stop.load(Ordering::Relaxed)))
            })
            .collect();
        start.wait();
        began = Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
        handles.into_iter().map(|h| h.join().expect("a client thread panicked")).collect()
    });
    let elapsed = began.elapsed().as_secs_f64();
    let peak_kib = s.proc_kib("VmHWM");

    let total: u64 = outcomes.iter().map(|o| o.ops).sum();
    let mut mix = [0u64; OPS.len()];
    for o in &outcomes {
        for (m, n) in mix.iter_mut().zip(o.per_op) {
            *m += n;
        }
    }
    let failures: u64 = outcomes.iter().map(|o| o.failures).sum();
    let errors: Vec<&str> = outcomes.iter().flat_map(|o| &o.errors).map(String::as_str).take(20).collect();
    println!(
        "nfs_load: {CLIENTS} clients, {elapsed:.1} s, {total} operations, {:.0} ops/s, tern serve peak RSS {:.1} MiB \
         (idle {:.1} MiB)",
        total as f64 / elapsed,
        peak_kib as f64 / 1024.0,
        idle_kib as f64 / 1024.0
    );
    let mix: Vec<String> = OPS.iter().zip(mix).map(|(name, n)| format!("{name} {n}")).collect();
    println!("nfs_load: mix {}", mix.join(", "));
    assert_eq!(failures, 0, "errors under load, first ones:\n{}", errors.join("\n"));
    assert!(total > 0, "no operation done");
    assert!(peak_kib > 0 && peak_kib < RSS_LIMIT_KIB, "tern serve peak RSS {peak_kib} KiB");
    let log = s.log();
    assert!(s.stop().success(), "tern serve did not exit cleanly:\n{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
