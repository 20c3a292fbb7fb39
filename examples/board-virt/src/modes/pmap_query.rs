//! `pmap-query HOST_IP PORT PROG VERS EXPECTED_PORT`: the board as an RPC client of a
//! portmapper (the host's `tern portmap`, at 10.0.2.2 from the guest). Three calls, one after
//! another: GETPORT(PROG, VERS, tcp) over UDP with [`UdpRpcClient`], which must answer
//! EXPECTED_PORT; DUMP over UDP, which must list that mapping; GETPORT again over TCP with
//! [`TcpRpcClient`]. Every step runs even when an earlier one failed; success only if all pass.

use core::fmt;
use core::net::Ipv4Addr;

use semihosting::println;
use smoltcp::iface::SocketSet;
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpEndpoint;
use tern_core::rpc::client::{CallFailure, Client, ClientConfig, Reply};
use tern_core::rpc::portmap::{IPPROTO_TCP, IPPROTO_UDP, Mapping, client as pmap};
use tern_core::xdr;
use tern_smoltcp::{ClientEvent, StartError, TcpRpcClient, UdpRpcClient};

use super::{Buffers, EXIT_FAILURE, EXIT_OK, Net, UdpMeta, close_tcp, ephemeral_port, udp_buffers};
use tern_board_virt::board;

/// Longest wait for each call's answer (the UDP client retransmits within it).
const CALL_DEADLINE: Duration = Duration::from_secs(5);
/// The TCP client's time-out for a call (no retransmission on a stream).
const TCP_TIMEOUT: tern_core::time::Duration = tern_core::time::Duration::from_secs(5);

/// What to ask and what to expect.
pub(crate) struct Query {
    /// The portmapper's address and port.
    pub(crate) server: (Ipv4Addr, u16),
    /// Program asked about.
    pub(crate) prog: u32,
    /// Its version.
    pub(crate) vers: u32,
    /// The port GETPORT must answer (on TCP).
    pub(crate) expected: u32,
}

/// Why a call gave no usable answer.
enum CallError {
    Start(StartError),
    Connect(tcp::ConnectError),
    /// The client gave up (no reply within its time-out and retransmissions).
    TimedOut,
    /// The TCP connection was refused or reset.
    Closed,
    /// No answer before [`CALL_DEADLINE`].
    Deadline,
    Refused(CallFailure),
    Garbage(xdr::Error),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Start(e) => write!(f, "cannot start the call: {e}"),
            CallError::Connect(e) => write!(f, "cannot connect: {e}"),
            CallError::TimedOut => f.write_str("no reply (client time-out)"),
            CallError::Closed => f.write_str("connection refused or reset"),
            CallError::Deadline => f.write_str("no reply in time"),
            CallError::Refused(e) => write!(f, "call refused: {e}"),
            CallError::Garbage(e) => write!(f, "cannot decode the results: {e}"),
        }
    }
}

/// Runs the query; exit code 0 when every answer matches.
pub(crate) fn run(stack: &mut Net, bufs: &'static mut Buffers, meta: &'static mut UdpMeta, q: Query) -> i32 {
    let (ip, port) = q.server;
    let server = IpEndpoint::from((ip, port));
    let wanted = Mapping { prog: q.prog, vers: q.vers, prot: IPPROTO_TCP, port: q.expected };
    let Buffers { tcp_rx, tcp_tx, udp_rx, udp_tx, records, replies } = bufs;
    let [udp_call, tcp_call, ..] = replies;
    let [tcp_record, ..] = records;
    let [tcp_rx, ..] = tcp_rx;
    let [tcp_tx, ..] = tcp_tx;
    let seed = board::time::ticks() as u32;
    println!("pmap-query: portmapper {server}, program {} v{} on tcp, expect port {}", q.prog, q.vers, q.expected);
    let mut failures = 0u32;
    let mut check = |step: &str, outcome: Result<bool, CallError>| match outcome {
        Ok(true) => println!("pmap-query: {step}: ok"),
        Ok(false) => {
            println!("pmap-query: {step}: FAILED: unexpected answer");
            failures += 1;
        }
        Err(e) => {
            println!("pmap-query: {step}: FAILED: {e}");
            failures += 1;
        }
    };

    // UDP: GETPORT, then DUMP.
    let (rx, tx) = udp_buffers(meta, udp_rx, udp_tx);
    let udp_port = ephemeral_port(0);
    let handle = match tern_smoltcp::add_udp_socket(&mut stack.sockets, udp_port, rx, tx) {
        Ok(handle) => handle,
        Err(e) => crate::fail(EXIT_FAILURE, format_args!("pmap-query: udp bind {udp_port}: {e}")),
    };
    let mut udp = UdpRpcClient::<'static, 1>::new(
        Client::new(ClientConfig::datagram(), seed),
        handle,
        server,
        [&mut udp_call[..]],
    );
    let now = (stack.clock)();
    let outcome = udp
        .start(now, &mut stack.sockets, |c, t, b| pmap::getport(c, t, q.prog, q.vers, IPPROTO_TCP, b))
        .map_err(CallError::Start)
        .and_then(|_| wait(stack, |now, s| udp.poll(now, s).map(|e| results(e, pmap::decode_port))));
    check("udp getport", outcome.map(|got| report_port("udp", got, q.expected)));

    let now = (stack.clock)();
    let outcome = udp
        .start(now, &mut stack.sockets, pmap::dump)
        .map_err(CallError::Start)
        .and_then(|_| wait(stack, |now, s| udp.poll(now, s).map(|e| results(e, |r| print_dump(r, wanted)))));
    check("udp dump", outcome);

    // TCP: GETPORT on a fresh connection.
    let (rx, tx) = (tcp::SocketBuffer::new(&mut tcp_rx[..]), tcp::SocketBuffer::new(&mut tcp_tx[..]));
    let handle = tern_smoltcp::add_tcp_socket(&mut stack.sockets, rx, tx);
    let cfg = ClientConfig { timeout: TCP_TIMEOUT, ..ClientConfig::stream() };
    let mut tcp = TcpRpcClient::<'static, 1>::new(Client::new(cfg, seed ^ 0x8000_0000), handle, [tcp_call], tcp_record);
    let now = (stack.clock)();
    let outcome = tcp
        .connect(stack.iface.context(), &mut stack.sockets, server, ephemeral_port(1))
        .map_err(CallError::Connect)
        .and_then(|()| {
            tcp.start(now, &mut stack.sockets, |c, t, b| pmap::getport(c, t, q.prog, q.vers, IPPROTO_TCP, b))
                .map_err(CallError::Start)
        })
        .and_then(|_| {
            wait(stack, |now, s| match tcp.poll(now, s) {
                Some(e) => Some(results(e, pmap::decode_port)),
                None if s.get::<tcp::Socket>(handle).state() == tcp::State::Closed => Some(Err(CallError::Closed)),
                None => None,
            })
        });
    check("tcp getport", outcome.map(|got| report_port("tcp", got, q.expected)));
    close_tcp(stack, handle);

    if failures == 0 {
        println!("pmap-query: ok");
        EXIT_OK
    } else {
        println!("pmap-query: {failures} step(s) failed");
        EXIT_FAILURE
    }
}

/// Pumps the network until `next` yields the call's outcome, for at most [`CALL_DEADLINE`].
fn wait<T>(
    stack: &mut Net,
    mut next: impl FnMut(Instant, &mut SocketSet<'static>) -> Option<Result<T, CallError>>,
) -> Result<T, CallError> {
    let deadline = (stack.clock)() + CALL_DEADLINE;
    let outcome = stack.pump(deadline, |now, _iface, sockets| match next(now, sockets) {
        Some(r) => core::ops::ControlFlow::Break(r),
        None => core::ops::ControlFlow::Continue(()),
    });
    outcome.unwrap_or(Err(CallError::Deadline))
}

/// The call's results decoded by `decode` (each client has one call outstanding, so any event
/// is about it).
fn results<T>(event: ClientEvent<'_>, decode: impl FnOnce(&[u8]) -> xdr::Result<T>) -> Result<T, CallError> {
    match event {
        ClientEvent::Reply(Reply { result: Ok(bytes), .. }) => decode(bytes).map_err(CallError::Garbage),
        ClientEvent::Reply(Reply { result: Err(failure), .. }) => Err(CallError::Refused(failure)),
        ClientEvent::TimedOut(_) => Err(CallError::TimedOut),
    }
}

fn report_port(transport: &str, got: u32, expected: u32) -> bool {
    println!("pmap-query: {transport} getport -> {got}");
    got == expected
}

/// Prints every mapping of a DUMP result; whether `wanted` is among them.
fn print_dump(results: &[u8], wanted: Mapping) -> xdr::Result<bool> {
    let list = pmap::decode_dump(results)?;
    let mut count = 0u32;
    let mut found = false;
    for m in list.iter() {
        let prot = match m.prot {
            IPPROTO_TCP => "tcp",
            IPPROTO_UDP => "udp",
            _ => "?",
        };
        println!("pmap-query: mapping {} {} {prot} {}", m.prog, m.vers, m.port);
        count += 1;
        found |= m == wanted;
    }
    println!("pmap-query: dump: {count} mappings");
    Ok(found)
}
