//! Board support for Tern firmware on QEMU riscv32 `virt`.
//!
//! - [`board`]: virtio-mmio probe, DMA pool and virtio-drivers HAL, CLINT time, a smoltcp
//!   device over virtio-net, take-once static storage. All of the crate's `unsafe` is here.
//! - [`pump`]: the smoltcp poll loop with a socket-servicing hook and a deadline, shared by
//!   every firmware mode (the portmapper server, the portmapper client, echo).

#![no_std]

pub mod board;
pub mod pump;
