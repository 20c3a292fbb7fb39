//! Channel calls of processes away from their home node: each travels to the home node in a
//! CHAN call ([`proto::CHAN`]) on a thread of its own, while the calling process waits (it is
//! not run while its call is out, see [`super::LiveProc::forward`]).
//!
//! A call is retried (new connection, growing pause up to [`MAX_PAUSE`]) until the home node
//! answers, the process is no longer here, or the node shuts down: the home node answers a
//! repeated (pid, sequence number) with its first answer, so a retry never acts twice.
//!
//! The answer completes the call only if the process is here, still waiting for it and not
//! stopped by a migration. Otherwise it is dropped and the call stays outstanding in the
//! process's registers: whichever node runs the process next issues it again with the same
//! sequence number and gets the same answer. So a migration may stop a process at any moment
//! of a forwarded call.

use std::collections::HashMap;
use std::net::ToSocketAddrs;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::proto::{self, ChanArgs, ChanOp, ChanResult};
use super::{Entry, NodeFs, Shared, lock};
use crate::client::RpcClient;
use crate::run::chan;

/// Longest pause between two tries of a call to an unreachable home node.
pub(super) const MAX_PAUSE: Duration = Duration::from_millis(500);
/// How often a process away from home whose receive parked asks again (the scheduler sets
/// its `poll_at` when a slice ends with a parked thread).
pub(super) const POLL: Duration = Duration::from_millis(2);

/// One call to forward.
#[derive(Debug)]
pub(crate) struct Job {
    /// The home node's address.
    pub(crate) home: String,
    pub(crate) pid: u64,
    pub(crate) seq: u64,
    pub(crate) op: ChanOp,
}

/// Idle connections to home nodes, by address.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<String, Vec<RpcClient>>>,
}

/// Starts forwarding `job` on a thread of its own.
pub(crate) fn start<F: NodeFs>(shared: &Arc<Shared<F>>, job: Job) {
    let s = shared.clone();
    let spawned = std::thread::Builder::new().name("tern-chan".into()).spawn(move || run(&s, job));
    if let Err(e) = spawned {
        // The process keeps waiting with its call outstanding; the scheduler tries again.
        tracing::warn!("cannot start a channel forwarding thread: {e}");
    }
}

fn run<F: NodeFs>(shared: &Shared<F>, job: Job) {
    let Ok(args) = (ChanArgs { pid: job.pid, seq: job.seq, op: job.op }).to_xdr() else {
        return finish(shared, job.pid, job.seq, ChanResult::Error(tern_core::proc::abi::errno::EIO));
    };
    let mut pause = Duration::from_millis(5);
    loop {
        match call(&shared.forward_pool, &job.home, &args) {
            Ok(r) => return finish(shared, job.pid, job.seq, r),
            Err(e) => tracing::debug!("channel call of process {:#x} to {}: {e}", job.pid, job.home),
        }
        if shared.shutdown.load(Ordering::SeqCst) || !waiting(shared, job.pid, job.seq) {
            return;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// One try: a pooled or new connection, one CHAN call.
fn call(pool: &Pool, home: &str, args: &[u8]) -> Result<ChanResult, String> {
    let pooled = lock(&pool.idle).get_mut(home).and_then(Vec::pop);
    let mut c = match pooled {
        Some(c) => c,
        None => {
            let addr = home.to_socket_addrs().map_err(|e| e.to_string())?.next().ok_or("no address")?;
            RpcClient::tcp(addr, Duration::from_secs(2)).map_err(|e| e.to_string())?
        }
    };
    let reply = c.call(proto::PROGRAM, proto::VERSION, proto::CHAN, &proto::Raw(args)).map_err(|e| e.to_string())?;
    let r = proto::chan_result_from_xdr(&reply).map_err(|e| e.to_string())?;
    let mut idle = lock(&pool.idle);
    let v = idle.entry(home.to_string()).or_default();
    if v.len() < 8 {
        v.push(c);
    }
    Ok(r)
}

/// Whether process `pid` is here and still waits for the answer to call `seq`.
fn waiting<F>(shared: &Shared<F>, pid: u64, seq: u64) -> bool {
    let st = shared.state();
    matches!(st.procs.get(&pid), Some(Entry::Live(lp)) if lp.forward == Some(seq) && lp.outcome.is_none())
}

/// Completes the call with `r` if the process still waits for it and runs here.
fn finish<F>(shared: &Shared<F>, pid: u64, seq: u64, r: ChanResult) {
    let mut st = shared.state();
    let super::State { store, procs, .. } = &mut *st;
    let Some(Entry::Live(lp)) = procs.get_mut(&pid) else { return };
    if lp.forward != Some(seq) {
        return;
    }
    lp.forward = None;
    if lp.stopped || lp.handed_off || lp.outcome.is_some() {
        return; // issued again, with the same number, wherever it runs next
    }
    let Some((_, call)) = lp.process.pending(store) else { return };
    let reply = chan::reply_of(&mut lp.process, store, &call, r);
    if lp.process.complete(store, reply).is_err() {
        return; // not the call it was (cannot happen: the process did not run meanwhile)
    }
    lp.chan_seq = seq + 1;
    // A receive that parked is asked again when the scheduler finds the process waiting.
    shared.kick(&mut st);
}
