//! Channels between guest processes, kept by the node that made them.
//!
//! A channel is named by a string; the first process to open a name creates it, and each of
//! its two ends can be open once. Messages queue at the end they are sent to; a receive on an
//! empty end parks the caller until a message or a close of the other end.
//!
//! # Channels follow their processes
//! A channel lives on the *home node* of the process that opened it (the node it was spawned
//! on): a process always asks its home node to perform its channel operations, wherever it
//! runs. At home that is a function call; on another node the call travels to the home node
//! ([`crate::node`]'s CHAN procedure) while the calling thread waits.
//!
//! *Exactly once*: every channel operation of a process carries the process id and a sequence
//! number (operations the process has completed so far, which travels with the process). The
//! table keeps the last result per process ([`Channels::call`]); a call that repeats the last
//! sequence number gets that result again instead of acting twice (a receive that parked is
//! looked at again: it did nothing), and a call with a lower
//! number (a copy delayed in the network, from a node the process has left) is not acted on at
//! all. So a call re-issued after a lost reply, or after the process moved while the call was
//! in flight, receives each message once and sends each message once.

use std::collections::{HashMap, VecDeque};

use tern_core::proc::abi::{self, errno};
use tern_core::proc::{ChanEnd, HostCall, PageStore, Process, Reply};

/// Results remembered for re-issued calls, one per process (the oldest is forgotten beyond
/// this many processes).
pub const MAX_REMEMBERED: usize = 16_384;

/// One channel operation, its guest buffers read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChanOp {
    /// Open end `end` of the channel named `name`.
    Open {
        /// The channel's name.
        name: Vec<u8>,
        /// 0 or 1.
        end: u8,
    },
    /// Close an end.
    Close(ChanEnd),
    /// Send a message (at most [`abi::MAX_MSG`] bytes).
    Send(ChanEnd, Vec<u8>),
    /// Receive a message of at most `max` bytes.
    Recv(ChanEnd, u32),
}

/// What a channel operation gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChanResult {
    /// A count (bytes sent, or 0 for a close).
    Value(u64),
    /// The end opened.
    Opened(ChanEnd),
    /// A message received (empty: the other end closed and nothing is left).
    Data(Vec<u8>),
    /// Nothing to receive yet: park and ask again.
    Park,
    /// An errno for the guest.
    Error(i32),
}

/// Messages waiting at each end of one channel.
#[derive(Debug, Default)]
struct Channel {
    /// `queues[e]`: messages to be received at end `e`.
    queues: [VecDeque<Vec<u8>>; 2],
    /// Whether each end is open (by some process).
    open: [bool; 2],
    /// Whether each end was closed after being open.
    closed: [bool; 2],
}

/// The channels of one node.
#[derive(Debug)]
pub struct Channels {
    channels: HashMap<u64, Channel>,
    names: HashMap<Vec<u8>, u64>,
    next: u64,
    /// Last (sequence number, result) per process id.
    done: HashMap<u64, (u64, ChanResult)>,
    /// Order in which processes were first remembered (to forget the oldest).
    order: VecDeque<u64>,
    /// Set when a channel changed (a message or a close): parked processes should retry.
    pub woke: bool,
}

impl Default for Channels {
    fn default() -> Self {
        Channels {
            channels: HashMap::new(),
            names: HashMap::new(),
            next: 1,
            done: HashMap::new(),
            order: VecDeque::new(),
            woke: false,
        }
    }
}

impl Channels {
    /// Performs operation number `seq` of process `pid`, or answers what it gave if `seq` is
    /// the last one performed for `pid` (a re-issued call).
    pub fn call(&mut self, pid: u64, seq: u64, op: ChanOp) -> ChanResult {
        match self.done.get(&pid) {
            // A receive that parked did nothing: asked again, it looks again (a message may
            // have come meanwhile, and no wake-up would tell the re-parked caller).
            Some((last, r)) if *last == seq && *r != ChanResult::Park => return r.clone(),
            // A late copy of a call the process has completed (it has made later ones since:
            // numbers only grow): never act on it. Its sender no longer waits for it.
            Some((last, _)) if *last > seq => return ChanResult::Error(errno::EIO),
            _ => {}
        }
        let r = self.exec(op);
        if self.done.insert(pid, (seq, r.clone())).is_none() {
            self.order.push_back(pid);
            if self.order.len() > MAX_REMEMBERED
                && let Some(old) = self.order.pop_front()
            {
                self.done.remove(&old);
            }
        }
        r
    }

    /// Performs `op` (no memory of earlier calls: for processes that never move).
    pub fn exec(&mut self, op: ChanOp) -> ChanResult {
        match op {
            ChanOp::Open { name, end } => match self.open(name, end) {
                Ok(e) => ChanResult::Opened(e),
                Err(e) => ChanResult::Error(e),
            },
            ChanOp::Close(chan) => {
                if let Some(c) = self.channels.get_mut(&chan.channel) {
                    c.closed[usize::from(chan.end & 1)] = true;
                    self.woke = true;
                }
                ChanResult::Value(0)
            }
            ChanOp::Send(chan, msg) => {
                let Some(c) = self.channels.get_mut(&chan.channel) else { return ChanResult::Error(errno::EBADF) };
                let peer = usize::from(1 - (chan.end & 1));
                if c.closed[peer] {
                    return ChanResult::Error(errno::EPIPE);
                }
                let n = msg.len() as u64;
                c.queues[peer].push_back(msg);
                self.woke = true;
                ChanResult::Value(n)
            }
            ChanOp::Recv(chan, max) => {
                let Some(c) = self.channels.get_mut(&chan.channel) else { return ChanResult::Error(errno::EBADF) };
                let me = usize::from(chan.end & 1);
                match c.queues[me].front() {
                    Some(m) if m.len() > max as usize => ChanResult::Error(errno::EMSGSIZE),
                    Some(_) => ChanResult::Data(c.queues[me].pop_front().unwrap_or_default()),
                    None if c.closed[1 - me] => ChanResult::Data(Vec::new()),
                    None => ChanResult::Park,
                }
            }
        }
    }

    fn open(&mut self, name: Vec<u8>, end: u8) -> Result<ChanEnd, i32> {
        let end = end & 1;
        let id = match self.names.get(&name) {
            Some(id) => *id,
            None => {
                let id = self.next;
                self.next += 1;
                self.names.insert(name, id);
                self.channels.insert(id, Channel::default());
                id
            }
        };
        let c = self.channels.get_mut(&id).ok_or(errno::EBADF)?;
        if c.open[usize::from(end)] {
            return Err(errno::EEXIST);
        }
        c.open[usize::from(end)] = true;
        Ok(ChanEnd { channel: id, end })
    }
}

/// The channel operation of `call` with its guest buffers read, `None` if `call` is not a
/// channel call; `Err` is the errno for a buffer the guest cannot give.
pub fn op_of<const P: usize, S: PageStore + ?Sized>(
    p: &Process<P>,
    store: &S,
    call: &HostCall,
) -> Option<Result<ChanOp, i32>> {
    let read = |addr: u32, len: u32| {
        if len > abi::MAX_MSG {
            return Err(errno::EMSGSIZE);
        }
        let mut v = vec![0u8; len as usize];
        p.read_guest(store, addr, &mut v).map(|_| v).map_err(|_| errno::EFAULT)
    };
    Some(match *call {
        HostCall::ChanOpen { name, end } => read(name.addr, name.len).map(|name| ChanOp::Open { name, end }),
        HostCall::ChanClose { chan, .. } => Ok(ChanOp::Close(chan)),
        HostCall::ChanSend { chan, buf, .. } => read(buf.addr, buf.len).map(|m| ChanOp::Send(chan, m)),
        HostCall::ChanRecv { chan, buf, .. } => Ok(ChanOp::Recv(chan, buf.len)),
        _ => return None,
    })
}

/// The reply that completes channel call `call` with result `r` (a received message is
/// written into the call's buffer first).
pub fn reply_of<const P: usize, S: PageStore + ?Sized>(
    p: &mut Process<P>,
    store: &mut S,
    call: &HostCall,
    r: ChanResult,
) -> Reply {
    match (r, call) {
        (ChanResult::Value(n), _) => Reply::Value(n),
        (ChanResult::Opened(e), _) => Reply::ChanOpened(e),
        (ChanResult::Park, _) => Reply::Park,
        (ChanResult::Error(e), _) => Reply::Error(e),
        (ChanResult::Data(m), HostCall::ChanRecv { buf, .. }) if m.len() <= buf.len as usize => {
            match p.write_guest(store, buf.addr, &m) {
                Ok(()) => Reply::Value(m.len() as u64),
                Err(_) => Reply::Error(errno::EFAULT),
            }
        }
        // A message longer than asked for, or data for another call: the home node is wrong.
        (ChanResult::Data(_), _) => Reply::Error(errno::EIO),
    }
}
