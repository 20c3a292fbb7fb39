//! Whole-file streaming through a [`Session`] with a window of READs or WRITEs in flight (the
//! core's [`ReadTransfer`] and [`WriteTransfer`]).
//!
//! Reads hand each piece to a sink with its offset, in whatever order the replies come (a
//! file sink writes it in place; [`Ordered`] puts pieces back in order for a pipe). Writes ask
//! a source for the bytes of each range, possibly more than once (a short write, or a server
//! restart that lost uncommitted data): the source must be able to read any range again.

use std::collections::BTreeMap;
use std::io;

use tern_core::nfs3::StableHow;
use tern_core::nfs3::client::{Fh, Next, ReadTransfer, WriteTransfer};

use super::conn::{Event, MAX_INFLIGHT};
use super::{NfsError, Session};

/// A long write COMMITs every this many bytes while its WRITEs go on, so that a server
/// restart makes it send at most this much (plus the window) again, not the whole file.
pub const COMMIT_EVERY: u64 = 64 * 1024 * 1024;

/// Progress of a transfer: bytes done so far.
pub type Progress<'a> = &'a mut dyn FnMut(u64);

impl Session {
    /// Reads `[start, end)` of `fh` (`end` = `u64::MAX`: to the end of the file), windowed,
    /// handing each piece to `sink` with its offset; returns the bytes read.
    pub fn read_to(
        &mut self,
        fh: &Fh,
        start: u64,
        end: u64,
        sink: &mut dyn FnMut(u64, &[u8]) -> io::Result<()>,
        progress: Progress<'_>,
    ) -> Result<u64, NfsError> {
        let mut t = ReadTransfer::<MAX_INFLIGHT>::new(*fh, start, end, self.sizes.rsize, self.window);
        let limits = self.limits;
        loop {
            while self.nfs.start_opt(|c, now, cred, buf| t.poll_transmit(c, now, cred, buf))?.is_some() {}
            if t.is_done() {
                return Ok(t.received());
            }
            match self.nfs.wait()? {
                Event::Reply(x, r) if t.owns(x) => {
                    // The data is written out from where the socket read it.
                    let (off, data) = t.handle_reply(x, r, &limits)?;
                    if !data.is_empty() {
                        sink(off, data)?;
                    }
                    progress(t.received());
                }
                Event::TimedOut(x) if t.owns(x) => t.handle_timeout(x)?,
                _ => {}
            }
        }
    }

    /// Writes `[start, end)` of `fh`, windowed, UNSTABLE then COMMIT (also every
    /// [`COMMIT_EVERY`] bytes on the way), asking `source` for the
    /// bytes of each range (see the module docs); returns how many bytes were sent again.
    pub fn write_from(
        &mut self,
        fh: &Fh,
        start: u64,
        end: u64,
        source: &mut dyn FnMut(u64, &mut [u8]) -> io::Result<()>,
        progress: Progress<'_>,
    ) -> Result<u64, NfsError> {
        let wsize = self.sizes.wsize;
        let mut t = WriteTransfer::<MAX_INFLIGHT>::new(*fh, start, end, wsize, self.window, StableHow::Unstable)
            .commit_every(COMMIT_EVERY);
        self.nfs.reserve(wsize as usize + 1024);
        let limits = self.limits;
        loop {
            while let Some(next) = t.poll_transmit() {
                match next {
                    Next::Write(ch) => {
                        // The source reads straight into the message.
                        let (_, part) =
                            self.nfs.prepare(|c, now, cred, out| t.send_write_in_place(c, now, cred, ch, out))?;
                        match source(ch.offset, part) {
                            Ok(()) => self.nfs.send_prepared(),
                            Err(e) => {
                                self.nfs.abort_prepared();
                                return Err(e.into());
                            }
                        }
                    }
                    Next::Commit => {
                        self.nfs.start(|c, now, cred, out| t.send_commit(c, now, cred, out))?;
                    }
                }
            }
            if t.is_done() {
                if t.verifier_changes() > 0 {
                    tracing::info!(
                        "the server's write verifier changed {} times: {} bytes sent again",
                        t.verifier_changes(),
                        t.resent()
                    );
                }
                return Ok(t.resent());
            }
            match self.nfs.wait()? {
                Event::Reply(x, r) if t.owns(x) => {
                    t.handle_reply(x, r, &limits)?;
                    progress(t.acked().min(end - start));
                }
                Event::TimedOut(x) if t.owns(x) => t.handle_timeout(x)?,
                _ => {}
            }
        }
    }
}

/// Puts pieces that come in any order back in order for a writer that cannot seek.
pub struct Ordered<W> {
    out: W,
    next: u64,
    held: BTreeMap<u64, Vec<u8>>,
}

impl<W: io::Write> Ordered<W> {
    /// Writes to `out` the bytes from offset `start` on.
    pub fn new(out: W, start: u64) -> Self {
        Ordered { out, next: start, held: BTreeMap::new() }
    }

    /// Takes the piece at `offset`; writes every piece that is now next in line.
    pub fn put(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if offset == self.next {
            self.out.write_all(data)?;
            self.next += data.len() as u64;
            while let Some(d) = self.held.remove(&self.next) {
                self.out.write_all(&d)?;
                self.next += d.len() as u64;
            }
        } else {
            self.held.insert(offset, data.to_vec());
        }
        Ok(())
    }

    /// Flushes and gives back the writer; fails if pieces are missing.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.held.is_empty() {
            return Err(io::Error::other("pieces missing before the end of the stream"));
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::Ordered;

    #[test]
    fn ordered_puts_pieces_in_order() {
        let mut o = Ordered::new(Vec::new(), 10);
        o.put(14, b"efgh").unwrap();
        o.put(18, b"ij").unwrap();
        o.put(10, b"abcd").unwrap();
        assert_eq!(o.finish().unwrap(), b"abcdefghij");
        let mut o = Ordered::new(Vec::new(), 0);
        o.put(4, b"x").unwrap();
        assert!(o.finish().is_err());
    }
}
