//! Puts the linker script where the guests' link step finds it.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::copy("tern-guest.x", out.join("tern-guest.x")).expect("copy tern-guest.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=tern-guest.x");
}
