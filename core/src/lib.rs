//! Tern's `no_std` core.
//!
//! Layers, lowest first (a lower layer never imports a higher one):
//! - [`xdr`]: the RFC 4506 codec (zero-copy decode, bounded lengths, encode into `&mut [u8]`);
//! - [`rpc`]: ONC RPC v2 (RFC 5531) messages, record marking, the sans-IO server dispatcher and
//!   client, and the portmapper (RFC 1833) program;
//! - [`nfs3`], [`mount`]: NFSv3 and MOUNT v3 (RFC 1813) wire types; [`exports`]: the exports
//!   table (Linux exports(5) syntax); [`fs`]: the stateless file-system trait NFS serves;
//! - [`vfs`]: the namespace: a mount table joining file systems (local or remote) into one
//!   tree, path resolution, and a POSIX-like interface with location-independent open files;
//! - [`proc`]: the process VM, an RV32IMAC interpreter with paged memory (exact dirty and
//!   present bits), threads, system calls surfaced to the host, and an encodable control block;
//! - [`migrate`]: the page-transfer protocol that moves a process between nodes (stop-and-copy,
//!   pre-copy, post-copy, hybrid) with a two-phase hand-off that keeps exactly one owner.
//!
//! Invariants of the whole crate: no heap allocation, no `unsafe`, no IO and no clock (time is
//! always an argument: [`time::Instant`]), and no panic on input from a peer: every decoder
//! returns an error for bytes it does not accept.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

#[cfg(test)]
extern crate std;

pub mod exports;
pub mod fs;
pub mod migrate;
pub mod mount;
pub mod nfs3;
pub mod proc;
pub mod rpc;
pub mod time;
pub mod vfs;
pub mod xdr;
