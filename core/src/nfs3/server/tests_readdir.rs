//! Server tests: READDIR and READDIRPLUS paging, cookies, verifiers and budgets.

use std::collections::BTreeSet;
use std::string::String;
use std::vec::Vec;

use super::tests_rig::*;
use crate::nfs3::{
    NfsRes, NfsStat3, ReaddirArgs, ReaddirRes, ReaddirplusArgs, ReaddirplusRes, RemoveArgs, Verifier, procs,
};

/// Names and cookies of a page.
type Names = Vec<(String, u64)>;

/// One READDIR page: (name, cookie) pairs, eof, verifier, encoded length.
fn page(
    rig: &mut Rig,
    dir: &[u8],
    cookie: u64,
    verf: Verifier,
    count: u32,
) -> Result<(Names, bool, Verifier, usize), NfsStat3> {
    let res = rig.call(procs::READDIR, &ReaddirArgs { dir: fh(dir), cookie, cookieverf: verf, count });
    match dec::<ReaddirRes<'_>>(&res) {
        NfsRes::Ok(ok) => {
            assert!(ok.dir_attributes.is_some());
            let names =
                ok.entries.iter().map(|e| (String::from_utf8(e.name.as_bytes().to_vec()).unwrap(), e.cookie)).collect();
            Ok((names, ok.eof, ok.cookieverf, res.len()))
        }
        NfsRes::Fail(s, _) => Err(s),
    }
}

/// Lists `dir` with READDIR pages of `count` bytes; every name once.
fn list(rig: &mut Rig, dir: &[u8], count: u32) -> Vec<String> {
    let (mut cookie, mut verf, mut all, mut calls) = (0, Verifier([0; 8]), Vec::new(), 0);
    loop {
        let (names, eof, v, len) = page(rig, dir, cookie, verf, count).unwrap();
        assert!(len <= count as usize, "{len} bytes for count {count}");
        calls += 1;
        assert!(!names.is_empty() || eof);
        if let Some((_, c)) = names.last() {
            cookie = *c;
        }
        all.extend(names.into_iter().map(|(n, _)| n));
        verf = v;
        if eof {
            break;
        }
        assert!(calls < 10_000);
    }
    all
}

fn expect_names(got: &[String], n: usize) {
    let mut want: Vec<String> = std::vec![".".into(), "..".into()];
    want.extend(names("f", n));
    assert_eq!(got.len(), want.len(), "every name exactly once");
    let set: BTreeSet<&String> = got.iter().collect();
    assert_eq!(set.len(), got.len());
    assert_eq!(set, want.iter().collect());
}

#[test]
fn readdir_pages_through_1200_entries() {
    let mut rig = Rig::new();
    let dir = populate(&mut rig, "big", 1200);
    for count in [300, 1000, 16 * 1024, 1_000_000] {
        expect_names(&list(&mut rig, &dir, count), 1200);
    }
    // The verifier is the back end's; a wrong one with a cookie is BAD_COOKIE.
    let (names, _, v, _) = page(&mut rig, &dir, 0, Verifier([0; 8]), 300).unwrap();
    let cookie = names.last().unwrap().1;
    assert!(page(&mut rig, &dir, cookie, v, 300).is_ok());
    assert_eq!(page(&mut rig, &dir, cookie, Verifier(*b"stale!!!"), 300).err(), Some(NfsStat3::BadCookie));
    // Too small for one entry; not a directory; no read permission.
    assert_eq!(page(&mut rig, &dir, 0, v, 100).err(), Some(NfsStat3::TooSmall));
    let root = rig.root();
    let f = rig.create(&root, "file", 0o644).unwrap();
    assert_eq!(page(&mut rig, &f, 0, v, 1000).err(), Some(NfsStat3::NotDir));
    let closed = rig.mkdir(&root, "closed", 0o711).unwrap();
    rig.user(1000, 100);
    assert_eq!(page(&mut rig, &closed, 0, v, 1000).err(), Some(NfsStat3::Acces));
}

#[test]
fn cookies_survive_removals() {
    let mut rig = Rig::new();
    let dir = populate(&mut rig, "d", 50);
    let (first, eof, v, _) = page(&mut rig, &dir, 0, Verifier([0; 8]), 600).unwrap();
    assert!(!eof);
    let (last, cookie) = first.last().unwrap().clone();
    // Remove the last entry seen and the next one; the listing goes on after them.
    let next = std::format!("f{:04}", first.len() - 2);
    for name in [last.as_str(), next.as_str()] {
        let res = rig.call(procs::REMOVE, &RemoveArgs { object: dirop(&dir, name) });
        assert_eq!(dec::<crate::nfs3::RemoveRes>(&res).status(), NfsStat3::Ok);
    }
    let mut rest = Vec::new();
    let mut c = cookie;
    loop {
        let (names, eof, _, _) = page(&mut rig, &dir, c, v, 600).unwrap();
        if let Some((_, k)) = names.last() {
            c = *k;
        }
        rest.extend(names.into_iter().map(|(n, _)| n));
        if eof {
            break;
        }
    }
    assert_eq!(first.len() + rest.len(), 52 - 1);
    assert!(!rest.contains(&next) && !rest.iter().any(|n| first.iter().any(|(m, _)| m == n)));
}

/// Lists with READDIRPLUS; returns (name, handle, has attributes) per entry.
fn list_plus(rig: &mut Rig, dir: &[u8], dircount: u32, maxcount: u32) -> Vec<(String, Option<Vec<u8>>, bool)> {
    let (mut cookie, mut verf, mut all) = (0, Verifier([0; 8]), Vec::new());
    loop {
        let args = ReaddirplusArgs { dir: fh(dir), cookie, cookieverf: verf, dircount, maxcount };
        let res = rig.call(procs::READDIRPLUS, &args);
        assert!(res.len() <= maxcount as usize);
        let NfsRes::Ok(ok) = dec::<ReaddirplusRes<'_>>(&res) else { panic!("{:?}", dec::<ReaddirplusRes<'_>>(&res)) };
        let dir_len: usize = ok.entries.iter().map(|e| e.dircount_len()).sum();
        let first = ok.entries.iter().next().map_or(0, |e| e.dircount_len());
        assert!(dir_len <= (dircount as usize).max(first));
        assert!(!ok.entries.is_empty() || ok.eof);
        for e in ok.entries.iter() {
            cookie = e.cookie;
            let name = String::from_utf8(e.name.as_bytes().to_vec()).unwrap();
            all.push((name, e.name_handle.map(|h| h.as_bytes().to_vec()), e.name_attributes.is_some()));
        }
        verf = ok.cookieverf;
        if ok.eof {
            return all;
        }
    }
}

#[test]
fn readdirplus_pages_with_handles_and_attributes() {
    let mut rig = Rig::new();
    let dir = populate(&mut rig, "big", 1100);
    let root = rig.root();
    for (dircount, maxcount) in [(100, 2000), (2000, 900), (8192, 16 * 1024), (1_000_000, 1_000_000)] {
        let got = list_plus(&mut rig, &dir, dircount, maxcount);
        let names: Vec<String> = got.iter().map(|(n, ..)| n.clone()).collect();
        expect_names(&names, 1100);
        for (name, handle, attrs) in &got {
            let h = handle.as_ref().expect("a handle");
            assert!(attrs);
            match name.as_str() {
                "." => assert_eq!(h, &dir),
                ".." => assert_eq!(h, &root),
                _ => assert_eq!(rig.lookup(&dir, name).as_ref(), Ok(h)),
            }
        }
    }
    // At the export root `..` has neither handle nor attributes.
    let at_root = list_plus(&mut rig, &root, 8192, 8192);
    let dotdot = at_root.iter().find(|(n, ..)| n == "..").unwrap();
    assert_eq!((&dotdot.1, dotdot.2), (&None, false));
    let dot = at_root.iter().find(|(n, ..)| n == ".").unwrap();
    assert_eq!(dot.1.as_ref(), Some(&root));
}

#[test]
fn readdirplus_without_search_permission_gives_names_only() {
    let mut rig = Rig::new();
    let root = rig.root();
    let d = rig.mkdir(&root, "listonly", 0o744).unwrap();
    rig.create(&d, "a", 0o644).unwrap();
    rig.user(1000, 100);
    let got = list_plus(&mut rig, &d, 8192, 8192);
    let a = got.iter().find(|(n, ..)| n == "a").unwrap();
    assert_eq!((&a.1, a.2), (&None, false));
    assert!(got.iter().find(|(n, ..)| n == ".").unwrap().1.is_some());
    // Errors: too small, bad cookie, not a directory.
    let args = |cookie, verf, maxcount| ReaddirplusArgs {
        dir: fh(&d),
        cookie,
        cookieverf: Verifier(verf),
        dircount: 100,
        maxcount,
    };
    let res = rig.call(procs::READDIRPLUS, &args(0, [0; 8], 120));
    assert_eq!(dec::<ReaddirplusRes<'_>>(&res).status(), NfsStat3::TooSmall);
    let res = rig.call(procs::READDIRPLUS, &args(3, *b"xxxxxxxx", 8192));
    assert_eq!(dec::<ReaddirplusRes<'_>>(&res).status(), NfsStat3::BadCookie);
    rig.user(0, 0);
    let f = rig.lookup(&d, "a").unwrap();
    let bad = ReaddirplusArgs { dir: fh(&f), cookie: 0, cookieverf: Verifier([0; 8]), dircount: 100, maxcount: 1000 };
    assert_eq!(dec::<ReaddirplusRes<'_>>(&rig.call(procs::READDIRPLUS, &bad)).status(), NfsStat3::NotDir);
}
