//! `RecordReader` against a reference reassembler: the stream is pushed in chunks whose sizes
//! come from the input, every complete record must equal the reference's, and the reader must
//! fail exactly where (and only when) the reference finds a record above the maximum.
//!
//! Input: `[max, chunk_seed, stream ...]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_core::rpc::record::{LAST_FRAGMENT, RecordError, RecordReader, fragments};

const BUF: usize = 80;

/// What a simple reassembler makes of a whole stream.
struct Expected {
    records: Vec<Vec<u8>>,
    /// Index of the byte that completes the first header taking a record past the maximum,
    /// and the length that record would have reached.
    error: Option<(usize, u64)>,
    /// Bytes after the last complete record.
    tail: usize,
}

fn reference(stream: &[u8], max: usize) -> Expected {
    let (mut records, mut acc, mut i, mut end) = (Vec::new(), Vec::new(), 0, 0);
    while stream.len() - i >= 4 {
        let v = u32::from_be_bytes(stream[i..i + 4].try_into().unwrap());
        i += 4;
        let len = (v & !LAST_FRAGMENT) as usize;
        let claimed = acc.len() as u64 + len as u64;
        if claimed > max as u64 {
            return Expected { records, error: Some((i - 1, claimed)), tail: stream.len() - end };
        }
        if stream.len() - i < len {
            break;
        }
        acc.extend_from_slice(&stream[i..i + len]);
        i += len;
        if v & LAST_FRAGMENT != 0 {
            records.push(std::mem::take(&mut acc));
            end = i;
        }
    }
    Expected { records, error: None, tail: stream.len() - end }
}

/// Chunk sizes from a xorshift generator seeded by the input; some chunks are empty.
fn chunks(stream: &[u8], seed: u8) -> Vec<&[u8]> {
    let cap = [1, 3, 8, 17, 64, 256][usize::from(seed % 6)];
    let mut x = u32::from(seed).wrapping_mul(0x9e37_79b9) | 1;
    let (mut out, mut rest) = (Vec::new(), stream);
    while !rest.is_empty() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if x & 0x10 != 0 {
            out.push(&rest[..0]);
        }
        let (a, b) = rest.split_at((1 + x as usize % cap).min(rest.len()));
        out.push(a);
        rest = b;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [max, seed, stream @ ..] = data else { return };
    let max = usize::from(*max) % 96;
    let eff = max.min(BUF);
    let want = reference(stream, eff);
    let mut rr = RecordReader::with_max([0u8; BUF], max);
    assert_eq!(rr.max_record(), eff);
    assert!(rr.is_idle());

    let (mut got, mut pos, mut failed) = (Vec::new(), 0usize, None);
    'feed: for chunk in chunks(stream, *seed) {
        let mut rest = chunk;
        loop {
            match rr.push(rest) {
                Ok((n, true)) => {
                    pos += n;
                    rest = &rest[n..];
                    let rec = rr.record().expect("complete record").to_vec();
                    assert_eq!(rr.record_mut().map(|r| r.to_vec()), Some(rec.clone()));
                    assert_eq!(rr.push(rest), Ok((0, true)), "consumed past a complete record");
                    got.push(rec);
                    rr.next_record();
                }
                Ok((n, false)) => {
                    assert_eq!(n, rest.len(), "stopped before the input's end");
                    assert!(rr.record().is_none());
                    pos += n;
                    break;
                }
                Err(e) => {
                    failed = Some((pos, pos + rest.len(), e));
                    break 'feed;
                }
            }
        }
    }

    assert_eq!(got, want.records);
    match (want.error, failed) {
        (None, None) => {
            let tail = &stream[stream.len() - want.tail..];
            if tail.is_empty() {
                assert!(rr.is_idle(), "not idle after a complete record");
            }
            // Any byte after the last complete record means a record has started.
            assert_eq!(rr.is_idle(), tail.is_empty(), "is_idle wrong with {} bytes pending", tail.len());
        }
        (Some((at, claimed)), Some((from, to, e))) => {
            assert!(from <= at && at < to, "error at byte {at} outside the chunk {from}..{to}");
            assert_eq!(e, RecordError::TooLarge { claimed, max: eff });
        }
        (w, g) => panic!("expected error {w:?}, got {g:?}"),
    }

    // Each record, split into fragments by `fragments`, reassembles to itself.
    for rec in &got {
        let mut s = Vec::new();
        for (h, d) in fragments(rec, 1 + usize::from(*seed % 7)) {
            s.extend_from_slice(&h);
            s.extend_from_slice(d);
        }
        let mut r2 = RecordReader::new([0u8; BUF]);
        assert_eq!(r2.push(&s), Ok((s.len(), true)));
        assert_eq!(r2.record(), Some(&rec[..]));
    }
});
