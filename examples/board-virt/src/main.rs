//! Tern firmware for QEMU riscv32 `virt`: brings up virtio-net and smoltcp, then runs the mode
//! named by the first semihosting argument (`-append "MODE ARGS..."`):
//!
//! - `echo TCP_PORT UDP_PORT SECONDS`: TCP and UDP echo servers for SECONDS, then exit 0.
//! - `connect HOST_IP PORT`: TCP connect, send `hello from board\n`, read to EOF, print the
//!   reply; exit 0 if it was not empty.
//!
//! Exit codes: 0 success, 1 failure, 2 bad arguments, 3 CPU exception, 101 panic.

#![no_std]
#![no_main]

use core::net::Ipv4Addr;
use core::ops::ControlFlow;

use semihosting::{eprintln, println};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Duration;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

use tern_board_virt::board::{self, StaticCell, net::VirtioNet};
use tern_board_virt::pump::{self, Stack};

/// QEMU user networking: the guest's address and prefix.
const GUEST_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
const GUEST_PREFIX: u8 = 24;
/// QEMU user networking: the gateway, which also reaches the host's 127.0.0.1.
const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

/// TCP sockets listening in echo mode (connections are served by whichever is free).
const TCP_SOCKETS: usize = 3;
const TCP_BUF: usize = 4096;
const UDP_PACKETS: usize = 8;
const UDP_BUF: usize = 4096;
const REPLY_BUF: usize = 4096;

const EXIT_FAILURE: i32 = 1;
const EXIT_USAGE: i32 = 2;

/// Socket slots, in static memory.
static SOCKETS: StaticCell<[SocketStorage<'static>; TCP_SOCKETS + 1]> =
    StaticCell::new([SocketStorage::EMPTY; TCP_SOCKETS + 1]);

/// UDP packet metadata (not all-zero, so kept apart from the zeroed buffers: `.data`, not
/// `.bss`).
static UDP_META: StaticCell<UdpMeta> = StaticCell::new(UdpMeta {
    rx: [udp::PacketMetadata::EMPTY; UDP_PACKETS],
    tx: [udp::PacketMetadata::EMPTY; UDP_PACKETS],
});

struct UdpMeta {
    rx: [udp::PacketMetadata; UDP_PACKETS],
    tx: [udp::PacketMetadata; UDP_PACKETS],
}

/// Socket buffers, in static memory (`.bss`) rather than on the stack.
struct Storage {
    tcp_rx: [[u8; TCP_BUF]; TCP_SOCKETS],
    tcp_tx: [[u8; TCP_BUF]; TCP_SOCKETS],
    udp_rx: [u8; UDP_BUF],
    udp_tx: [u8; UDP_BUF],
    reply: [u8; REPLY_BUF],
}

static STORAGE: StaticCell<Storage> = StaticCell::new(Storage {
    tcp_rx: [[0; TCP_BUF]; TCP_SOCKETS],
    tcp_tx: [[0; TCP_BUF]; TCP_SOCKETS],
    udp_rx: [0; UDP_BUF],
    udp_tx: [0; UDP_BUF],
    reply: [0; REPLY_BUF],
});

#[riscv_rt::entry]
fn main() -> ! {
    let args = match semihosting::experimental::env::args::<256>() {
        Ok(args) => args,
        Err(e) => fail(
            EXIT_USAGE,
            format_args!("cannot read semihosting args: {e:?}"),
        ),
    };
    // argv[0] is the kernel path QEMU was given; the `-append` words follow.
    let mut argv: [&str; 8] = [""; 8];
    let mut argc = 0;
    for arg in (&args).skip(1).take(argv.len()) {
        argv[argc] = arg.unwrap_or("");
        argc += 1;
    }
    let argv = &argv[..argc];

    let storage = STORAGE.take().expect("storage taken once");
    let sockets = SOCKETS.take().expect("sockets taken once");
    let mut stack = match bring_up(&mut sockets[..]) {
        Ok(stack) => stack,
        Err(e) => fail(EXIT_FAILURE, format_args!("bring-up failed: {e}")),
    };

    let code = match argv {
        ["echo", tcp, udp, secs] => match (tcp.parse(), udp.parse(), secs.parse()) {
            (Ok(tcp), Ok(udp), Ok(secs)) => echo(&mut stack, storage, tcp, udp, secs),
            _ => usage(),
        },
        ["connect", ip, port] => match (ip.parse(), port.parse()) {
            (Ok(ip), Ok(port)) => connect(&mut stack, storage, ip, port),
            _ => usage(),
        },
        _ => usage(),
    };
    semihosting::process::exit(code)
}

fn usage() -> i32 {
    eprintln!("usage: echo TCP_PORT UDP_PORT SECONDS | connect HOST_IP PORT");
    EXIT_USAGE
}

fn fail(code: i32, msg: core::fmt::Arguments<'_>) -> ! {
    eprintln!("{msg}");
    semihosting::process::exit(code)
}

/// Finds the NIC and builds the interface with the static QEMU user-network address.
fn bring_up(
    sockets: &'static mut [SocketStorage<'static>],
) -> Result<Stack<'static, VirtioNet>, board::BoardError> {
    let mut device = VirtioNet::new(board::take_net()?)?;
    let mac = device.mac();
    let mut config = Config::new(HardwareAddress::Ethernet(mac));
    config.random_seed = board::time::ticks();
    let mut iface = Interface::new(config, &mut device, board::time::now());
    iface.update_ip_addrs(|addrs| {
        addrs
            .push(IpCidr::new(IpAddress::Ipv4(GUEST_IP), GUEST_PREFIX))
            .expect("room for one address");
    });
    iface
        .routes_mut()
        .add_default_ipv4_route(GATEWAY)
        .expect("room for the default route");
    println!(
        "board: virtio-net mac {mac}, ip {GUEST_IP}/{GUEST_PREFIX}, gw {GATEWAY}, dma {}/{} pages",
        board::dma_pages_used(),
        board::dma_pages_total()
    );
    Ok(Stack {
        iface,
        device,
        sockets: SocketSet::new(sockets),
        clock: board::time::now,
    })
}

/// TCP and UDP echo servers for `secs` seconds.
fn echo(
    stack: &mut Stack<'static, VirtioNet>,
    storage: &'static mut Storage,
    tcp_port: u16,
    udp_port: u16,
    secs: u64,
) -> i32 {
    let mut tcp_handles = [SocketHandle::default(); TCP_SOCKETS];
    for ((handle, rx), tx) in tcp_handles
        .iter_mut()
        .zip(storage.tcp_rx.iter_mut())
        .zip(storage.tcp_tx.iter_mut())
    {
        let socket = tcp::Socket::new(
            tcp::SocketBuffer::new(&mut rx[..]),
            tcp::SocketBuffer::new(&mut tx[..]),
        );
        *handle = stack.sockets.add(socket);
    }
    let meta = UDP_META.take().expect("UDP metadata taken once");
    let mut udp_socket = udp::Socket::new(
        udp::PacketBuffer::new(&mut meta.rx[..], &mut storage.udp_rx[..]),
        udp::PacketBuffer::new(&mut meta.tx[..], &mut storage.udp_tx[..]),
    );
    if let Err(e) = udp_socket.bind(udp_port) {
        fail(EXIT_FAILURE, format_args!("udp bind {udp_port}: {e}"));
    }
    let udp_handle = stack.sockets.add(udp_socket);

    println!("echo: tcp {tcp_port} udp {udp_port} for {secs} s");
    let deadline = board::time::now() + Duration::from_secs(secs);
    let mut active = [false; TCP_SOCKETS];
    let mut tcp_conns = 0u32;
    let mut tcp_bytes = 0usize;
    let mut udp_datagrams = 0u32;
    let mut chunk = [0u8; 1024];

    let Err(pump::DeadlineReached) = stack.pump(deadline, |_now, _iface, sockets| {
        for (handle, active) in tcp_handles.iter().zip(active.iter_mut()) {
            let s = sockets.get_mut::<tcp::Socket>(*handle);
            if !s.is_open() {
                // Closed (or in TIME-WAIT) after a connection: listen for the next one.
                if let Err(e) = s.listen(tcp_port) {
                    eprintln!("echo: listen {tcp_port}: {e}");
                }
                *active = false;
            }
            if s.is_active() && !*active {
                *active = true;
                tcp_conns += 1;
            }
            while s.can_recv() {
                let room = s.send_capacity() - s.send_queue();
                if room == 0 {
                    break;
                }
                let want = room.min(chunk.len());
                let Ok(n) = s.recv_slice(&mut chunk[..want]) else {
                    break;
                };
                if n == 0 {
                    break;
                }
                // Cannot fall short: `n` is at most the free room in the TX buffer.
                let _ = s.send_slice(&chunk[..n]);
                tcp_bytes += n;
            }
            // The peer finished sending and everything it sent has been echoed: close our side.
            if s.state() == tcp::State::CloseWait && s.recv_queue() == 0 {
                s.close();
            }
        }
        let u = sockets.get_mut::<udp::Socket>(udp_handle);
        while u.can_send() {
            let Ok((n, meta)) = u.recv_slice(&mut chunk) else {
                break;
            };
            if let Err(e) = u.send_slice(&chunk[..n], meta.endpoint) {
                eprintln!("echo: udp send: {e}");
            }
            udp_datagrams += 1;
        }
        ControlFlow::<core::convert::Infallible>::Continue(())
    });
    println!(
        "echo: done: {tcp_conns} tcp connections, {tcp_bytes} tcp bytes, {udp_datagrams} udp datagrams"
    );
    0
}

/// Connects to `ip:port`, sends a greeting, reads to EOF and prints the reply.
fn connect(
    stack: &mut Stack<'static, VirtioNet>,
    storage: &'static mut Storage,
    ip: Ipv4Addr,
    port: u16,
) -> i32 {
    const GREETING: &[u8] = b"hello from board\n";
    let [rx, ..] = &mut storage.tcp_rx;
    let [tx, ..] = &mut storage.tcp_tx;
    let handle = stack.sockets.add(tcp::Socket::new(
        tcp::SocketBuffer::new(&mut rx[..]),
        tcp::SocketBuffer::new(&mut tx[..]),
    ));
    // An ephemeral local port that differs between runs.
    let local_port = 49152 + u16::try_from(board::time::ticks() % 16384).unwrap_or(0);
    let socket = stack.sockets.get_mut::<tcp::Socket>(handle);
    if let Err(e) = socket.connect(
        stack.iface.context(),
        (IpAddress::Ipv4(ip), port),
        local_port,
    ) {
        fail(EXIT_FAILURE, format_args!("connect {ip}:{port}: {e}"));
    }
    println!("connect: {ip}:{port} from port {local_port}");

    let reply = &mut storage.reply;
    let mut got = 0usize;
    let mut connected = false;
    let mut sent = false;
    let deadline = board::time::now() + Duration::from_secs(10);
    let outcome = stack.pump(deadline, |_now, _iface, sockets| {
        let s = sockets.get_mut::<tcp::Socket>(handle);
        if !connected {
            if s.may_send() {
                connected = true;
            } else if s.state() == tcp::State::Closed {
                return ControlFlow::Break(Err("connection refused or reset"));
            } else {
                return ControlFlow::Continue(());
            }
        }
        if !sent && s.can_send() {
            match s.send_slice(GREETING) {
                Ok(n) if n == GREETING.len() => sent = true,
                _ => return ControlFlow::Break(Err("greeting did not fit the TX buffer")),
            }
        }
        while s.can_recv() {
            let mut discard = [0u8; 64];
            let buf = if got < reply.len() {
                &mut reply[got..]
            } else {
                &mut discard[..]
            };
            match s.recv_slice(buf) {
                Ok(n) if got < reply.len() => got += n,
                _ => break,
            }
        }
        if !s.may_recv() {
            // EOF from the peer (or reset after the data): close our side.
            s.close();
            return ControlFlow::Break(Ok(()));
        }
        ControlFlow::Continue(())
    });
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => fail(EXIT_FAILURE, format_args!("connect: {e}")),
        Err(pump::DeadlineReached) => fail(EXIT_FAILURE, format_args!("connect: timed out")),
    }
    // Let our FIN go out and be acknowledged, so the peer sees a clean close.
    let linger = board::time::now() + Duration::from_secs(1);
    let _ = stack.pump(linger, |_now, _iface, sockets| {
        if sockets.get_mut::<tcp::Socket>(handle).is_open() {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    });

    let text = core::str::from_utf8(&reply[..got]).unwrap_or("<not UTF-8>");
    println!("connect: received {got} bytes");
    println!("reply: {text}");
    if got > 0 { 0 } else { EXIT_FAILURE }
}
