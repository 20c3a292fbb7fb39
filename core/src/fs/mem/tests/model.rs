//! Randomized comparison of `MemFs` against a simple std model, with `fsck` along the way.

use super::{ctx, fsck, mem, names};
use crate::fs::mem::MemFs;
use crate::fs::{CreateHow, FileSystem, FileType, FsError, FsResult, Handle, NodeKind, SetAttr, Stability};
use std::collections::BTreeMap;
use std::vec::Vec;
use std::{format, vec};

#[derive(Clone, Debug)]
enum Obj {
    File(Vec<u8>),
    Dir(BTreeMap<Vec<u8>, usize>),
    Link(Vec<u8>),
    Fifo,
}

/// Objects by id (None once deleted), their handles, and each directory's parent.
struct Model {
    objs: Vec<Option<Obj>>,
    handles: Vec<Handle>,
    parent: Vec<usize>,
    /// Outcomes so far: successes, expected errors, NoSpace.
    stats: [usize; 3],
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

impl Model {
    fn dir(&self, id: usize) -> &BTreeMap<Vec<u8>, usize> {
        match &self.objs[id] {
            Some(Obj::Dir(m)) => m,
            _ => panic!("{id} is not a directory"),
        }
    }
    fn dir_mut(&mut self, id: usize) -> &mut BTreeMap<Vec<u8>, usize> {
        match &mut self.objs[id] {
            Some(Obj::Dir(m)) => m,
            _ => panic!("{id} is not a directory"),
        }
    }
    fn is_dir(&self, id: usize) -> bool {
        matches!(self.objs[id], Some(Obj::Dir(_)))
    }
    fn live(&self, pred: impl Fn(&Obj) -> bool) -> Vec<usize> {
        (0..self.objs.len()).filter(|&i| self.objs[i].as_ref().is_some_and(&pred)).collect()
    }
    fn links(&self, id: usize) -> usize {
        self.live(|o| matches!(o, Obj::Dir(_)))
            .iter()
            .map(|&d| self.dir(d).values().filter(|&&c| c == id).count())
            .sum()
    }
    fn nlink(&self, id: usize) -> u32 {
        match &self.objs[id] {
            Some(Obj::Dir(m)) => 2 + m.values().filter(|&&c| self.is_dir(c)).count() as u32,
            _ => self.links(id) as u32,
        }
    }
    fn within(&self, mut d: usize, s: usize) -> bool {
        loop {
            if d == s {
                return true;
            }
            if d == 0 {
                return false;
            }
            d = self.parent[d];
        }
    }
    fn add(&mut self, dir: usize, name: &[u8], obj: Obj, h: Handle) {
        let id = self.objs.len();
        self.objs.push(Some(obj));
        self.handles.push(h);
        self.parent.push(dir);
        self.dir_mut(dir).insert(name.to_vec(), id);
    }
    /// Drops entry `name` of `dir`; deletes its object when no link is left.
    fn unlink(&mut self, dir: usize, name: &[u8]) {
        let id = self.dir_mut(dir).remove(name).unwrap();
        if self.is_dir(id) || self.links(id) == 0 {
            self.objs[id] = None;
        }
    }
}

/// The error the model expects, or `None` when the call should succeed (or run out of space).
fn expect_new(m: &Model, dir: usize, name: &[u8]) -> Option<FsError> {
    m.dir(dir).contains_key(name).then_some(FsError::Exist)
}

impl Model {
    /// Checks a result against the model's expectation; true when the model should apply it.
    fn check<T>(&mut self, what: &str, got: &FsResult<T>, want: Option<FsError>) -> bool {
        match (got, want) {
            (Err(e), Some(w)) => assert_eq!(*e, w, "{what}"),
            (Ok(_), None) => {
                self.stats[0] += 1;
                return true;
            }
            (Err(FsError::NoSpace), None) => self.stats[2] += 1,
            (Ok(_), Some(w)) => panic!("{what}: succeeded, expected {w:?}"),
            (Err(e), None) => panic!("{what}: {e:?}, expected success"),
        }
        self.stats[1] += usize::from(want.is_some());
        false
    }
}

fn step(fs: &mut MemFs<'_>, m: &mut Model, r: &mut Rng, now: u32) {
    let pool: [&[u8]; 6] = [b"a", b"b", b"c", b"dd", b"eee", b"ffff"];
    let long = "L".repeat(1 + r.below(60)).into_bytes();
    let name: &[u8] = if r.below(10) == 0 { &long } else { pool[r.below(pool.len())] };
    let dirs = m.live(|o| matches!(o, Obj::Dir(_)));
    let d = dirs[r.below(dirs.len())];
    let dh = m.handles[d];
    let c = ctx(now);
    let none = SetAttr::default();
    let op = r.below(16);
    // Removals and renames mostly pick a name that exists.
    let entries = m.dir(d).len();
    let existing = if op >= 13 || (6..=8).contains(&op) && r.below(4) > 0 && entries > 0 {
        m.dir(d).keys().nth(r.below(entries.max(1))).cloned()
    } else {
        None
    };
    let name: &[u8] = existing.as_deref().unwrap_or(name);
    match if op >= 13 { 6 + op % 3 } else { op } {
        0 => {
            let got = fs.create(&c, &dh, name, &CreateHow::Guarded(none));
            if m.check("create", &got, expect_new(m, d, name)) {
                m.add(d, name, Obj::File(vec![]), got.unwrap());
            }
        }
        1 => {
            let size = r.below(3000) as u64;
            let how = CreateHow::Unchecked(SetAttr { size: Some(size), ..none });
            let got = fs.create(&c, &dh, name, &how);
            match m.dir(d).get(name).copied() {
                Some(id) => match &mut m.objs[id] {
                    Some(Obj::File(data)) => {
                        assert_eq!(got.unwrap(), m.handles[id]);
                        data.resize(size as usize, 0);
                    }
                    _ => assert_eq!(got, Err(FsError::Exist)),
                },
                None if m.check("create unchecked", &got, None) => {
                    m.add(d, name, Obj::File(vec![0; size as usize]), got.unwrap());
                }
                None => {}
            }
        }
        2 => {
            let got = fs.mkdir(&c, &dh, name, &none);
            if m.check("mkdir", &got, expect_new(m, d, name)) {
                m.add(d, name, Obj::Dir(BTreeMap::new()), got.unwrap());
            }
        }
        3 => {
            let target = format!("target-{}", r.below(1000)).into_bytes();
            let got = fs.symlink(&c, &dh, name, &target, &none);
            if m.check("symlink", &got, expect_new(m, d, name)) {
                m.add(d, name, Obj::Link(target), got.unwrap());
            }
        }
        4 => {
            let got = fs.mknod(&c, &dh, name, NodeKind::Fifo, &none);
            if m.check("mknod", &got, expect_new(m, d, name)) {
                m.add(d, name, Obj::Fifo, got.unwrap());
            }
        }
        5 => {
            let all = m.live(|_| true);
            let f = all[r.below(all.len())];
            let got = fs.link(&c, &m.handles[f], &dh, name);
            let want = if m.is_dir(f) { Some(FsError::Perm) } else { expect_new(m, d, name) };
            if m.check("link", &got, want) {
                m.dir_mut(d).insert(name.to_vec(), f);
            }
        }
        6 => {
            let got = fs.remove(&c, &dh, name);
            let want = match m.dir(d).get(name) {
                None => Some(FsError::NoEnt),
                Some(&id) if m.is_dir(id) => Some(FsError::IsDir),
                Some(_) => None,
            };
            if m.check("remove", &got, want) {
                m.unlink(d, name);
            }
        }
        7 => {
            let got = fs.rmdir(&c, &dh, name);
            let want = match m.dir(d).get(name) {
                None => Some(FsError::NoEnt),
                Some(&id) if !m.is_dir(id) => Some(FsError::NotDir),
                Some(&id) if !m.dir(id).is_empty() => Some(FsError::NotEmpty),
                Some(_) => None,
            };
            if m.check("rmdir", &got, want) {
                m.unlink(d, name);
            }
        }
        8 => rename(fs, m, r, d, name, now),
        9 => {
            let files = m.live(|o| matches!(o, Obj::File(_)));
            if let Some(&f) = files.get(r.below(files.len().max(1))) {
                let off = r.below(3000);
                let data: Vec<u8> = (0..r.below(1300)).map(|_| r.next() as u8).collect();
                match fs.write(&c, &m.handles[f], off as u64, &data, Stability::Unstable) {
                    Ok((n, _)) => {
                        let Some(Obj::File(content)) = &mut m.objs[f] else { unreachable!() };
                        assert!(n > 0 || data.is_empty());
                        if n > 0 {
                            if content.len() < off + n {
                                content.resize(off + n, 0);
                            }
                            content[off..off + n].copy_from_slice(&data[..n]);
                        }
                    }
                    Err(e) => assert_eq!(e, FsError::NoSpace),
                }
            }
        }
        10 => {
            let files = m.live(|o| matches!(o, Obj::File(_)));
            if let Some(&f) = files.get(r.below(files.len().max(1))) {
                let size = r.below(4000);
                fs.setattr(&c, &m.handles[f], &SetAttr { size: Some(size as u64), ..none }).unwrap();
                let Some(Obj::File(content)) = &mut m.objs[f] else { unreachable!() };
                content.resize(size, 0);
            }
        }
        11 => {
            let want = m.dir(d).get(name).map(|&id| m.handles[id]).ok_or(FsError::NoEnt);
            assert_eq!(fs.lookup(&dh, name), want);
        }
        _ => {
            let dead: Vec<usize> = (0..m.objs.len()).filter(|&i| m.objs[i].is_none()).collect();
            if let Some(&x) = dead.get(r.below(dead.len().max(1))) {
                assert_eq!(fs.getattr(&m.handles[x]), Err(FsError::Stale));
                assert_eq!(fs.lookup(&m.handles[x], b"a"), Err(FsError::Stale));
            }
        }
    }
}

fn rename(fs: &mut MemFs<'_>, m: &mut Model, r: &mut Rng, fd: usize, from: &[u8], now: u32) {
    let pool: [&[u8]; 4] = [b"a", b"b", b"dd", b"ffff"];
    let to = pool[r.below(pool.len())];
    let dirs = m.live(|o| matches!(o, Obj::Dir(_)));
    let td = dirs[r.below(dirs.len())];
    let got = fs.rename(&ctx(now), &m.handles[fd], from, &m.handles[td], to);
    let Some(&s) = m.dir(fd).get(from) else { return assert_eq!(got, Err(FsError::NoEnt)) };
    let t = m.dir(td).get(to).copied();
    let want = match t {
        Some(t) if t == s => return assert_eq!(got, Ok(())),
        _ if m.is_dir(s) && m.within(td, s) => Some(FsError::Inval),
        Some(t) => match (m.is_dir(s), m.is_dir(t)) {
            (true, false) => Some(FsError::NotDir),
            (false, true) => Some(FsError::IsDir),
            (true, true) if !m.dir(t).is_empty() => Some(FsError::NotEmpty),
            _ => None,
        },
        None => None,
    };
    if m.check("rename", &got, want) {
        m.dir_mut(fd).remove(from);
        if t.is_some() {
            m.unlink(td, to);
        }
        m.dir_mut(td).insert(to.to_vec(), s);
        if m.is_dir(s) {
            m.parent[s] = td;
        }
    }
}

/// Compares the whole tree and every live object with the model.
fn compare(fs: &mut MemFs<'_>, m: &Model) {
    fsck(fs);
    let mut used = 0;
    for id in 0..m.objs.len() {
        let Some(obj) = &m.objs[id] else { continue };
        let h = m.handles[id];
        let a = fs.getattr(&h).unwrap();
        assert_eq!(a.nlink, m.nlink(id), "nlink of {id}");
        used += a.used;
        match obj {
            Obj::Dir(entries) => {
                assert_eq!(a.ftype, FileType::Directory);
                let want: Vec<Vec<u8>> = entries.keys().cloned().collect();
                assert_eq!(names(fs, &h), want);
                for (n, &c) in entries {
                    assert_eq!(fs.lookup(&h, n).unwrap(), m.handles[c]);
                }
                assert_eq!(fs.lookup(&h, b"..").unwrap(), m.handles[m.parent[id]]);
            }
            Obj::File(data) => {
                assert_eq!((a.ftype, a.size), (FileType::Regular, data.len() as u64));
                let mut back = vec![0xAA; data.len() + 10];
                assert_eq!(fs.read(&h, 0, &mut back).unwrap(), (data.len(), true));
                assert!(back[..data.len()] == data[..], "content of {id}");
            }
            Obj::Link(target) => {
                let mut out = [0u8; 64];
                let n = fs.readlink(&h, &mut out).unwrap();
                assert_eq!((a.ftype, &out[..n]), (FileType::Symlink, &target[..]));
                used -= a.used;
            }
            Obj::Fifo => assert_eq!(a.ftype, FileType::Fifo),
        }
    }
    let st = fs.fsstat(&fs.root()).unwrap();
    assert_eq!(st.total_bytes - st.free_bytes, used);
}

fn run(seed: u64, steps: usize, nodes: usize, blocks: usize, names: usize) -> [usize; 3] {
    let mut fs = mem(nodes, blocks, names);
    let mut m =
        Model { objs: vec![Some(Obj::Dir(BTreeMap::new()))], handles: vec![fs.root()], parent: vec![0], stats: [0; 3] };
    let mut r = Rng(seed);
    for i in 0..steps {
        step(&mut fs, &mut m, &mut r, 10 + i as u32);
        if i % 100 == 0 {
            compare(&mut fs, &m);
        }
    }
    compare(&mut fs, &m);
    m.stats
}

#[test]
fn random_against_model_roomy() {
    for seed in 1..=4u64 {
        let [ok, errors, no_space] = run(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), 5000, 1000, 2000, 32_768);
        std::println!("roomy: {ok} ok, {errors} expected errors, {no_space} NoSpace");
        assert!(ok > 1500 && errors > 500 && no_space < 100);
    }
}

#[test]
fn random_against_model_tight() {
    // Small tables: NoSpace is frequent and must leave everything consistent.
    for seed in 1..=4u64 {
        let [ok, errors, no_space] = run(seed.wrapping_mul(0x2545_f491_4f6c_dd1d), 5000, 24, 12, 160);
        std::println!("tight: {ok} ok, {errors} expected errors, {no_space} NoSpace");
        assert!(ok > 600 && errors > 500 && no_space > 300);
    }
}
