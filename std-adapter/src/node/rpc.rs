//! The node's side of its RPC program ([`proto`]): a [`Program`] for the core dispatcher.
//! Every procedure answers at once (WAIT and MIGRATION report, the caller polls), so one
//! call never holds the dispatcher for long.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tern_core::migrate::{Msg, Strategy, msg::MAX_MSG_LEN, msg::reply_unknown};
use tern_core::proc::LoadOptions;
use tern_core::rpc::{CallContext, ProcError, Program};
use tern_core::xdr::Writer;

use super::proto::{self, IdReply, MigrateArgs, ProcState, PsEntry, SpawnArgs, WaitReply, status};
use super::{Entry, LiveProc, NodeFs, Shared, lock, migration};
use crate::run::{Outcome, new_process};

/// The node control program over a node's shared state.
pub(crate) struct NodeProgram<F> {
    shared: Arc<Shared<F>>,
}

impl<F> NodeProgram<F> {
    pub(crate) fn new(shared: Arc<Shared<F>>) -> Self {
        NodeProgram { shared }
    }
}

impl<F: NodeFs> Program for NodeProgram<F> {
    fn program(&self) -> u32 {
        proto::PROGRAM
    }

    fn versions(&self) -> (u32, u32) {
        (proto::VERSION, proto::VERSION)
    }

    fn call(&mut self, ctx: &CallContext<'_>, args: &[u8], results: &mut Writer<'_>) -> Result<(), ProcError> {
        let garbage = |_| ProcError::GarbageArgs;
        let out = match ctx.proc_ {
            proto::SPAWN => spawn(&self.shared, SpawnArgs::from_xdr(args).map_err(garbage)?).to_xdr(),
            proto::PS => proto::ps_to_xdr(&ps(&self.shared)),
            proto::MIGRATE => migrate(&self.shared, MigrateArgs::from_xdr(args).map_err(garbage)?).to_xdr(),
            proto::MIGRATION => report(&self.shared, proto::id_from_xdr(args).map_err(garbage)?).to_xdr(),
            proto::WAIT => wait(&self.shared, proto::id_from_xdr(args).map_err(garbage)?).to_xdr(),
            proto::CHAN => {
                let a = proto::ChanArgs::from_xdr(args).map_err(garbage)?;
                proto::chan_result_to_xdr(&chan(&self.shared, a))
            }
            proto::FRAMES => {
                let (reply_to, frames) = proto::frames_from_xdr(args).map_err(garbage)?;
                frames_in(&self.shared, ctx.peer.addr, &reply_to, &frames);
                Ok(Vec::new())
            }
            _ => return Err(ProcError::ProcUnavail),
        };
        results.put_bytes(&out.map_err(|_| ProcError::SystemErr)?).map_err(|_| ProcError::SystemErr)
    }
}

fn spawn<F: NodeFs>(shared: &Shared<F>, a: SpawnArgs) -> IdReply {
    let pid = shared.tag | shared.next_pid.fetch_add(1, Ordering::SeqCst);
    let argv: Vec<&[u8]> = a.args.iter().map(|s| s.as_bytes()).collect();
    let mut process = new_process();
    let mut st = shared.state();
    let opts = LoadOptions { pid, home: shared.tag >> 32, stack_pages: 64 };
    if let Err(e) = process.load(&mut st.store, &a.elf, &argv, opts) {
        return IdReply { status: status::BAD_ELF, id: 0, message: e.to_string() };
    }
    st.procs.insert(pid, Entry::Live(Box::new(LiveProc::new(a.name, process, shared.advertise.clone()))));
    shared.kick(&mut st);
    IdReply { status: status::OK, id: pid, message: String::new() }
}

fn outcome_state(o: &Option<Outcome>) -> (ProcState, i32, String) {
    match o {
        None => (ProcState::Running, 0, String::new()),
        Some(Outcome::Exited(c)) => (ProcState::Exited, *c, String::new()),
        Some(Outcome::Faulted(f)) => (ProcState::Faulted, 0, f.to_string()),
    }
}

fn ps<F: NodeFs>(shared: &Shared<F>) -> Vec<PsEntry> {
    let st = shared.state();
    st.procs
        .iter()
        .map(|(&pid, e)| match e {
            Entry::Live(lp) => {
                let (mut state, code, mut note) = outcome_state(&lp.outcome);
                if state == ProcState::Running && (lp.stopped || lp.handed_off) {
                    state = ProcState::Stopped;
                }
                if state == ProcState::Running {
                    // What it waits for, if anything.
                    note = match (lp.forward, lp.fault, lp.poll_at, lp.waiting) {
                        (Some(_), ..) => format!("channel call at {}", lp.home),
                        (_, Some(vpn), ..) => format!("fetching page {vpn:#x}"),
                        (_, _, Some(_), _) => format!("receive parked at {}", lp.home),
                        (.., Some(None)) => "parked".into(),
                        (.., Some(Some(_))) => "sleeping".into(),
                        _ => String::new(),
                    };
                }
                // Counting pages scans the whole page table under the node's lock: only for
                // processes that still run (an ended one's memory is freed, or about to be),
                // so a table full of ended processes does not make PS hold the lock for long.
                let mem = &lp.process.mem;
                let (pages, remote) = match lp.outcome {
                    None => (mem.mapped_pages() as u32, mem.remote_pages() as u32),
                    Some(_) => (0, 0),
                };
                PsEntry { pid, name: lp.name.clone(), state, code, instret: lp.process.cb.instret, pages, remote, note }
            }
            Entry::Ended(e) => {
                let (state, code, note) = outcome_state(&Some(e.outcome));
                PsEntry { pid, name: e.name.clone(), state, code, instret: e.instret, pages: 0, remote: 0, note }
            }
            Entry::Moved { name, to } => PsEntry {
                pid,
                name: name.clone(),
                state: ProcState::Moved,
                code: 0,
                instret: 0,
                pages: 0,
                remote: 0,
                note: to.clone(),
            },
        })
        .collect()
}

/// Parses a strategy number of MIGRATE.
pub(crate) fn strategy(n: u32) -> Option<Strategy> {
    Some(match n {
        0 => Strategy::StopAndCopy,
        1 => Strategy::PreCopy,
        2 => Strategy::PostCopy,
        3 => Strategy::Hybrid,
        _ => return None,
    })
}

fn migrate<F: NodeFs>(shared: &Arc<Shared<F>>, a: MigrateArgs) -> IdReply {
    let fail = |status, message: &str| IdReply { status, id: 0, message: message.to_string() };
    let Some(strategy) = strategy(a.strategy) else { return fail(status::BAD_ARG, "unknown strategy") };
    if std::net::ToSocketAddrs::to_socket_addrs(&a.to).map(|mut i| i.next().is_none()).unwrap_or(true) {
        return fail(status::BAD_ARG, "destination is not HOST:PORT");
    }
    if a.to == shared.advertise {
        return fail(status::BAD_ARG, "the destination is this node");
    }
    match migration::start_source(shared, a.pid, strategy, a.to) {
        Ok(mid) => IdReply { status: status::OK, id: mid.0, message: String::new() },
        Err((s, m)) => fail(s, m),
    }
}

fn report<F: NodeFs>(shared: &Shared<F>, mid: u64) -> proto::MigrationReport {
    shared.state().reports.get(&mid).cloned().unwrap_or_default()
}

fn wait<F: NodeFs>(shared: &Shared<F>, pid: u64) -> WaitReply {
    let st = shared.state();
    match st.procs.get(&pid) {
        None => WaitReply {
            state: ProcState::Unknown,
            code: 0,
            note: String::new(),
            console: Vec::new(),
            instret: 0,
            checksum: 0,
        },
        Some(Entry::Moved { to, .. }) => WaitReply {
            state: ProcState::Moved,
            code: 0,
            note: to.clone(),
            console: Vec::new(),
            instret: 0,
            checksum: 0,
        },
        Some(Entry::Live(lp)) => {
            let (state, code, note) = outcome_state(&lp.outcome);
            let (instret, checksum) = (lp.process.cb.instret, lp.checksum);
            WaitReply { state, code, note, console: lp.console.clone(), instret, checksum }
        }
        Some(Entry::Ended(e)) => {
            let (state, code, note) = outcome_state(&Some(e.outcome));
            WaitReply { state, code, note, console: e.console.clone(), instret: e.instret, checksum: e.checksum }
        }
    }
}

/// Performs a channel operation of a process away from home (this is its home node).
fn chan<F: NodeFs>(shared: &Shared<F>, a: proto::ChanArgs) -> proto::ChanResult {
    let mut st = shared.state();
    let r = st.services.channels.call(a.pid, a.seq, a.op);
    if std::mem::take(&mut st.services.channels.woke) {
        super::wake_parked(&mut st.procs);
        shared.kick(&mut st);
    }
    r
}

/// Hands arriving migration messages to their pumps; starts a destination for a new offer;
/// answers messages of unknown migrations. Messages that do not decode are dropped.
fn frames_in<F: NodeFs>(shared: &Arc<Shared<F>>, peer: SocketAddr, reply_to: &str, frames: &[&[u8]]) {
    let reply_to = match reply_to.parse::<SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => SocketAddr::new(peer.ip(), a.port()).to_string(),
        _ => reply_to.to_string(),
    };
    let mut unknown = Vec::new();
    tracing::trace!("{} migration messages from {peer} (answer at {reply_to})", frames.len());
    for &f in frames {
        let Ok(msg) = Msg::decode(f) else { continue };
        let mut router = lock(&shared.router);
        if let Some(tx) = router.get(&msg.id) {
            let _ = tx.send(migration::Input::Frame(f.to_vec(), reply_to.clone()));
            continue;
        }
        if matches!(msg.body, tern_core::migrate::Body::Offer(_)) {
            if !lock(&shared.finished).contains(&msg.id) {
                migration::start_destination(shared, &mut router, f.to_vec(), reply_to.clone());
            }
            continue;
        }
        let mut buf = vec![0u8; MAX_MSG_LEN];
        if let Some(n) = reply_unknown(&msg, &mut buf) {
            buf.truncate(n);
            unknown.push(buf);
        }
    }
    shared.peers.send(&reply_to, &shared.advertise, unknown);
}
