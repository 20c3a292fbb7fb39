//! Randomized comparison of the namespace with a reference model: one std tree in which mounts
//! are just directories tagged with their file system, resolved recursively as classic `namei`
//! does (a symlink in the middle of a path is resolved to an object by a recursive call; a
//! trailing one hands its place to the target's last component), against the namespace's
//! in-place walk over three MemFs mounts. Every result is compared: error numbers exactly,
//! objects by (fsid, fileid) ↔ model node, file contents, directory listings.

use super::tests::{Ns, get, leak, ls, memfs, put, root};
use super::walk::Follow;
use super::*;
use crate::fs::FileType;
use std::collections::{BTreeMap, HashMap};
use std::vec::Vec;

const ROOT: usize = 0;

#[derive(Clone, Debug)]
enum Kind {
    Dir(BTreeMap<Vec<u8>, usize>),
    File(Vec<u8>),
    Link(Vec<u8>),
}

#[derive(Clone, Debug)]
struct Node {
    kind: Kind,
    /// Parent directory (for a mount root: the directory holding its mount point).
    parent: usize,
    fsid: u64,
    mount_root: bool,
}

#[derive(Debug)]
enum Last {
    Root,
    Dot,
    DotDot,
    Name(Vec<u8>),
}

#[derive(Debug)]
struct Walked {
    dir: usize,
    last: Last,
    child: Option<usize>,
    slash: bool,
}

type R<T> = Result<T, VfsError>;

struct Model {
    nodes: Vec<Node>,
}

impl Model {
    fn new() -> Self {
        Model { nodes: std::vec![Node { kind: Kind::Dir(BTreeMap::new()), parent: ROOT, fsid: 1, mount_root: true }] }
    }

    fn entries(&self, d: usize) -> Option<&BTreeMap<Vec<u8>, usize>> {
        match &self.nodes[d].kind {
            Kind::Dir(m) => Some(m),
            _ => None,
        }
    }

    fn entries_mut(&mut self, d: usize) -> &mut BTreeMap<Vec<u8>, usize> {
        match &mut self.nodes[d].kind {
            Kind::Dir(m) => m,
            _ => panic!("{d} is not a directory"),
        }
    }

    fn is_dir(&self, n: usize) -> bool {
        self.entries(n).is_some()
    }

    fn add(&mut self, dir: usize, name: &[u8], kind: Kind, mount: Option<u64>) -> usize {
        let fsid = mount.unwrap_or(self.nodes[dir].fsid);
        self.nodes.push(Node { kind, parent: dir, fsid, mount_root: mount.is_some() });
        let id = self.nodes.len() - 1;
        self.entries_mut(dir).insert(name.to_vec(), id);
        id
    }

    /// Resolves `path` recursively; see the module docs. `pending` counts the bytes of outer
    /// paths still to walk after this one: the namespace expands links in one buffer of 1024
    /// bytes, so a link whose target, with everything still pending, would exceed it is
    /// ENAMETOOLONG (Linux keeps a stack of link bodies instead).
    fn walk(&self, start: usize, path: &[u8], follow: Follow, hops: &mut u32, pending: usize) -> R<Walked> {
        let mut cur = if path.first() == Some(&b'/') { ROOT } else { start };
        // Components with the offset just after each.
        let mut comps: Vec<(&[u8], usize)> = Vec::new();
        let mut i = 0;
        while i < path.len() {
            let s = i;
            while i < path.len() && path[i] != b'/' {
                i += 1;
            }
            if i > s {
                comps.push((&path[s..i], i));
            }
            while i < path.len() && path[i] == b'/' {
                i += 1;
            }
        }
        if comps.is_empty() {
            return Ok(Walked { dir: cur, last: Last::Root, child: Some(cur), slash: true });
        }
        let slash = path.ends_with(b"/");
        for (k, &(c, end)) in comps.iter().enumerate() {
            let last = k + 1 == comps.len();
            if c.len() > MAX_NAME {
                return Err(VfsError::NameTooLong);
            }
            let Some(entries) = self.entries(cur) else { return Err(VfsError::NotDir) };
            if c == b"." || c == b".." {
                let dir = cur;
                if c == b".." {
                    cur = self.nodes[cur].parent;
                }
                if last {
                    let last = if c == b"." { Last::Dot } else { Last::DotDot };
                    return Ok(Walked { dir, last, child: Some(cur), slash });
                }
                continue;
            }
            let child = entries.get(c).copied();
            let Some(child) = child else {
                if last {
                    return Ok(Walked { dir: cur, last: Last::Name(c.to_vec()), child: None, slash });
                }
                return Err(VfsError::NoEnt);
            };
            let follow_last = match follow {
                Follow::Always => true,
                Follow::OnSlash => slash,
                Follow::Never => false,
            };
            if let Kind::Link(target) = &self.nodes[child].kind
                && (!last || follow_last)
            {
                *hops += 1;
                if *hops > 40 {
                    return Err(VfsError::Loop);
                }
                let rest = path.len() - end;
                if target.len() + rest + pending > 1024 {
                    return Err(VfsError::NameTooLong);
                }
                if target.is_empty() {
                    return Err(VfsError::NoEnt);
                }
                if last {
                    // The target's last component takes this one's place (and its slashes).
                    let t = [target.as_slice(), &path[end..]].concat();
                    return self.walk(cur, &t, follow, hops, pending);
                }
                let w = self.walk(cur, target, Follow::Always, hops, pending + rest)?;
                cur = w.child.ok_or(VfsError::NoEnt)?;
                continue;
            }
            if last {
                return Ok(Walked { dir: cur, last: Last::Name(c.to_vec()), child: Some(child), slash });
            }
            cur = child;
        }
        unreachable!()
    }

    fn resolve(&self, start: usize, path: &[u8], follow: Follow) -> R<Walked> {
        if path.is_empty() {
            return Err(VfsError::NoEnt);
        }
        if path.len() > 1024 {
            return Err(VfsError::NameTooLong);
        }
        if path.contains(&0) {
            return Err(VfsError::Inval);
        }
        self.walk(start, path, follow, &mut 0, 0)
    }

    fn object(&self, w: &Walked) -> R<usize> {
        let c = w.child.ok_or(VfsError::NoEnt)?;
        if w.slash && !self.is_dir(c) {
            return Err(VfsError::NotDir);
        }
        Ok(c)
    }

    fn stat(&self, start: usize, path: &[u8], follow: bool) -> R<usize> {
        self.object(&self.resolve(start, path, if follow { Follow::Always } else { Follow::OnSlash })?)
    }

    fn mkdir(&mut self, start: usize, path: &[u8]) -> R<()> {
        let w = self.resolve(start, path, Follow::Never)?;
        let Last::Name(name) = &w.last else { return Err(VfsError::Exist) };
        if w.child.is_some() {
            return Err(VfsError::Exist);
        }
        self.add(w.dir, name, Kind::Dir(BTreeMap::new()), None);
        Ok(())
    }

    fn symlink(&mut self, start: usize, target: &[u8], path: &[u8]) -> R<()> {
        if target.is_empty() {
            return Err(VfsError::NoEnt);
        }
        if target.contains(&0) {
            return Err(VfsError::Inval);
        }
        let w = self.resolve(start, path, Follow::Never)?;
        let Last::Name(name) = &w.last else { return Err(VfsError::Exist) };
        if w.child.is_some() {
            return Err(VfsError::Exist);
        }
        if w.slash {
            return Err(VfsError::NoEnt);
        }
        self.add(w.dir, name, Kind::Link(target.to_vec()), None);
        Ok(())
    }

    fn unlink(&mut self, start: usize, path: &[u8]) -> R<()> {
        let w = self.resolve(start, path, Follow::Never)?;
        let Last::Name(name) = &w.last else { return Err(VfsError::IsDir) };
        let c = w.child.ok_or(VfsError::NoEnt)?;
        if self.is_dir(c) {
            return Err(VfsError::IsDir);
        }
        if w.slash {
            return Err(VfsError::NotDir);
        }
        self.entries_mut(w.dir).remove(name);
        Ok(())
    }

    fn rmdir(&mut self, start: usize, path: &[u8]) -> R<()> {
        let w = self.resolve(start, path, Follow::Never)?;
        let name = match &w.last {
            Last::Dot => return Err(VfsError::Inval),
            Last::DotDot => return Err(VfsError::NotEmpty),
            Last::Root => return Err(VfsError::Busy),
            Last::Name(n) => n,
        };
        let c = w.child.ok_or(VfsError::NoEnt)?;
        let Some(entries) = self.entries(c) else { return Err(VfsError::NotDir) };
        if self.nodes[c].mount_root {
            return Err(VfsError::Busy);
        }
        if !entries.is_empty() {
            return Err(VfsError::NotEmpty);
        }
        self.entries_mut(w.dir).remove(name);
        Ok(())
    }

    fn rename(&mut self, start: usize, from: &[u8], to: &[u8]) -> R<()> {
        let a = self.resolve(start, from, Follow::Never)?;
        let b = self.resolve(start, to, Follow::Never)?;
        if self.nodes[a.dir].fsid != self.nodes[b.dir].fsid {
            return Err(VfsError::XDev);
        }
        let (Last::Name(from), Last::Name(to)) = (&a.last, &b.last) else { return Err(VfsError::Busy) };
        let s = a.child.ok_or(VfsError::NoEnt)?;
        if self.nodes[s].mount_root || b.child.is_some_and(|t| self.nodes[t].mount_root) {
            return Err(VfsError::Busy);
        }
        let s_dir = self.is_dir(s);
        if !s_dir && (a.slash || b.slash) {
            return Err(VfsError::NotDir);
        }
        if b.child == Some(s) {
            return Ok(());
        }
        // MemFs's checks: into its own subtree, then the target's type and emptiness.
        let mut d = b.dir;
        while s_dir && d != ROOT {
            if d == s {
                return Err(VfsError::Inval);
            }
            d = self.nodes[d].parent;
        }
        if let Some(t) = b.child {
            match (s_dir, self.entries(t)) {
                (true, None) => return Err(VfsError::NotDir),
                (false, Some(_)) => return Err(VfsError::IsDir),
                (true, Some(e)) if !e.is_empty() => return Err(VfsError::NotEmpty),
                _ => {}
            }
        }
        self.entries_mut(a.dir).remove(from);
        self.entries_mut(b.dir).insert(to.clone(), s);
        self.nodes[s].parent = b.dir;
        Ok(())
    }

    /// `open(O_WRONLY|O_CREAT|O_TRUNC)` and one write.
    fn put(&mut self, start: usize, path: &[u8], data: &[u8]) -> R<()> {
        let follow = if path.last() == Some(&b'/') { Follow::Never } else { Follow::Always };
        let w = self.resolve(start, path, follow)?;
        let Last::Name(name) = &w.last else { return Err(VfsError::IsDir) };
        if w.slash {
            return Err(VfsError::IsDir);
        }
        match w.child {
            Some(c) if self.is_dir(c) => Err(VfsError::IsDir),
            Some(c) => {
                self.nodes[c].kind = Kind::File(data.to_vec());
                Ok(())
            }
            None => {
                self.add(w.dir, name, Kind::File(data.to_vec()), None);
                Ok(())
            }
        }
    }

    fn get(&self, path: &[u8]) -> R<Vec<u8>> {
        match &self.nodes[self.stat(ROOT, path, true)?].kind {
            Kind::File(d) => Ok(d.clone()),
            _ => Err(VfsError::IsDir),
        }
    }

    fn ls(&self, path: &[u8]) -> R<Vec<Vec<u8>>> {
        let d = self.stat(ROOT, path, true)?;
        Ok(self.entries(d).ok_or(VfsError::NotDir)?.keys().cloned().collect())
    }
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

/// A random path: a few components from a small vocabulary (names, mount points, dots, a
/// name too long), absolute or relative, with stray and trailing slashes.
fn path(r: &mut Rng) -> Vec<u8> {
    const WORDS: [&str; 10] = ["a", "b", "l", "k", "m1", "d", "m2", ".", "..", "f"];
    let mut p = Vec::new();
    match r.below(40) {
        0 => return Vec::new(),
        1 => return b"a\0b".to_vec(),
        2 => return std::vec![b'/'; 1 + r.below(3)],
        _ => {}
    }
    if r.below(3) != 0 {
        p.push(b'/');
    }
    for i in 0..1 + r.below(4) {
        if i > 0 {
            p.extend_from_slice(if r.below(10) == 0 { b"//" } else { b"/" });
        }
        if r.below(60) == 0 {
            p.extend(std::iter::repeat_n(b'x', 256));
        } else {
            p.extend_from_slice(WORDS[r.below(WORDS.len())].as_bytes());
        }
    }
    if r.below(6) == 0 {
        p.push(b'/');
    }
    p
}

/// The namespace and the model, built alike: `/m1` is fsid 2 and `/m1/d/m2` fsid 3.
fn pair() -> (Ns, Model, Loc, usize) {
    let mut ns = Ns::new(leak(memfs(1)), MountId(1), MountFlags::default());
    let mut m = Model::new();
    let (c, at) = (root(), ns.root());
    ns.mkdir(&c, &at, b"/m1", 0o755).unwrap();
    ns.mount(&c, &at, b"/m1", leak(memfs(2)), MountId(2), MountFlags::default()).map_err(|(e, _)| e).unwrap();
    let m1 = m.add(ROOT, b"m1", Kind::Dir(BTreeMap::new()), Some(2));
    ns.mkdir(&c, &at, b"/m1/d", 0o755).unwrap();
    let d = m.add(m1, b"d", Kind::Dir(BTreeMap::new()), None);
    ns.mkdir(&c, &at, b"/m1/d/m2", 0o755).unwrap();
    ns.mount(&c, &at, b"/m1/d/m2", leak(memfs(3)), MountId(3), MountFlags::default()).map_err(|(e, _)| e).unwrap();
    let m2 = m.add(d, b"m2", Kind::Dir(BTreeMap::new()), Some(3));
    let cwd = ns.chdir(&c, &at, b"/m1/d/m2").unwrap();
    (ns, m, cwd, m2)
}

/// Checks that `got` (fsid, fileid) and model node `want` name each other consistently.
fn same(ids: &mut HashMap<(u64, u64), usize>, ns_attr: crate::fs::Attr, m: &Model, want: usize) {
    assert_eq!(ns_attr.fsid, m.nodes[want].fsid, "file system of node {want}");
    let seen = *ids.entry((ns_attr.fsid, ns_attr.fileid)).or_insert(want);
    assert_eq!(seen, want, "object ({}, {}) is two model nodes", ns_attr.fsid, ns_attr.fileid);
    let ftype = match &m.nodes[want].kind {
        Kind::Dir(_) => FileType::Directory,
        Kind::File(d) => {
            assert_eq!(ns_attr.size, d.len() as u64);
            FileType::Regular
        }
        Kind::Link(t) => {
            assert_eq!(ns_attr.size, t.len() as u64);
            FileType::Symlink
        }
    };
    assert_eq!(ns_attr.ftype, ftype);
}

fn run(seed: u64, steps: usize) -> [usize; 2] {
    let (mut ns, mut m, cwd, m2) = pair();
    let mut r = Rng(seed);
    let mut ids = HashMap::new();
    let mut outcomes = [0; 2];
    let c = root();
    for step in 0..steps {
        let (at, start) = if r.below(2) == 0 { (ns.root(), ROOT) } else { (cwd, m2) };
        let (p, q) = (path(&mut r), path(&mut r));
        let ctx = |what: &str| {
            std::format!("seed {seed} step {step}: {what} \"{}\" \"{}\"", p.escape_ascii(), q.escape_ascii())
        };
        let op = r.below(10);
        let (got, want): (R<()>, R<()>) = match op {
            0 | 1 => {
                let follow = op == 0;
                let got = if follow { ns.stat(&c, &at, &p) } else { ns.lstat(&c, &at, &p) };
                let want = m.stat(start, &p, follow);
                if let (Ok(a), Ok(n)) = (&got, &want) {
                    same(&mut ids, *a, &m, *n);
                }
                (got.map(|_| ()), want.map(|_| ()))
            }
            2 => (ns.mkdir(&c, &at, &p, 0o755), m.mkdir(start, &p)),
            3 => (ns.rmdir(&c, &at, &p), m.rmdir(start, &p)),
            4 => (ns.unlink(&c, &at, &p), m.unlink(start, &p)),
            5 => (ns.rename(&c, &at, &p, &q), m.rename(start, &p, &q)),
            6 => (ns.symlink(&c, &at, &q, &p), m.symlink(start, &q, &p)),
            7 => {
                let data = std::vec![r.below(256) as u8; r.below(20)];
                let flags = OpenFlags::WRONLY | OpenFlags::CREAT | OpenFlags::TRUNC;
                let got = ns.open(&c, &at, &p, flags, 0o644).map(|fd| {
                    assert_eq!(ns.write(&c, fd, &data), Ok(data.len()));
                    ns.close(fd).unwrap();
                });
                (got, m.put(start, &p, &data))
            }
            8 => {
                let abs: Vec<u8> = [b"/".as_slice(), &p].concat();
                let (got, want) = (get(&mut ns, core::str::from_utf8(&abs).unwrap()), m.get(&abs));
                if got.is_ok() || want.is_ok() {
                    assert_eq!(got, want, "{}", ctx("get"));
                }
                (got.map(|_| ()), want.map(|_| ()))
            }
            _ => {
                let abs: Vec<u8> = [b"/".as_slice(), &p].concat();
                let (got, want) = (ls(&mut ns, core::str::from_utf8(&abs).unwrap()), m.ls(&abs));
                assert_eq!(got, want, "{}", ctx("ls"));
                (got.map(|_| ()), want.map(|_| ()))
            }
        };
        assert_eq!(
            got,
            want,
            "{}",
            ctx(["stat", "lstat", "mkdir", "rmdir", "unlink", "rename", "symlink", "put", "get", "ls"][op])
        );
        outcomes[usize::from(got.is_err())] += 1;
    }
    // The whole tree agrees at the end.
    compare_tree(&mut ns, &m, &mut ids, b"", ROOT);
    outcomes
}

/// Lists both trees below `path` (not following symlinks) and compares them.
fn compare_tree(ns: &mut Ns, m: &Model, ids: &mut HashMap<(u64, u64), usize>, path: &[u8], node: usize) {
    let shown: Vec<u8> = if path.is_empty() { b"/".to_vec() } else { path.to_vec() };
    let a = ns.lstat(&root(), &ns.root(), &shown).unwrap();
    same(ids, a, m, node);
    let Some(entries) = m.entries(node) else {
        if let Kind::File(d) = &m.nodes[node].kind {
            assert_eq!(&get(ns, core::str::from_utf8(&shown).unwrap()).unwrap(), d);
        }
        return;
    };
    let names: Vec<Vec<u8>> = entries.keys().cloned().collect();
    assert_eq!(ls(ns, core::str::from_utf8(&shown).unwrap()).unwrap(), names);
    for (name, &child) in entries {
        compare_tree(ns, m, ids, &[path, b"/", name].concat(), child);
    }
}

#[test]
fn namespace_matches_the_model() {
    let mut totals = [0; 2];
    for seed in 1..=40u64 {
        let o = run(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), 400);
        totals[0] += o[0];
        totals[1] += o[1];
    }
    // Both outcomes are well exercised.
    assert!(totals[0] > 2000 && totals[1] > 2000, "{totals:?}");
}

#[test]
fn model_world_matches_put_and_get() {
    let (mut ns, mut m, _, _) = pair();
    put(&mut ns, "/m1/d/m2/f", b"x");
    m.put(ROOT, b"/m1/d/m2/f", b"x").unwrap();
    assert_eq!(get(&mut ns, "/m1/d/m2/f").unwrap(), m.get(b"/m1/d/m2/f").unwrap());
    assert_eq!(ls(&mut ns, "/m1/d").unwrap(), m.ls(b"/m1/d").unwrap());
}
