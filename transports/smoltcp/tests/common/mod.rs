//! One smoltcp interface over a loopback device, holding server and client sockets, on a
//! virtual clock that only moves when a test says so.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::vec::Vec;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Loopback, Medium};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint};
use tern_core::rpc::client::{CallFailure, Client, ClientConfig};
use tern_core::rpc::portmap::{IPPROTO_TCP, IPPROTO_UDP, Mapping, PORT, Portmapper, SetPolicy};
use tern_core::rpc::record::{RecordReader, fragment_header};
use tern_core::rpc::{Credential, Dispatcher};
use tern_core::time::Instant as CoreInstant;
use tern_smoltcp::{ClientEvent, RpcServer, add_tcp_socket, add_udp_socket};

/// The interface's address: servers and clients share it.
pub const HOST: IpAddress = IpAddress::v4(127, 0, 0, 1);
/// The server's endpoint (the portmapper's well-known port).
pub const SERVER: IpEndpoint = IpEndpoint::new(HOST, PORT);
/// NFS, registered in every test portmapper.
pub const NFS: Mapping = Mapping { prog: 100_003, vers: 3, prot: IPPROTO_TCP, port: 2049 };

pub type Pm = Portmapper<64>;
pub type Server = RpcServer<'static, Pm, 3>;

pub struct Net {
    pub iface: Interface,
    pub dev: Loopback,
    pub sockets: SocketSet<'static>,
    pub now: Instant,
}

/// A zeroed buffer that lives as long as the test process (tests give pumps `'static` memory).
pub fn buf(len: usize) -> &'static mut [u8] {
    Vec::leak(vec![0u8; len])
}

impl Net {
    pub fn new() -> Self {
        let mut dev = Loopback::new(Medium::Ip);
        let now = Instant::from_secs(1);
        let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut dev, now);
        iface.update_ip_addrs(|a| a.push(IpCidr::new(HOST, 8)).unwrap());
        Net { iface, dev, sockets: SocketSet::new(Vec::new()), now }
    }

    pub fn poll(&mut self) {
        self.iface.poll(self.now, &mut self.dev, &mut self.sockets);
    }

    pub fn advance(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
    }

    /// A UDP socket bound to `port` with room for 8 datagrams of up to 2 KiB each way.
    pub fn udp_socket(&mut self, port: u16) -> SocketHandle {
        let (rx, tx) = udp_buffers();
        add_udp_socket(&mut self.sockets, port, rx, tx).unwrap()
    }

    /// A closed TCP socket with `rx`/`tx` bytes of buffer.
    pub fn tcp_socket(&mut self, rx: usize, tx: usize) -> SocketHandle {
        add_tcp_socket(&mut self.sockets, tcp::SocketBuffer::new(vec![0; rx]), tcp::SocketBuffer::new(vec![0; tx]))
    }

    /// Connects a raw TCP socket to the server from `local_port`.
    pub fn connect(&mut self, handle: SocketHandle, local_port: u16) {
        self.sockets.get_mut::<tcp::Socket>(handle).connect(self.iface.context(), SERVER, local_port).unwrap();
    }

    pub fn tcp(&mut self, handle: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(handle)
    }

    pub fn udp(&mut self, handle: SocketHandle) -> &mut udp::Socket<'static> {
        self.sockets.get_mut::<udp::Socket>(handle)
    }

    /// Polls the interface and the server, then lets `ms` milliseconds pass, `times` times.
    pub fn run(&mut self, server: &mut Server, times: usize, ms: u64) {
        for _ in 0..times {
            self.poll();
            server.poll(self.now, &mut self.sockets);
            self.poll();
            self.advance(ms);
        }
    }
}

pub fn udp_buffers() -> (udp::PacketBuffer<'static>, udp::PacketBuffer<'static>) {
    let meta = || vec![udp::PacketMetadata::EMPTY; 8];
    (udp::PacketBuffer::new(meta(), vec![0; 8 * 2048]), udp::PacketBuffer::new(meta(), vec![0; 8 * 2048]))
}

/// A portmapper (anyone may SET) listing itself and [`NFS`] on TCP and UDP, plus `extra`
/// made-up programs.
pub fn portmapper(extra: u32) -> Pm {
    let mut pm = Pm::new(PORT, SetPolicy::Anyone);
    assert!(pm.set(NFS));
    assert!(pm.set(Mapping { prot: IPPROTO_UDP, ..NFS }));
    for i in 0..extra {
        assert!(pm.set(Mapping { prog: 200_000 + i, vers: 1, prot: IPPROTO_UDP, port: 1000 + i }));
    }
    pm
}

/// A portmapper server on UDP and on `tcp_slots` TCP sockets with `tcp_tx` bytes of send
/// buffer each, accepting TCP requests of up to 512 bytes.
pub fn server(net: &mut Net, pm: Pm, tcp_slots: usize, tcp_tx: usize) -> Server {
    let mut server = Server::new(Dispatcher::new(pm), PORT);
    let (rx, tx) = udp_buffers();
    server.add_udp(&mut net.sockets, rx, tx, buf(1500)).unwrap();
    for _ in 0..tcp_slots {
        let rx = tcp::SocketBuffer::new(vec![0; 2048]);
        let tx = tcp::SocketBuffer::new(vec![0; tcp_tx]);
        server.add_tcp(&mut net.sockets, rx, tx, buf(512), buf(2048)).unwrap();
    }
    server
}

/// An event, with the reply's bytes copied out of the pump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    Reply(u32, Result<Vec<u8>, CallFailure>),
    TimedOut(u32),
}

impl From<ClientEvent<'_>> for Got {
    fn from(e: ClientEvent<'_>) -> Self {
        match e {
            ClientEvent::Reply(r) => Got::Reply(r.xid, r.result.map(<[u8]>::to_vec)),
            ClientEvent::TimedOut(xid) => Got::TimedOut(xid),
        }
    }
}

/// The results of a successful reply.
pub fn ok(got: &Got) -> &[u8] {
    match got {
        Got::Reply(_, Ok(results)) => results,
        other => panic!("expected a successful reply, got {other:?}"),
    }
}

/// A call encoded by a bare client, as a record of fragments of at most `frag` bytes.
pub fn record(client: &mut Client<8>, args: &Mapping, proc_: u32, frag: usize) -> (u32, Vec<u8>) {
    let mut call = [0u8; 256];
    let (xid, n) = client.call(CoreInstant::ZERO, 100_000, 2, proc_, &Credential::None, args, &mut call).unwrap();
    let mut out = Vec::new();
    for (h, d) in tern_core::rpc::record::fragments(&call[..n], frag) {
        out.extend_from_slice(&h);
        out.extend_from_slice(d);
    }
    (xid, out)
}

/// A bare client for raw-socket tests.
pub fn bare_client(seed: u32) -> Client<8> {
    Client::new(ClientConfig::stream(), seed)
}

/// Reads every complete record a raw TCP socket holds.
pub fn read_records(net: &mut Net, handle: SocketHandle, reader: &mut RecordReader<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let socket = net.tcp(handle);
    while socket.can_recv() {
        let mut chunk = [0u8; 512];
        let n = socket.recv_slice(&mut chunk).unwrap();
        let mut input = &chunk[..n];
        while !input.is_empty() {
            let (used, done) = reader.push(input).unwrap();
            input = &input[used..];
            if done {
                out.push(reader.record().unwrap().to_vec());
                reader.next_record();
            }
        }
    }
    out
}

/// A record mark claiming `len` bytes in one last fragment.
pub fn mark(len: u32) -> [u8; 4] {
    fragment_header(len, true)
}
