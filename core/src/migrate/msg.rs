//! Migration messages: postcard-encoded, one message per transport frame.
//!
//! Every message is a [`Msg`]: the migration id, a stream sequence number, a cumulative
//! acknowledgement, and a [`Body`]. The source's page stream (rounds, pages, map runs, control
//! block, prepare, pushes) is numbered from 1; every other body carries sequence number 0.
//!
//! Decoding ([`Msg::decode`]) is zero-copy (page and control bytes borrow the input) and
//! bounded: postcard checks every length against the input, and [`Msg::decode`] then checks
//! every field against the protocol's limits (a page is exactly [`PAGE_SIZE`] bytes, a control
//! chunk at most [`CONTROL_CHUNK`], page numbers and runs below [`MAX_PAGES`], the sequence
//! number matches the body) and rejects trailing bytes. Encoding writes into the caller's
//! buffer; no message is longer than [`MAX_MSG_LEN`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Error, PAGE_SIZE};

/// Largest address space the protocol describes: 2^20 pages of 4 KiB (the 4 GiB of RV32).
pub const MAX_PAGES: u32 = 1 << 20;
/// Most control-block bytes in one [`ControlChunk`].
pub const CONTROL_CHUNK: usize = 2048;
/// Largest control block the protocol carries.
pub const MAX_CONTROL_LEN: u32 = 1 << 20;
/// Upper bound on the encoded length of any message: give `poll_transmit` a buffer this long.
pub const MAX_MSG_LEN: usize = PAGE_SIZE + 48;

/// Identifies one migration (chosen by the source, unique among its migrations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MigrationId(pub u64);

/// How the memory moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Strategy {
    /// Stop, copy everything, resume at the destination.
    StopAndCopy,
    /// Copy while running, then rounds of dirty pages, then stop and copy the rest.
    PreCopy,
    /// Stop, send the control block, resume at the destination, fetch pages on demand.
    PostCopy,
    /// One pre-copy pass, then post-copy for the pages dirtied meanwhile.
    Hybrid,
}

impl Strategy {
    /// Whether pages may still be remote after the hand-off.
    pub fn is_post_copy(self) -> bool {
        matches!(self, Strategy::PostCopy | Strategy::Hybrid)
    }
}

/// A byte string that postcard writes as length + bytes and reads borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes<'a>(pub &'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de [u8]>::deserialize(d).map(Bytes)
    }
}

/// The source proposes a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The strategy.
    pub strategy: Strategy,
    /// Pages in the address space (page numbers `0..page_count`).
    pub page_count: u32,
    /// Pages mapped when the migration started (a hint of the memory needed).
    pub mapped: u32,
}

/// Why a destination refused an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RefuseReason {
    /// The destination does not take migrations now.
    Busy,
    /// The address space is larger than the destination can hold.
    TooLarge,
    /// The destination does not support the strategy.
    Unsupported,
}

/// Why a migration was abandoned (the process stays, or is again, at the source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AbortReason {
    /// The runner asked for it.
    Local,
    /// The peer aborted.
    Peer,
    /// Nothing heard from the peer for the link timeout.
    LinkTimeout,
    /// The peer broke the protocol (a message out of range or out of place).
    Protocol,
    /// The process refused a request (no memory for a page, a bad control block).
    Process,
    /// The peer does not know this migration.
    Unknown,
}

/// Marks the start of a copy round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    /// Round number, from 0 (the full copy).
    pub round: u32,
    /// Pages the round covers (for a full round: the pages mapped).
    pub pages: u32,
    /// Whether the process is stopped (the final round).
    pub stopped: bool,
}

/// One page's contents: all zero (never sent as data) or exactly [`PAGE_SIZE`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Content<'a> {
    /// The page holds only zero bytes.
    Zero,
    /// The page's bytes.
    Data(#[serde(borrow)] Bytes<'a>),
}

/// One page of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<'a> {
    /// Virtual page number.
    pub vpn: u32,
    /// Contents.
    #[serde(borrow)]
    pub content: Content<'a>,
}

/// What a [`MapRun`] says about its pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MapState {
    /// Mapped and all zero: install zero pages.
    Zero,
    /// Not mapped: remove them.
    Unmapped,
    /// Mapped with data the destination does not have yet (post-copy): mark them absent.
    Remote,
}

/// A run of consecutive pages in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapRun {
    /// First page number.
    pub first: u32,
    /// Number of pages (at least 1).
    pub count: u32,
    /// Their state.
    pub state: MapState,
}

/// A piece of the serialized control block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlChunk<'a> {
    /// Length of the whole control block.
    pub total: u32,
    /// Offset of these bytes in it.
    pub offset: u32,
    /// The bytes (at most [`CONTROL_CHUNK`]).
    #[serde(borrow)]
    pub bytes: Bytes<'a>,
}

/// End of the state the destination needs before the process may run there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepare {
    /// Length of the control block sent.
    pub control_len: u32,
    /// Pages the map announced as remote (post-copy); 0 otherwise.
    pub remote: u32,
    /// Copy rounds sent, the final one included.
    pub rounds: u32,
}

/// The destination has every page (it reports its fault figures with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirm {
    /// Faults on remote pages.
    pub faults: u32,
    /// Total time threads waited on them, in microseconds.
    pub fault_wait_us: u64,
}

/// What a message says. `S→D` bodies come from the source, `D→S` from the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body<'a> {
    /// S→D: propose a migration (repeated until answered).
    Offer(Offer),
    /// D→S: offer accepted.
    Accept,
    /// D→S: offer refused.
    Refuse(RefuseReason),
    /// S→D stream: a copy round starts.
    Round(Round),
    /// S→D stream: a page copied before the hand-off; it replaces the destination's copy.
    Page(#[serde(borrow)] Page<'a>),
    /// S→D stream: a run of zero, unmapped or remote pages.
    Map(MapRun),
    /// S→D stream: part of the control block (the process is stopped).
    Control(#[serde(borrow)] ControlChunk<'a>),
    /// S→D stream: the state is complete; answer with [`Body::Ready`].
    Prepare(Prepare),
    /// D→S: prepared; waiting for the source's decision.
    Ready,
    /// S→D: the hand-off: the destination runs the process from now on.
    Commit,
    /// D→S: the process runs at the destination (answer to every [`Body::Commit`]).
    Committed,
    /// D→S: a thread faulted on this remote page; send it first.
    Request(u32),
    /// S→D stream: a page after the hand-off (post-copy); installed only if still absent.
    Push(#[serde(borrow)] Page<'a>),
    /// D→S: every page is present; the source may release its copy.
    Confirm(Confirm),
    /// S→D: the source released its copy; the migration is over.
    Finish,
    /// Either way: acknowledgement (D→S) or keep-alive, no other content.
    Ack,
    /// Either way: the migration is abandoned.
    Abort(AbortReason),
}

impl Body<'_> {
    /// Whether the body belongs to the source's numbered stream.
    pub fn is_stream(&self) -> bool {
        matches!(
            self,
            Body::Round(_) | Body::Page(_) | Body::Map(_) | Body::Control(_) | Body::Prepare(_) | Body::Push(_)
        )
    }
}

/// One migration message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Msg<'a> {
    /// The migration.
    pub id: MigrationId,
    /// Stream sequence number (from 1) for stream bodies, 0 for the others.
    pub seq: u32,
    /// D→S: the next stream sequence number the destination expects (everything below it
    /// arrived). S→D: 0.
    pub ack: u32,
    /// Contents.
    #[serde(borrow)]
    pub body: Body<'a>,
}

fn page_ok(p: &Page<'_>) -> bool {
    p.vpn < MAX_PAGES
        && match p.content {
            Content::Zero => true,
            Content::Data(b) => b.0.len() == PAGE_SIZE,
        }
}

impl<'a> Msg<'a> {
    /// Decodes one message that fills `bytes` exactly, checking every bound (see the module).
    pub fn decode(bytes: &'a [u8]) -> Result<Self, Error> {
        let (msg, rest) = postcard::take_from_bytes::<Msg<'a>>(bytes).map_err(|_| Error::Malformed)?;
        if !rest.is_empty() || !msg.valid() {
            return Err(Error::Malformed);
        }
        Ok(msg)
    }

    /// Whether every field is within the protocol's limits.
    pub fn valid(&self) -> bool {
        if self.body.is_stream() != (self.seq != 0) {
            return false;
        }
        match &self.body {
            Body::Offer(o) => o.page_count <= MAX_PAGES && o.mapped <= o.page_count,
            Body::Page(p) | Body::Push(p) => page_ok(p),
            Body::Map(r) => r.count >= 1 && r.first.checked_add(r.count).is_some_and(|end| end <= MAX_PAGES),
            Body::Control(c) => {
                c.total <= MAX_CONTROL_LEN
                    && c.bytes.0.len() <= CONTROL_CHUNK
                    && c.offset.checked_add(c.bytes.0.len() as u32).is_some_and(|end| end <= c.total)
            }
            Body::Prepare(p) => p.control_len <= MAX_CONTROL_LEN && p.remote <= MAX_PAGES,
            Body::Request(vpn) => *vpn < MAX_PAGES,
            _ => true,
        }
    }

    /// Length of the encoding.
    pub fn encoded_len(&self) -> usize {
        postcard::serialize_with_flavor(self, postcard::ser_flavors::Size::default()).unwrap_or(0)
    }

    /// Encodes the message into `buf`; returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, Error> {
        postcard::to_slice(self, buf).map(|b| b.len()).map_err(|_| Error::BufferTooSmall)
    }
}

/// The answer a node gives to a message for a migration it has no state machine for (it
/// never had one, or dropped it): [`Body::Abort`] with [`AbortReason::Unknown`] for anything
/// that expects an answer, nothing for an [`Body::Offer`] (create a
/// [`Destination`](super::Destination) or [`refuse`] it), an abort, an ack, or a finish.
///
/// This is safe for the exactly-one-owner rule because a source keeps its state machine from
/// the commit until the destination confirms, and a destination aborts only before it is
/// prepared, and both ignore an abort once committed (see the module docs).
pub fn reply_unknown(msg: &Msg<'_>, buf: &mut [u8]) -> Option<usize> {
    match msg.body {
        Body::Offer(_) | Body::Abort(_) | Body::Ack | Body::Finish | Body::Committed => None,
        _ => Msg { id: msg.id, seq: 0, ack: 0, body: Body::Abort(AbortReason::Unknown) }.encode(buf).ok(),
    }
}

/// Encodes a refusal of `offer` (a message with an [`Body::Offer`] body) into `buf`, for a
/// node that does not create a destination. Answer every repeated offer the same way.
pub fn refuse(offer: &Msg<'_>, reason: RefuseReason, buf: &mut [u8]) -> Option<usize> {
    Msg { id: offer.id, seq: 0, ack: 0, body: Body::Refuse(reason) }.encode(buf).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    fn roundtrip(msg: Msg<'_>) -> usize {
        let mut buf = [0u8; MAX_MSG_LEN];
        let n = msg.encode(&mut buf).expect("encode");
        assert_eq!(Msg::decode(&buf[..n]), Ok(msg));
        for cut in 0..n {
            assert_eq!(Msg::decode(&buf[..cut]), Err(Error::Malformed), "truncated at {cut}");
        }
        let mut long = vec![0u8; n + 1];
        long[..n].copy_from_slice(&buf[..n]);
        assert_eq!(Msg::decode(&long), Err(Error::Malformed), "trailing byte");
        n
    }

    #[test]
    fn every_body_roundtrips() {
        let page = [0xa5u8; PAGE_SIZE];
        let ctl = [7u8; 100];
        let id = MigrationId(u64::MAX);
        let bodies = [
            (0, Body::Offer(Offer { strategy: Strategy::Hybrid, page_count: MAX_PAGES, mapped: 9 })),
            (0, Body::Accept),
            (0, Body::Refuse(RefuseReason::TooLarge)),
            (1, Body::Round(Round { round: 3, pages: 10, stopped: true })),
            (2, Body::Page(Page { vpn: MAX_PAGES - 1, content: Content::Data(Bytes(&page)) })),
            (3, Body::Page(Page { vpn: 5, content: Content::Zero })),
            (4, Body::Map(MapRun { first: 0, count: MAX_PAGES, state: MapState::Remote })),
            (5, Body::Control(ControlChunk { total: 300, offset: 200, bytes: Bytes(&ctl) })),
            (6, Body::Prepare(Prepare { control_len: 300, remote: 12, rounds: 4 })),
            (0, Body::Ready),
            (0, Body::Commit),
            (0, Body::Committed),
            (0, Body::Request(77)),
            (u32::MAX, Body::Push(Page { vpn: 1, content: Content::Data(Bytes(&page)) })),
            (0, Body::Confirm(Confirm { faults: 3, fault_wait_us: u64::MAX })),
            (0, Body::Finish),
            (0, Body::Ack),
            (0, Body::Abort(AbortReason::LinkTimeout)),
        ];
        for (seq, body) in bodies {
            let n = roundtrip(Msg { id, seq, ack: u32::MAX, body });
            assert!(n <= MAX_MSG_LEN, "{body:?} is {n} bytes");
        }
    }

    #[test]
    fn bounds_are_checked() {
        let mut buf = [0u8; 2 * MAX_MSG_LEN];
        let short = [1u8; PAGE_SIZE - 1];
        let long = [1u8; PAGE_SIZE + 1];
        let big_ctl = [0u8; CONTROL_CHUNK + 1];
        let bad = [
            (1, Body::Page(Page { vpn: 0, content: Content::Data(Bytes(&short)) })),
            (1, Body::Push(Page { vpn: 0, content: Content::Data(Bytes(&long)) })),
            (1, Body::Page(Page { vpn: MAX_PAGES, content: Content::Zero })),
            (1, Body::Map(MapRun { first: 1, count: MAX_PAGES, state: MapState::Zero })),
            (1, Body::Map(MapRun { first: 1, count: 0, state: MapState::Zero })),
            (1, Body::Map(MapRun { first: u32::MAX, count: 2, state: MapState::Zero })),
            (1, Body::Control(ControlChunk { total: 10, offset: 5, bytes: Bytes(&[0; 6]) })),
            (1, Body::Control(ControlChunk { total: u32::MAX, offset: 0, bytes: Bytes(&[]) })),
            (1, Body::Control(ControlChunk { total: 5000, offset: 0, bytes: Bytes(&big_ctl) })),
            (0, Body::Offer(Offer { strategy: Strategy::PreCopy, page_count: MAX_PAGES + 1, mapped: 0 })),
            (0, Body::Offer(Offer { strategy: Strategy::PreCopy, page_count: 4, mapped: 5 })),
            (0, Body::Request(MAX_PAGES)),
            (0, Body::Round(Round { round: 0, pages: 0, stopped: false })),
            (5, Body::Commit),
        ];
        for (seq, body) in bad {
            let n = Msg { id: MigrationId(1), seq, ack: 0, body }.encode(&mut buf).expect("encode");
            assert_eq!(Msg::decode(&buf[..n]), Err(Error::Malformed), "{body:?} seq {seq}");
        }
    }

    #[test]
    fn encoding_is_postcard() {
        // id 1, seq 0, ack 3, Body::Request (variant 11) of vpn 300 (varint 0xac 0x02).
        let mut buf = [0u8; 16];
        let n = Msg { id: MigrationId(1), seq: 0, ack: 3, body: Body::Request(300) }.encode(&mut buf).unwrap();
        assert_eq!(&buf[..n], &[1, 0, 3, 11, 0xac, 0x02]);
        assert_eq!(
            Msg { id: MigrationId(1), seq: 0, ack: 0, body: Body::Ack }.encode(&mut [0u8; 3]),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn unknown_migrations_get_an_abort() {
        let mut buf = [0u8; 32];
        let ready = Msg { id: MigrationId(9), seq: 0, ack: 4, body: Body::Ready };
        let n = reply_unknown(&ready, &mut buf).unwrap();
        let reply = Msg::decode(&buf[..n]).unwrap();
        assert_eq!((reply.id, reply.body), (MigrationId(9), Body::Abort(AbortReason::Unknown)));
        let abort = Msg { id: MigrationId(9), seq: 0, ack: 0, body: Body::Abort(AbortReason::Peer) };
        assert_eq!(reply_unknown(&abort, &mut buf), None, "no abort storms");
        let offer = Msg {
            id: MigrationId(9),
            seq: 0,
            ack: 0,
            body: Body::Offer(Offer { strategy: Strategy::PostCopy, page_count: 1, mapped: 1 }),
        };
        assert_eq!(reply_unknown(&offer, &mut buf), None);
        let n = refuse(&offer, RefuseReason::Busy, &mut buf).unwrap();
        assert_eq!(Msg::decode(&buf[..n]).unwrap().body, Body::Refuse(RefuseReason::Busy));
    }
}
