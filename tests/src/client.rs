//! Helpers for the client tests: `tern` file commands against a server, as a child process,
//! with their exit codes, and the URL of a path on a server.

use std::path::Path;
use std::process::{Command, Output};

use crate::tern_bin;

/// Where a server is: host 127.0.0.1, NFS and MOUNT ports, and the exported directory's path.
#[derive(Debug, Clone)]
pub struct Remote {
    /// NFS port.
    pub nfs: u16,
    /// MOUNT port.
    pub mount: u16,
    /// The export's path on the server (and on this machine's disk).
    pub export: String,
}

impl Remote {
    /// A server on 127.0.0.1 exporting `export`.
    pub fn new(nfs: u16, mount: u16, export: &Path) -> Self {
        Remote { nfs, mount, export: export.display().to_string() }
    }

    /// The `nfs://` URL of `path` inside the export (empty: the export itself).
    pub fn url(&self, path: &str) -> String {
        let sep = if path.is_empty() { "" } else { "/" };
        format!("nfs://127.0.0.1{}{sep}{path}?version=3&nfsport={}&mountport={}", self.export, self.nfs, self.mount)
    }

    /// The URL with `&uid=U&gid=G` added.
    pub fn url_as(&self, path: &str, uid: u32, gid: u32) -> String {
        format!("{}&uid={uid}&gid={gid}", self.url(path))
    }

    /// The path of `path` inside the export on this machine's disk.
    pub fn local(&self, path: &str) -> std::path::PathBuf {
        Path::new(&self.export).join(path)
    }
}

/// The outcome of one `tern` command.
#[derive(Debug)]
pub struct Ran {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Ran {
    /// Panics with the command's output unless it exited 0.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "tern failed:\n{}", self.stderr);
        self
    }

    /// Panics unless the command exited with `code` and one line on stderr containing `text`.
    #[track_caller]
    pub fn fails(self, code: i32, text: &str) -> Self {
        assert_eq!(self.code, code, "expected exit {code} ({text}); stderr: {}", self.stderr);
        let lines: Vec<&str> = self.stderr.lines().filter(|l| l.starts_with("tern: ")).collect();
        assert_eq!(lines.len(), 1, "one error line expected: {}", self.stderr);
        assert!(lines[0].contains(text), "{:?} does not contain {text:?}", lines[0]);
        self
    }
}

fn ran(out: Output) -> Ran {
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `tern ARGS...` to completion.
pub fn tern(args: &[&str]) -> Ran {
    ran(Command::new(tern_bin()).args(args).env("TERN_LOG", "warn").output().expect("run tern"))
}

/// SHA-256 of a file (`sha256sum`).
pub fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("run sha256sum");
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string()
}

/// Every file command against the server of `r` (whose export is a directory on this
/// machine, checked directly), with the failures each can meet. `scratch` is a local
/// directory for the local side of copies.
pub fn every_command(r: &Remote, scratch: &Path) {
    let read = |p: &str| std::fs::read(r.local(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    // mkdir, mkdir -p, and mkdir of an existing name.
    tern(&["mkdir", &r.url("d")]).ok();
    assert!(r.local("d").is_dir());
    tern(&["mkdir", &r.url("d")]).fails(14, "file exists");
    tern(&["mkdir", "-p", &r.url("d/e/f")]).ok();
    tern(&["mkdir", "-p", &r.url("d/e/f")]).ok();
    assert!(r.local("d/e/f").is_dir());

    // cp local → remote, into a directory and to a name.
    let hello = scratch.join("hello.txt");
    std::fs::write(&hello, b"hello, nfs\n").unwrap();
    tern(&["cp", hello.to_str().unwrap(), &r.url("d")]).ok();
    assert_eq!(read("d/hello.txt"), b"hello, nfs\n");
    tern(&["cp", hello.to_str().unwrap(), &r.url("d/copy.txt")]).ok();
    assert_eq!(read("d/copy.txt"), b"hello, nfs\n");
    // Over an existing, longer file: truncated.
    std::fs::write(scratch.join("short"), b"hi").unwrap();
    tern(&["cp", scratch.join("short").to_str().unwrap(), &r.url("d/copy.txt")]).ok();
    assert_eq!(read("d/copy.txt"), b"hi");
    tern(&["cp", scratch.join("missing").to_str().unwrap(), &r.url("d")]).fails(10, "No such file");

    // cat.
    assert_eq!(tern(&["cat", &r.url("d/hello.txt"), &r.url("d/copy.txt")]).ok().stdout, "hello, nfs\nhi");
    tern(&["cat", &r.url("d")]).fails(15, "is a directory");
    tern(&["cat", &r.url("d/nope")]).fails(10, "no such file or directory");

    // ls, ls -l, ls -R, ls of a file.
    assert_eq!(tern(&["ls", &r.url("d")]).ok().stdout, "copy.txt\ne\nhello.txt\n");
    let long = tern(&["ls", "-l", &r.url("d")]).ok().stdout;
    let line = long.lines().find(|l| l.ends_with(" hello.txt")).expect("hello.txt listed");
    assert!(line.starts_with("-rw") && line.contains(" 11 "), "{line}");
    assert!(long.lines().any(|l| l.starts_with('d') && l.ends_with(" e")), "{long}");
    let rec = tern(&["ls", "-R", &r.url("")]).ok().stdout;
    assert!(rec.contains(&format!("{}/d/e:\nf\n", r.export)), "{rec}");
    assert_eq!(tern(&["ls", &r.url("d/hello.txt")]).ok().stdout, "hello.txt\n");
    tern(&["ls", &r.url("nope")]).fails(10, "no such file or directory");

    // stat.
    let st = tern(&["stat", &r.url("d/hello.txt")]).ok().stdout;
    assert!(st.contains("Type: regular file") && st.contains("Size: 11 "), "{st}");
    assert!(tern(&["stat", &r.url("d")]).ok().stdout.contains("Type: directory"));
    tern(&["stat", &r.url("d/nope")]).fails(10, "no such file");

    // cp remote → local (to a name and into a directory), remote → remote.
    let back = scratch.join("back.txt");
    tern(&["cp", &r.url("d/hello.txt"), back.to_str().unwrap()]).ok();
    assert_eq!(std::fs::read(&back).unwrap(), b"hello, nfs\n");
    let into = scratch.join("into");
    std::fs::create_dir_all(&into).unwrap();
    tern(&["cp", &r.url("d/hello.txt"), into.to_str().unwrap()]).ok();
    assert_eq!(std::fs::read(into.join("hello.txt")).unwrap(), b"hello, nfs\n");
    tern(&["cp", &r.url("d/hello.txt"), &r.url("d/e/h3")]).ok();
    assert_eq!(read("d/e/h3"), b"hello, nfs\n");
    tern(&["cp", &r.url("d"), back.to_str().unwrap()]).fails(15, "is a directory");
    tern(&["cp", &r.url("d/nope"), back.to_str().unwrap()]).fails(10, "no such file");
    tern(&["cp", hello.to_str().unwrap(), &r.url("nodir/x")]).fails(10, "no such file");

    // mv into a directory, then to a new name; mv of a missing name.
    tern(&["mv", &r.url("d/copy.txt"), &r.url("d/e")]).ok();
    assert!(!r.local("d/copy.txt").exists() && r.local("d/e/copy.txt").exists());
    tern(&["mv", &r.url("d/e/copy.txt"), &r.url("d/moved.txt")]).ok();
    assert_eq!(read("d/moved.txt"), b"hi");
    tern(&["mv", &r.url("d/nope"), &r.url("d/x")]).fails(10, "no such file");

    // rm, rm of a directory, rm -r.
    tern(&["rm", &r.url("d/moved.txt")]).ok();
    assert!(!r.local("d/moved.txt").exists());
    tern(&["rm", &r.url("d/moved.txt")]).fails(10, "no such file");
    tern(&["rm", &r.url("d/e")]).fails(15, "is a directory");
    tern(&["rm", "-r", &r.url("d")]).ok();
    assert!(!r.local("d").exists());

    // showmount.
    let sm = tern(&["showmount", "-e", "127.0.0.1", "--mountport", &r.mount.to_string()]).ok().stdout;
    assert!(sm.starts_with("Export list for 127.0.0.1:\n") && sm.contains(&r.export), "{sm}");

    // Permission denied: a 0700 directory of root, listed as uid 1000.
    tern(&["mkdir", "-m", "700", &r.url("private")]).ok();
    tern(&["ls", &r.url_as("private", 1000, 1000)]).fails(11, "permission denied");
    tern(&["cp", hello.to_str().unwrap(), &r.url_as("private/x", 1000, 1000)]).fails(11, "permission denied");
    tern(&["rm", "-r", &r.url("private")]).ok();

    // UDP.
    tern(&["cp", "--udp", hello.to_str().unwrap(), &r.url("udp.txt")]).ok();
    assert_eq!(tern(&["cat", "--udp", &r.url("udp.txt")]).ok().stdout, "hello, nfs\n");
    tern(&["rm", "--udp", &r.url("udp.txt")]).ok();

    // Bad URLs, an export that does not exist, a server that is not there.
    tern(&["ls", &r.url("").replace("version=3", "version=4")]).fails(13, "only 3");
    tern(&["ls", &format!("{}&colour=red", r.url(""))]).fails(13, "unknown parameter");
    tern(&["ls", "nfs://127.0.0.1"]).code.ne(&0).then_some(()).expect("a failure");
    let nowhere = format!("nfs://127.0.0.1/no/such/export?nfsport={}&mountport={}", r.nfs, r.mount);
    tern(&["ls", &nowhere]).fails(10, "no export");
    let port = crate::free_port().to_string();
    let dead = format!("nfs://127.0.0.1/x?nfsport={port}&mountport={port}");
    tern(&["ls", &dead]).fails(4, "unreachable");
}
