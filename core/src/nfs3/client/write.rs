//! [`WriteTransfer`]: writes a byte range of one file with up to `W` WRITEs in flight, then
//! COMMITs, checking the server's write verifier.
//!
//! The driver loops on [`WriteTransfer::poll_transmit`]:
//! - [`Next::Write`]: read the chunk's bytes from the source (the machine never keeps data)
//!   and pass them to [`WriteTransfer::send_write`], or read them straight into the message
//!   [`WriteTransfer::send_write_in_place`] encodes around them;
//! - [`Next::Commit`]: everything was written (or, with [`WriteTransfer::commit_every`],
//!   enough was written since the last COMMIT); call [`WriteTransfer::send_commit`];
//! - `None`: wait for replies ([`WriteTransfer::handle_reply`]) or timeouts.
//!
//! The transfer is over when [`WriteTransfer::is_done`]: every byte was acknowledged, and those
//! written UNSTABLE were committed under the verifier they were written with.
//!
//! # The write verifier (RFC 1813 §3.3.7, §3.3.21)
//! The machine keeps the ranges acknowledged UNSTABLE under the current verifier. A reply
//! with another verifier means the server restarted and may have lost them: they are queued
//! to be sent again (the driver will be asked for their bytes), the new verifier becomes the
//! current one, and the old one is remembered as dead, so a late reply that still carries it
//! only makes its own range go again. A COMMIT whose verifier differs does the same and is
//! followed by another COMMIT once everything is written again. Ranges acknowledged
//! FILE_SYNC or DATA_SYNC are safe whatever the verifier.
//!
//! A COMMIT during the transfer ([`WriteTransfer::commit_every`]) goes out while WRITEs are
//! still in flight, and covers only the ranges acknowledged before it was sent, under the
//! verifier of that moment: its reply clears those ranges if the verifier is still the same,
//! and nothing if it changed in between (the changed verifier already queued them again).
//!
//! A short WRITE (count below what was sent) queues the rest of its range again. A WRITE
//! count above what was sent, or zero for a non-empty chunk, is [`Error::Protocol`].

use core::ops::Range;

use heapless::Vec;

use super::ranges::RangeSet;
use super::{Error, Fh, calls};
use crate::nfs3::{CommitArgs, Limits, NfsRes, StableHow, Verifier, WriteArgs};
use crate::rpc::auth::Credential;
use crate::rpc::client::{CallFailure, Client};
use crate::time::Instant;

/// Dead verifiers remembered.
const DEAD: usize = 4;

/// A range of the source the driver must send next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Offset in the file.
    pub offset: u64,
    /// Length in bytes (at most the wsize).
    pub len: u32,
}

/// What the driver should send next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// A WRITE of this range: fetch its bytes and call [`WriteTransfer::send_write`].
    Write(Chunk),
    /// The COMMIT: call [`WriteTransfer::send_commit`].
    Commit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Write(Chunk),
    Commit,
}

/// A windowed write of `[start, end)` of one file; see the module docs.
#[derive(Debug, Clone)]
pub struct WriteTransfer<const W: usize> {
    fh: Fh,
    end: u64,
    next: u64,
    chunk: u32,
    window: usize,
    stable: StableHow,
    inflight: Vec<(u32, Call), W>,
    resend: RangeSet,
    unstable: RangeSet,
    verf: Option<Verifier>,
    dead: Vec<Verifier, DEAD>,
    acked: u64,
    resent: u64,
    verifier_changes: u32,
    /// Send a COMMIT once this many bytes were acknowledged UNSTABLE since the last one (0:
    /// only at the end).
    commit_every: u64,
    since_commit: u64,
    /// What the COMMIT in flight covers: the ranges acknowledged UNSTABLE when it was sent,
    /// and the verifier they were written under.
    covers: RangeSet,
    covers_verf: Option<Verifier>,
}

impl<const W: usize> WriteTransfer<W> {
    /// A write of `[start, end)` of `fh` in WRITEs of `chunk` bytes (the wsize), at most
    /// `window` (≤ `W`) in flight, each with `stable` (normally [`StableHow::Unstable`]; with
    /// `FileSync` no COMMIT is needed).
    pub fn new(fh: Fh, start: u64, end: u64, chunk: u32, window: usize, stable: StableHow) -> Self {
        WriteTransfer {
            fh,
            end: end.max(start),
            next: start,
            chunk: chunk.max(1),
            window: window.clamp(1, W.max(1)),
            stable,
            inflight: Vec::new(),
            resend: RangeSet::new(),
            unstable: RangeSet::new(),
            verf: None,
            dead: Vec::new(),
            acked: 0,
            resent: 0,
            verifier_changes: 0,
            commit_every: 0,
            since_commit: 0,
            covers: RangeSet::new(),
            covers_verf: None,
        }
    }

    /// Also COMMITs during the transfer, each time `bytes` more were acknowledged UNSTABLE
    /// (0: only at the end, the default), while the WRITEs go on: if the server restarts,
    /// only what was written since the last COMMIT is sent again.
    pub fn commit_every(mut self, bytes: u64) -> Self {
        self.commit_every = bytes;
        self
    }

    fn committing(&self) -> bool {
        self.inflight.iter().any(|(_, c)| *c == Call::Commit)
    }

    /// What to send next, if anything (see the module docs). Does not change the machine: the
    /// same answer comes until the matching `send_*` call.
    pub fn poll_transmit(&self) -> Option<Next> {
        if self.inflight.len() >= self.window {
            return None;
        }
        let committing = self.committing();
        if !committing && self.commit_every > 0 && self.since_commit >= self.commit_every && !self.unstable.is_empty() {
            return Some(Next::Commit);
        }
        let chunk = u64::from(self.chunk);
        if let Some((s, e)) = self.resend.first() {
            return Some(Next::Write(Chunk { offset: s, len: (e - s).min(chunk) as u32 }));
        }
        if self.next < self.end {
            return Some(Next::Write(Chunk { offset: self.next, len: (self.end - self.next).min(chunk) as u32 }));
        }
        // The last COMMIT goes once every WRITE was answered.
        if self.inflight.is_empty() && !self.unstable.is_empty() {
            return Some(Next::Commit);
        }
        None
    }

    /// Encodes the WRITE of `chunk` (the one [`WriteTransfer::poll_transmit`] gave) with its
    /// bytes `data` into `buf`; returns the xid and length. [`Error::Misuse`] for another
    /// chunk or data of another length.
    pub fn send_write<const N: usize>(
        &mut self,
        c: &mut Client<N>,
        now: Instant,
        cred: &Credential<'_>,
        chunk: Chunk,
        data: &[u8],
        buf: &mut [u8],
    ) -> Result<(u32, usize), Error> {
        if data.len() != chunk.len as usize {
            return Err(Error::Misuse);
        }
        self.check_write(chunk)?;
        let args = WriteArgs { file: self.fh.wire(), offset: chunk.offset, stable: self.stable, data };
        let (xid, len) = calls::write(c, now, cred, &args, buf)?;
        self.sent(xid, chunk);
        Ok((xid, len))
    }

    /// [`WriteTransfer::send_write`] without the data: encodes the WRITE of `chunk` into `buf`
    /// leaving room for its bytes (see [`calls::write_in_place`]); returns the xid, the
    /// message's length and the range of `buf` the driver must fill with the chunk's bytes
    /// before sending the message.
    pub fn send_write_in_place<const N: usize>(
        &mut self,
        c: &mut Client<N>,
        now: Instant,
        cred: &Credential<'_>,
        chunk: Chunk,
        buf: &mut [u8],
    ) -> Result<(u32, usize, Range<usize>), Error> {
        self.check_write(chunk)?;
        let (xid, len, data) =
            calls::write_in_place(c, now, cred, self.fh.wire(), chunk.offset, self.stable, chunk.len, buf)?;
        self.sent(xid, chunk);
        Ok((xid, len, data))
    }

    fn check_write(&self, chunk: Chunk) -> Result<(), Error> {
        if self.poll_transmit() != Some(Next::Write(chunk)) {
            return Err(Error::Misuse);
        }
        if self.inflight.is_full() {
            return Err(Error::Full);
        }
        Ok(())
    }

    /// The WRITE of `chunk` went out as `xid` (checked by `check_write` before).
    fn sent(&mut self, xid: u32, chunk: Chunk) {
        let end = chunk.offset + u64::from(chunk.len);
        if self.resend.first().is_some_and(|(s, _)| s == chunk.offset) {
            self.resend.pop_front(u64::from(chunk.len));
            self.resent += u64::from(chunk.len);
        } else {
            self.next = end;
        }
        // Cannot fail: checked before.
        let _ = self.inflight.push((xid, Call::Write(chunk)));
    }

    /// Encodes the COMMIT of the whole file into `buf`; returns the xid and length.
    /// [`Error::Misuse`] unless [`WriteTransfer::poll_transmit`] asked for it.
    pub fn send_commit<const N: usize>(
        &mut self,
        c: &mut Client<N>,
        now: Instant,
        cred: &Credential<'_>,
        buf: &mut [u8],
    ) -> Result<(u32, usize), Error> {
        if self.poll_transmit() != Some(Next::Commit) {
            return Err(Error::Misuse);
        }
        let args = CommitArgs { file: self.fh.wire(), offset: 0, count: 0 };
        let (xid, len) = calls::commit(c, now, cred, &args, buf)?;
        self.inflight.push((xid, Call::Commit)).map_err(|_| Error::Full)?;
        // It covers what was acknowledged before it went out, not the WRITEs still in flight.
        self.covers = self.unstable.clone();
        self.covers_verf = self.verf;
        self.since_commit = 0;
        Ok((xid, len))
    }

    /// Is `xid` one of this transfer's calls?
    pub fn owns(&self, xid: u32) -> bool {
        self.inflight.iter().any(|(x, _)| *x == xid)
    }

    fn take(&mut self, xid: u32) -> Result<Call, Error> {
        let i = self.inflight.iter().position(|(x, _)| *x == xid).ok_or(Error::Misuse)?;
        Ok(self.inflight.swap_remove(i).1)
    }

    /// The verifier changed to `v`: what was written unstable under the old one goes again.
    fn new_verifier(&mut self, v: Verifier) -> Result<(), Error> {
        if let Some(old) = self.verf.replace(v) {
            if self.dead.is_full() {
                self.dead.remove(0);
            }
            let _ = self.dead.push(old);
            self.verifier_changes += 1;
        }
        self.resend.absorb(&mut self.unstable).map_err(|_| Error::Full)
    }

    /// Takes the reply of one of this transfer's calls.
    pub fn handle_reply(&mut self, xid: u32, result: Result<&[u8], CallFailure>, limits: &Limits) -> Result<(), Error> {
        let call = self.take(xid)?;
        let results = result?;
        match call {
            Call::Write(chunk) => self.written(chunk, results, limits),
            Call::Commit => self.committed(results, limits),
        }
    }

    fn written(&mut self, chunk: Chunk, results: &[u8], limits: &Limits) -> Result<(), Error> {
        let ok = match calls::decode_write(results, limits)? {
            NfsRes::Ok(ok) => ok,
            NfsRes::Fail(s, _) => return Err(Error::Status(s)),
        };
        if ok.count > chunk.len || (ok.count == 0 && chunk.len > 0) {
            return Err(Error::Protocol);
        }
        let (start, done, end) =
            (chunk.offset, chunk.offset + u64::from(ok.count), chunk.offset + u64::from(chunk.len));
        self.resend.insert(done, end).map_err(|_| Error::Full)?;
        self.acked += u64::from(ok.count);
        if matches!(ok.committed, StableHow::FileSync | StableHow::DataSync) {
            return Ok(());
        }
        if self.dead.contains(&ok.verf) {
            // Written by a server instance that is gone since.
            return self.resend.insert(start, done).map_err(|_| Error::Full);
        }
        if self.verf != Some(ok.verf) {
            self.new_verifier(ok.verf)?;
        }
        self.since_commit += u64::from(ok.count);
        self.unstable.insert(start, done).map_err(|_| Error::Full)
    }

    fn committed(&mut self, results: &[u8], limits: &Limits) -> Result<(), Error> {
        let ok = match calls::decode_commit(results, limits)? {
            NfsRes::Ok(ok) => ok,
            NfsRes::Fail(s, _) => return Err(Error::Status(s)),
        };
        let covers = core::mem::take(&mut self.covers);
        let covers_verf = self.covers_verf.take();
        if self.dead.contains(&ok.verf) {
            // From a server instance that is gone: what it covered is queued again already.
            return Ok(());
        }
        if self.verf != Some(ok.verf) {
            return self.new_verifier(ok.verf);
        }
        // Safe now: what was acknowledged under this verifier before the COMMIT went out (if
        // the verifier changed in between, the server that answered is not the one that took
        // those WRITEs, and nothing is cleared).
        if covers_verf == Some(ok.verf) {
            for (s, e) in covers.iter() {
                self.unstable.remove(s, e).map_err(|_| Error::Full)?;
            }
        }
        Ok(())
    }

    /// A call of this transfer timed out (soft semantics): the transfer fails.
    pub fn handle_timeout(&mut self, xid: u32) -> Result<(), Error> {
        self.take(xid)?;
        Err(Error::TimedOut)
    }

    /// True when everything was written and committed.
    pub fn is_done(&self) -> bool {
        self.next >= self.end && self.inflight.is_empty() && self.resend.is_empty() && self.unstable.is_empty()
    }

    /// Calls in flight.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// Bytes acknowledged by WRITE replies (including bytes sent again).
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Bytes sent more than once (short writes, verifier changes).
    pub fn resent(&self) -> u64 {
        self.resent
    }

    /// Times the write verifier changed during the transfer.
    pub fn verifier_changes(&self) -> u32 {
        self.verifier_changes
    }

    /// The bytes not yet known to be safe: sent, or acknowledged UNSTABLE and not committed.
    pub fn uncommitted(&self) -> u64 {
        self.unstable.bytes()
    }
}
