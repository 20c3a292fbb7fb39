//! [`ReadTransfer`]: reads a byte range of one file with up to `W` READs in flight.
//!
//! The driver loops: [`ReadTransfer::poll_transmit`] encodes the next READ while the window
//! has room (the driver sends it and keeps its bytes for retransmission); replies go through
//! the RPC client and then to [`ReadTransfer::handle_reply`], which hands back the data
//! borrowed from the reply with its offset (replies may come in any order: the driver writes
//! each piece where it belongs); a call that times out (soft mounts only) goes to
//! [`ReadTransfer::handle_timeout`]. The transfer is over when [`ReadTransfer::is_done`].
//!
//! Invariants: every byte of `[start, end)` up to the end of the file is handed out exactly
//! once (a reply repeated by the network has an unknown xid by then and never reaches the
//! machine); a short READ without `eof` makes the rest of its range asked again; an `eof`
//! earlier than `end` (the file shrank) ends the transfer there, and [`ReadTransfer::eof_at`]
//! tells where.

use heapless::Vec;

use super::ranges::RangeSet;
use super::{Error, Fh, calls};
use crate::nfs3::{Limits, NfsRes, ReadArgs};
use crate::rpc::auth::Credential;
use crate::rpc::client::{CallFailure, Client};
use crate::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    xid: u32,
    offset: u64,
    count: u32,
}

/// A windowed read of `[start, end)` of one file; see the module docs.
#[derive(Debug, Clone)]
pub struct ReadTransfer<const W: usize> {
    fh: Fh,
    end: u64,
    next: u64,
    chunk: u32,
    window: usize,
    inflight: Vec<Slot, W>,
    gaps: RangeSet,
    eof: Option<u64>,
    received: u64,
}

impl<const W: usize> ReadTransfer<W> {
    /// A read of `[start, end)` of `fh` (`end` = `u64::MAX`: until the end of the file) in
    /// READs of `chunk` bytes (the rsize), at most `window` (≤ `W`) in flight.
    pub fn new(fh: Fh, start: u64, end: u64, chunk: u32, window: usize) -> Self {
        ReadTransfer {
            fh,
            end: end.max(start),
            next: start,
            chunk: chunk.max(1),
            window: window.clamp(1, W.max(1)),
            inflight: Vec::new(),
            gaps: RangeSet::new(),
            eof: None,
            received: 0,
        }
    }

    /// Where reading stops: `end`, or the end of the file once a READ reported it.
    fn limit(&self) -> u64 {
        self.eof.map_or(self.end, |e| e.min(self.end))
    }

    /// Encodes the next READ into `buf` when the window has room and bytes are left to ask
    /// for; returns its xid and length. Call until it returns `None`.
    pub fn poll_transmit<const N: usize>(
        &mut self,
        c: &mut Client<N>,
        now: Instant,
        cred: &Credential<'_>,
        buf: &mut [u8],
    ) -> Result<Option<(u32, usize)>, Error> {
        if self.inflight.len() >= self.window {
            return Ok(None);
        }
        let limit = self.limit();
        let (offset, count) = if let Some((s, e)) = self.gaps.first() {
            let n = (e - s).min(u64::from(self.chunk));
            (s, n)
        } else if self.next < limit {
            // With the size unknown, ask for whole chunks up to the end of the file.
            (self.next, (limit - self.next).min(u64::from(self.chunk)))
        } else {
            return Ok(None);
        };
        let count = count as u32;
        let args = ReadArgs { file: self.fh.wire(), offset, count };
        let (xid, len) = calls::read(c, now, cred, &args, buf)?;
        self.inflight.push(Slot { xid, offset, count }).map_err(|_| Error::Full)?;
        if self.gaps.first().is_some_and(|(s, _)| s == offset) {
            self.gaps.pop_front(u64::from(count));
        } else {
            self.next = offset + u64::from(count);
        }
        Ok(Some((xid, len)))
    }

    /// Is `xid` one of this transfer's READs?
    pub fn owns(&self, xid: u32) -> bool {
        self.inflight.iter().any(|s| s.xid == xid)
    }

    fn take(&mut self, xid: u32) -> Result<Slot, Error> {
        let i = self.inflight.iter().position(|s| s.xid == xid).ok_or(Error::Misuse)?;
        Ok(self.inflight.swap_remove(i))
    }

    /// Takes the reply of one of this transfer's READs: the offset and the data read
    /// (possibly empty at the end of the file), borrowed from `result`.
    pub fn handle_reply<'r>(
        &mut self,
        xid: u32,
        result: Result<&'r [u8], CallFailure>,
        limits: &Limits,
    ) -> Result<(u64, &'r [u8]), Error> {
        let slot = self.take(xid)?;
        let ok = match calls::decode_read(result?, limits)? {
            NfsRes::Ok(ok) => ok,
            NfsRes::Fail(s, _) => return Err(Error::Status(s)),
        };
        let n = ok.data.len() as u64;
        let asked = u64::from(slot.count);
        if n > asked || (n == 0 && asked > 0 && !ok.eof) {
            return Err(Error::Protocol);
        }
        let got_end = slot.offset + n;
        if ok.eof {
            let e = self.eof.map_or(got_end, |e| e.min(got_end));
            self.eof = Some(e);
            self.gaps.truncate(e);
        } else if n < asked {
            self.gaps.insert(got_end, slot.offset + asked).map_err(|_| Error::Full)?;
        }
        // Bytes past an end of file learned from another reply are not handed out twice
        // (a file that shrank while being read).
        let keep = match self.eof {
            Some(e) if e < got_end => e.saturating_sub(slot.offset) as usize,
            _ => ok.data.len(),
        };
        let data = ok.data.get(..keep).unwrap_or(&[]);
        self.received += data.len() as u64;
        Ok((slot.offset, data))
    }

    /// A READ of this transfer timed out (soft semantics): the transfer fails.
    pub fn handle_timeout(&mut self, xid: u32) -> Result<(), Error> {
        self.take(xid)?;
        Err(Error::TimedOut)
    }

    /// True when every byte up to `end` (or the end of the file) has been handed out.
    pub fn is_done(&self) -> bool {
        self.inflight.is_empty() && self.gaps.is_empty() && self.next >= self.limit()
    }

    /// READs in flight.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// Bytes handed out so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The end of the file, once a READ reported it.
    pub fn eof_at(&self) -> Option<u64> {
        self.eof
    }
}
