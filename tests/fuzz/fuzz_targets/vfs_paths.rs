//! The namespace (`tern_core::vfs`) over three small `MemFs` mounts (`/a` on the root, `/a/m`
//! nested in it) with a file and a symlink, driven by a sequence of calls. Each call is
//! `[op, arg, len]` and `len` path bytes (a second path, for two-path calls, is the first half
//! of the same bytes); `arg` chooses flags, modes, offsets, the current directory and the
//! descriptor. Paths are 256 bytes at most here, so the expansion and length limits are hit.
//!
//! Nothing may panic; every error has a Linux errno that maps back to it; and the calls that
//! succeed leave what they say: a directory after `mkdir`, a symlink with that target after
//! `symlink`, the bytes after `write` (read back with `pread`), an equal open file after an
//! export/import round trip, and no unmount while a file is open on the mount.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_core::fs::mem::{Config, MemFs, Storage};
use tern_core::fs::{FileType, SetAttr, Time};
use tern_core::vfs::{Cred, DirPos, Fd, Loc, MountFlags, MountId, Namespace, OpenFlags, VfsError, Whence};

type Store = Storage<48, 24, 2048>;
type Ns<'a> = Namespace<'a, 4, 4, 256>;

const ROOT: MountId = MountId(1);
const A: MountId = MountId(2);
const M: MountId = MountId(3);
const FLAGS: [u32; 8] = [0, 1, 2, 0o102, 0o302, 0o1101, 0o2001, 0o200000];
const T: Time = Time { secs: 1, nsecs: 0 };

fn check(r: Result<(), VfsError>) {
    if let Err(e) = r {
        assert_eq!(VfsError::from_errno(e.errno()), Some(e));
    }
}

fuzz_target!(|data: &[u8]| {
    let mut stores: Vec<Box<Store>> = (0..4).map(|_| Box::new(Store::new())).collect();
    let mut fss: Vec<MemFs<'_>> = stores
        .iter_mut()
        .enumerate()
        .map(|(i, s)| MemFs::new(&mut **s, Config::new(i as u64 + 1, *b"verifier")))
        .collect();
    let (root_fs, rest) = fss.split_first_mut().unwrap();
    let (a_fs, rest) = rest.split_first_mut().unwrap();
    let (m_fs, rest) = rest.split_first_mut().unwrap();
    let spare = &mut rest[0];
    let mut ns: Ns<'_> = Namespace::new(root_fs, ROOT, MountFlags::default());
    let c = Cred::root(T);
    let users = [c, Cred { uid: 1000, gid: 100, groups: &[100, 7], now: T }];
    let top = ns.root();
    ns.mkdir(&c, &top, b"/a", 0o755).unwrap();
    ns.mount(&c, &top, b"/a", a_fs, A, MountFlags::default()).map_err(|(e, _)| e).unwrap();
    ns.mkdir(&c, &top, b"/a/m", 0o777).unwrap();
    ns.mount(&c, &top, b"/a/m", m_fs, M, MountFlags::default()).map_err(|(e, _)| e).unwrap();
    let fd = ns.open(&c, &top, b"/a/m/f", OpenFlags::RDWR | OpenFlags::CREAT, 0o666).unwrap();
    ns.write(&c, fd, b"some bytes").unwrap();
    ns.close(fd).unwrap();
    ns.symlink(&c, &top, b"a/m/f", b"/l").unwrap();
    let mut spare = Some(spare as &mut dyn tern_core::fs::FileSystem);

    let mut cwd: Loc = top;
    let mut fds: Vec<Fd> = Vec::new();
    let mut input = data;
    for _ in 0..32 {
        let [op, arg, len, tail @ ..] = input else { break };
        let n = usize::from(*len).min(tail.len());
        let (p, next) = tail.split_at(n);
        input = next;
        let q = &p[..p.len() / 2];
        let who = &users[usize::from(arg >> 7)];
        let fd = fds.get(usize::from(*arg) % fds.len().max(1)).copied();
        match op % 20 {
            0 => check(ns.stat(who, &cwd, p).map(|_| ())),
            1 => check(ns.lstat(who, &cwd, p).map(|_| ())),
            2 => match ns.open(who, &cwd, p, OpenFlags::from_bits(FLAGS[usize::from(arg & 7)]).unwrap(), 0o644) {
                Ok(fd) => {
                    let f = *ns.file(fd).unwrap();
                    assert!(ns.mounts().any(|m| m.id == f.mount));
                    assert_eq!(f.offset, 0);
                    ns.fstat(fd).unwrap();
                    fds.push(fd);
                }
                Err(e) => check(Err(e)),
            },
            3 => match ns.mkdir(who, &cwd, p, 0o755) {
                Ok(()) => assert_eq!(ns.lstat(who, &cwd, p).unwrap().ftype, FileType::Directory),
                Err(e) => check(Err(e)),
            },
            4 => check(ns.rmdir(who, &cwd, p)),
            5 => check(ns.unlink(who, &cwd, p)),
            6 => check(ns.rename(who, &cwd, p, q)),
            7 => check(ns.link(who, &cwd, q, p)),
            8 => match ns.symlink(who, &cwd, q, p) {
                Ok(()) => {
                    assert_eq!(ns.lstat(who, &cwd, p).unwrap().ftype, FileType::Symlink);
                    let mut out = [0u8; 300];
                    let k = ns.readlink(who, &cwd, p, &mut out).unwrap();
                    assert_eq!(&out[..k], q);
                }
                Err(e) => check(Err(e)),
            },
            9 => check(ns.readlink(who, &cwd, p, &mut [0u8; 16]).map(|_| ())),
            10 => check(ns.readdir_at(who, &cwd, p, DirPos::START, &mut |e| !e.name.is_empty()).map(|_| ())),
            11 => match ns.chdir(who, &cwd, p) {
                Ok(loc) => cwd = loc,
                Err(e) => check(Err(e)),
            },
            12 if fd.is_some() => {
                let fd = fd.unwrap();
                let before = ns.file(fd).unwrap().offset;
                match ns.write(who, fd, p) {
                    Ok(k) if !ns.file(fd).unwrap().flags.contains(OpenFlags::APPEND) => {
                        assert!(k <= p.len());
                        assert_eq!(ns.file(fd).unwrap().offset, before + k as u64);
                        let mut back = vec![0u8; k];
                        if ns.file(fd).unwrap().flags.readable() {
                            assert_eq!(ns.pread(fd, &mut back, before), Ok(k));
                            assert_eq!(back, &p[..k]);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => check(Err(e)),
                }
            }
            13 if fd.is_some() => {
                let mut buf = [0u8; 64];
                check(ns.read(fd.unwrap(), &mut buf[..usize::from(arg & 63)]).map(|_| ()));
            }
            14 if fd.is_some() => {
                let off = i64::from(i8::from_le_bytes([*arg])) * 1000;
                let whence = [Whence::Set, Whence::Cur, Whence::End][usize::from(arg % 3)];
                check(ns.seek(fd.unwrap(), whence, off).map(|_| ()));
            }
            15 if fd.is_some() => {
                let fd = fd.unwrap();
                fds.retain(|&f| f != fd);
                check(ns.close(fd));
                assert!(ns.file(fd).is_err());
            }
            16 if fd.is_some() => {
                // Export and import: the copy is the same open file.
                let fd = fd.unwrap();
                match ns.export(fd) {
                    Ok(f) => match ns.import(f) {
                        Ok(g) => {
                            assert_eq!(ns.file(g), Ok(&f));
                            fds.push(g);
                        }
                        // The table is full, or the file was removed while open.
                        Err(e) => assert!(e == VfsError::TooManyOpen || e == VfsError::Stale, "{e:?}"),
                    },
                    Err(e) => assert_eq!(e, VfsError::Stale),
                }
            }
            17 => {
                let id = [A, M][usize::from(arg & 1)];
                let busy = ns.open_files().any(|(_, f)| f.mount == id);
                match ns.unmount(id) {
                    Ok(fs) => {
                        assert!(!busy);
                        if spare.is_none() {
                            spare = Some(fs);
                        }
                    }
                    Err(e) => assert!(e == VfsError::Busy || e == VfsError::Inval),
                }
            }
            18 => {
                if let Some(fs) = spare.take() {
                    let id = [A, M, MountId(4)][usize::from(arg % 3)];
                    if let Err((e, fs)) = ns.mount(who, &cwd, p, fs, id, MountFlags { read_only: arg & 8 != 0 }) {
                        check(Err(e));
                        spare = Some(fs);
                    }
                }
            }
            _ => {
                let set = SetAttr {
                    mode: Some(u32::from(*arg) << 4),
                    size: (arg & 1 == 1).then_some(7),
                    ..SetAttr::default()
                };
                check(ns.setattr(who, &cwd, p, arg & 2 == 0, &set).map(|_| ()));
                check(ns.truncate(who, &cwd, p, u64::from(*arg)));
            }
        }
        assert!(ns.stat(&c, &top, b"/").is_ok());
        assert!(ns.open_files().count() <= 4);
    }
});
