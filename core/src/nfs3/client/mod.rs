//! The sans-IO NFSv3 client (RFC 1813) over the RPC [`Client`](crate::rpc::client::Client).
//!
//! Files by concern:
//! - `calls`: one encoder per NFSv3 procedure (NULL through COMMIT) and one decoder per result,
//!   so a driver never spells a program, version or procedure number;
//! - [`ReadTransfer`] and [`WriteTransfer`] (`read`, `write`): windowed transfers of a byte
//!   range, several READs or WRITEs in flight, UNSTABLE writes then COMMIT with the write
//!   verifier checked (data written under a verifier that changed is asked of the caller
//!   again, never kept here); `ranges` holds the bounded range sets they use;
//! - [`ListCursor`] (`list`): the cookie and cookie verifier of a READDIR/READDIRPLUS walk;
//! - [`MountTable`] (`mounts`): the directories this client has mounted (MNT) and the UMNT
//!   calls that release them;
//! - [`Reconnect`] (`link`): when a driver should (re)connect after a lost connection, with
//!   exponential back-off, and when a soft mount gives up;
//! - [`Semantics`] and [`Timeouts`]: hard mounts retry a call until the server answers, soft
//!   ones give up with [`Error::TimedOut`].
//!
//! # Invariants
//! - No allocation, no IO, no clock: every method that cares takes `now`; the driver sleeps
//!   until [`Client::poll_timeout`](crate::rpc::client::Client::poll_timeout) or
//!   [`Reconnect::poll`]'s instant.
//! - Nothing panics on a server's bytes: results are decoded with the caller's [`Limits`], and
//!   a reply that contradicts its call (more data than asked, a WRITE count above what was
//!   sent, an empty READ without end of file) is [`Error::Protocol`], never a loop or a panic.
//! - A transfer's memory is fixed by its window `W` and the range-set capacity
//!   [`ranges::CAPACITY`]: the data itself is always the caller's.

mod calls;
mod error;
mod link;
mod list;
mod mounts;
pub mod ranges;
mod read;
mod write;

#[cfg(test)]
mod tests;

pub use calls::*;
pub use error::Error;
pub use link::{LinkAction, Reconnect};
pub use list::ListCursor;
pub use mounts::{MountTable, Mounted};
pub use read::ReadTransfer;
pub use write::{Chunk, Next, WriteTransfer};

use super::{FHSIZE, FileHandle, Limits};
use crate::rpc::client::ClientConfig;
use crate::time::Duration;

/// What a client does when the server stops answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Semantics {
    /// Retry every call (and reconnect) until the server answers again: no call ever times out.
    Hard,
    /// Give up on a call after [`Timeouts::retries`] retransmissions, and on a connection after
    /// [`Timeouts::give_up`], with [`Error::TimedOut`] / [`Error::Unreachable`].
    Soft,
}

/// Retransmission timing of a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Wait before the first retransmission of a call.
    pub initial: Duration,
    /// Cap on the doubled wait between retransmissions.
    pub max: Duration,
    /// Retransmissions before a soft call times out (hard calls retry forever).
    pub retries: u32,
    /// How long a soft mount keeps trying to reconnect before it gives up.
    pub give_up: Duration,
}

impl Timeouts {
    /// Datagram defaults: 700 ms doubling to 8 s, 5 retransmissions (about 30 s), 30 s to
    /// reconnect.
    pub const fn datagram() -> Self {
        Timeouts {
            initial: Duration::from_millis(700),
            max: Duration::from_secs(8),
            retries: 5,
            give_up: Duration::from_secs(30),
        }
    }

    /// Stream defaults: a lost reply on a live connection is rare, so 20 s before a call is
    /// sent again, 1 retransmission for soft mounts, 30 s to reconnect.
    pub const fn stream() -> Self {
        Timeouts {
            initial: Duration::from_secs(20),
            max: Duration::from_secs(40),
            retries: 1,
            give_up: Duration::from_secs(30),
        }
    }

    /// The RPC client's settings for these timeouts under `semantics`.
    pub const fn rpc_config(&self, semantics: Semantics) -> ClientConfig {
        let retries = match semantics {
            Semantics::Hard => u32::MAX,
            Semantics::Soft => self.retries,
        };
        ClientConfig { timeout: self.initial, max_timeout: self.max, retries }
    }
}

/// An owned NFSv3 file handle (at most [`FHSIZE`] bytes), to keep between calls.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fh {
    len: u8,
    bytes: [u8; FHSIZE as usize],
}

impl Fh {
    /// A copy of `bytes`; `None` above 64 bytes.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        let mut out = [0u8; FHSIZE as usize];
        out.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(Fh { len: bytes.len() as u8, bytes: out })
    }

    /// The handle's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The handle as the wire type.
    pub fn wire(&self) -> FileHandle<'_> {
        // At most 64 bytes by construction.
        FileHandle::new(self.as_bytes()).unwrap_or_default()
    }
}

impl core::fmt::Debug for Fh {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Fh(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// Transfer sizes from FSINFO, clamped to what the client accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoSizes {
    /// Bytes per READ.
    pub rsize: u32,
    /// Bytes per WRITE.
    pub wsize: u32,
    /// Bytes per READDIR(PLUS) result.
    pub dtsize: u32,
}

impl IoSizes {
    /// Picks READ and WRITE sizes from FSINFO as Linux does: the server's maximum (its
    /// preference when it gives no maximum, 32 KiB when neither), at most `cap` and
    /// [`Limits::max_data`], rounded down to a multiple of 4 KiB when that is possible, at least
    /// 512 bytes. `dtpref` is kept within 4 KiB..=`cap` (8 KiB when not given).
    pub fn from_fsinfo(info: &super::FsinfoResOk, cap: u32, limits: &Limits) -> Self {
        let pick = |pref: u32, max: u32| {
            let want = match (max, pref) {
                (0, 0) => 32 * 1024,
                (0, p) => p,
                (m, _) => m,
            };
            let n = want.min(cap).min(limits.max_data).max(512);
            if n >= 4096 { n & !4095 } else { n }
        };
        let dtsize = if info.dtpref == 0 { 8192 } else { info.dtpref.clamp(4096, cap.max(4096)) };
        IoSizes { rsize: pick(info.rtpref, info.rtmax), wsize: pick(info.wtpref, info.wtmax), dtsize }
    }
}
