//! Tern on Linux hosts: thin std drivers around `tern-core`'s sans-IO machines.
//!
//! - [`server`]: TCP (record marking) and UDP servers that drive a core
//!   [`Dispatcher`](tern_core::rpc::Dispatcher), one thread per connection with a cap on
//!   connections and fixed per-connection buffers, so memory stays bounded and a slow or
//!   hostile client only ever holds up its own thread.
//! - [`client`]: a blocking RPC client over TCP or UDP driving the core
//!   [`Client`](tern_core::rpc::client::Client).
//! - [`portmap`]: portmapper registration and queries from a host.
//! - [`signals`]: SIGINT/SIGTERM for clean shutdown.
//! - [`fuse`]: a FUSE mount of any [`FileSystem`](tern_core::fs::FileSystem) (`tern mount`).
//!
//! This crate owns every OS interaction; the core stays free of IO and clocks.

pub mod cli;
pub mod client;
pub mod fuse;
pub mod hostfs;
pub mod nfs;
pub mod node;
pub mod portmap;
pub mod run;
pub mod serve;
pub mod server;
pub mod signals;
mod sys;

pub use client::{RpcClient, RpcError};
pub use server::{Server, ServerConfig, ServerHandle};
