//! READDIR / READDIRPLUS: lazy lists, round trips, and the writers' budgets.

use std::vec::Vec;

use super::*;
use crate::nfs3::testutil::{ATTR, roundtrip, words};
use crate::nfs3::{Fattr3, decode_exact_with};

const VERF: Verifier = Verifier(*b"cookieV!");

fn name(i: usize) -> Vec<u8> {
    (0..1 + i % 13).map(|j| b'a' + ((i + j) % 26) as u8).collect()
}

fn entry(i: usize, name: &[u8]) -> Entry3<'_> {
    Entry3 { fileid: 100 + i as u64, name: Filename::new(name), cookie: i as u64 + 1 }
}

fn entry_plus<'a>(i: usize, name: &'a [u8], fh: &'a [u8]) -> EntryPlus3<'a> {
    let attr = Fattr3 { fileid: 100 + i as u64, ..ATTR };
    EntryPlus3 {
        fileid: 100 + i as u64,
        name: Filename::new(name),
        cookie: i as u64 + 1,
        name_attributes: if i.is_multiple_of(3) { None } else { Some(attr) },
        name_handle: if i.is_multiple_of(4) { None } else { Some(FileHandle::new(&fh[..i % 65]).unwrap()) },
    }
}

#[test]
fn readdir_bytes_and_roundtrip() {
    let mut buf = [0u8; 512];
    let mut w = Writer::new(&mut buf);
    let mut rw = ReaddirWriter::new(&mut w, &None, VERF, 512).unwrap();
    assert_eq!(rw.push(&entry(0, b"abc")), Ok(true));
    assert_eq!(rw.finish(true), Ok(NfsStat3::Ok));
    let mut expect = words(&[0, 0]);
    expect.extend_from_slice(b"cookieV!");
    expect.extend_from_slice(&words(&[1, 0, 100, 3]));
    expect.extend_from_slice(b"abc\0");
    expect.extend_from_slice(&words(&[0, 1, 0, 1]));
    assert_eq!(w.written(), &expect[..]);
    let res: ReaddirRes<'_> = decode_exact_with(&expect, &Limits::default()).unwrap();
    let ok = res.ok().unwrap();
    assert!(ok.eof);
    assert_eq!(ok.cookieverf, VERF);
    assert!(ok.entries.iter().eq([entry(0, b"abc")]));
    let mut again = [0u8; 512];
    roundtrip(&res, &mut again);
}

#[test]
fn many_entries_roundtrip() {
    let names: Vec<Vec<u8>> = (0..40).map(name).collect();
    let fh = [7u8; 64];
    let mut buf = std::vec![0u8; 16384];
    let mut w = Writer::new(&mut buf);
    let mut rw = ReaddirplusWriter::new(&mut w, &Some(ATTR), VERF, 65536, 65536).unwrap();
    for (i, n) in names.iter().enumerate() {
        assert_eq!(rw.push(&entry_plus(i, n, &fh)), Ok(true));
    }
    assert_eq!(rw.entries(), 40);
    assert_eq!(rw.finish(false), Ok(NfsStat3::Ok));
    let n = w.position();
    let res: ReaddirplusRes<'_> = decode_exact_with(&buf[..n], &Limits::default()).unwrap();
    let ok = res.ok().unwrap();
    assert_eq!(ok.dir_attributes, Some(ATTR));
    assert!(!ok.eof);
    assert_eq!(ok.entries.len(), 40);
    assert!(ok.entries.iter().eq(names.iter().enumerate().map(|(i, n)| entry_plus(i, n, &fh))));
    let mut again = std::vec![0u8; n];
    roundtrip(&res, &mut again);

    let mut buf = std::vec![0u8; 4096];
    let mut w = Writer::new(&mut buf);
    let mut rw = ReaddirWriter::new(&mut w, &Some(ATTR), VERF, 4096).unwrap();
    for (i, n) in names.iter().enumerate() {
        assert_eq!(rw.push(&entry(i, n)), Ok(true));
    }
    assert_eq!(rw.finish(true), Ok(NfsStat3::Ok));
    let n = w.position();
    let res: ReaddirRes<'_> = decode_exact_with(&buf[..n], &Limits::default()).unwrap();
    assert!(res.ok().unwrap().entries.iter().eq(names.iter().enumerate().map(|(i, n)| entry(i, n))));
}

#[test]
fn args_and_failures_roundtrip() {
    let mut buf = [0u8; 256];
    let dir = FileHandle::new(&[1, 2, 3]).unwrap();
    roundtrip(&ReaddirArgs { dir, cookie: 0, cookieverf: Verifier::default(), count: 4096 }, &mut buf);
    roundtrip(&ReaddirplusArgs { dir, cookie: 77, cookieverf: VERF, dircount: 512, maxcount: 8192 }, &mut buf);
    roundtrip(&ReaddirRes::Fail(NfsStat3::BadCookie, Some(ATTR)), &mut buf);
    roundtrip(&ReaddirplusRes::Fail(NfsStat3::NotSupp, None), &mut buf);
}

/// Fills a READDIRPLUS writer from `names` and checks both budgets; returns entries accepted.
fn fill_plus(names: &[Vec<u8>], buf_len: usize, dircount: u32, maxcount: u32) -> u32 {
    let fh = [9u8; 64];
    let mut buf = std::vec![0u8; buf_len];
    let mut w = Writer::new(&mut buf);
    let mut rw = ReaddirplusWriter::new(&mut w, &Some(ATTR), VERF, dircount, maxcount).unwrap();
    let (mut dir_used, mut first_refused) = (0, None);
    for (i, n) in names.iter().enumerate() {
        let e = entry_plus(i, n, &fh);
        let before = rw.0.w.position();
        if rw.push(&e).unwrap() {
            assert!(first_refused.is_none(), "an entry after a refused one was accepted");
            dir_used += e.dircount_len();
            assert_eq!(rw.0.w.position() - before, e.wire_len());
        } else if first_refused.is_none() {
            first_refused = Some(i);
            // Refused only when it really does not fit one of the budgets.
            let over_max = before + e.wire_len() + 8 > (maxcount as usize).min(buf_len);
            let over_dir = rw.entries() > 0 && dir_used + e.dircount_len() > dircount as usize;
            assert!(over_max || over_dir, "entry {i} refused although it fits");
        }
    }
    let entries = rw.entries();
    let status = rw.finish(true).unwrap();
    let n = w.position();
    let res: ReaddirplusRes<'_> = decode_exact_with(&buf[..n], &Limits::default()).unwrap();
    assert_eq!(res.status(), status);
    match res {
        NfsRes::Ok(ok) => {
            assert!(n <= maxcount as usize, "{n} bytes for maxcount {maxcount}");
            assert!(entries == 1 || dir_used <= dircount as usize, "dircount {dircount} exceeded: {dir_used}");
            assert_eq!(ok.entries.len(), entries as usize);
            assert_eq!(ok.eof, first_refused.is_none());
        }
        NfsRes::Fail(s, attrs) => {
            assert_eq!((s, attrs, entries), (NfsStat3::TooSmall, Some(ATTR), 0));
            assert_eq!(first_refused, Some(0));
        }
    }
    entries
}

#[test]
fn maxcount_never_exceeded() {
    let names: Vec<Vec<u8>> = (0..30).map(name).collect();
    let mut last = 0;
    for maxcount in (0..4000).step_by(7) {
        let got = fill_plus(&names, 8192, u32::MAX, maxcount);
        assert!(got >= last, "more room gave fewer entries");
        last = got;
    }
    assert_eq!(last, 30);
}

#[test]
fn dircount_respected() {
    let names: Vec<Vec<u8>> = (0..30).map(name).collect();
    let mut seen = Vec::new();
    for dircount in 0..1200 {
        seen.push(fill_plus(&names, 1 << 16, dircount, 1 << 16));
    }
    // A dircount too small for any entry still lets one through; the budget then grows.
    assert_eq!(seen[0], 1);
    assert!(seen.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(*seen.last().unwrap(), 30);
}

#[test]
fn small_buffer_bounds_like_maxcount() {
    let names: Vec<Vec<u8>> = (0..30).map(name).collect();
    for len in [4 + 88 + 8 + 8, 300, 777, 1500] {
        fill_plus(&names, len, u32::MAX, u32::MAX);
    }
    let mut tiny = [0u8; 4 + 4 + 8 + 7];
    let mut w = Writer::new(&mut tiny);
    assert_eq!(ReaddirWriter::new(&mut w, &None, VERF, 100).err(), Some(xdr::Error::BufferFull));
}

#[test]
fn too_small_and_sticky_refusal() {
    let mut buf = [0u8; 512];
    let long = [b'x'; 200];
    let mut w = Writer::new(&mut buf);
    let mut rw = ReaddirWriter::new(&mut w, &Some(ATTR), VERF, 200).unwrap();
    assert_eq!(rw.push(&entry(0, &long)), Ok(false));
    assert!(rw.is_full());
    assert_eq!(rw.push(&entry(1, b"a")), Ok(false));
    assert_eq!(rw.finish(true), Ok(NfsStat3::TooSmall));
    let res: ReaddirRes<'_> = decode_exact_with(w.written(), &Limits::default()).unwrap();
    assert_eq!(res, ReaddirRes::Fail(NfsStat3::TooSmall, Some(ATTR)));

    let mut w = Writer::new(&mut buf);
    let mut rw = ReaddirWriter::new(&mut w, &None, VERF, 200).unwrap();
    assert_eq!(rw.push(&entry(0, b"a")), Ok(true));
    assert_eq!(rw.push(&entry(1, &long)), Ok(false));
    assert_eq!(rw.push(&entry(2, b"b")), Ok(false));
    assert_eq!(rw.finish(true), Ok(NfsStat3::Ok));
    let res: ReaddirRes<'_> = decode_exact_with(w.written(), &Limits::default()).unwrap();
    let ok = res.ok().unwrap();
    assert!(!ok.eof, "eof must be FALSE after a refused entry");
    assert_eq!(ok.entries.len(), 1);

    let mut w = Writer::new(&mut buf);
    let mut rw = ReaddirWriter::new(&mut w, &None, VERF, 200).unwrap();
    assert_eq!(rw.push(&entry(0, b"a")), Ok(true));
    assert_eq!(rw.fail(NfsStat3::Io), Ok(()));
    assert_eq!(w.written(), &words(&[5, 0])[..]);
}

#[test]
fn entry_names_bounded() {
    let l = Limits::default();
    let mut wire = words(&[0, 0]);
    wire.extend_from_slice(b"cookieV!");
    wire.extend_from_slice(&words(&[1, 0, 1, 256]));
    wire.extend_from_slice(&[b'n'; 256]);
    wire.extend_from_slice(&words(&[0, 1, 0, 1]));
    assert_eq!(decode_exact_with::<_, ReaddirRes<'_>>(&wire, &l), Err(xdr::Error::LengthExceeded));
    let wide = Limits { max_name: 256, ..l };
    let res: ReaddirRes<'_> = decode_exact_with(&wire, &wide).unwrap();
    assert_eq!(res.ok().unwrap().entries.iter().next().unwrap().name.len(), 256);
    // A cut list.
    assert_eq!(decode_exact_with::<_, ReaddirRes<'_>>(&wire[..wire.len() - 4], &wide), Err(xdr::Error::UnexpectedEnd));
}
