//! Record marking for stream transports (RFC 5531 §11).
//!
//! A record is a sequence of fragments; each fragment starts with a 4-byte header whose top bit
//! marks the last fragment and whose low 31 bits give the fragment's length.
//!
//! [`RecordReader`] rebuilds records from stream bytes arriving in chunks of any size, into a
//! buffer the caller provides. Invariants: a record never grows past the configured maximum (a
//! fragment header that would take it past is an error the moment the header is complete, before
//! any of the fragment is read), and the reader holds nothing but that buffer and a few counters,
//! so memory per connection is fixed.

/// The last-fragment bit of a fragment header.
pub const LAST_FRAGMENT: u32 = 0x8000_0000;

/// Why a stream cannot go on (the connection should be closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RecordError {
    /// A fragment header claims more bytes than the record may hold.
    TooLarge {
        /// Bytes the record would have reached.
        claimed: u64,
        /// The configured maximum.
        max: usize,
    },
}

impl core::fmt::Display for RecordError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RecordError::TooLarge { claimed, max } => {
                write!(f, "RPC record of {claimed} bytes exceeds the maximum of {max}")
            }
        }
    }
}

impl core::error::Error for RecordError {}

/// The header of a fragment of `len` bytes.
pub const fn fragment_header(len: u32, last: bool) -> [u8; 4] {
    let v = (len & !LAST_FRAGMENT) | if last { LAST_FRAGMENT } else { 0 };
    v.to_be_bytes()
}

/// Splits `record` into fragments of at most `max_fragment` bytes (at least 1): yields each
/// fragment's header and data, the last one flagged.
pub fn fragments(record: &[u8], max_fragment: usize) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let size = max_fragment.clamp(1, (LAST_FRAGMENT - 1) as usize);
    let count = record.len().div_ceil(size).max(1);
    (0..count).map(move |i| {
        let start = i * size;
        let end = (start + size).min(record.len());
        let data = &record[start..end];
        // `size` is below 2^31, so the length fits the header's 31 bits.
        #[allow(clippy::cast_possible_truncation)]
        let len = data.len() as u32;
        (fragment_header(len, i + 1 == count), data)
    })
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Collecting a fragment header; `have` bytes of it are in `hdr`.
    Header { hdr: [u8; 4], have: usize },
    /// Inside a fragment with `left` bytes to go.
    Body { left: usize, last: bool },
    /// A whole record sits in the buffer.
    Complete,
    /// A header was over the limit; only [`RecordReader::reset`] leaves this state.
    Failed(RecordError),
}

/// Rebuilds RPC records from a byte stream into caller-provided storage.
#[derive(Debug)]
pub struct RecordReader<B> {
    buf: B,
    max: usize,
    len: usize,
    /// A fragment header of the current record has been read (even an empty fragment).
    started: bool,
    state: State,
}

impl<B: AsMut<[u8]> + AsRef<[u8]>> RecordReader<B> {
    /// A reader whose records may be as long as `buf` is.
    pub fn new(buf: B) -> Self {
        let max = buf.as_ref().len();
        RecordReader { buf, max, len: 0, started: false, state: State::Header { hdr: [0; 4], have: 0 } }
    }

    /// A reader whose records may be at most `max` bytes (capped at the buffer's length).
    pub fn with_max(buf: B, max: usize) -> Self {
        let mut r = Self::new(buf);
        r.max = r.max.min(max);
        r
    }

    /// The largest record accepted.
    pub fn max_record(&self) -> usize {
        self.max
    }

    /// True when no byte of a next record has arrived (a clean place for the stream to end).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Header { have: 0, .. }) && !self.started
    }

    /// Feeds stream bytes. Returns how many were consumed and whether a record is now complete.
    /// Once a record is complete no more bytes are consumed until [`RecordReader::next_record`].
    /// After an error every call fails the same way until [`RecordReader::reset`].
    pub fn push(&mut self, mut input: &[u8]) -> Result<(usize, bool), RecordError> {
        let start = input.len();
        loop {
            match &mut self.state {
                State::Failed(e) => return Err(*e),
                State::Complete => return Ok((start - input.len(), true)),
                State::Header { hdr, have } => {
                    if input.is_empty() {
                        return Ok((start, false));
                    }
                    let n = (4 - *have).min(input.len());
                    hdr[*have..*have + n].copy_from_slice(&input[..n]);
                    *have += n;
                    input = &input[n..];
                    if *have == 4 {
                        let v = u32::from_be_bytes(*hdr);
                        let frag = (v & !LAST_FRAGMENT) as usize;
                        let claimed = self.len as u64 + frag as u64;
                        if claimed > self.max as u64 {
                            let e = RecordError::TooLarge { claimed, max: self.max };
                            self.state = State::Failed(e);
                            return Err(e);
                        }
                        let last = v & LAST_FRAGMENT != 0;
                        self.started = true;
                        self.state = if frag == 0 && last { State::Complete } else { State::Body { left: frag, last } };
                    }
                }
                State::Body { left, last } => {
                    if *left == 0 {
                        self.state = if *last { State::Complete } else { State::Header { hdr: [0; 4], have: 0 } };
                        continue;
                    }
                    if input.is_empty() {
                        return Ok((start, false));
                    }
                    let n = (*left).min(input.len());
                    self.buf.as_mut()[self.len..self.len + n].copy_from_slice(&input[..n]);
                    self.len += n;
                    *left -= n;
                    input = &input[n..];
                }
            }
        }
    }

    /// The complete record, or `None` while one is being assembled.
    pub fn record(&self) -> Option<&[u8]> {
        match self.state {
            State::Complete => Some(&self.buf.as_ref()[..self.len]),
            _ => None,
        }
    }

    /// Mutable access to the complete record (to decode in place or reuse as scratch).
    pub fn record_mut(&mut self) -> Option<&mut [u8]> {
        match self.state {
            State::Complete => Some(&mut self.buf.as_mut()[..self.len]),
            _ => None,
        }
    }

    /// Discards the complete record (if any) and starts on the next one.
    pub fn next_record(&mut self) {
        if matches!(self.state, State::Complete) {
            self.reset();
        }
    }

    /// Forgets any partial or complete record and any error: the reader is as new, ready for
    /// another connection over the same buffer.
    pub fn reset(&mut self) {
        self.len = 0;
        self.started = false;
        self.state = State::Header { hdr: [0; 4], have: 0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(record: &[u8], frag: usize) -> std::vec::Vec<u8> {
        let mut out = std::vec::Vec::new();
        for (h, d) in fragments(record, frag) {
            out.extend_from_slice(&h);
            out.extend_from_slice(d);
        }
        out
    }

    #[test]
    fn reassembles_fragments_fed_byte_by_byte() {
        let rec: std::vec::Vec<u8> = (0..100u8).collect();
        let s = stream(&rec, 7);
        assert_eq!(s.len(), 100 + 4 * 15);
        let mut rr = RecordReader::new([0u8; 128]);
        let mut done = false;
        for (i, b) in s.iter().enumerate() {
            assert!(!done, "record complete early at {i}");
            let (n, d) = rr.push(core::slice::from_ref(b)).unwrap();
            assert_eq!(n, 1);
            done = d;
        }
        assert!(done);
        assert_eq!(rr.record(), Some(&rec[..]));
    }

    #[test]
    fn two_records_in_one_chunk() {
        let mut s = stream(b"abcd", 2);
        s.extend(stream(b"efgh", 4));
        let mut rr = RecordReader::new([0u8; 16]);
        let (n, done) = rr.push(&s).unwrap();
        assert!(done);
        assert_eq!(rr.record(), Some(&b"abcd"[..]));
        assert_eq!(rr.push(&s[n..]).unwrap(), (0, true));
        rr.next_record();
        assert_eq!(rr.push(&s[n..]).unwrap(), (8, true));
        assert_eq!(rr.record(), Some(&b"efgh"[..]));
        rr.next_record();
        assert!(rr.is_idle());
    }

    #[test]
    fn huge_fragment_header_fails_at_once() {
        let mut rr = RecordReader::with_max([0u8; 64], 32);
        // A header claiming 2 GiB - 1, nothing after it.
        assert_eq!(rr.push(&[0xff, 0xff, 0xff, 0xff]), Err(RecordError::TooLarge { claimed: 0x7fff_ffff, max: 32 }));
        // The error is sticky until a reset.
        assert!(rr.push(&[0, 0, 0, 0]).is_err());
        rr.reset();
        assert_eq!(rr.push(&fragment_header(2, true)), Ok((4, false)));
        assert_eq!(rr.push(&[7, 8]), Ok((2, true)));
        assert_eq!(rr.record(), Some(&[7, 8][..]));
        // Several fragments that add up past the maximum.
        let mut rr = RecordReader::new([0u8; 8]);
        let s = stream(&[1u8; 12], 4);
        assert!(matches!(rr.push(&s), Err(RecordError::TooLarge { claimed: 12, .. })));
    }

    #[test]
    fn empty_fragment_starts_a_record() {
        let mut rr = RecordReader::new([0u8; 16]);
        assert!(rr.is_idle());
        assert_eq!(rr.push(&fragment_header(0, false)), Ok((4, false)));
        assert!(!rr.is_idle());
        assert_eq!(rr.push(&fragment_header(1, true)), Ok((4, false)));
        assert_eq!(rr.push(&[9]), Ok((1, true)));
        rr.next_record();
        assert!(rr.is_idle());
    }

    #[test]
    fn empty_record() {
        let mut rr = RecordReader::new([0u8; 4]);
        assert_eq!(rr.push(&fragment_header(0, true)), Ok((4, true)));
        assert_eq!(rr.record(), Some(&[][..]));
    }
}
