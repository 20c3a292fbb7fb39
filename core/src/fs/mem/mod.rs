//! `MemFs`: an in-memory [`FileSystem`](super::FileSystem) with fixed capacities (no alloc).
//!
//! Being written (issue 3).
