//! Directory listing: READDIR (§3.3.16) and READDIRPLUS (§3.3.17).
//!
//! Client side: the entries of a result decode into a [`DirList`], which validates every entry
//! once (names bounded by [`Limits::max_name`], handles by 64 bytes) and then iterates lazily
//! over the borrowed bytes.
//!
//! Server side: [`ReaddirWriter`] and [`ReaddirplusWriter`] write a result into a [`Writer`]
//! one entry at a time and never let it exceed the client's budgets:
//! - **maxcount** (READDIRPLUS `maxcount`, READDIR `count`) bounds the encoded result, from
//!   the `nfsstat3` word through the final `eof` (the RFC counts `resok` only, so this is 4
//!   bytes stricter). Room for the list's terminating `FALSE` and `eof` is always kept, so
//!   [`ReaddirWriter::finish`] cannot run out of space. A buffer smaller than `maxcount` is a
//!   tighter bound, handled the same way.
//! - **dircount** (READDIRPLUS only) bounds the directory information, counted per entry as
//!   `fileid` (8) + `name` (4 + the name padded to 4) + `cookie` (8), i.e.
//!   [`EntryPlus3::dircount_len`]: the `entry3` fields of the entry, without the list pointer, the
//!   attributes or the handle (RFC 1813: "should not include the size of the attributes and file
//!   handle portions"; FreeBSD's server also charges the 4-byte pointer). The first entry is
//!   always admitted as far as dircount goes, so a small dircount slows a listing down instead
//!   of failing it; maxcount is never exceeded.
//! - Once an entry is refused, every later `push` is refused too (a later, smaller entry must not
//!   be sent after a skipped one: cookies would skip it), and `finish` sends `eof = FALSE`.
//! - If no entry fitted, `finish` replaces the result with `NFS3ERR_TOOSMALL` (RFC 1813).

use core::marker::PhantomData;

use super::wire_struct;
use super::{DecodeWith, FileHandle, Filename, Limits, NfsRes, NfsStat3, PostOpAttr, PostOpFh3, Verifier};
use crate::xdr::{self, Encode, Reader, Writer};

wire_struct! {
    /// `READDIR3args`.
    pub struct ReaddirArgs<'a> {
        /// The directory.
        pub dir: FileHandle<'a>,
        /// Where to resume: 0 for the start, else the cookie of the last entry received.
        pub cookie: u64,
        /// The verifier returned with `cookie` (zero with cookie 0).
        pub cookieverf: Verifier,
        /// Most bytes of the result (the whole `READDIR3res` here).
        pub count: u32,
    }
}

wire_struct! {
    /// `READDIRPLUS3args`.
    pub struct ReaddirplusArgs<'a> {
        /// The directory.
        pub dir: FileHandle<'a>,
        /// Where to resume: 0 for the start, else the cookie of the last entry received.
        pub cookie: u64,
        /// The verifier returned with `cookie` (zero with cookie 0).
        pub cookieverf: Verifier,
        /// Most bytes of directory information (see the module's documentation).
        pub dircount: u32,
        /// Most bytes of the result (the whole `READDIRPLUS3res` here).
        pub maxcount: u32,
    }
}

wire_struct! {
    /// `entry3`, without its `nextentry` link.
    pub struct Entry3<'a> {
        /// File number.
        pub fileid: u64,
        /// Name in the directory.
        pub name: Filename<'a>,
        /// Cookie to resume after this entry.
        pub cookie: u64,
    }
}

wire_struct! {
    /// `entryplus3`, without its `nextentry` link.
    pub struct EntryPlus3<'a> {
        /// File number.
        pub fileid: u64,
        /// Name in the directory.
        pub name: Filename<'a>,
        /// Cookie to resume after this entry.
        pub cookie: u64,
        /// The entry's attributes.
        pub name_attributes: PostOpAttr,
        /// The entry's handle.
        pub name_handle: PostOpFh3<'a>,
    }
}

/// Bytes a name, fileid and cookie take: what an entry costs against dircount.
fn dircount_of(name: &Filename<'_>) -> usize {
    8 + name.encoded_len() + 8
}

impl Entry3<'_> {
    /// What this entry costs against a dircount budget (see the module's documentation).
    pub fn dircount_len(&self) -> usize {
        dircount_of(&self.name)
    }

    /// What this entry costs against maxcount: its encoding and the list pointer before it.
    pub fn wire_len(&self) -> usize {
        4 + self.encoded_len()
    }
}

impl EntryPlus3<'_> {
    /// What this entry costs against a dircount budget (see the module's documentation).
    pub fn dircount_len(&self) -> usize {
        dircount_of(&self.name)
    }

    /// What this entry costs against maxcount: its encoding and the list pointer before it.
    pub fn wire_len(&self) -> usize {
        4 + self.encoded_len()
    }
}

/// The entries of a READDIR or READDIRPLUS result (`entry3 *` / `entryplus3 *`), kept as
/// borrowed, validated bytes; [`DirList::iter`] decodes them one at a time.
pub struct DirList<'a, E> {
    count: u32,
    body: &'a [u8],
    limits: Limits,
    _e: PhantomData<fn() -> E>,
}

impl<E> Clone for DirList<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for DirList<'_, E> {}

impl<E> PartialEq for DirList<'_, E> {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.body == other.body
    }
}
impl<E> Eq for DirList<'_, E> {}

impl<E> core::fmt::Debug for DirList<'_, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DirList").field("count", &self.count).field("bytes", &self.body.len()).finish()
    }
}

impl<'a, E: DecodeWith<'a, Limits>> DirList<'a, E> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The entries, decoded one at a time from the borrowed bytes.
    pub fn iter(&self) -> DirIter<'a, E> {
        DirIter { r: Reader::new(self.body), left: self.count, limits: self.limits, _e: PhantomData }
    }
}

impl<'a, E: DecodeWith<'a, Limits>> IntoIterator for DirList<'a, E> {
    type Item = E;
    type IntoIter = DirIter<'a, E>;
    fn into_iter(self) -> DirIter<'a, E> {
        self.iter()
    }
}

impl<'a, E: DecodeWith<'a, Limits>> DecodeWith<'a, Limits> for DirList<'a, E> {
    fn decode_with(r: &mut Reader<'a>, l: &Limits) -> xdr::Result<Self> {
        let mut probe = r.clone();
        let mut count = 0u32;
        while probe.read::<bool>()? {
            E::decode_with(&mut probe, l)?;
            count = count.checked_add(1).ok_or(xdr::Error::LengthExceeded)?;
        }
        let body = r.take(probe.position() - r.position())?;
        Ok(DirList { count, body, limits: *l, _e: PhantomData })
    }
}

impl<E> Encode for DirList<'_, E> {
    fn encoded_len(&self) -> usize {
        self.body.len()
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        w.put_bytes(self.body)
    }
}

/// Iterator over a [`DirList`].
pub struct DirIter<'a, E> {
    r: Reader<'a>,
    left: u32,
    limits: Limits,
    _e: PhantomData<fn() -> E>,
}

impl<'a, E: DecodeWith<'a, Limits>> Iterator for DirIter<'a, E> {
    type Item = E;
    fn next(&mut self) -> Option<E> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // Validated when the list was decoded: an error cannot happen here, and would end the
        // iteration rather than panic.
        self.r.u32().ok()?;
        E::decode_with(&mut self.r, &self.limits).ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl<'a, E: DecodeWith<'a, Limits>> ExactSizeIterator for DirIter<'a, E> {}

wire_struct! {
    /// `READDIR3resok` (`dirlist3` inlined).
    pub struct ReaddirResOk<'a> {
        /// The directory's attributes.
        pub dir_attributes: PostOpAttr,
        /// The verifier to send back with a later cookie.
        pub cookieverf: Verifier,
        /// The entries.
        pub entries: DirList<'a, Entry3<'a>>,
        /// True when the last entry is the directory's last.
        pub eof: bool,
    }
}

/// `READDIR3res`: the entries, or the directory's attributes (`dir_attributes`).
pub type ReaddirRes<'a> = NfsRes<ReaddirResOk<'a>, PostOpAttr>;

wire_struct! {
    /// `READDIRPLUS3resok` (`dirlistplus3` inlined).
    pub struct ReaddirplusResOk<'a> {
        /// The directory's attributes.
        pub dir_attributes: PostOpAttr,
        /// The verifier to send back with a later cookie.
        pub cookieverf: Verifier,
        /// The entries.
        pub entries: DirList<'a, EntryPlus3<'a>>,
        /// True when the last entry is the directory's last.
        pub eof: bool,
    }
}

/// `READDIRPLUS3res`: the entries, or the directory's attributes (`dir_attributes`).
pub type ReaddirplusRes<'a> = NfsRes<ReaddirplusResOk<'a>, PostOpAttr>;

/// The list's end: the `FALSE` link and `eof`.
const LIST_END: usize = 8;

/// The budget-keeping core of both writers.
#[derive(Debug)]
struct ListWriter<'w, 'b> {
    w: &'w mut Writer<'b>,
    start: usize,
    end: usize,
    dir_left: usize,
    dir_attributes: PostOpAttr,
    entries: u32,
    refused: bool,
}

impl<'w, 'b> ListWriter<'w, 'b> {
    fn new(
        w: &'w mut Writer<'b>,
        dir_attributes: &PostOpAttr,
        verf: Verifier,
        max: u32,
        dir: usize,
    ) -> xdr::Result<Self> {
        let start = w.position();
        let header = 4 + dir_attributes.encoded_len() + verf.encoded_len();
        if w.remaining() < header + LIST_END {
            return Err(xdr::Error::BufferFull);
        }
        let end = start.saturating_add(max as usize).min(start + w.remaining());
        w.write(&NfsStat3::Ok)?;
        w.write(dir_attributes)?;
        w.write(&verf)?;
        Ok(ListWriter { w, start, end, dir_left: dir, dir_attributes: *dir_attributes, entries: 0, refused: false })
    }

    fn push(&mut self, entry: &impl Encode, dir_len: usize) -> xdr::Result<bool> {
        if self.refused {
            return Ok(false);
        }
        let fits_max = self.w.position().saturating_add(4 + entry.encoded_len()).saturating_add(LIST_END) <= self.end;
        let fits_dir = self.entries == 0 || dir_len <= self.dir_left;
        if !(fits_max && fits_dir) {
            self.refused = true;
            return Ok(false);
        }
        let at = self.w.position();
        if let Err(e) = self.w.put_u32(1).and_then(|()| entry.encode(self.w)) {
            self.w.truncate(at);
            return Err(e);
        }
        self.dir_left = self.dir_left.saturating_sub(dir_len);
        self.entries += 1;
        Ok(true)
    }

    fn finish(self, eof: bool) -> xdr::Result<NfsStat3> {
        if self.entries == 0 && self.refused {
            return self.fail(NfsStat3::TooSmall).map(|()| NfsStat3::TooSmall);
        }
        self.w.put_u32(0)?;
        self.w.write(&(eof && !self.refused))?;
        Ok(NfsStat3::Ok)
    }

    fn fail(self, status: NfsStat3) -> xdr::Result<()> {
        self.w.truncate(self.start);
        let status = if status == NfsStat3::Ok { NfsStat3::ServerFault } else { status };
        self.w.write(&NfsRes::<(), PostOpAttr>::Fail(status, self.dir_attributes))
    }
}

macro_rules! dir_writer {
    ($(#[$m:meta])* $name:ident, $entry:ident) => {
        $(#[$m])*
        #[derive(Debug)]
        pub struct $name<'w, 'b>(ListWriter<'w, 'b>);

        impl $name<'_, '_> {
            /// Adds `entry` if it fits both budgets and returns whether it did. After the first
            /// refusal every later entry is refused too; the server resumes from the cookie of
            /// the last entry accepted. Fails only if the entry cannot be encoded (a name
            /// longer than `u32::MAX`), leaving the result as it was.
            pub fn push(&mut self, entry: &$entry<'_>) -> xdr::Result<bool> {
                self.0.push(entry, entry.dircount_len())
            }

            /// Number of entries accepted.
            pub fn entries(&self) -> u32 {
                self.0.entries
            }

            /// True once an entry has been refused.
            pub fn is_full(&self) -> bool {
                self.0.refused
            }

            /// Ends the list. `eof` says whether the last entry pushed is the directory's last; it
            /// is sent as FALSE if an entry was refused. If no entry was accepted and one was
            /// refused, the result becomes `NFS3ERR_TOOSMALL` (with the directory's attributes).
            /// Returns the status written.
            pub fn finish(self, eof: bool) -> xdr::Result<NfsStat3> {
                self.0.finish(eof)
            }

            /// Replaces everything written by a failure result with `status` and the directory's
            /// attributes (`NFS3_OK` becomes `NFS3ERR_SERVERFAULT`).
            pub fn fail(self, status: NfsStat3) -> xdr::Result<()> {
                self.0.fail(status)
            }
        }
    };
}

dir_writer! {
    /// Writes a `READDIR3res` entry by entry within the request's `count` (see the module's
    /// documentation for what is counted).
    ReaddirWriter, Entry3
}

dir_writer! {
    /// Writes a `READDIRPLUS3res` entry by entry within the request's `dircount` and `maxcount`
    /// (see the module's documentation for what is counted).
    ReaddirplusWriter, EntryPlus3
}

impl<'w, 'b> ReaddirWriter<'w, 'b> {
    /// Starts an `NFS3_OK` result at `w`'s position: status, `dir_attributes`, `cookieverf`.
    /// `count` is the request's. Fails with [`xdr::Error::BufferFull`] when `w` cannot hold an
    /// empty result.
    pub fn new(
        w: &'w mut Writer<'b>,
        dir_attributes: &PostOpAttr,
        cookieverf: Verifier,
        count: u32,
    ) -> xdr::Result<Self> {
        Ok(ReaddirWriter(ListWriter::new(w, dir_attributes, cookieverf, count, usize::MAX)?))
    }
}

impl<'w, 'b> ReaddirplusWriter<'w, 'b> {
    /// Starts an `NFS3_OK` result at `w`'s position: status, `dir_attributes`, `cookieverf`.
    /// `dircount` and `maxcount` are the request's. Fails with [`xdr::Error::BufferFull`] when
    /// `w` cannot hold an empty result.
    pub fn new(
        w: &'w mut Writer<'b>,
        dir_attributes: &PostOpAttr,
        cookieverf: Verifier,
        dircount: u32,
        maxcount: u32,
    ) -> xdr::Result<Self> {
        Ok(ReaddirplusWriter(ListWriter::new(w, dir_attributes, cookieverf, maxcount, dircount as usize)?))
    }
}

#[cfg(test)]
mod tests;
