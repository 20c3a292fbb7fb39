//! Outbound migration messages: one sender thread per peer node address, carrying batches of
//! messages in `FRAMES` calls over one TCP connection.
//!
//! A failed call (connect refused, connection killed, no reply in time) drops its batch and
//! the connection; the next batch opens a new one. Nothing is retried here: the migration
//! protocol resends what matters. A sender with nothing to send for a while ends.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

use super::{lock, proto};
use crate::client::RpcClient;

/// Most bytes of messages in one call.
const BATCH_BYTES: usize = 1 << 20;
/// A sender thread with nothing to send for this long ends.
const IDLE: Duration = Duration::from_secs(30);

/// The sender threads, by peer address.
#[derive(Default)]
pub(crate) struct Peers {
    senders: Mutex<HashMap<String, Sender<Vec<u8>>>>,
}

impl Peers {
    /// Queues `frames` for the node at `addr`, telling it to answer at `reply_to`.
    pub(crate) fn send(&self, addr: &str, reply_to: &str, frames: Vec<Vec<u8>>) {
        if frames.is_empty() {
            return;
        }
        let mut senders = lock(&self.senders);
        let mut frames = frames.into_iter();
        if let Some(tx) = senders.get(addr) {
            for f in frames.by_ref() {
                if let Err(e) = tx.send(f) {
                    // The thread ended: start another with what is left.
                    let rest: Vec<Vec<u8>> = std::iter::once(e.0).chain(frames).collect();
                    senders.remove(addr);
                    return spawn(&mut senders, addr, reply_to, rest);
                }
            }
            return;
        }
        spawn(&mut senders, addr, reply_to, frames.collect());
    }
}

fn spawn(senders: &mut HashMap<String, Sender<Vec<u8>>>, addr: &str, reply_to: &str, frames: Vec<Vec<u8>>) {
    let (tx, rx) = channel();
    for f in frames {
        let _ = tx.send(f);
    }
    let (a, r) = (addr.to_string(), reply_to.to_string());
    if std::thread::Builder::new().name(format!("tern-peer {addr}")).spawn(move || pump(&a, &r, &rx)).is_ok() {
        senders.insert(addr.to_string(), tx);
    }
}

fn resolve(addr: &str) -> Option<SocketAddr> {
    addr.to_socket_addrs().ok()?.next()
}

fn pump(addr: &str, reply_to: &str, rx: &Receiver<Vec<u8>>) {
    let mut client: Option<RpcClient> = None;
    loop {
        let first = match rx.recv_timeout(IDLE) {
            Ok(f) => f,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
        };
        let mut batch = vec![first];
        let mut bytes = batch[0].len();
        while bytes < BATCH_BYTES && batch.len() < proto::MAX_FRAMES as usize {
            match rx.try_recv() {
                Ok(f) => {
                    bytes += f.len();
                    batch.push(f);
                }
                Err(_) => break,
            }
        }
        let Ok(args) = proto::frames_to_xdr(reply_to, &batch) else { continue };
        if client.is_none() {
            client = resolve(addr).and_then(|a| RpcClient::tcp(a, Duration::from_secs(2)).ok());
        }
        let Some(c) = client.as_mut() else {
            // Unreachable now: the protocol resends; do not spin.
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        if let Err(e) = c.call(proto::PROGRAM, proto::VERSION, proto::FRAMES, &proto::Raw(&args)) {
            tracing::debug!("migration messages to {addr}: {e}");
            client = None;
        }
    }
}
