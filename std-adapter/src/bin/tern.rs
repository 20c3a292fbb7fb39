//! The `tern` command.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tern_core::rpc::portmap::{self, IPPROTO_TCP, IPPROTO_UDP};
use tern_std::client::{RpcClient, RpcError};

/// Tern: a stateless network file system and process migration, for boards and hosts.
///
/// File commands take libnfs-style URLs:
/// nfs://HOST/EXPORT/PATH?version=3&nfsport=N&mountport=N&uid=N&gid=N
/// (with both ports given, no portmapper is asked).
#[derive(Parser)]
#[command(version, about, after_help = tern_std::cli::exit::HELP)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the portmapper (RPC program 100000 version 2) over TCP and UDP.
    Portmap {
        /// Address to listen on.
        #[arg(long, default_value = "0.0.0.0")]
        listen: IpAddr,
        /// Port to listen on.
        #[arg(long, default_value_t = portmap::PORT)]
        port: u16,
    },
    /// Serve directories over NFSv3 and MOUNT v3 (TCP and UDP).
    Serve {
        /// Exports file in exports(5) syntax.
        #[arg(long, value_name = "FILE")]
        exports: Option<std::path::PathBuf>,
        /// One exports line, e.g. '/srv 127.0.0.1(rw,no_root_squash)' (repeatable).
        #[arg(long = "export", value_name = "LINE")]
        export_lines: Vec<String>,
        /// Address to listen on.
        #[arg(long, default_value = "0.0.0.0")]
        listen: IpAddr,
        /// NFS port.
        #[arg(long, default_value_t = 2049)]
        nfs_port: u16,
        /// MOUNT port.
        #[arg(long, default_value_t = 20048)]
        mount_port: u16,
        /// Directory for the handle secret and server id (handles survive restarts with it).
        #[arg(long, default_value = "/var/lib/tern")]
        state_dir: std::path::PathBuf,
        /// Portmapper to register with (Tern serves its own there when none answers).
        #[arg(long, default_value = "127.0.0.1:111")]
        portmap: SocketAddr,
        /// Open files kept per export (soft state; 0 turns the cache and read-ahead off).
        #[arg(long, default_value_t = 256, value_name = "N")]
        file_cache: usize,
        /// KiB advised ahead of a sequential reader (soft state; 0, the default, leaves
        /// read-ahead to the kernel's own, which the open-file cache keeps alive).
        #[arg(long, default_value_t = 0, value_name = "KIB")]
        readahead: u64,
        /// NFS dispatchers run in parallel, each serving a fixed set of clients (0: one per core).
        #[arg(long, default_value_t = 0, value_name = "N")]
        shards: usize,
    },
    /// Mount a file system with FUSE (a new MemFs, or a host directory).
    Mount(tern_std::cli::mount::MountCmd),
    /// Unmount a `tern mount`.
    Umount(tern_std::cli::mount::UmountCmd),
    /// Run a guest program (an RV32IMAC ELF) in the foreground and exit with its exit status
    /// (tern's own failures: 120 unreadable or refused ELF, 121 the guest faulted, 122 every
    /// guest waits for a channel message that cannot come).
    Run {
        /// Directory the guests see as `/` (served through HostFs: needs CAP_DAC_READ_SEARCH).
        #[arg(long, value_name = "DIR")]
        root: Option<std::path::PathBuf>,
        /// Another process on the same node, as "GUEST.elf ARGS..." (repeatable).
        #[arg(long = "also", value_name = "CMDLINE")]
        also: Vec<String>,
        /// The guest ELF.
        guest: std::path::PathBuf,
        /// Its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run a node: runs guest processes and sends and accepts their migrations, controlled
    /// through Tern's node RPC program (0x20746e01) on the same address.
    Node {
        /// Address to listen on (HOST:PORT).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: String,
        /// The address other nodes reach this one at (default: the listen address).
        #[arg(long, value_name = "ADDR:PORT")]
        advertise: Option<String>,
        /// Directory the guests see as `/` (HostFs: needs CAP_DAC_READ_SEARCH).
        #[arg(long, value_name = "DIR")]
        root: Option<std::path::PathBuf>,
        /// Where HostFs keeps its handle secret: nodes sharing it (and --root) accept each
        /// other's file handles, so open files survive a migration between them.
        #[arg(long, value_name = "DIR", requires = "root")]
        state: Option<std::path::PathBuf>,
        /// An NFS export the guests see as `/` (nfs://HOST/EXPORT).
        #[arg(long, value_name = "URL", conflicts_with = "root")]
        nfs: Option<String>,
    },
    /// Start a guest on a node and print its process id.
    Spawn {
        /// The node (ADDR:PORT).
        #[arg(long, value_name = "ADDR:PORT")]
        node: String,
        /// The guest ELF.
        guest: std::path::PathBuf,
        /// Its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// List a node's processes (running, stopped by a migration, ended, or moved away).
    Ps {
        /// The node (ADDR:PORT).
        #[arg(long, value_name = "ADDR:PORT")]
        node: String,
    },
    /// Move a running process to another node and print the migration's figures.
    Migrate {
        /// Process id.
        id: u64,
        /// The node it runs on.
        #[arg(long, value_name = "ADDR:PORT")]
        from: String,
        /// The node to move it to.
        #[arg(long, value_name = "ADDR:PORT")]
        to: String,
        /// stop-copy, pre-copy, post-copy or hybrid.
        #[arg(long, value_parser = tern_std::cli::node::parse_strategy)]
        strategy: tern_core::migrate::Strategy,
        /// Print the figures as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Wait for a process to end (following it across nodes), print its console output, and
    /// exit with its exit status (121 if it faulted).
    Wait {
        /// Process id.
        id: u64,
        /// A node it ran on.
        #[arg(long, value_name = "ADDR:PORT")]
        node: String,
    },
    /// Query a portmapper or ping an RPC program.
    Rpcinfo {
        #[command(subcommand)]
        what: Rpcinfo,
    },
    /// List a remote directory (or show one file).
    Ls {
        /// nfs:// URL of the directory.
        url: String,
        /// Long listing: type, mode, links, owner, group, size, time.
        #[arg(short = 'l')]
        long: bool,
        /// Recurse into subdirectories.
        #[arg(short = 'R')]
        recursive: bool,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Write remote files to stdout.
    Cat {
        /// nfs:// URLs of the files.
        #[arg(required = true)]
        urls: Vec<String>,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Copy a file: local to remote, remote to local, or remote to remote.
    Cp {
        /// Source: a local path or an nfs:// URL.
        src: String,
        /// Destination: a local path or an nfs:// URL (a directory gets the source's name).
        dst: String,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Show a remote file's attributes.
    Stat {
        /// nfs:// URL.
        url: String,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Remove remote files.
    Rm {
        /// nfs:// URLs.
        #[arg(required = true)]
        urls: Vec<String>,
        /// Remove directories and their contents.
        #[arg(short = 'r')]
        recursive: bool,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Create remote directories.
    Mkdir {
        /// nfs:// URLs.
        #[arg(required = true)]
        urls: Vec<String>,
        /// Create missing parents; no error if the directory exists.
        #[arg(short = 'p')]
        parents: bool,
        /// Permission bits (octal).
        #[arg(short = 'm', long, default_value = "755", value_parser = parse_mode)]
        mode: u32,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Rename a remote file or directory (within one export).
    Mv {
        /// nfs:// URL of the source.
        src: String,
        /// nfs:// URL of the destination (an existing directory gets the source's name).
        dst: String,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Show a server's exports (MOUNT EXPORT).
    Showmount {
        /// List the exports (the only query supported).
        #[arg(short = 'e', required = true)]
        exports: bool,
        /// The server.
        host: String,
        /// MOUNT port (default: ask the portmapper).
        #[arg(long)]
        mountport: Option<u16>,
        #[command(flatten)]
        net: NetArgs,
    },
}

/// How the file commands reach the server.
#[derive(Args, Clone, Copy)]
struct NetArgs {
    /// Use UDP instead of TCP.
    #[arg(long)]
    udp: bool,
    /// Soft mount: fail when the server does not answer within --timeout (default: retry until
    /// it answers again).
    #[arg(long)]
    soft: bool,
    /// Seconds a soft mount waits for the server.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// READs or WRITEs (1 MiB each) in flight during a copy. Each WRITE's message is kept until
    /// its reply, so fewer stay in the CPU's caches: 4 is faster than 16 over loopback; raise it
    /// for links with a large bandwidth × delay.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    window: u16,
}

impl NetArgs {
    fn opts(self) -> tern_std::cli::NetOpts {
        tern_std::cli::NetOpts {
            udp: self.udp,
            soft: self.soft,
            timeout: Duration::from_secs(self.timeout.max(1)),
            window: usize::from(self.window),
        }
    }
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8).ok().filter(|m| *m <= 0o7777).ok_or_else(|| format!("{s:?} is not an octal mode"))
}

#[derive(Clone, Copy, ValueEnum)]
enum Proto {
    Tcp,
    Udp,
}

#[derive(Subcommand)]
enum Rpcinfo {
    /// List a portmapper's registrations (DUMP).
    Dump {
        /// HOST or HOST:PORT of the portmapper (port 111 by default).
        server: String,
        /// Transport for the query.
        #[arg(long, value_enum, default_value = "tcp")]
        proto: Proto,
    },
    /// Ask a portmapper for a program's port (GETPORT).
    Getport {
        /// HOST or HOST:PORT of the portmapper.
        server: String,
        /// Program number.
        prog: u32,
        /// Program version.
        vers: u32,
        /// Protocol of the registration looked up.
        #[arg(long, value_enum, default_value = "tcp")]
        proto: Proto,
    },
    /// Register a program with a portmapper (SET; the portmapper must be on this host).
    Set {
        /// HOST or HOST:PORT of the portmapper.
        server: String,
        /// Program number.
        prog: u32,
        /// Program version.
        vers: u32,
        /// Protocol registered.
        #[arg(value_enum)]
        proto: Proto,
        /// Port registered.
        port: u16,
    },
    /// Unregister a program version (UNSET).
    Unset {
        /// HOST or HOST:PORT of the portmapper.
        server: String,
        /// Program number.
        prog: u32,
        /// Program version.
        vers: u32,
    },
    /// Call procedure 0 (NULL) of a program at HOST:PORT.
    Ping {
        /// HOST:PORT of the program.
        server: String,
        /// Program number.
        prog: u32,
        /// Program version.
        vers: u32,
        /// Transport.
        #[arg(long, value_enum, default_value = "tcp")]
        proto: Proto,
    },
}

/// Prints a line to stdout; a closed pipe (`tern ... | head`) is not an error worth a panic.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// A failure, with the exit code that tells its kind.
struct Failure {
    code: u8,
    msg: String,
}

impl From<RpcError> for Failure {
    fn from(e: RpcError) -> Self {
        let code = match &e {
            RpcError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => 4,
            RpcError::Io(_) | RpcError::Timeout | RpcError::Closed => 4,
            RpcError::Refused(_) => 5,
            _ => 6,
        };
        Failure { code, msg: e.to_string() }
    }
}

impl From<tern_std::cli::CliError> for Failure {
    fn from(e: tern_std::cli::CliError) -> Self {
        Failure { code: e.code, msg: e.msg }
    }
}

fn fail(code: u8, msg: impl Into<String>) -> Failure {
    Failure { code, msg: msg.into() }
}

fn resolve(server: &str, default_port: Option<u16>) -> Result<SocketAddr, Failure> {
    let with_port = match (server.parse::<IpAddr>(), default_port) {
        (Ok(ip), Some(p)) => return Ok(SocketAddr::new(ip, p)),
        _ if server.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) => server.to_string(),
        (_, Some(p)) => format!("{server}:{p}"),
        (_, None) => return Err(fail(2, format!("{server}: give HOST:PORT"))),
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| fail(4, format!("{server}: {e}")))?
        .next()
        .ok_or_else(|| fail(4, format!("{server}: no address")))
}

fn connect(addr: SocketAddr, proto: Proto) -> Result<RpcClient, Failure> {
    let c = match proto {
        Proto::Tcp => RpcClient::tcp(addr, Duration::from_secs(10)),
        Proto::Udp => RpcClient::udp(addr),
    };
    c.map_err(|e| fail(4, format!("{addr}: {e}")))
}

fn prot_num(p: Proto) -> u32 {
    match p {
        Proto::Tcp => IPPROTO_TCP,
        Proto::Udp => IPPROTO_UDP,
    }
}

fn prot_name(p: u32) -> String {
    match p {
        IPPROTO_TCP => "tcp".into(),
        IPPROTO_UDP => "udp".into(),
        other => other.to_string(),
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.cmd {
        Cmd::Portmap { listen, port } => {
            let addr = SocketAddr::new(listen, port);
            let term = tern_std::signals::Termination::install().map_err(|e| fail(1, e.to_string()))?;
            let pm = tern_std::portmap::serve(addr).map_err(|e| {
                let code = if e.kind() == std::io::ErrorKind::AddrInUse { 3 } else { 1 };
                fail(code, format!("cannot serve the portmapper on {addr}: {e}"))
            })?;
            tracing::info!(tcp = ?pm.handle.tcp_addr(), udp = ?pm.handle.udp_addr(), "portmapper serving");
            let sig = term.wait();
            tracing::info!("signal {sig}: shutting down");
            pm.handle.shutdown();
            Ok(())
        }
        Cmd::Rpcinfo { what } => rpcinfo(what),
        Cmd::Node { listen, advertise, root, state, nfs } => {
            let a = tern_std::cli::node::NodeArgs { listen, advertise, root, state, nfs };
            Ok(tern_std::cli::node::node(&a)?)
        }
        Cmd::Spawn { node, guest, args } => {
            say!("{}", tern_std::cli::node::spawn(&node, &guest, &args)?);
            Ok(())
        }
        Cmd::Ps { node } => Ok(tern_std::cli::node::ps(&node)?),
        Cmd::Migrate { id, from, to, strategy, json } => {
            let r = tern_std::cli::node::migrate(id, &from, &to, strategy)?;
            Ok(tern_std::cli::node::print_report(id, &to, &r, json)?)
        }
        Cmd::Wait { id, node } => wait_guest(id, &node),
        Cmd::Run { root, also, guest, args } => run_guest(root, also, guest, args),
        Cmd::Ls { url, long, recursive, net } => Ok(tern_std::cli::ls(&url, long, recursive, &net.opts())?),
        Cmd::Cat { urls, net } => Ok(tern_std::cli::cat(&urls, &net.opts())?),
        Cmd::Cp { src, dst, net } => Ok(tern_std::cli::cp(&src, &dst, &net.opts())?),
        Cmd::Stat { url, net } => Ok(tern_std::cli::stat(&url, &net.opts())?),
        Cmd::Rm { urls, recursive, net } => Ok(tern_std::cli::rm(&urls, recursive, &net.opts())?),
        Cmd::Mkdir { urls, parents, mode, net } => Ok(tern_std::cli::mkdir(&urls, parents, mode, &net.opts())?),
        Cmd::Mv { src, dst, net } => Ok(tern_std::cli::mv(&src, &dst, &net.opts())?),
        Cmd::Showmount { exports: _, host, mountport, net } => {
            Ok(tern_std::cli::showmount(&host, mountport, &net.opts())?)
        }
        Cmd::Mount(m) => m.run().map_err(|e| fail(e.code, e.msg)),
        Cmd::Umount(u) => u.run().map_err(|e| fail(e.code, e.msg)),
        Cmd::Serve {
            exports,
            export_lines,
            listen,
            nfs_port,
            mount_port,
            state_dir,
            portmap,
            file_cache,
            readahead,
            shards,
        } => {
            let (text, source) = match exports {
                Some(f) => {
                    let mut text = std::fs::read_to_string(&f)
                        .map_err(|e| fail(8, format!("exports file {}: {e}", f.display())))?;
                    for l in &export_lines {
                        text.push('\n');
                        text.push_str(l);
                    }
                    (text, f.display().to_string())
                }
                None => (export_lines.join("\n"), "--export".to_string()),
            };
            let opts = tern_std::serve::ServeOptions {
                exports: text,
                exports_source: source,
                listen,
                nfs_port,
                mount_port,
                state_dir,
                portmap,
                soft: tern_std::hostfs::SoftConfig {
                    open_files: file_cache,
                    readahead: readahead.saturating_mul(1024),
                    ..Default::default()
                },
                shards,
            };
            let term = tern_std::signals::Termination::install().map_err(|e| fail(1, e.to_string()))?;
            let running = tern_std::serve::serve(opts).map_err(|e| {
                use tern_std::serve::ServeError as E;
                let code = match &e {
                    E::PortInUse { .. } => 3,
                    E::Exports { .. } | E::NoExports => 8,
                    E::MissingDir(_) => 9,
                    _ => 1,
                };
                fail(code, e.to_string())
            })?;
            tracing::info!(nfs = %running.addrs.0, mount = %running.addrs.1, "serving NFSv3 and MOUNT v3");
            let sig = term.wait();
            tracing::info!("signal {sig}: shutting down");
            running.shutdown();
            Ok(())
        }
    }
}

fn run_guest(
    root: Option<std::path::PathBuf>,
    also: Vec<String>,
    guest: std::path::PathBuf,
    args: Vec<String>,
) -> Result<(), Failure> {
    use tern_std::run::{Outcome, RunError, RunOptions};
    let mut more = Vec::new();
    for line in &also {
        let mut words = line.split_whitespace().map(str::to_string);
        let Some(elf) = words.next() else { return Err(fail(2, "--also needs a guest ELF")) };
        more.push((std::path::PathBuf::from(elf), words.collect()));
    }
    let opts = RunOptions { guest, args, also: more, root };
    match tern_std::run::run_foreground(&opts) {
        Ok(Outcome::Exited(0)) => Ok(()),
        // The guest's own status: no message of ours.
        Ok(Outcome::Exited(code)) => Err(fail(code as u8, "")),
        Ok(Outcome::Faulted(f)) => Err(fail(121, format!("{}: guest fault: {f}", opts.guest.display()))),
        Err(e @ RunError::Stuck) => Err(fail(122, e.to_string())),
        Err(e) => Err(fail(120, e.to_string())),
    }
}

fn wait_guest(id: u64, node: &str) -> Result<(), Failure> {
    use std::io::Write;
    use tern_std::node::ProcState;
    let r = tern_std::cli::node::wait(id, node)?;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&r.console);
    let _ = out.flush();
    match r.state {
        ProcState::Faulted => Err(fail(121, format!("process {id}: guest fault: {}", r.note))),
        _ => {
            eprintln!(
                "process {id} exited with status {} ({} instructions, memory checksum {:016x})",
                r.code, r.instret, r.checksum
            );
            if r.code == 0 { Ok(()) } else { Err(fail(r.code as u8, "")) }
        }
    }
}

fn rpcinfo(what: Rpcinfo) -> Result<(), Failure> {
    match what {
        Rpcinfo::Dump { server, proto } => {
            let mut c = connect(resolve(&server, Some(portmap::PORT))?, proto)?;
            say!("   program vers proto   port");
            for m in tern_std::portmap::dump(&mut c)? {
                say!("{:>10} {:>4} {:>5} {:>6}", m.prog, m.vers, prot_name(m.prot), m.port);
            }
        }
        Rpcinfo::Getport { server, prog, vers, proto } => {
            let mut c = connect(resolve(&server, Some(portmap::PORT))?, Proto::Udp)?;
            let port = tern_std::portmap::getport(&mut c, prog, vers, prot_num(proto))?;
            if port == 0 {
                return Err(fail(7, format!("program {prog} version {vers} is not registered")));
            }
            say!("{port}");
        }
        Rpcinfo::Set { server, prog, vers, proto, port } => {
            let mut c = connect(resolve(&server, Some(portmap::PORT))?, Proto::Udp)?;
            let m = portmap::Mapping { prog, vers, prot: prot_num(proto), port: u32::from(port) };
            if !tern_std::portmap::set(&mut c, m)? {
                return Err(fail(7, "the portmapper refused the registration"));
            }
        }
        Rpcinfo::Unset { server, prog, vers } => {
            let mut c = connect(resolve(&server, Some(portmap::PORT))?, Proto::Udp)?;
            if !tern_std::portmap::unset(&mut c, prog, vers)? {
                return Err(fail(7, format!("program {prog} version {vers} was not registered")));
            }
        }
        Rpcinfo::Ping { server, prog, vers, proto } => {
            let mut c = connect(resolve(&server, None)?, proto)?;
            c.null(prog, vers)?;
            say!("program {prog} version {vers} ready and waiting");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TERN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.msg.is_empty() {
                eprintln!("tern: {}", f.msg);
            }
            ExitCode::from(f.code)
        }
    }
}
