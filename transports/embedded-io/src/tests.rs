//! The blocking RPC driver over a scripted in-memory stream: record framing both ways, replies
//! in any order and in fragments, foreign records skipped, and every way a stream ends.

use std::vec::Vec;

use embedded_io::{ErrorKind, ErrorType, Read, Write};
use tern_core::rpc::client::{Client, ClientConfig};
use tern_core::rpc::record::fragment_header;
use tern_core::time::{Duration, Instant};

use crate::blocking::Rpc;
use crate::{Buffers, Event, RpcError};

/// Reads `input` at most `chunk` bytes at a time, then end of stream (or `TimedOut` when
/// `stall`); records what is written (or takes nothing when `write_zero`).
#[derive(Default)]
struct Pipe {
    input: Vec<u8>,
    at: usize,
    chunk: usize,
    stall: bool,
    written: Vec<u8>,
    write_zero: bool,
}

impl ErrorType for Pipe {
    type Error = ErrorKind;
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let rest = &self.input[self.at..];
        if rest.is_empty() && self.stall {
            return Err(ErrorKind::TimedOut);
        }
        let n = rest.len().min(buf.len()).min(self.chunk.max(1));
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        if self.write_zero {
            return Ok(0);
        }
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// A successful reply to `xid` with `results`, as one record in fragments of `frag` bytes.
fn reply(xid: u32, results: &[u8], frag: usize) -> Vec<u8> {
    let mut msg = Vec::new();
    for v in [xid, 1, 0, 0, 0, 0] {
        msg.extend_from_slice(&v.to_be_bytes());
    }
    msg.extend_from_slice(results);
    record(&msg, frag)
}

fn record(msg: &[u8], frag: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for (h, d) in tern_core::rpc::record::fragments(msg, frag) {
        out.extend_from_slice(&h);
        out.extend_from_slice(d);
    }
    out
}

struct Mem {
    call: [u8; 256],
    reply: [u8; 256],
    input: [u8; 1],
}

impl Mem {
    fn new() -> Self {
        Mem { call: [0; 256], reply: [0; 256], input: [0; 1] }
    }
    fn get(&mut self) -> Buffers<'_> {
        Buffers { call: &mut self.call, reply: &mut self.reply, input: &mut self.input }
    }
}

type Clock = fn() -> Instant;

fn rpc(mem: &mut Mem, pipe: Pipe) -> Rpc<'_, Pipe, Clock, 4> {
    let clock: Clock = || Instant::from_millis(5);
    Rpc::new(pipe, clock, Client::new(ClientConfig::stream(), 100), mem.get())
}

fn null(r: &mut Rpc<'_, Pipe, Clock, 4>) -> Result<u32, RpcError> {
    r.start(|c, now, buf| c.call(now, 7, 1, 0, &tern_core::rpc::Credential::None, &(), buf).map_err(RpcError::from))
}

#[test]
fn calls_framed_replies_in_any_order_in_fragments() {
    let mut input = Vec::new();
    // A call (not a reply), a reply to a call never made, then the replies 102, 100, 101.
    let mut call = Vec::new();
    for v in [5u32, 0, 2, 7, 1, 0, 0, 0, 0, 0] {
        call.extend_from_slice(&v.to_be_bytes());
    }
    input.extend(record(&call, 64));
    input.extend(reply(999, b"", 64));
    input.extend(reply(102, b"two!", 5));
    input.extend(reply(100, b"zero", 64));
    input.extend(reply(101, b"", 1));
    let mut mem = Mem::new();
    let mut r = rpc(&mut mem, Pipe { input, chunk: 3, ..Pipe::default() });
    assert_eq!([null(&mut r), null(&mut r), null(&mut r)], [Ok(100), Ok(101), Ok(102)]);
    assert_eq!(r.outstanding(), 3);
    let mut got = Vec::new();
    for _ in 0..3 {
        match r.next_event().unwrap() {
            Event::Reply(rep) => got.push((rep.xid, rep.result.unwrap().to_vec())),
            Event::TimedOut(x) => panic!("{x} timed out"),
        }
    }
    assert_eq!(got, [(102, b"two!".to_vec()), (100, b"zero".to_vec()), (101, Vec::new())]);
    assert_eq!(r.next_event(), Err(RpcError::Idle));
    // Each call went out as one record: a mark with the last-fragment bit and the length.
    let (pipe, _) = r.into_parts();
    let w = &pipe.written;
    assert_eq!(w.len(), 3 * (4 + 40));
    for (i, frame) in w.chunks(44).enumerate() {
        assert_eq!(frame[..4], fragment_header(40, true));
        assert_eq!(u32::from_be_bytes(frame[4..8].try_into().unwrap()), 100 + i as u32);
    }
}

#[test]
fn call_waits_for_its_own_reply() {
    let mut input = reply(100, b"old!", 64);
    input.extend(reply(101, b"mine", 64));
    let mut mem = Mem::new();
    let mut r = rpc(&mut mem, Pipe { input, chunk: 64, ..Pipe::default() });
    null(&mut r).unwrap();
    let res =
        r.call(|c, now, buf| c.call(now, 7, 1, 0, &tern_core::rpc::Credential::None, &(), buf).map_err(RpcError::from));
    assert_eq!(res, Ok(&b"mine"[..]));
    assert_eq!(r.outstanding(), 0);
}

#[test]
fn end_of_stream_fails_every_call_until_a_new_stream() {
    let mut mem = Mem::new();
    let mut r = rpc(&mut mem, Pipe { input: reply(100, b"", 64)[..10].to_vec(), ..Pipe::default() });
    null(&mut r).unwrap();
    null(&mut r).unwrap();
    assert_eq!(r.next_event(), Err(RpcError::Closed));
    assert!(!r.is_up());
    assert_eq!((r.outstanding(), r.client().pending()), (0, 0));
    assert_eq!(null(&mut r), Err(RpcError::Disconnected));
    assert_eq!(r.next_event(), Err(RpcError::Disconnected));
    // A new stream starts clean: the half record of the old one is gone.
    r.replace_io(Pipe { input: reply(102, b"ok", 64), chunk: 64, ..Pipe::default() });
    assert_eq!(null(&mut r), Ok(102));
    assert!(matches!(r.next_event(), Ok(Event::Reply(rep)) if rep.xid == 102));
}

#[test]
fn oversized_record_ends_the_stream_before_its_bytes() {
    let mut input = fragment_header(100_000, true).to_vec();
    input.extend([0u8; 64]);
    let mut mem = Mem::new();
    let mut r = rpc(&mut mem, Pipe { input, chunk: 64, ..Pipe::default() });
    null(&mut r).unwrap();
    assert_eq!(r.next_event(), Err(RpcError::TooLarge));
    assert!(r.next_event().unwrap_err().is_link());
    // Only the header and what one read brought were consumed.
    assert!(r.io().at <= 5, "{}", r.io().at);
}

#[test]
fn write_of_nothing_is_a_closed_stream() {
    let mut mem = Mem::new();
    let mut r = rpc(&mut mem, Pipe { write_zero: true, ..Pipe::default() });
    assert_eq!(null(&mut r), Err(RpcError::Closed));
    assert_eq!((r.outstanding(), r.client().pending(), r.is_up()), (0, 0, false));
}

#[test]
fn call_too_large_for_the_buffer_is_refused_without_writing() {
    let mut mem = Mem::new();
    let mut r = rpc(&mut mem, Pipe::default());
    let big = [7u8; 300];
    let e = r.start(|c, now, buf| {
        c.call(now, 7, 1, 0, &tern_core::rpc::Credential::None, &tern_core::xdr::Opaque::<512>::new(&big).unwrap(), buf)
            .map_err(RpcError::from)
    });
    assert!(matches!(e, Err(RpcError::Call(_))), "{e:?}");
    assert!(r.is_up() && r.io().written.is_empty());
}

#[test]
fn read_time_outs_are_ticks_until_the_deadline() {
    let mut mem = Mem::new();
    let cfg = ClientConfig { timeout: Duration::from_millis(30), max_timeout: Duration::from_millis(30), retries: 0 };
    let t = std::cell::Cell::new(0u64);
    let clock = || {
        t.set(t.get() + 10);
        Instant::from_millis(t.get())
    };
    let mut r = Rpc::new(Pipe { stall: true, ..Pipe::default() }, clock, Client::<4>::new(cfg, 100), mem.get());
    r.start(|c, now, buf| c.call(now, 7, 1, 0, &tern_core::rpc::Credential::None, &(), buf).map_err(RpcError::from))
        .unwrap();
    assert_eq!(r.next_event(), Ok(Event::TimedOut(100)));
    assert!(r.is_up());
    assert_eq!(r.outstanding(), 0);
}

#[test]
fn empty_input_buffer_is_invalid_input() {
    let (mut call, mut reply, mut input) = ([0u8; 128], [0u8; 128], [0u8; 0]);
    let bufs = Buffers { call: &mut call, reply: &mut reply, input: &mut input };
    let clock: Clock = || Instant::ZERO;
    let mut r = Rpc::new(Pipe::default(), clock, Client::<2>::new(ClientConfig::stream(), 1), bufs);
    r.start(|c, now, buf| c.call(now, 7, 1, 0, &tern_core::rpc::Credential::None, &(), buf).map_err(RpcError::from))
        .unwrap();
    assert_eq!(r.next_event(), Err(RpcError::Io(ErrorKind::InvalidInput)));
}
