//! The `tern` command's subcommands that live in the library (so they can be tested and reused).

pub mod mount;
