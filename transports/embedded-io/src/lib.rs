//! Tern's embedded-io transport: drivers of `tern-core`'s sans-IO NFSv3 and MOUNT client over
//! any byte stream, blocking over [`embedded_io`] ([`blocking`]) and async over
//! [`embedded_io_async`] ([`asynch`]). A stream is a connected TCP socket (smoltcp,
//! embassy-net, lwIP, a modem's AT socket, a std `TcpStream` behind an adapter) or any byte
//! pipe with an RPC server at the other end.
//!
//! Each flavour has two layers:
//! - `Rpc`: ONC RPC over the stream. Calls are encoded by the core
//!   [`Client`](tern_core::rpc::client::Client) into the call buffer and written as one
//!   record each (RFC 5531 §11); replies are rebuilt with the core
//!   [`RecordReader`](tern_core::rpc::RecordReader) in the reply buffer and matched to their
//!   calls. Several calls may be in flight: a driver writes every call of a window, then reads
//!   replies in whatever order they come.
//! - `NfsClient`: MOUNT (MNT gives the root handle, UMNT releases it, both through the core
//!   [`MountTable`](tern_core::nfs3::client::MountTable)) and the NFSv3 procedures a file API
//!   needs (lookup, getattr, setattr, create, mkdir, symlink, readlink, remove, rmdir,
//!   rename, readdir, fsinfo, fsstat, commit), plus windowed whole-range transfers: reads with
//!   the core [`ReadTransfer`](tern_core::nfs3::client::ReadTransfer), writes with
//!   [`WriteTransfer`](tern_core::nfs3::client::WriteTransfer) (UNSTABLE WRITEs then COMMIT,
//!   with the write verifier checked and data written under a lost verifier sent again).
//!
//! # Memory
//! No allocation. The caller gives three buffers ([`Buffers`]): the call buffer holds one
//! encoded call at a time (a call is written as soon as it is encoded and never kept: a stream
//! does not lose calls, only whole connections), so a window of WRITEs costs one call buffer,
//! not one per call; the reply buffer holds one reply record; the input buffer stages bytes
//! read from the stream before they go into the record (its size only sets how much one read
//! asks for). READ and WRITE sizes are the server's (FSINFO), capped so that a READ reply fits
//! the reply buffer and a WRITE call the call buffer, each less [`IO_OVERHEAD`] bytes of
//! headers. The rest is fixed by `N`, the most calls in flight (the window of a transfer is at
//! most `N`).
//!
//! # Time
//! `no_std` has no clock: the drivers take a [`Clock`] (a closure returning the core
//! [`Instant`] works) and give its readings to the core client, whose per-call deadlines
//! ([`ClientConfig`](tern_core::rpc::client::ClientConfig)) end calls with
//! [`RpcError::TimedOut`]. Retransmission requests of the client are ignored: on a stream a
//! call is lost only with its connection, and then the driver fails. The blocking driver
//! checks deadlines each time a read returns, so a silent server is noticed only if the stream
//! has a read time-out (a read failing with [`ErrorKind::TimedOut`](embedded_io::ErrorKind)
//! is a tick, not a failure); the async driver also races each read against a [`Timer`] set
//! to the next deadline.
//!
//! # Failures
//! A read or write error, a read of no byte (the server closed the connection), or a reply
//! longer than the reply buffer ends the connection: every call outstanding on it fails with
//! an error whose `is_link()` is true, and the driver refuses calls until `replace_io` gives
//! it a new stream. Reconnecting is the caller's: it owns the socket, and the core
//! [`Reconnect`](tern_core::nfs3::client::Reconnect) tells it when to try (at once, then with
//! back-off; a soft mount gives up). NFS handles survive the reconnect (the server is
//! stateless), so the caller repeats the failed operation, and a windowed write repeated whole
//! is safe. A failed operation never leaves calls outstanding: their late replies are dropped.
//!
//! # Example
//! Copy a buffer into a file of an export, over any connected stream (MOUNT on the NFS port,
//! as `tern serve` and the in-core server have it; for a separate MOUNT port, make a second
//! `Rpc` and use `mount_via`):
//! ```no_run
//! use tern_core::nfs3::client::{Semantics, Timeouts};
//! use tern_core::nfs3::{CreateHow3, Sattr3};
//! use tern_core::rpc::Credential;
//! use tern_core::rpc::client::Client;
//! use tern_core::time::Instant;
//! use tern_eio::blocking::{NfsClient, Rpc};
//! use tern_eio::{Buffers, IO_OVERHEAD, NfsError};
//!
//! fn store<S>(stream: S, clock: fn() -> Instant, data: &[u8]) -> Result<(), NfsError>
//! where
//!     S: embedded_io::Read + embedded_io::Write,
//! {
//!     let mut call = [0u8; 8192 + IO_OVERHEAD];
//!     let mut reply = [0u8; 8192 + IO_OVERHEAD];
//!     let mut input = [0u8; 1024];
//!     let bufs = Buffers { call: &mut call, reply: &mut reply, input: &mut input };
//!     let client = Client::<4>::new(Timeouts::stream().rpc_config(Semantics::Soft), 0x7e4e);
//!     let mut nfs = NfsClient::new(Rpc::new(stream, clock, client, bufs), Credential::None);
//!     let root = nfs.mount("/export")?;
//!     let how = CreateHow3::Unchecked(Sattr3 { mode: Some(0o644), ..Sattr3::default() });
//!     let fh = nfs.create(&root, "log.bin", how)?;
//!     nfs.write_file(&fh, 0, data)?; // 4 WRITEs of 8 KiB in flight, then COMMIT
//!     nfs.umount("/export")
//! }
//! ```
//!
//! # Invariants
//! `#![forbid(unsafe_code)]`; no allocation; no panic on anything the server sends (every
//! record is bounded by the reply buffer before its bytes are read, every result is decoded
//! with the core's [`Limits`](tern_core::nfs3::Limits), and a reply that contradicts its call
//! is an error). The library depends on no executor.

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod asynch;
pub mod blocking;
mod error;
mod ops;
mod pump;

#[cfg(test)]
extern crate std;
#[cfg(test)]
mod tests;

pub use error::{NfsError, RpcError};
pub use ops::WriteStats;

use tern_core::rpc::client::Reply;
use tern_core::time::Instant;

/// Bytes of the record mark in front of each call and reply fragment.
pub const RECORD_MARK: usize = 4;

/// Bytes of headers around READ and WRITE data: the call buffer must hold the wsize plus this,
/// the reply buffer the rsize plus this (an RPC header with a 400-byte credential or verifier,
/// a 64-byte handle and the post-operation attributes take about 540 bytes).
pub const IO_OVERHEAD: usize = 1024;

/// Most directories one [`blocking::NfsClient`] or [`asynch::NfsClient`] keeps mounted.
pub const MOUNTS: usize = 4;

/// Longest path such a client mounts, in bytes.
pub const MOUNT_PATH: usize = 128;

/// The memory of a driver, all the caller's; see the crate docs.
#[derive(Debug)]
pub struct Buffers<'b> {
    /// One encoded call and its record mark: at least the largest call (a WRITE of the wsize
    /// plus [`IO_OVERHEAD`]).
    pub call: &'b mut [u8],
    /// One reply record: at least the largest reply (a READ of the rsize plus
    /// [`IO_OVERHEAD`]); a longer reply ends the connection with [`RpcError::TooLarge`].
    pub reply: &'b mut [u8],
    /// Bytes read from the stream before they go into the record: any size from 1 byte (an
    /// empty buffer makes every wait fail with `InvalidInput`); a few KiB keep reads few.
    pub input: &'b mut [u8],
}

/// A source of the current time for the client's deadlines.
pub trait Clock {
    /// The time now. Must never go backwards.
    fn now(&mut self) -> Instant;
}

impl<F: FnMut() -> Instant> Clock for F {
    fn now(&mut self) -> Instant {
        self()
    }
}

/// A clock that can also wait, for the async driver.
pub trait Timer: Clock {
    /// A future that completes at `at`, or at once if `at` is past. A timer that never
    /// completes is allowed: calls then end only when the stream fails.
    fn at(&mut self, at: Instant) -> impl core::future::Future<Output = ()>;
}

/// What a driver's `next_event` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'r> {
    /// A reply to an outstanding call; its results borrow the reply buffer until the driver
    /// is used again.
    Reply(Reply<'r>),
    /// The call with this xid got no reply in time; it is forgotten.
    TimedOut(u32),
}
