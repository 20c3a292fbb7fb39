//! [`ListCursor`]: where a READDIR or READDIRPLUS walk of one directory stands.
//!
//! A walk sends cookie 0 and a zero verifier first, then the cookie of the last entry
//! received and the verifier of the last result, until a result says `eof`. A page without
//! entries and without `eof` would repeat forever: it is [`Error::Protocol`].

use super::{Error, Fh};
use crate::nfs3::{COOKIEVERFSIZE, ReaddirArgs, ReaddirResOk, ReaddirplusArgs, ReaddirplusResOk, Verifier};

/// The position of a directory walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListCursor {
    dir: Fh,
    cookie: u64,
    verf: Verifier,
    eof: bool,
}

impl ListCursor {
    /// A walk of `dir` from its start.
    pub fn new(dir: Fh) -> Self {
        ListCursor { dir, cookie: 0, verf: Verifier([0; COOKIEVERFSIZE]), eof: false }
    }

    /// True once the last page said `eof`.
    pub fn is_done(&self) -> bool {
        self.eof
    }

    /// The cookie the next call sends.
    pub fn cookie(&self) -> u64 {
        self.cookie
    }

    /// READDIR arguments for the next page, `count` bytes at most.
    pub fn readdir_args(&self, count: u32) -> ReaddirArgs<'_> {
        ReaddirArgs { dir: self.dir.wire(), cookie: self.cookie, cookieverf: self.verf, count }
    }

    /// READDIRPLUS arguments for the next page.
    pub fn readdirplus_args(&self, dircount: u32, maxcount: u32) -> ReaddirplusArgs<'_> {
        ReaddirplusArgs { dir: self.dir.wire(), cookie: self.cookie, cookieverf: self.verf, dircount, maxcount }
    }

    /// Moves past a page whose last entry had the cookie `last` (`None`: a page without
    /// entries), with the page's cookie verifier and `eof`: for a caller that walked the
    /// entries already and need not decode them again.
    pub fn advance(&mut self, last: Option<u64>, verf: Verifier, eof: bool) -> Result<(), Error> {
        match last {
            Some(c) => self.cookie = c,
            None if !eof => return Err(Error::Protocol),
            None => {}
        }
        self.verf = verf;
        self.eof = eof;
        Ok(())
    }

    /// Moves past a READDIR page.
    pub fn advance_readdir(&mut self, page: &ReaddirResOk<'_>) -> Result<(), Error> {
        self.advance(page.entries.iter().last().map(|e| e.cookie), page.cookieverf, page.eof)
    }

    /// Moves past a READDIRPLUS page.
    pub fn advance_readdirplus(&mut self, page: &ReaddirplusResOk<'_>) -> Result<(), Error> {
        self.advance(page.entries.iter().last().map(|e| e.cookie), page.cookieverf, page.eof)
    }
}
