//! Read-ahead for [`super::RemoteFs`]: a reader that asks for consecutive ranges of one file
//! (a FUSE mount streaming a file, a guest reading sequentially) gets the next READs sent
//! before it asks, so several are in flight, as in a windowed `tern cp`.
//!
//! Invariants:
//! - Only one stream (one file) is followed; a read elsewhere, or any other call through the
//!   `RemoteFs`, cancels what is in flight and drops what was read ahead ([`ReadAhead::reset`]),
//!   so no call ever waits behind a READ it did not send, and data read ahead is never served
//!   after this client changed the file.
//! - Data read ahead is served only within [`MAX_AGE`] of its arrival (the FUSE attribute
//!   time-out): a reader never sees older data than an uncached read a moment earlier could.
//! - At most [`WINDOW`] READs of `rsize` bytes in flight or waiting to be consumed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tern_core::nfs3::NfsRes;
use tern_core::nfs3::client::{self as cc, Fh};

use super::conn::Event;
use super::{NfsError, Session};

/// READs in flight or held.
pub(crate) const WINDOW: usize = 4;
/// Data read ahead older than this is dropped, not served.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(1);

/// A READ's outcome: its data and end-of-file flag, or why it failed.
type Got = Result<(Vec<u8>, bool), Failed>;

/// One READ sent ahead: its range, and its data once the reply came.
#[derive(Debug)]
struct Piece {
    xid: u32,
    offset: u64,
    count: u32,
    got: Option<(Got, Instant)>,
}

/// Why a READ sent ahead failed (kept until its range is read, then given as an [`NfsError`]).
#[derive(Debug, Clone)]
enum Failed {
    Status(tern_core::nfs3::NfsStat3),
    Refused(tern_core::rpc::client::CallFailure),
    TimedOut,
    Protocol(String),
}

impl From<Failed> for NfsError {
    fn from(f: Failed) -> Self {
        match f {
            Failed::Status(s) => NfsError::Status(s),
            Failed::Refused(c) => NfsError::Refused(c),
            Failed::TimedOut => NfsError::TimedOut,
            Failed::Protocol(m) => NfsError::Protocol(m),
        }
    }
}

/// The read-ahead state of one `RemoteFs`.
#[derive(Debug, Default)]
pub(crate) struct ReadAhead {
    fh: Option<Fh>,
    /// Where the stream's next read is expected.
    next: u64,
    /// Consecutive reads seen.
    run: u32,
    /// End of the range asked for so far.
    asked: u64,
    /// End of file seen in a reply.
    eof: Option<u64>,
    pieces: VecDeque<Piece>,
}

impl ReadAhead {
    /// Cancels the READs in flight and drops what was read ahead.
    pub(crate) fn reset(&mut self, s: &mut Session) {
        if self.pieces.iter().any(|p| p.got.is_none()) {
            s.nfs.cancel_all();
        }
        *self = ReadAhead::default();
    }

    /// Reads into `out` at `offset` of `fh`, from data read ahead when the read continues the
    /// stream; `None` when it does not (the caller reads directly; the stream now follows
    /// this read).
    pub(crate) fn read(
        &mut self,
        s: &mut Session,
        fh: &Fh,
        offset: u64,
        out: &mut [u8],
    ) -> Option<Result<(usize, bool), NfsError>> {
        let follows = self.fh == Some(*fh) && offset == self.next;
        if !follows {
            self.reset(s);
            self.fh = Some(*fh);
            self.next = offset.saturating_add(out.len() as u64);
            self.asked = self.next;
            return None;
        }
        self.run += 1;
        let end = offset.saturating_add(out.len() as u64);
        self.next = end;
        if self.run < 2 && self.pieces.is_empty() {
            self.asked = end;
            return None;
        }
        if let Err(e) = self.fill(s, fh, offset) {
            self.reset(s);
            return Some(Err(e));
        }
        let r = self.serve(s, offset, out);
        if r.is_err() {
            self.reset(s);
        }
        Some(r)
    }

    /// Sends READs until [`WINDOW`] pieces cover the stream ahead of `offset`.
    fn fill(&mut self, s: &mut Session, fh: &Fh, offset: u64) -> Result<(), NfsError> {
        // Pieces wholly before the read are no longer needed.
        while self.pieces.front().is_some_and(|p| p.offset + u64::from(p.count) <= offset) {
            let p = self.pieces.pop_front();
            if p.as_ref().is_some_and(|p| p.got.is_none()) {
                // Still in flight: wait for it so that the connection stays in step.
                if let Some(p) = p {
                    self.pieces.push_front(p);
                    self.wait_one(s)?;
                    self.pieces.pop_front();
                }
            }
        }
        if self.pieces.front().is_none_or(|p| p.offset > offset) {
            self.pieces.clear();
            self.asked = offset;
        }
        let rsize = s.io_sizes().rsize;
        while self.pieces.len() < WINDOW && self.eof.is_none_or(|e| self.asked < e) {
            let (at, count) = (self.asked, rsize);
            let args = tern_core::nfs3::ReadArgs { file: fh.wire(), offset: at, count };
            let xid = s.nfs.start(|c, now, cred, buf| Ok(cc::read(c, now, cred, &args, buf)?))?;
            self.pieces.push_back(Piece { xid, offset: at, count, got: None });
            self.asked = at + u64::from(count);
        }
        Ok(())
    }

    /// Waits for one reply and files it with its piece.
    fn wait_one(&mut self, s: &mut Session) -> Result<(), NfsError> {
        let limits = s.limits;
        let (xid, got) = match s.nfs.wait()? {
            Event::Reply(xid, r) => {
                let got = match r {
                    Ok(bytes) => match cc::decode_read(bytes, &limits) {
                        Ok(NfsRes::Ok(ok)) => Ok((ok.data.to_vec(), ok.eof)),
                        Ok(NfsRes::Fail(st, _)) => Err(Failed::Status(st)),
                        Err(e) => Err(Failed::Protocol(format!("READ results: {e}"))),
                    },
                    Err(f) => Err(Failed::Refused(f)),
                };
                (xid, got)
            }
            Event::TimedOut(xid) => (xid, Err(Failed::TimedOut)),
        };
        if let Some(p) = self.pieces.iter_mut().find(|p| p.xid == xid && p.got.is_none()) {
            if let Ok((data, eof)) = &got
                && (*eof || data.len() < p.count as usize)
            {
                let end = p.offset + data.len() as u64;
                self.eof = Some(self.eof.map_or(end, |e| e.min(end)));
            }
            p.got = Some((got, Instant::now()));
        }
        Ok(())
    }

    /// Copies the stream's data at `offset` into `out`, waiting for the pieces it needs.
    fn serve(&mut self, s: &mut Session, offset: u64, out: &mut [u8]) -> Result<(usize, bool), NfsError> {
        let mut done = 0usize;
        loop {
            let at = offset + done as u64;
            if done == out.len() {
                return Ok((done, self.eof.is_some_and(|e| at >= e)));
            }
            if self.eof.is_some_and(|e| at >= e) {
                return Ok((done, true));
            }
            let Some(i) = self.pieces.iter().position(|p| p.offset <= at && at < p.offset + u64::from(p.count)) else {
                // Beyond what was asked (the window moved on): read it directly.
                let fh = self.fh.ok_or_else(|| NfsError::Protocol("read-ahead without a file".into()))?;
                let (data, eof) = s.read(&fh, at, (out.len() - done) as u32)?;
                let n = data.len().min(out.len() - done);
                out[done..done + n].copy_from_slice(&data[..n]);
                return Ok((done + n, eof));
            };
            while self.pieces[i].got.is_none() {
                self.wait_one(s)?;
            }
            let p = &self.pieces[i];
            let Some((got, when)) = &p.got else { continue };
            if when.elapsed() > MAX_AGE {
                // Too old to serve: start over from here.
                self.pieces.clear();
                self.asked = at;
                let fh = self.fh.ok_or_else(|| NfsError::Protocol("read-ahead without a file".into()))?;
                self.fill(s, &fh, at)?;
                continue;
            }
            let (data, _) = match got {
                Ok(d) => d,
                Err(e) => return Err(e.clone().into()),
            };
            let from = (at - p.offset) as usize;
            if from >= data.len() {
                // A short piece: the file ends inside it.
                return Ok((done, true));
            }
            let n = (data.len() - from).min(out.len() - done);
            out[done..done + n].copy_from_slice(&data[from..from + n]);
            done += n;
        }
    }
}
