//! The UDP side: one thread answering datagrams.

use std::io;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tern_core::rpc::{Dispatch, Peer, ProgramTable, Transport};

use super::{Shards, lock, shard_of};

/// Largest UDP payload over IPv4.
const MAX_DATAGRAM: usize = 65_507;

pub(super) fn serve<T: ProgramTable>(sock: UdpSocket, shards: Shards<T>, stop: Arc<AtomicBool>) {
    let mut req = vec![0u8; MAX_DATAGRAM];
    let mut reply = vec![0u8; MAX_DATAGRAM];
    while !stop.load(Ordering::SeqCst) {
        let (n, from) = match sock.recv_from(&mut req) {
            Ok(v) => v,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                continue;
            }
            Err(e) => {
                // ICMP errors from earlier replies surface here on some systems; keep serving.
                tracing::debug!("udp receive: {e}");
                continue;
            }
        };
        let peer = Peer { addr: from, transport: Transport::Udp };
        let out = lock(&shards[shard_of(&shards, &from)]).handle_at(super::core_now(), peer, &req[..n], &mut reply);
        if let Dispatch::Reply(len) = out
            && let Err(e) = sock.send_to(&reply[..len], from)
        {
            tracing::debug!("udp reply to {from}: {e}");
        }
    }
}
