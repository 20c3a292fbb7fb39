//! [`RecordBuf`]: RPC records (RFC 5531 §11, record marking) rebuilt from a TCP stream in the
//! buffer the socket reads into, so a reply is handed out where it landed: no copy between
//! the socket and the caller (a 1 MiB READ reply goes from the kernel to the file it is
//! written to without passing through another buffer).
//!
//! Invariants:
//! - The buffer holds `max + SLACK + 8` bytes, `max` the largest record accepted: a record
//!   whose header claims more (all its fragments together) is an error, and after
//!   [`RecordBuf::space`] has made room every record of at most `max` bytes fits.
//! - Bytes `[start, end)` are read but not handed out. A record of several fragments is
//!   joined in place as its fragment headers arrive (the bytes of the fragments before are
//!   moved 4 bytes on, over the next header), so every record is handed out as one slice.
//! - Reads go up to the end of the current fragment plus `SLACK` at most, so what has to be
//!   moved back to the front of the buffer to make room for a record is at most `SLACK` bytes
//!   of it (plus what a join moved), never a whole large reply.

use std::ops::Range;

use tern_core::rpc::record::RecordError;

/// Bytes read past the end of the current fragment (the next small replies, the start of
/// the next large one).
const SLACK: usize = 64 * 1024;
const LAST: u32 = 0x8000_0000;

/// A TCP receive buffer that rebuilds records in place; see the module docs.
pub(super) struct RecordBuf {
    buf: Vec<u8>,
    max: usize,
    start: usize,
    end: usize,
}

impl RecordBuf {
    /// A buffer for records of at most `max` bytes.
    pub(super) fn new(max: usize) -> Self {
        RecordBuf { buf: vec![0; max + SLACK + 8], max, start: 0, end: 0 }
    }

    /// Forgets every byte read (a new connection).
    pub(super) fn reset(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    fn header(&self, at: usize) -> Option<(usize, bool)> {
        let b: [u8; 4] = self.buf.get(at..at + 4)?.try_into().ok()?;
        let v = u32::from_be_bytes(b);
        Some(((v & !LAST) as usize, v & LAST != 0))
    }

    fn too_large(&self, claimed: usize) -> RecordError {
        RecordError::TooLarge { claimed: claimed as u64, max: self.max }
    }

    /// The next complete record among the bytes read: its range in the buffer (see
    /// [`RecordBuf::get`]), valid until the next [`RecordBuf::space`]. `None` when more
    /// bytes are needed.
    pub(super) fn next(&mut self) -> Result<Option<Range<usize>>, RecordError> {
        loop {
            let Some((len, last)) = self.header(self.start).filter(|_| self.end - self.start >= 4) else {
                return Ok(None);
            };
            if len > self.max {
                return Err(self.too_large(len));
            }
            let body = self.start + 4;
            if self.end < body + len {
                return Ok(None);
            }
            if last {
                self.start = body + len;
                if self.start == self.end {
                    self.reset();
                }
                return Ok(Some(body..body + len));
            }
            // Join the next fragment once its header is here: the bytes so far move 4 bytes
            // on, over that header, and a header for both goes in front of them.
            if self.end < body + len + 4 {
                return Ok(None);
            }
            let Some((next, next_last)) = self.header(body + len) else { return Ok(None) };
            let total = len + next;
            if total > self.max {
                return Err(self.too_large(total));
            }
            self.buf.copy_within(body..body + len, body + 4);
            let h = (total as u32) | if next_last { LAST } else { 0 };
            self.buf[body..body + 4].copy_from_slice(&h.to_be_bytes());
            self.start = body;
        }
    }

    /// Where the next read goes: after the bytes read, up to the end of the current
    /// fragment plus `SLACK`; the bytes not handed out move to the front first when the
    /// current fragment would not fit behind them.
    pub(super) fn space(&mut self) -> &mut [u8] {
        // The current fragment's end, and room for the next fragment's header.
        let need = match self.header(self.start).filter(|_| self.end - self.start >= 4) {
            Some((len, _)) => 4 + len.min(self.max) + 4,
            None => 4,
        };
        if self.start > 0 && self.start + need + SLACK > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let until = (self.start + need + SLACK).min(self.buf.len());
        &mut self.buf[self.end..until]
    }

    /// `n` bytes were read into [`RecordBuf::space`].
    pub(super) fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// The bytes of a range [`RecordBuf::next`] gave.
    pub(super) fn get(&self, r: Range<usize>) -> &[u8] {
        self.buf.get(r).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Record-marks `rec` in fragments of at most `frag` bytes.
    fn marked(rec: &[u8], frag: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let chunks: Vec<&[u8]> = if rec.is_empty() { vec![&[][..]] } else { rec.chunks(frag).collect() };
        for (i, c) in chunks.iter().enumerate() {
            let last = if i + 1 == chunks.len() { LAST } else { 0 };
            out.extend_from_slice(&(c.len() as u32 | last).to_be_bytes());
            out.extend_from_slice(c);
        }
        out
    }

    /// Feeds `stream` in reads of at most `step` bytes; the records handed out.
    fn feed(r: &mut RecordBuf, stream: &[u8], step: usize) -> Result<Vec<Vec<u8>>, RecordError> {
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            while let Some(range) = r.next()? {
                out.push(r.get(range).to_vec());
            }
            if at == stream.len() {
                return Ok(out);
            }
            let space = r.space();
            assert!(!space.is_empty(), "no room to read into");
            let n = space.len().min(step).min(stream.len() - at);
            space[..n].copy_from_slice(&stream[at..at + n]);
            r.filled(n);
            at += n;
        }
    }

    fn record(n: usize, seed: u8) -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
    }

    #[test]
    fn records_of_every_shape_come_out_whole() {
        let max = 300_000;
        let recs: Vec<Vec<u8>> = [0, 1, 4, 100, 70_000, max, 3, max - 1, 65_536, 5]
            .iter()
            .enumerate()
            .map(|(i, n)| record(*n, i as u8))
            .collect();
        for frag in [1_000_000, 65_536, 1000, 7] {
            let stream: Vec<u8> = recs.iter().flat_map(|r| marked(r, frag)).collect();
            for step in [1, 3, 4096, 100_000, usize::MAX] {
                let mut r = RecordBuf::new(max);
                assert_eq!(feed(&mut r, &stream, step).unwrap(), recs, "fragments of {frag}, reads of {step}");
            }
        }
    }

    #[test]
    fn a_record_above_the_limit_fails() {
        let mut r = RecordBuf::new(1000);
        assert_eq!(
            feed(&mut r, &marked(&record(1001, 0), 5000), 64),
            Err(RecordError::TooLarge { claimed: 1001, max: 1000 })
        );
        // The limit holds for the fragments together.
        let mut r = RecordBuf::new(1000);
        assert_eq!(
            feed(&mut r, &marked(&record(1200, 0), 600), 64),
            Err(RecordError::TooLarge { claimed: 1200, max: 1000 })
        );
        // After a reset the buffer is as new.
        r.reset();
        assert_eq!(feed(&mut r, &marked(&record(1000, 1), 999), 64).unwrap(), vec![record(1000, 1)]);
    }

    #[test]
    fn large_records_are_not_moved_whole() {
        // Reads are cut at the end of the fragment plus SLACK: what moves to the front is at
        // most SLACK bytes of the next record.
        let max = 1 << 20;
        let mut r = RecordBuf::new(max);
        let rec = record(max, 9);
        let stream: Vec<u8> = (0..4).flat_map(|_| marked(&rec, max)).collect();
        let mut at = 0;
        let mut got = 0;
        while got < 4 {
            while let Some(range) = r.next().unwrap() {
                assert_eq!(r.get(range), &rec[..]);
                got += 1;
            }
            if at == stream.len() {
                break;
            }
            let space = r.space();
            assert!(space.len() <= max + 8 + SLACK);
            let n = space.len().min(stream.len() - at);
            space[..n].copy_from_slice(&stream[at..at + n]);
            r.filled(n);
            at += n;
            assert!(r.end - r.start <= 4 + max + 4 + SLACK);
        }
        assert_eq!(got, 4);
    }
}
