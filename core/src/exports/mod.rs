//! The exports table in the syntax of Linux exports(5), parsed without allocation, and the
//! rule that says whether a client may use an export and with which identity.
//!
//! # Grammar
//! One export per logical line: `PATH [CLIENT | -OPTIONS]...`, where `CLIENT` is
//! `PATTERN(OPTIONS)`, `PATTERN` or `(OPTIONS)`, and `OPTIONS` a comma-separated list
//! ([`Options::apply`]). Comments, blank lines, line continuations and quoted paths follow the
//! lexical rules listed in the `parse` module source; in short: `#` to the end of the line, `\` at
//! the end of a line continues it, `"/with space"` quotes a path, and `\ooo` escapes are refused.
//!
//! As in Linux (nfs-utils `getexportent`):
//! - a client without options gets the line's default options (Linux warns; this reader does
//!   not, since it has no log);
//! - `PATH (opts)`, a space before the parenthesis, is an entry for everyone (Linux warns);
//! - `PATH` alone is an entry for everyone with the default options;
//! - `-OPTIONS` sets the default options for the clients that follow it on the same line;
//!   a `-OPTIONS` that no client follows is an error ([`ErrorKind::MissingClient`]), unless the
//!   line has no client at all (then the entry for everyone gets them).
//!
//! Unlike Linux, two lines for the same path are refused ([`ErrorKind::DuplicatePath`]): put
//! every client of a path on one line. Paths are not resolved (there is no file system here):
//! they are compared component by component, ignoring repeated slashes and `.` components, and
//! a `..` component is refused.
//!
//! # Matching
//! [`Pattern`] describes the client kinds. The *first* client entry of an export that matches
//! the caller decides, in file order; when it has `secure` and the caller's source port is 1024
//! or above, the caller is refused even if a later entry would have allowed it (as Linux). The
//! core has no name service: host-name patterns match only when the caller of
//! [`Exports::admit`] passes the client's host name (a std driver may resolve it); address and
//! network patterns always work. IPv4-mapped IPv6 addresses match as IPv4.
//!
//! # Subdirectories
//! As on Linux, a client may mount a directory below an export ([`Exports::admit_path`]): the
//! exports whose path is a prefix of the requested path (at a `/` boundary) are tried from the
//! longest to the shortest, and the first that admits the client is used. A client refused by
//! `/srv/private` may thus still mount `/srv/private` through an export of `/srv`, exactly as
//! it could mount `/srv` and walk down.
//!
//! # Capacity
//! `Exports<'a, E, C>` holds at most `E` exports and `C` client entries *in total* over all
//! exports (a line without a client uses one entry for everyone). A file with more is refused
//! with [`ErrorKind::TooManyExports`] or [`ErrorKind::TooManyClients`] at the line that does not
//! fit. Nothing here allocates, panics on input, or copies the text: the table borrows it.

mod options;
mod parse;
mod pattern;
#[cfg(test)]
mod tests;

use core::net::IpAddr;

use heapless::Vec;

pub use options::{DEFAULT_ANON_ID, Fsid, Identity, MapGroups, Options, SecFlavors};
pub use pattern::{MAX_PATTERN, Pattern};

/// Longest export path, in bytes (the MOUNT protocol's `dirpath<1024>`).
pub const MAX_PATH: usize = 1024;

/// What is wrong with an exports file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ErrorKind {
    /// The line starts with options or a client instead of a path, or with `""`.
    MissingPath,
    /// The path does not start with `/`.
    PathNotAbsolute,
    /// The path is longer than [`MAX_PATH`] bytes.
    PathTooLong,
    /// The path has a `..` component or a control character.
    BadPath,
    /// Another line exports the same path.
    DuplicatePath,
    /// A quoted path does not close on its line.
    UnterminatedQuote,
    /// A quote inside a token, around a client, or followed by more text.
    BadQuote,
    /// A backslash that is not a line continuation (octal escapes are not supported).
    UnsupportedEscape,
    /// A client pattern with bad characters, an unclosed `[`, a netgroup (`@group`) or more
    /// than [`MAX_PATTERN`] bytes.
    BadClient,
    /// An address that does not parse.
    BadAddress,
    /// A prefix length above the address size, or a netmask that is not contiguous.
    BadPrefix,
    /// Options without their closing parenthesis, text after it, or an empty option.
    BadOptionList,
    /// An option this reader does not know.
    UnknownOption,
    /// A Linux option whose meaning Tern does not implement and will not silently ignore.
    UnsupportedOption,
    /// A number that does not parse or does not fit (`anonuid=`, `anongid=`, `fsid=`).
    BadNumber,
    /// An unknown flavor in `sec=`.
    BadSecurity,
    /// `-OPTIONS` with no client after it on the line.
    MissingClient,
    /// More exports than the table holds.
    TooManyExports,
    /// More client entries than the table holds.
    TooManyClients,
}

impl core::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ErrorKind::MissingPath => "missing export path",
            ErrorKind::PathNotAbsolute => "export path is not absolute",
            ErrorKind::PathTooLong => "export path is longer than 1024 bytes",
            ErrorKind::BadPath => "export path has a `..` component or a control character",
            ErrorKind::DuplicatePath => "path exported on an earlier line",
            ErrorKind::UnterminatedQuote => "unterminated quote",
            ErrorKind::BadQuote => "misplaced quote",
            ErrorKind::UnsupportedEscape => "backslash escapes are not supported (quote the path)",
            ErrorKind::BadClient => "bad client name or pattern",
            ErrorKind::BadAddress => "bad IP address",
            ErrorKind::BadPrefix => "bad prefix length or netmask",
            ErrorKind::BadOptionList => "bad option list",
            ErrorKind::UnknownOption => "unknown option",
            ErrorKind::UnsupportedOption => "unsupported option",
            ErrorKind::BadNumber => "bad number",
            ErrorKind::BadSecurity => "bad security flavor",
            ErrorKind::MissingClient => "default options without a client after them",
            ErrorKind::TooManyExports => "too many exports for the table",
            ErrorKind::TooManyClients => "too many clients for the table",
        })
    }
}

impl core::error::Error for ErrorKind {}

/// An exports file that could not be read: where and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ParseError {
    /// 1-based physical line of the offending token.
    pub line: u32,
    /// Byte offset of the offending token (or character) in the text.
    pub offset: usize,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "line {}: {}", self.line, self.kind)
    }
}

impl core::error::Error for ParseError {}

/// One client entry: its pattern as written, the parsed pattern, and its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientEntry<'a> {
    /// The pattern as written (`*` for an entry for everyone), at most [`MAX_PATTERN`] bytes:
    /// the group name listed by MOUNT's EXPORT.
    pub text: &'a str,
    /// Who the entry applies to.
    pub pattern: Pattern<'a>,
    /// The entry's options (the line's defaults, then its own list).
    pub options: Options,
}

/// An export's path and where its clients are in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ExportEntry<'a> {
    path: &'a str,
    first: usize,
    count: usize,
}

/// One export: its path and client entries, borrowed from an [`Exports`] table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Export<'t, 'a> {
    /// Position in the table (file order).
    pub index: usize,
    /// The path as written (inside the quotes if quoted).
    pub path: &'a str,
    /// The client entries, in file order (never empty).
    pub clients: &'t [ClientEntry<'a>],
}

/// Why a client may not mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Refusal {
    /// No export has this path (or, for [`Exports::admit_path`], is a prefix of it).
    NoExport,
    /// The path is not absolute or has a `..` component.
    BadPath,
    /// No client entry of the export matches the client.
    NotAllowed,
    /// The matching entry has `secure` and the source port is 1024 or above.
    InsecurePort,
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Refusal::NoExport => "no such export",
            Refusal::BadPath => "bad path",
            Refusal::NotAllowed => "client not allowed",
            Refusal::InsecurePort => "source port 1024 or above on a secure export",
        })
    }
}

impl core::error::Error for Refusal {}

/// Permission to use an export: which export and client entry matched, and their options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Index of the export ([`Exports::get`]).
    pub export: usize,
    /// Index of the matching entry in [`Exports::clients`].
    pub entry: usize,
    /// The matching entry's options.
    pub options: Options,
}

impl Access {
    /// True for `rw`, false for `ro`.
    pub fn writable(&self) -> bool {
        self.options.writable
    }

    /// The caller's uid and gid after `root_squash`/`all_squash` ([`Options::map_identity`]).
    pub fn map_identity(&self, uid: u32, gid: u32) -> Identity {
        self.options.map_identity(uid, gid)
    }

    /// The caller's supplementary groups after the squash options ([`Options::map_groups`]).
    pub fn map_groups<I: IntoIterator<Item = u32>>(&self, gids: I) -> MapGroups<I::IntoIter> {
        self.options.map_groups(gids)
    }
}

/// Ports below this are privileged (what `secure` requires).
pub const SECURE_PORT_LIMIT: u16 = 1024;

/// An exports table with room for `E` exports and `C` client entries in total.
#[derive(Debug, Clone)]
pub struct Exports<'a, const E: usize, const C: usize> {
    exports: Vec<ExportEntry<'a>, E>,
    clients: Vec<ClientEntry<'a>, C>,
}

impl<'a, const E: usize, const C: usize> Default for Exports<'a, E, C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, const E: usize, const C: usize> Exports<'a, E, C> {
    /// An empty table (nothing is exported).
    pub const fn new() -> Self {
        Exports { exports: Vec::new(), clients: Vec::new() }
    }

    /// Reads an exports file. The table borrows `text`.
    pub fn parse(text: &'a str) -> Result<Self, ParseError> {
        let mut table = Self::new();
        parse::parse_into(text, &mut table)?;
        Ok(table)
    }

    /// Number of exports.
    pub fn len(&self) -> usize {
        self.exports.len()
    }

    /// True when nothing is exported.
    pub fn is_empty(&self) -> bool {
        self.exports.is_empty()
    }

    /// Every client entry of every export, in file order.
    pub fn clients(&self) -> &[ClientEntry<'a>] {
        &self.clients
    }

    /// The export at `index` (file order).
    pub fn get(&self, index: usize) -> Option<Export<'_, 'a>> {
        let e = self.exports.get(index)?;
        let clients = self.clients.get(e.first..e.first + e.count)?;
        Some(Export { index, path: e.path, clients })
    }

    /// The exports, in file order.
    pub fn iter(&self) -> impl Iterator<Item = Export<'_, 'a>> + Clone + '_ {
        (0..self.exports.len()).filter_map(|i| self.get(i))
    }

    /// The export whose path is `path` (compared by components: `/srv//nfs/` is `/srv/nfs`).
    pub fn find(&self, path: &str) -> Option<usize> {
        self.exports.iter().position(|e| components(e.path).eq(components(path)))
    }

    /// The export with the longest path that is a prefix of `path` at a `/` boundary, and the
    /// rest of `path` below it (see [`strip_export`]), whoever the client is.
    pub fn resolve<'p>(&self, path: &'p str) -> Option<(usize, &'p str)> {
        self.exports
            .iter()
            .enumerate()
            .filter_map(|(i, e)| strip_export(e.path, path).map(|rest| (components(e.path).count(), i, rest)))
            .max_by_key(|&(depth, ..)| depth)
            .map(|(_, i, rest)| (i, rest))
    }

    /// Decides whether a client at `client`, sending from `source_port`, with host name `host`
    /// if known, may use the export at `index`: the first matching client entry decides.
    pub fn admit(&self, index: usize, client: IpAddr, source_port: u16, host: Option<&str>) -> Result<Access, Refusal> {
        let e = self.exports.get(index).ok_or(Refusal::NoExport)?;
        let clients = self.clients.get(e.first..e.first + e.count).ok_or(Refusal::NoExport)?;
        let (i, c) =
            clients.iter().enumerate().find(|(_, c)| c.pattern.matches(client, host)).ok_or(Refusal::NotAllowed)?;
        if c.options.secure && source_port >= SECURE_PORT_LIMIT {
            return Err(Refusal::InsecurePort);
        }
        Ok(Access { export: index, entry: e.first + i, options: c.options })
    }

    /// Decides whether a client may mount `path`, an export or a directory below one (see the
    /// module docs): returns the access and the rest of `path` below the export's path.
    ///
    /// The exports that are prefixes of `path` are tried from the longest; the first that
    /// admits the client wins. When none does, the refusal of the longest is returned.
    pub fn admit_path<'p>(
        &self,
        path: &'p str,
        client: IpAddr,
        source_port: u16,
        host: Option<&str>,
    ) -> Result<(Access, &'p str), Refusal> {
        if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
            return Err(Refusal::BadPath);
        }
        let mut candidates: Vec<(usize, usize, &'p str), E> = Vec::new();
        for (i, e) in self.exports.iter().enumerate() {
            if let Some(rest) = strip_export(e.path, path) {
                // Cannot fail: at most one candidate per export.
                let _ = candidates.push((components(e.path).count(), i, rest));
            }
        }
        candidates.sort_unstable_by_key(|c| core::cmp::Reverse(c.0));
        let mut refusal = Refusal::NoExport;
        for (n, &(_, i, rest)) in candidates.iter().enumerate() {
            match self.admit(i, client, source_port, host) {
                Ok(access) => return Ok((access, rest)),
                Err(why) if n == 0 => refusal = why,
                Err(_) => {}
            }
        }
        Err(refusal)
    }
}

/// The components of a path: the parts between slashes, without empty and `.` parts.
pub fn components(path: &str) -> impl Iterator<Item = &str> + Clone {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

/// When `export` is a prefix of `path` at a `/` boundary (by [`components`]), the rest of
/// `path` without leading and trailing slashes or `.` components: `""` for the export itself,
/// `"a/b"` for a directory below it. The rest may still hold `.` components or repeated
/// slashes in its middle (use [`components`]); it is a slice of `path`.
pub fn strip_export<'p>(export: &str, path: &'p str) -> Option<&'p str> {
    let mut rest = path;
    for want in components(export) {
        loop {
            rest = rest.trim_start_matches('/');
            let (head, tail) = rest.split_once('/').unwrap_or((rest, ""));
            rest = tail;
            if head == "." {
                continue;
            }
            if head != want {
                return None;
            }
            break;
        }
    }
    Some(trim_rest(rest))
}

/// Drops leading and trailing slashes and `.` components (`"./a/b/."` is `"a/b"`).
fn trim_rest(mut s: &str) -> &str {
    loop {
        let before = s.len();
        s = s.trim_matches('/');
        if s == "." {
            s = "";
        }
        s = s.strip_prefix("./").unwrap_or(s);
        s = s.strip_suffix("/.").unwrap_or(s);
        if s.len() == before {
            return s;
        }
    }
}
