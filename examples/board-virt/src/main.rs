//! Tern firmware for QEMU riscv32 `virt`: brings up virtio-net and smoltcp, then runs the mode
//! named by the first semihosting argument (`-append "MODE ARGS..."`):
//!
//! - `portmap PORT SECONDS`: serves the portmapper (program 100000 version 2) over UDP and TCP
//!   on PORT for SECONDS, with the board's own "board status" program registered at PORT+1;
//!   prints the server's counters and exits 0.
//! - `pmap-query HOST_IP PORT PROG VERS EXPECTED_PORT`: asks the portmapper at HOST_IP:PORT for
//!   PROG VERS on TCP (GETPORT over UDP, then DUMP over UDP, then GETPORT over TCP); exits 0
//!   when every answer names EXPECTED_PORT.
//! - `echo TCP_PORT UDP_PORT SECONDS`: TCP and UDP echo servers for SECONDS, then exit 0.
//! - `nfs NFS_PORT MOUNT_PORT SECONDS`: serves a MemFs export `/mem` (with `hello.txt` and `dir`)
//!   over NFSv3 and MOUNT v3 on UDP and TCP at NFS_PORT (NFS and MOUNT) and MOUNT_PORT (MOUNT)
//!   for SECONDS; prints the servers' counters and exits 0.
//!
//! Exit codes: 0 success, 1 failure, 2 bad arguments, 3 CPU exception, 101 panic.

#![no_std]
#![no_main]

mod modes;

use core::net::Ipv4Addr;

use semihosting::{eprintln, println};
use smoltcp::iface::{Config, Interface, SocketSet, SocketStorage};
use smoltcp::phy::{Device, TxToken};
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, HardwareAddress,
    IpAddress, IpCidr,
};

use modes::{Buffers, EXIT_FAILURE, EXIT_USAGE, Net, SOCKETS, UdpMeta};
use tern_board_virt::board::{self, StaticCell, net::VirtioNet};
use tern_board_virt::pump::Stack;

/// QEMU user networking: the guest's address and prefix.
const GUEST_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
const GUEST_PREFIX: u8 = 24;
/// QEMU user networking: the gateway, which also reaches the host's 127.0.0.1.
const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

/// Bytes for the semihosting command line (QEMU's kernel path, then the `-append` words).
const ARGS_BUF: usize = 1024;

const USAGE: &str = "usage: portmap PORT SECONDS | pmap-query HOST_IP PORT PROG VERS EXPECTED_PORT \
                     | echo TCP_PORT UDP_PORT SECONDS | nfs NFS_PORT MOUNT_PORT SECONDS \
                     | nfs-mount HOST_IP MOUNT_PORT NFS_PORT EXPORT FILE BYTES";

/// Socket slots, in static memory.
static SOCKET_SLOTS: StaticCell<[SocketStorage<'static>; SOCKETS]> = StaticCell::new([SocketStorage::EMPTY; SOCKETS]);

/// Buffers every mode draws from (one mode runs per boot).
static BUFFERS: StaticCell<Buffers> = StaticCell::new(Buffers::ZERO);

/// UDP packet metadata (not all-zero, so kept apart from the zeroed buffers: `.data`, not
/// `.bss`).
static UDP_META: StaticCell<UdpMeta> = StaticCell::new(UdpMeta::EMPTY);

#[riscv_rt::entry]
fn main() -> ! {
    let args = match semihosting::experimental::env::args::<ARGS_BUF>() {
        Ok(args) => args,
        Err(e) => fail(EXIT_USAGE, format_args!("cannot read semihosting args: {e:?}")),
    };
    // argv[0] is the kernel path QEMU was given; the `-append` words follow.
    let mut argv: [&str; 8] = [""; 8];
    let mut argc = 0;
    for arg in (&args).skip(1).take(argv.len()) {
        argv[argc] = arg.unwrap_or("");
        argc += 1;
    }
    let argv = &argv[..argc];

    let bufs = BUFFERS.take().expect("buffers taken once");
    let meta = UDP_META.take().expect("UDP metadata taken once");
    let slots = SOCKET_SLOTS.take().expect("socket slots taken once");
    let mut stack = match bring_up(&mut slots[..]) {
        Ok(stack) => stack,
        Err(e) => fail(EXIT_FAILURE, format_args!("bring-up failed: {e}")),
    };

    let code = match argv {
        ["portmap", port, secs] => match (port.parse::<u16>(), secs.parse()) {
            // The board's own program is registered at PORT+1.
            (Ok(port @ 1..=65534), Ok(secs)) => modes::portmap::run(&mut stack, bufs, meta, port, secs),
            _ => usage(),
        },
        ["pmap-query", ip, port, prog, vers, expected] => {
            match (ip.parse(), port.parse(), prog.parse(), vers.parse(), expected.parse()) {
                (Ok(ip), Ok(port), Ok(prog), Ok(vers), Ok(expected)) => {
                    let query = modes::pmap_query::Query { server: (ip, port), prog, vers, expected };
                    modes::pmap_query::run(&mut stack, bufs, meta, query)
                }
                _ => usage(),
            }
        }
        ["echo", tcp, udp, secs] => match (tcp.parse(), udp.parse(), secs.parse()) {
            (Ok(tcp), Ok(udp), Ok(secs)) => modes::echo::run(&mut stack, bufs, meta, tcp, udp, secs),
            _ => usage(),
        },
        ["nfs", nfs, mount, secs] => match (nfs.parse(), mount.parse(), secs.parse()) {
            (Ok(nfs @ 1..), Ok(mount @ 1..), Ok(secs)) if nfs != mount => {
                modes::nfs::run(&mut stack, bufs, meta, nfs, mount, secs)
            }
            _ => usage(),
        },
        ["nfs-mount", ip, mount_port, nfs_port, export, file, bytes] => {
            match (ip.parse(), mount_port.parse(), nfs_port.parse(), bytes.parse()) {
                (Ok(host), Ok(mount_port), Ok(nfs_port), Ok(bytes)) => {
                    let job = modes::nfs_mount::Job { host, mount_port, nfs_port, export, file, bytes };
                    modes::nfs_mount::run(&mut stack, &job)
                }
                _ => usage(),
            }
        }
        _ => usage(),
    };
    semihosting::process::exit(code)
}

fn usage() -> i32 {
    eprintln!("{USAGE}");
    EXIT_USAGE
}

/// Prints `msg` on stderr and exits with `code`.
pub(crate) fn fail(code: i32, msg: core::fmt::Arguments<'_>) -> ! {
    eprintln!("{msg}");
    semihosting::process::exit(code)
}

/// Finds the NIC and builds the interface with the static QEMU user-network address.
fn bring_up(sockets: &'static mut [SocketStorage<'static>]) -> Result<Net, board::BoardError> {
    let mut device = VirtioNet::new(board::take_net()?)?;
    let mac = device.mac();
    let mut config = Config::new(HardwareAddress::Ethernet(mac));
    config.random_seed = board::time::ticks();
    let mut iface = Interface::new(config, &mut device, board::time::now());
    iface.update_ip_addrs(|addrs| {
        addrs.push(IpCidr::new(IpAddress::Ipv4(GUEST_IP), GUEST_PREFIX)).expect("room for one address");
    });
    iface.routes_mut().add_default_ipv4_route(GATEWAY).expect("room for the default route");
    announce(&mut device, mac);
    println!(
        "board: virtio-net mac {mac}, ip {GUEST_IP}/{GUEST_PREFIX}, gw {GATEWAY}, dma {}/{} pages",
        board::dma_pages_used(),
        board::dma_pages_total()
    );
    Ok(Stack { iface, device, sockets: SocketSet::new(sockets), clock: board::time::now })
}

/// Sends a gratuitous ARP request for the board's own address (an ARP announcement), so that
/// neighbours learn its MAC without asking. QEMU's user network asks only once per packet it
/// has to deliver, and a question sent while the NIC is still being set up is lost: without
/// this, a connection forwarded to the board right after boot waits for the host's TCP to
/// retransmit its SYN (seconds).
fn announce(device: &mut VirtioNet, mac: EthernetAddress) {
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: mac,
        source_protocol_addr: GUEST_IP,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: GUEST_IP,
    };
    let eth = EthernetRepr { src_addr: mac, dst_addr: EthernetAddress::BROADCAST, ethertype: EthernetProtocol::Arp };
    // A TX buffer is free right after bring-up; if not, neighbours fall back to asking.
    if let Some(tx) = device.transmit(board::time::now()) {
        tx.consume(eth.buffer_len() + arp.buffer_len(), |buf| {
            let mut frame = EthernetFrame::new_unchecked(buf);
            eth.emit(&mut frame);
            arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
        });
    }
}
