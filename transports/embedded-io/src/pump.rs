//! [`Pump`]: the part of an RPC-over-stream driver that does no IO, shared by the blocking and
//! the async driver. It frames calls (record mark + message in the call buffer), rebuilds
//! reply records from the bytes the driver read (staged in the input buffer, then a
//! [`RecordReader`] over the reply buffer), and keeps the list of calls outstanding on the
//! current connection.
//!
//! Invariants: a record is delivered only when it is a well-formed reply to an outstanding call
//! (anything else, such as the late reply to a call that timed out, is dropped whole); after a
//! link failure ([`Pump::lost`]) every outstanding call is forgotten and no call is accepted
//! until [`Pump::reset`] starts a new connection.

use heapless::Vec;
use tern_core::rpc::client::{Client, ClientError, TimerEvent};
use tern_core::rpc::record::{LAST_FRAGMENT, fragment_header};
use tern_core::rpc::{Message, RecordReader};
use tern_core::time::Instant;
use tern_core::xdr;

use crate::{Buffers, Event, RECORD_MARK, RpcError};

/// The IO-free state of a driver; see the module docs.
#[derive(Debug)]
pub(crate) struct Pump<'b, const N: usize> {
    pub(crate) client: Client<N>,
    records: RecordReader<&'b mut [u8]>,
    input: &'b mut [u8],
    /// `input[at..end]` was read from the stream and not yet pushed into `records`.
    at: usize,
    end: usize,
    call: &'b mut [u8],
    outstanding: Vec<u32, N>,
    /// The complete record was handed out: drop it before reading on.
    delivered: bool,
    up: bool,
    /// Bytes were written since the last flush.
    pub(crate) unflushed: bool,
}

impl<'b, const N: usize> Pump<'b, N> {
    pub(crate) fn new(client: Client<N>, bufs: Buffers<'b>) -> Self {
        Pump {
            client,
            records: RecordReader::new(bufs.reply),
            input: bufs.input,
            at: 0,
            end: 0,
            call: bufs.call,
            outstanding: Vec::new(),
            delivered: false,
            up: true,
            unflushed: false,
        }
    }

    /// Largest call message (without its record mark) the call buffer holds.
    pub(crate) fn max_call(&self) -> usize {
        self.call.len().saturating_sub(RECORD_MARK).min((LAST_FRAGMENT - 1) as usize)
    }

    /// Largest reply record the reply buffer holds.
    pub(crate) fn max_reply(&self) -> usize {
        self.records.max_record()
    }

    pub(crate) fn is_up(&self) -> bool {
        self.up
    }

    pub(crate) fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// Encodes a call with `enc` and returns its xid and its frame (record mark + message),
    /// which the driver must write whole. `Ok(None)` when `enc` had nothing to send.
    pub(crate) fn encode<E, F>(&mut self, now: Instant, enc: F) -> Result<Option<(u32, &[u8])>, E>
    where
        E: From<RpcError>,
        F: FnOnce(&mut Client<N>, Instant, &mut [u8]) -> Result<Option<(u32, usize)>, E>,
    {
        if !self.up {
            return Err(RpcError::Disconnected.into());
        }
        let max = self.max_call();
        let Some(body) = self.call.get_mut(RECORD_MARK..RECORD_MARK + max) else {
            return Err(RpcError::Call(ClientError::Encode(xdr::Error::BufferFull)).into());
        };
        let Some((xid, len)) = enc(&mut self.client, now, body)? else { return Ok(None) };
        if self.outstanding.push(xid).is_err() {
            self.client.cancel(xid);
            return Err(RpcError::Call(ClientError::TooManyCalls).into());
        }
        let len = len.min(max);
        // `len` ≤ 2^31 - 1: it fits the mark's 31 bits.
        let mark = fragment_header(u32::try_from(len).unwrap_or(LAST_FRAGMENT - 1), true);
        let frame = self.call.get_mut(..RECORD_MARK + len).unwrap_or_default();
        if let Some(m) = frame.get_mut(..RECORD_MARK) {
            m.copy_from_slice(&mark);
        }
        self.unflushed = true;
        Ok(Some((xid, frame)))
    }

    /// The connection failed with `e`: every outstanding call is forgotten and calls are
    /// refused until [`Pump::reset`]. Returns `e`.
    pub(crate) fn lost(&mut self, e: RpcError) -> RpcError {
        self.up = false;
        self.cancel_all();
        e
    }

    /// Forgets every outstanding call (their replies, if any come, are dropped).
    pub(crate) fn cancel_all(&mut self) {
        for xid in self.outstanding.iter() {
            self.client.cancel(*xid);
        }
        self.outstanding.clear();
    }

    /// A new connection: nothing of the old one is kept.
    pub(crate) fn reset(&mut self) {
        self.cancel_all();
        self.records.reset();
        self.at = 0;
        self.end = 0;
        self.delivered = false;
        self.unflushed = false;
        self.up = true;
    }

    fn expected(&self, record: &[u8]) -> Option<u32> {
        match Message::decode(record) {
            Ok(Message::Reply(head, _)) if self.outstanding.contains(&head.xid) => Some(head.xid),
            _ => None,
        }
    }

    /// Pushes staged input into the record reader until a reply to an outstanding call is
    /// complete (`true`: [`Pump::deliver`] hands it out) or the input runs out (`false`).
    pub(crate) fn ready(&mut self) -> Result<bool, RpcError> {
        if self.delivered {
            self.records.next_record();
            self.delivered = false;
        }
        loop {
            if let Some(record) = self.records.record() {
                if self.expected(record).is_some() {
                    return Ok(true);
                }
                self.records.next_record();
                continue;
            }
            let Some(staged) = self.input.get(self.at..self.end).filter(|s| !s.is_empty()) else {
                return Ok(false);
            };
            match self.records.push(staged) {
                Ok((n, _)) => self.at += n,
                Err(_) => return Err(self.lost(RpcError::TooLarge)),
            }
        }
    }

    /// The xid of the reply [`Pump::ready`] found.
    pub(crate) fn ready_xid(&self) -> Option<u32> {
        self.records.record().and_then(|r| self.expected(r))
    }

    /// Hands out the reply [`Pump::ready`] found; it borrows the reply buffer until the next
    /// call of [`Pump::ready`].
    pub(crate) fn deliver(&mut self) -> Result<Event<'_>, RpcError> {
        let record = self.records.record().ok_or(RpcError::Idle)?;
        let reply = self.client.handle_reply(record)?;
        self.outstanding.retain(|x| *x != reply.xid);
        self.delivered = true;
        Ok(Event::Reply(reply))
    }

    /// The next call whose time ran out at `now` (retransmission requests are ignored: a
    /// stream does not lose calls, only whole connections).
    pub(crate) fn timed_out(&mut self, now: Instant) -> Option<u32> {
        while let Some(ev) = self.client.handle_timeout(now) {
            if let TimerEvent::TimedOut(xid) = ev {
                self.outstanding.retain(|x| *x != xid);
                return Some(xid);
            }
        }
        None
    }

    /// When [`Pump::timed_out`] next has something to do.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.client.poll_timeout()
    }

    /// Where the driver reads stream bytes to (all staged input has been pushed by then).
    /// Empty only when the caller gave an empty input buffer.
    pub(crate) fn input_space(&mut self) -> &mut [u8] {
        self.at = 0;
        self.end = 0;
        self.input
    }

    /// `n` bytes were read into [`Pump::input_space`].
    pub(crate) fn filled(&mut self, n: usize) {
        self.end = n.min(self.input.len());
    }
}
