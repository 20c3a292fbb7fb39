//! nfs-ganesha (VFS back end) as a test peer: a temporary export on 127.0.0.1 with free NFS and
//! MOUNT ports, stopped by PID when dropped.
//!
//! Ganesha registers with the portmapper on port 111 as it starts, or exits. When port 111 is
//! free, `rpcbind -f` is started for the moment ganesha needs it and stopped once ganesha has
//! logged the end of its start-up and answers (clients here give both ports, so no portmapper
//! is needed afterwards). Starts are
//! serialised within a test binary. Installed by `scripts/setup.sh`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use tern_std::client::RpcClient;

use crate::{ChildGuard, free_port, local, require, temp_dir, wait_until};

/// A running ganesha.
pub struct Ganesha {
    child: ChildGuard,
    dir: PathBuf,
    /// NFS port.
    pub nfs: u16,
    /// MOUNT port.
    pub mount: u16,
}

static START: Mutex<()> = Mutex::new(());

fn answers(port: u16, prog: u32) -> bool {
    RpcClient::tcp(local(port), Duration::from_millis(500)).is_ok_and(|mut c| c.null(prog, 3).is_ok())
}

fn port_111_taken() -> bool {
    std::net::TcpListener::bind("127.0.0.1:111").is_err() || std::net::UdpSocket::bind("127.0.0.1:111").is_err()
}

impl Ganesha {
    /// Starts ganesha exporting a fresh temporary directory (`export()`), read-write for
    /// 127.0.0.1, no squashing.
    pub fn start(name: &str) -> Self {
        let ganesha = require("ganesha.nfsd");
        let _serial = START.lock().unwrap_or_else(|e| e.into_inner());
        let dir = temp_dir(&format!("ganesha-{name}"));
        let export = dir.join("export");
        std::fs::create_dir_all(&export).expect("create the export");
        std::fs::create_dir_all(dir.join("recov")).expect("create the recovery dir");
        let (nfs, mount) = (free_port(), free_port());
        let conf = format!(
            "NFS_CORE_PARAM {{ Protocols = 3, 4; Bind_addr = 127.0.0.1; NFS_Port = {nfs}; MNT_Port = {mount};
                 Enable_NLM = false; Enable_RQUOTA = false; }}
NFS_KRB5 {{ Active_krb5 = false; }}
NFSV4 {{ Graceless = true; RecoveryBackend = fs; RecoveryRoot = {recov}; Only_Numeric_Owners = true; }}
MDCACHE {{ Dir_Chunk = 0; }}
EXPORT {{ Export_Id = 1; Path = {export}; Pseudo = {export}; Protocols = 3, 4;
         Transports = TCP, UDP; SecType = sys; Squash = None; Access_Type = None;
         CLIENT {{ Clients = 127.0.0.1; Access_Type = RW; }}
         Attr_Expiration_Time = 0; FSAL {{ Name = VFS; }} }}
LOG {{ Default_Log_Level = EVENT; }}
",
            recov = dir.join("recov").display(),
            export = export.display(),
        );
        std::fs::write(dir.join("ganesha.conf"), conf).expect("write ganesha.conf");
        let rpcbind = if port_111_taken() {
            None
        } else {
            let rpcbind = require("rpcbind");
            let _ = std::fs::remove_file("/run/rpcbind.sock");
            let _ = std::fs::remove_file("/run/rpcbind.lock");
            let g = ChildGuard::spawn("rpcbind", Command::new(rpcbind).arg("-f"));
            assert!(wait_until(Duration::from_secs(10), port_111_taken), "rpcbind did not come up");
            std::thread::sleep(Duration::from_millis(100));
            Some(g)
        };
        let mut cmd = Command::new(ganesha);
        cmd.arg("-F")
            .arg("-f")
            .arg(dir.join("ganesha.conf"))
            .arg("-L")
            .arg(dir.join("ganesha.log"))
            .arg("-p")
            .arg(dir.join("ganesha.pid"))
            .args(["-N", "NIV_EVENT"]);
        let mut child = ChildGuard::spawn("ganesha.nfsd", &mut cmd);
        // Ganesha answers on its ports before it has registered every program with the
        // portmapper, and exits if a registration fails: rpcbind must stay until it logs the end
        // of its start-up (a CI run stopped rpcbind at the first answer and lost ganesha to
        // "Cannot register MNT V3 on TCPv6").
        let initialized =
            || std::fs::read_to_string(dir.join("ganesha.log")).is_ok_and(|l| l.contains("NFS SERVER INITIALIZED"));
        let up = wait_until(Duration::from_secs(20), || {
            child.exited() || (initialized() && answers(nfs, 100_003) && answers(mount, 100_005))
        });
        drop(rpcbind);
        let _ = std::fs::remove_file("/run/rpcbind.sock");
        let _ = std::fs::remove_file("/run/rpcbind.lock");
        let log = std::fs::read_to_string(dir.join("ganesha.log")).unwrap_or_default();
        assert!(up && !child.exited(), "ganesha did not come up:\n{log}");
        Ganesha { child, dir, nfs, mount }
    }

    /// The exported directory.
    pub fn export(&self) -> PathBuf {
        self.dir.join("export")
    }

    /// NFS address.
    pub fn nfs_addr(&self) -> SocketAddr {
        local(self.nfs)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The state directory (config, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Ganesha {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Evidence for a failed test: was ganesha still there, and what did it log?
            let log = std::fs::read_to_string(self.dir.join("ganesha.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "ganesha (pid {}, NFS port {}, MOUNT port {}) {}; the end of its log:",
                self.child.pid(),
                self.nfs,
                self.mount,
                if self.child.exited() { "had exited" } else { "was running" }
            );
            tail.iter().rev().for_each(|l| eprintln!("  {l}"));
        }
        self.child.signal("TERM");
        let _ = wait_until(Duration::from_secs(5), || self.child.exited());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
