//! The soft state changes nothing: a cached HostFs answers every call as an uncached one over
//! the same directory does, whatever happens on the host and whenever the cache is dropped.

use std::fs;
use std::time::{Duration, Instant};

use tern_core::fs::{Attr, FileSystem, FsError, Handle, SetAttr, Stability};

use super::tests::{Setup, ctx, unchecked};
use super::{HostFs, SoftConfig};

/// xorshift64*: a small deterministic generator for the model test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn create(fs: &mut HostFs, dir: &Handle, name: &str) -> Handle {
    fs.create(&ctx(), dir, name.as_bytes(), &unchecked(0o644)).unwrap()
}

#[test]
fn hits_are_counted_and_a_file_removed_on_the_host_is_stale() {
    let mut s = Setup::new("cache-stale");
    let root = s.root();
    let f = create(&mut s.fs, &root, "f");
    s.fs.write(&ctx(), &f, 0, b"hello", Stability::Unstable).unwrap();
    let before = s.fs.soft_state().stats();
    for _ in 0..3 {
        assert_eq!(s.fs.getattr(&f).unwrap().size, 5);
    }
    let mut buf = [0u8; 16];
    assert_eq!(s.fs.read(&f, 0, &mut buf).unwrap(), (5, true));
    let after = s.fs.soft_state().stats();
    assert!(after.hits >= before.hits + 4, "{before:?} → {after:?}");
    fs::remove_file(s.p("f")).unwrap();
    assert_eq!(s.fs.getattr(&f), Err(FsError::Stale));
    assert_eq!(s.fs.read(&f, 0, &mut buf), Err(FsError::Stale));
    assert_eq!(s.fs.soft_state().stats().stale, after.stale + 1);
}

#[test]
fn removing_a_name_through_the_server_closes_its_cached_descriptors() {
    let mut s = Setup::new("cache-forget");
    let root = s.root();
    let f = create(&mut s.fs, &root, "f");
    let g = create(&mut s.fs, &root, "g");
    s.fs.write(&ctx(), &f, 0, b"data", Stability::Unstable).unwrap();
    s.fs.getattr(&g).unwrap();
    let before = s.fs.soft_state().len();
    s.fs.remove(&ctx(), &root, b"f").unwrap();
    assert_eq!(s.fs.soft_state().len(), before - 1, "the removed file's entry is gone");
    // Renaming over g forgets g (its last name goes), not the renamed file.
    let h = create(&mut s.fs, &root, "h");
    s.fs.getattr(&h).unwrap();
    let before = s.fs.soft_state().len();
    s.fs.rename(&ctx(), &root, b"h", &root, b"g").unwrap();
    assert_eq!(s.fs.soft_state().len(), before - 1);
    assert_eq!(s.fs.getattr(&g), Err(FsError::Stale));
    assert!(s.fs.getattr(&h).is_ok());
}

#[test]
fn a_file_replaced_by_rename_on_the_host_is_stale_and_the_new_one_is_read() {
    let mut s = Setup::new("cache-replace");
    let root = s.root();
    let f = create(&mut s.fs, &root, "f");
    s.fs.write(&ctx(), &f, 0, b"old", Stability::FileSync).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(s.fs.read(&f, 0, &mut buf).unwrap(), (3, true));
    fs::write(s.p("new"), b"newer").unwrap();
    fs::rename(s.p("new"), s.p("f")).unwrap();
    assert_eq!(s.fs.read(&f, 0, &mut buf), Err(FsError::Stale));
    let g = s.fs.lookup(&root, b"f").unwrap();
    assert_eq!(s.fs.read(&g, 0, &mut buf).unwrap(), (5, true));
    assert_eq!(&buf[..5], b"newer");
}

#[test]
fn shards_share_handles_verifier_and_cache() {
    let mut s = Setup::new("cache-shard");
    let mut other = s.fs.shard().unwrap();
    let root = s.root();
    let f = create(&mut s.fs, &root, "f");
    other.write(&ctx(), &f, 0, b"via the other shard", Stability::Unstable).unwrap();
    assert_eq!(s.fs.getattr(&f).unwrap().size, 19);
    assert_eq!(other.write_verifier(), s.fs.write_verifier());
    assert_eq!(other.lookup(&root, b"f").unwrap(), f);
    assert!(std::sync::Arc::ptr_eq(s.fs.soft_state(), other.soft_state()));
}

#[test]
fn the_cache_is_bounded_and_idle_entries_are_swept() {
    let mut s = Setup::new("cache-bound");
    s.fs = s.restart().with_soft_state(SoftConfig { open_files: 4, ..SoftConfig::default() });
    let root = s.root();
    let files: Vec<Handle> = (0..10).map(|i| create(&mut s.fs, &root, &format!("f{i}"))).collect();
    for f in &files {
        s.fs.getattr(f).unwrap();
        assert!(s.fs.soft_state().len() <= 4);
    }
    assert_eq!(s.fs.soft_state().len(), 4);
    s.fs.soft_state().sweep(Instant::now() + Duration::from_secs(60));
    assert!(s.fs.soft_state().is_empty());
    // Off means off.
    s.fs = s.restart().with_soft_state(SoftConfig::none());
    for f in &files {
        s.fs.getattr(f).unwrap();
    }
    assert!(s.fs.soft_state().is_empty());
    assert_eq!(s.fs.soft_state().stats().hits, 0);
}

#[test]
fn sequential_reads_get_read_ahead_and_random_ones_do_not() {
    let mut s = Setup::new("cache-ra");
    s.fs = s.restart().with_soft_state(SoftConfig { readahead: 4 << 20, ..SoftConfig::default() });
    let root = s.root();
    let f = create(&mut s.fs, &root, "big");
    fs::write(s.p("big"), vec![7u8; 8 << 20]).unwrap();
    let mut buf = vec![0u8; 256 << 10];
    for i in 0..32u64 {
        let (n, _) = s.fs.read(&f, i * (256 << 10), &mut buf).unwrap();
        assert_eq!(n, 256 << 10);
    }
    let seq = s.fs.soft_state().stats().readaheads;
    assert!(seq >= 2, "{seq} read-ahead hints for an 8 MiB sequential read");
    let mut rng = Rng(7);
    for _ in 0..32 {
        s.fs.read(&f, rng.below(32) * (256 << 10) + 1, &mut buf).unwrap();
    }
    assert_eq!(s.fs.soft_state().stats().readaheads, seq);
}

/// What a query answers, without the parts that differ between two calls anyway (times).
#[derive(Debug, PartialEq)]
enum Seen {
    Attr { size: u64, nlink: u32, mode: u32, fileid: u64 },
    Data(Vec<u8>, bool),
    Handle(Handle),
    Err(FsError),
}

fn attr(a: Result<Attr, FsError>) -> Seen {
    match a {
        Ok(a) => Seen::Attr { size: a.size, nlink: a.nlink, mode: a.mode, fileid: a.fileid },
        Err(e) => Seen::Err(e),
    }
}

fn query(fs: &mut HostFs, root: &Handle, handles: &[Handle], rng_pick: u64, name: &str) -> Vec<Seen> {
    let mut out = Vec::new();
    let h = &handles[rng_pick as usize % handles.len()];
    out.push(attr(fs.getattr(h)));
    let mut buf = [0u8; 64];
    out.push(match fs.read(h, 0, &mut buf) {
        Ok((n, eof)) => Seen::Data(buf[..n].to_vec(), eof),
        Err(e) => Seen::Err(e),
    });
    out.push(match fs.lookup(root, name.as_bytes()) {
        Ok(h) => Seen::Handle(h),
        Err(e) => Seen::Err(e),
    });
    out
}

/// Random changes (through the cached server and behind its back on the host), each followed
/// by the same queries to a cached HostFs (dropped at random moments) and to an uncached one
/// over the same directory and secret: every answer must be equal.
#[test]
fn cached_and_uncached_answer_alike_under_random_changes() {
    let mut s = Setup::new("cache-model");
    let mut plain = s.restart().with_soft_state(SoftConfig::none());
    let root = s.root();
    let mut rng = Rng(0x5eed);
    let names = ["a", "b", "c", "d"];
    let mut handles: Vec<Handle> = names.iter().map(|n| create(&mut s.fs, &root, n)).collect();
    for step in 0..1500 {
        let name = names[rng.below(4) as usize];
        let h = handles[rng.below(handles.len() as u64) as usize];
        match rng.below(9) {
            0 => {
                let data = vec![step as u8; rng.below(60) as usize];
                let _ = s.fs.write(&ctx(), &h, rng.below(8), &data, Stability::Unstable);
            }
            1 => {
                let set = SetAttr { size: Some(rng.below(40)), ..SetAttr::default() };
                let _ = s.fs.setattr(&ctx(), &h, &set);
            }
            2 => {
                let _ = s.fs.remove(&ctx(), &root, name.as_bytes());
            }
            3 => {
                if let Ok(h) = s.fs.create(&ctx(), &root, name.as_bytes(), &unchecked(0o600)) {
                    handles.push(h);
                }
            }
            4 => {
                let to = names[rng.below(4) as usize];
                let _ = s.fs.rename(&ctx(), &root, name.as_bytes(), &root, to.as_bytes());
            }
            5 => {
                let _ = fs::remove_file(s.p(name));
            }
            6 => {
                let _ = fs::write(s.p(name), format!("host {step}"));
            }
            7 => {
                let _ = s.fs.link(&ctx(), &h, &root, name.as_bytes());
            }
            _ => s.fs.soft_state().drop_all(),
        }
        if rng.below(50) == 0 {
            s.fs.soft_state().sweep(Instant::now() + Duration::from_secs(60));
        }
        let pick = rng.next();
        let qname = names[rng.below(4) as usize];
        let cached = query(&mut s.fs, &root, &handles, pick, qname);
        let uncached = query(&mut plain, &root, &handles, pick, qname);
        assert_eq!(cached, uncached, "step {step}");
    }
    let st = s.fs.soft_state().stats();
    assert!(st.hits > 1000 && st.stale > 0, "the cache was exercised: {st:?}");
}
