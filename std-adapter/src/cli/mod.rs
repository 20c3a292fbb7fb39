//! The `tern` file commands on `nfs://` URLs: `ls`, `cat`, `cp`, `stat`, `rm`, `mkdir`, `mv`,
//! `showmount`. The binary (`src/bin/tern.rs`) only defines the subcommands and calls these.
//!
//! Every failure is one line and an exit code that tells its kind ([`exit`]): a script can
//! tell "no such file" from "server unreachable" without parsing the message.

mod cp;
mod files;
pub mod mount;
pub mod node;
mod progress;

pub use cp::cp;
pub use files::{cat, ls, mkdir, mv, rm, showmount, stat};

use std::time::Duration;

use tern_core::nfs3::client::{Semantics, Timeouts};
use tern_core::time;

use crate::nfs::{ErrorKind, NfsError, NfsUrl, Proto, Session, SessionOptions};

/// Exit codes of `tern` (documented in `tern --help` and the README).
pub mod exit {
    /// Any other failure.
    pub const GENERAL: u8 = 1;
    /// Bad command line.
    pub const USAGE: u8 = 2;
    /// The address to serve on is in use.
    pub const ADDR_IN_USE: u8 = 3;
    /// The server (or its portmapper) cannot be reached, or did not answer in time.
    pub const UNREACHABLE: u8 = 4;
    /// The server refused the RPC call.
    pub const REFUSED: u8 = 5;
    /// The server's answer breaks the protocol.
    pub const PROTOCOL: u8 = 6;
    /// The program is not registered with the portmapper.
    pub const NOT_REGISTERED: u8 = 7;
    /// The exports table does not parse.
    pub const BAD_EXPORTS: u8 = 8;
    /// An exported directory is missing.
    pub const MISSING_DIR: u8 = 9;
    /// No such file or directory (remote or local).
    pub const NOT_FOUND: u8 = 10;
    /// Permission denied.
    pub const PERMISSION: u8 = 11;
    /// Stale file handle.
    pub const STALE: u8 = 12;
    /// Bad `nfs://` URL.
    pub const BAD_URL: u8 = 13;
    /// The file exists.
    pub const EXISTS: u8 = 14;
    /// Not a directory, or is a directory.
    pub const WRONG_TYPE: u8 = 15;
    /// Directory not empty.
    pub const NOT_EMPTY: u8 = 16;
    /// Any other error the server reported (I/O error, no space, read-only, ...).
    pub const SERVER_ERROR: u8 = 17;
    /// `tern mount`: the kernel refused the mount, or a Tern mount is there already.
    pub const MOUNT_REFUSED: u8 = 18;
    /// `tern umount`: not a Tern mount (or not mounted at all).
    pub const NOT_MOUNTED: u8 = 19;
    /// `tern umount`: files are open on the mount.
    pub const BUSY: u8 = 20;
    /// `tern migrate|wait`: no such process on the node.
    pub const NO_PROCESS: u8 = 21;
    /// `tern migrate`: the migration was aborted or refused (the process runs at the source).
    pub const MIGRATION_FAILED: u8 = 22;
    /// `tern migrate`: the process cannot move now (ended, migrating, pages still remote).
    pub const PROCESS_BUSY: u8 = 23;
    /// `tern spawn`: the node refused the guest ELF or its arguments.
    pub const BAD_GUEST: u8 = 24;

    /// The table for `--help`.
    pub const HELP: &str = "\
Exit codes:
   0  success
   1  other failure
   2  bad command line
   3  address in use (serve, portmap)
   4  server unreachable, or no reply in time
   5  the server refused the RPC call
   6  protocol error
   7  program not registered with the portmapper
   8  bad exports table
   9  exported directory missing
  10  no such file or directory
  11  permission denied
  12  stale file handle
  13  bad nfs:// URL
  14  file exists
  15  not a directory / is a directory
  16  directory not empty
  17  other error reported by the server (I/O, no space, read-only, ...)
  18  mount refused, or a Tern mount is there already
  19  not a Tern mount
  20  mount busy (files open)
  21  no such process on the node
  22  migration aborted or refused (the process still runs at the source)
  23  the process cannot move now (ended, migrating, or fetching pages)
  24  the guest ELF or its arguments were refused";
}

/// A failed command: its exit code and one line for the user.
#[derive(Debug)]
pub struct CliError {
    /// Exit code (see [`exit`]).
    pub code: u8,
    /// The message, without the `tern: ` prefix.
    pub msg: String,
}

impl CliError {
    /// A failure with this code and message.
    pub fn new(code: u8, msg: impl Into<String>) -> Self {
        CliError { code, msg: msg.into() }
    }

    /// An [`NfsError`] about `what` (a URL or path).
    pub fn nfs(what: &str, e: NfsError) -> Self {
        let code = match e.kind() {
            ErrorKind::NotFound => exit::NOT_FOUND,
            ErrorKind::Permission => exit::PERMISSION,
            ErrorKind::Unreachable => exit::UNREACHABLE,
            ErrorKind::Stale => exit::STALE,
            ErrorKind::BadUrl => exit::BAD_URL,
            ErrorKind::Exists => exit::EXISTS,
            ErrorKind::WrongType => exit::WRONG_TYPE,
            ErrorKind::NotEmpty => exit::NOT_EMPTY,
            ErrorKind::Protocol => exit::PROTOCOL,
            ErrorKind::Other => match e {
                NfsError::Io(_) => exit::GENERAL,
                _ => exit::SERVER_ERROR,
            },
        };
        let msg = match &e {
            NfsError::Url(u) => u.to_string(),
            _ => format!("{what}: {e}"),
        };
        CliError { code, msg }
    }

    /// A local I/O error about `what`.
    pub fn io(what: &str, e: std::io::Error) -> Self {
        Self::nfs(what, NfsError::Io(e))
    }
}

/// How the file commands reach servers (flags shared by every command).
#[derive(Debug, Clone, Copy)]
pub struct NetOpts {
    /// UDP instead of TCP.
    pub udp: bool,
    /// Soft mount: give up after `timeout`.
    pub soft: bool,
    /// Soft time-out.
    pub timeout: Duration,
    /// READs or WRITEs in flight.
    pub window: usize,
}

impl NetOpts {
    pub(crate) fn session_options(&self) -> SessionOptions {
        let proto = if self.udp { Proto::Udp } else { Proto::Tcp };
        let base = if self.udp { Timeouts::datagram() } else { Timeouts::stream() };
        let give_up = time::Duration::from_millis(u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX));
        // A soft call gets about `timeout` in all: the first wait and its retransmissions.
        let timeouts = if self.soft {
            let initial =
                if self.udp { give_up.as_millis().div_ceil(8).max(100) } else { give_up.as_millis().max(100) };
            let retries = if self.udp { 3 } else { 0 };
            Timeouts { initial: time::Duration::from_millis(initial), max: give_up, retries, give_up }
        } else {
            base
        };
        SessionOptions {
            proto,
            semantics: if self.soft { Semantics::Soft } else { Semantics::Hard },
            timeouts: Some(timeouts),
            window: self.window,
            ..SessionOptions::default()
        }
    }
}

/// Parses a URL argument.
pub(crate) fn parse_url(s: &str) -> Result<NfsUrl, CliError> {
    NfsUrl::parse(s).map_err(|e| CliError::new(exit::BAD_URL, e.to_string()))
}

/// Opens a session for a URL: the session and the path inside the export.
pub(crate) fn open(url: &NfsUrl, net: &NetOpts) -> Result<(Session, String), CliError> {
    Session::open_url(url, net.session_options()).map_err(|e| CliError::nfs(&url.to_string(), e))
}

/// Splits `a/b/c` into (`a/b`, `c`); the parent of a single name is empty.
pub(crate) fn split_parent(path: &str) -> (&str, &str) {
    let p = path.trim_end_matches('/');
    match p.rfind('/') {
        Some(i) => (&p[..i], &p[i + 1..]),
        None => ("", p),
    }
}
