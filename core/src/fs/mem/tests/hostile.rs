//! Input from the network: random and mutated handles, names, cookies and offsets never panic.

use super::{ctx, fsck, mem};
use crate::fs::{CreateHow, DirEntry, FileSystem, Handle, NodeKind, SetAttr, Stability};
use std::vec::Vec;

#[test]
fn random_inputs_never_panic() {
    let mut fs = mem(32, 16, 1024);
    let root = fs.root();
    let d = fs.mkdir(&ctx(1), &root, b"d", &SetAttr::default()).unwrap();
    let f = fs.create(&ctx(1), &d, b"f", &CreateHow::Guarded(SetAttr::default())).unwrap();
    fs.write(&ctx(1), &f, 0, b"data", Stability::FileSync).unwrap();
    let mut x = 0x1234_5678_9abc_def1u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let valid = [root, d, f];
    for i in 0..20_000u32 {
        // A handle: valid, valid with one byte flipped, or random bytes of a random length.
        let h = match rnd() % 3 {
            0 => valid[rnd() as usize % 3],
            1 => {
                let mut b = valid[rnd() as usize % 3].as_bytes().to_vec();
                let k = rnd() as usize % b.len();
                b[k] ^= 1 << (rnd() % 8);
                Handle::new(&b).unwrap()
            }
            _ => {
                let b: Vec<u8> = (0..rnd() % 57).map(|_| rnd() as u8).collect();
                Handle::new(&b).unwrap()
            }
        };
        let name: Vec<u8> = (0..rnd() % 300).map(|_| if rnd() % 4 == 0 { rnd() as u8 } else { b'a' }).collect();
        let name = if rnd() % 4 == 0 { &name[..name.len().min(2)] } else { &name[..] };
        let off = match rnd() % 3 {
            0 => rnd(),
            1 => rnd() % (1 << 41),
            _ => rnd() % 4096,
        };
        let c = ctx(2 + i);
        let none = SetAttr::default();
        let mut buf = [0u8; 700];
        let _ = match rnd() % 12 {
            0 => fs.lookup(&h, name).map(drop),
            1 => fs.read(&h, off, &mut buf).map(drop),
            2 => fs.write(&c, &h, off, &buf[..rnd() as usize % 700], Stability::Unstable).map(drop),
            3 => fs.setattr(&c, &h, &SetAttr { size: Some(off % (1 << 42)), ..none }).map(drop),
            4 => fs.create(&c, &h, name, &CreateHow::Exclusive(rnd().to_be_bytes())).map(drop),
            5 => fs.mknod(&c, &h, name, NodeKind::Char(rnd() as u32, 1), &none).map(drop),
            6 => fs.remove(&c, &h, name),
            7 => fs.rmdir(&c, &h, name),
            8 => fs.rename(&c, &h, name, &valid[rnd() as usize % 3], name),
            9 => fs.link(&c, &valid[2], &h, name),
            10 => fs.readlink(&h, &mut buf).map(drop),
            _ => fs
                .readdir(
                    &h,
                    if rnd() % 2 == 0 { rnd() } else { rnd() % 8 },
                    rnd().to_be_bytes(),
                    &mut |_: &DirEntry<'_>| rnd() % 8 != 0,
                )
                .map(drop),
        };
        if i % 500 == 0 {
            fsck(&fs);
        }
    }
    fsck(&fs);
}
