//! Reads an input file and writes a result file: `file-worker INPUT OUTPUT [CHUNK]`.
//!
//! Reads INPUT in CHUNK-byte pieces (default 4096), writes each piece to OUTPUT with ASCII
//! letters rotated by 13 (ROT13), then appends a trailer line with the input's size and
//! FNV-1a checksum. Prints the size (also through FSTAT and SEEK_END), the checksum and the
//! number of entries of the input's directory. The output depends only on the input.
#![no_std]
#![no_main]

use tern_guest::abi::{O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, SEEK_END, SEEK_SET};
use tern_guest::{File, println};

tern_guest::entry!(main);

fn rot13(b: u8) -> u8 {
    match b {
        b'a'..=b'z' => (b - b'a' + 13) % 26 + b'a',
        b'A'..=b'Z' => (b - b'A' + 13) % 26 + b'A',
        _ => b,
    }
}

fn main(args: tern_guest::Args) -> i32 {
    let (Some(input), Some(output)) = (args.str(1), args.str(2)) else {
        println!("usage: file-worker INPUT OUTPUT [CHUNK]");
        return 2;
    };
    let chunk = (args.num(3, 4096) as usize).clamp(1, 65536);
    let mut inp = match File::open(input, O_RDONLY) {
        Ok(f) => f,
        Err(e) => {
            println!("open {input}: {e}");
            return 1;
        }
    };
    let mut out = match File::open(output, O_WRONLY | O_CREAT | O_TRUNC) {
        Ok(f) => f,
        Err(e) => {
            println!("open {output}: {e}");
            return 1;
        }
    };
    let size = inp.stat().map(|s| s.size).unwrap_or(u64::MAX);
    let end = inp.seek(0, SEEK_END).unwrap_or(u64::MAX);
    if inp.seek(0, SEEK_SET) != Ok(0) {
        println!("seek failed");
        return 1;
    }
    let Some(buf) = tern_guest::sbrk(chunk) else { return 1 };
    let (mut total, mut h) = (0u64, 0x811c_9dc5u32);
    loop {
        let n = match inp.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                println!("read: {e}");
                return 1;
            }
        };
        for b in buf[..n].iter_mut() {
            h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
            *b = rot13(*b);
        }
        if let Err(e) = out.write_all(&buf[..n]) {
            println!("write: {e}");
            return 1;
        }
        total += n as u64;
    }
    let mut trailer = [0u8; 64];
    let t = fmt_trailer(&mut trailer, total, h);
    if out.write_all(t).is_err() {
        return 1;
    }
    // The directory holding the input (the root for a bare name).
    let dir = match input.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &input[..i],
    };
    let mut entries = 0;
    if let Ok(mut d) = File::open(dir, O_RDONLY) {
        let mut lbuf = [0u8; 512];
        while let Ok(n) = d.readdir(&mut lbuf, |_| {}) {
            if n == 0 {
                break;
            }
            entries += n;
        }
    }
    println!("read {total} bytes (stat {size}, seek {end})");
    println!("fnv {h:08x}");
    println!("dir entries {entries}");
    0
}

/// "size N fnv XXXXXXXX\n" into `buf`.
fn fmt_trailer(buf: &mut [u8; 64], size: u64, h: u32) -> &[u8] {
    struct W<'a>(&'a mut [u8], usize);
    impl core::fmt::Write for W<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let b = s.as_bytes();
            let dst = self.0.get_mut(self.1..self.1 + b.len()).ok_or(core::fmt::Error)?;
            dst.copy_from_slice(b);
            self.1 += b.len();
            Ok(())
        }
    }
    let mut w = W(buf, 0);
    let _ = core::fmt::Write::write_fmt(&mut w, format_args!("size {size} fnv {h:08x}\n"));
    let n = w.1;
    &buf[..n]
}
