//! The sans-IO RPC client: transaction ids, matching replies to calls, and retransmission with
//! exponential back-off over datagrams. Time is always passed in.
//!
//! Use: [`Client::call`] encodes a call into the caller's buffer and remembers it; the driver
//! sends the bytes. Incoming messages go to [`Client::handle_reply`]. The driver sleeps until
//! [`Client::poll_timeout`] and then calls [`Client::handle_timeout`] until it returns `None`:
//! each [`TimerEvent::Retransmit`] asks it to send that call's bytes again (the driver keeps
//! them), each [`TimerEvent::TimedOut`] ends a call. At most `N` calls are outstanding.
//!
//! Replies with an unknown xid (late duplicates of a retransmitted call) are reported as
//! [`ClientError::UnknownXid`] and change nothing.

use heapless::Vec;

use super::auth::{Credential, OpaqueAuth};
use super::msg::{AcceptStat, Message, MsgType, RPC_VERSION, RejectStat, ReplyBody};
use crate::time::{Duration, Instant};
use crate::xdr::{self, Encode, Writer};

/// Retransmission and time-out settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// Wait before the first retransmission (datagrams) or before giving up (streams).
    pub timeout: Duration,
    /// Cap on the doubled wait between retransmissions.
    pub max_timeout: Duration,
    /// Retransmissions before a call times out; 0 for streams.
    pub retries: u32,
}

impl ClientConfig {
    /// Datagram defaults: 500 ms, doubling to at most 8 s, 6 retransmissions (about 30 s).
    pub const fn datagram() -> Self {
        ClientConfig { timeout: Duration::from_millis(500), max_timeout: Duration::from_secs(8), retries: 6 }
    }

    /// Stream defaults: no retransmission, 30 s to answer.
    pub const fn stream() -> Self {
        ClientConfig { timeout: Duration::from_secs(30), max_timeout: Duration::from_secs(30), retries: 0 }
    }
}

/// Why the client could not do what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ClientError {
    /// `N` calls are already outstanding.
    TooManyCalls,
    /// The call did not fit the buffer, or a length was above its maximum.
    Encode(xdr::Error),
    /// The message is not a well-formed reply.
    Malformed(xdr::Error),
    /// The message is a call, not a reply.
    NotAReply,
    /// No outstanding call has this xid (a late or duplicate reply).
    UnknownXid(u32),
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::TooManyCalls => f.write_str("too many RPC calls outstanding"),
            ClientError::Encode(e) => write!(f, "cannot encode RPC call: {e}"),
            ClientError::Malformed(e) => write!(f, "malformed RPC reply: {e}"),
            ClientError::NotAReply => f.write_str("expected an RPC reply, got a call"),
            ClientError::UnknownXid(x) => write!(f, "RPC reply for unknown xid {x:#x}"),
        }
    }
}

impl core::error::Error for ClientError {}

/// How a server refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallFailure {
    /// Accepted, with a status other than SUCCESS.
    Accepted(AcceptStat),
    /// Denied.
    Denied(RejectStat),
}

impl core::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CallFailure::Accepted(AcceptStat::ProgUnavail) => f.write_str("program unavailable"),
            CallFailure::Accepted(AcceptStat::ProgMismatch { low, high }) => {
                write!(f, "program version mismatch (server has {low}..={high})")
            }
            CallFailure::Accepted(AcceptStat::ProcUnavail) => f.write_str("procedure unavailable"),
            CallFailure::Accepted(AcceptStat::GarbageArgs) => f.write_str("server could not decode the arguments"),
            CallFailure::Accepted(AcceptStat::SystemErr) => f.write_str("server system error"),
            CallFailure::Accepted(AcceptStat::Success) => f.write_str("success"),
            CallFailure::Denied(RejectStat::RpcMismatch { low, high }) => {
                write!(f, "RPC version mismatch (server has {low}..={high})")
            }
            CallFailure::Denied(RejectStat::AuthError(s)) => {
                write!(f, "authentication error ({s:?})")
            }
        }
    }
}

/// A reply matched to its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply<'r> {
    /// The call's transaction id.
    pub xid: u32,
    /// The result bytes, or why there are none.
    pub result: Result<&'r [u8], CallFailure>,
}

/// Something the driver must do when time has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerEvent {
    /// Send the call with this xid again.
    Retransmit(u32),
    /// The call with this xid got no reply in time; it is forgotten.
    TimedOut(u32),
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    xid: u32,
    deadline: Instant,
    wait: Duration,
    retries_left: u32,
}

/// A sans-IO RPC client with at most `N` outstanding calls.
#[derive(Debug)]
pub struct Client<const N: usize> {
    cfg: ClientConfig,
    next_xid: u32,
    pending: Vec<Pending, N>,
}

impl<const N: usize> Client<N> {
    /// A client whose first xid is `xid_seed` (pick it at random, or from the clock, so that
    /// a restarted client does not reuse the xids of its previous life).
    pub fn new(cfg: ClientConfig, xid_seed: u32) -> Self {
        Client { cfg, next_xid: xid_seed, pending: Vec::new() }
    }

    /// The settings.
    pub fn config(&self) -> ClientConfig {
        self.cfg
    }

    /// Number of outstanding calls.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn alloc_xid(&mut self) -> u32 {
        loop {
            let xid = self.next_xid;
            self.next_xid = self.next_xid.wrapping_add(1);
            if !self.is_pending(xid) {
                return xid;
            }
        }
    }

    /// Encodes a call into `buf` and starts its timer. Returns the xid and the length written.
    #[allow(clippy::too_many_arguments)]
    pub fn call<A: Encode + ?Sized>(
        &mut self,
        now: Instant,
        prog: u32,
        vers: u32,
        proc_: u32,
        cred: &Credential<'_>,
        args: &A,
        buf: &mut [u8],
    ) -> Result<(u32, usize), ClientError> {
        if self.pending.is_full() {
            return Err(ClientError::TooManyCalls);
        }
        let xid = self.alloc_xid();
        let mut w = Writer::new(buf);
        let head = [xid, 0, RPC_VERSION, prog, vers, proc_];
        head.iter().try_for_each(|v| w.put_u32(*v)).map_err(ClientError::Encode)?;
        cred.encode_opaque(&mut w).map_err(ClientError::Encode)?;
        w.write(&OpaqueAuth::NONE).map_err(ClientError::Encode)?;
        args.encode(&mut w).map_err(ClientError::Encode)?;
        let len = w.position();
        let p =
            Pending { xid, deadline: now + self.cfg.timeout, wait: self.cfg.timeout, retries_left: self.cfg.retries };
        self.pending.push(p).map_err(|_| ClientError::TooManyCalls)?;
        Ok((xid, len))
    }

    /// Is a call with this xid outstanding (would its reply be taken)?
    pub fn is_pending(&self, xid: u32) -> bool {
        self.pending.iter().any(|p| p.xid == xid)
    }

    /// Forgets an outstanding call; returns whether it was outstanding.
    pub fn cancel(&mut self, xid: u32) -> bool {
        match self.pending.iter().position(|p| p.xid == xid) {
            Some(i) => {
                self.pending.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// When [`Client::handle_timeout`] next has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.iter().map(|p| p.deadline).min()
    }

    /// Processes expired timers, one event per call; call again until it returns `None`.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<TimerEvent> {
        let i = self.pending.iter().position(|p| p.deadline <= now)?;
        let p = &mut self.pending[i];
        if p.retries_left == 0 {
            let xid = p.xid;
            self.pending.swap_remove(i);
            return Some(TimerEvent::TimedOut(xid));
        }
        p.retries_left -= 1;
        p.wait = p.wait.doubled_up_to(self.cfg.max_timeout);
        p.deadline = now + p.wait;
        Some(TimerEvent::Retransmit(p.xid))
    }

    /// Matches a received message to its call and ends that call.
    pub fn handle_reply<'r>(&mut self, msg: &'r [u8]) -> Result<Reply<'r>, ClientError> {
        let (head, results) = match Message::decode(msg) {
            Ok(Message::Reply(h, rest)) => (h, rest),
            Ok(Message::Call(..)) => return Err(ClientError::NotAReply),
            Err(e) => {
                // A call with a garbled header is still not a reply.
                let mut r = xdr::Reader::new(msg);
                if r.u32().is_ok() && r.read::<MsgType>() == Ok(MsgType::Call) {
                    return Err(ClientError::NotAReply);
                }
                return Err(ClientError::Malformed(e));
            }
        };
        if !self.cancel(head.xid) {
            return Err(ClientError::UnknownXid(head.xid));
        }
        let result = match head.body {
            ReplyBody::Accepted { stat: AcceptStat::Success, .. } => Ok(results),
            ReplyBody::Accepted { stat, .. } => Err(CallFailure::Accepted(stat)),
            ReplyBody::Denied(why) => Err(CallFailure::Denied(why)),
        };
        Ok(Reply { xid: head.xid, result })
    }
}

#[cfg(test)]
mod tests;
