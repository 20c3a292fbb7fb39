//! The blocking drivers, over [`embedded_io::Read`] + [`embedded_io::Write`]: [`Rpc`] (ONC RPC
//! over the stream) and [`NfsClient`] (MOUNT and NFSv3 above it).
//!
//! Each method blocks until its calls are answered, time out, or the stream fails. Deadlines
//! are checked whenever a read returns: give the stream a read time-out (a read failing with
//! [`ErrorKind::TimedOut`] is a tick: the driver checks the time and reads again) when calls
//! must end while a live connection stays silent.

mod nfs;

pub use nfs::NfsClient;

use embedded_io::{Error as _, ErrorKind, Read, Write};
use tern_core::rpc::client::Client;
use tern_core::time::Instant;

use crate::pump::Pump;
use crate::{Buffers, Clock, Event, RpcError};

/// ONC RPC calls over one stream, at most `N` in flight; see the crate docs.
#[derive(Debug)]
pub struct Rpc<'b, S, C, const N: usize> {
    io: S,
    clock: C,
    pump: Pump<'b, N>,
}

/// Writes all of `frame`, or fails with the error that ends the connection.
fn write_all<S: Write>(io: &mut S, mut frame: &[u8]) -> Result<(), RpcError> {
    while !frame.is_empty() {
        match io.write(frame) {
            Ok(0) => return Err(RpcError::Closed),
            Ok(n) => frame = frame.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(RpcError::Io(e.kind())),
        }
    }
    Ok(())
}

impl<'b, S: Read + Write, C: Clock, const N: usize> Rpc<'b, S, C, N> {
    /// A driver for `client` over the connected stream `io`, with the time from `clock` and
    /// the caller's buffers. Use a client configuration fit for streams
    /// ([`ClientConfig::stream`](tern_core::rpc::client::ClientConfig::stream), or
    /// [`Timeouts::rpc_config`](tern_core::nfs3::client::Timeouts::rpc_config)).
    pub fn new(io: S, clock: C, client: Client<N>, bufs: Buffers<'b>) -> Self {
        Rpc { io, clock, pump: Pump::new(client, bufs) }
    }

    /// The sans-IO client (its settings, the number of calls outstanding).
    pub fn client(&self) -> &Client<N> {
        &self.pump.client
    }

    /// The stream.
    pub fn io(&self) -> &S {
        &self.io
    }

    /// The stream, mutably (to set options; reading or writing it breaks the framing).
    pub fn io_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The time now, from the driver's clock.
    pub fn now(&mut self) -> Instant {
        self.clock.now()
    }

    /// False after the stream failed, until [`Rpc::replace_io`].
    pub fn is_up(&self) -> bool {
        self.pump.is_up()
    }

    /// Calls outstanding on the current stream.
    pub fn outstanding(&self) -> usize {
        self.pump.outstanding()
    }

    /// Largest call message the call buffer holds (without its record mark).
    pub fn max_call(&self) -> usize {
        self.pump.max_call()
    }

    /// Largest reply the reply buffer holds.
    pub fn max_reply(&self) -> usize {
        self.pump.max_reply()
    }

    /// Takes a new connected stream (after a failure, or to move to another server) and
    /// gives back the old one. Calls outstanding on the old stream are forgotten.
    pub fn replace_io(&mut self, io: S) -> S {
        self.pump.reset();
        core::mem::replace(&mut self.io, io)
    }

    /// Forgets every outstanding call (their replies, if they come, are dropped).
    pub fn cancel_all(&mut self) {
        self.pump.cancel_all();
    }

    /// Ends the driver; gives back the stream and the client.
    pub fn into_parts(self) -> (S, Client<N>) {
        (self.io, self.pump.client)
    }

    /// Starts a call: `enc` encodes it with the client into the buffer it is given (as the
    /// core's encoders do) and returns the xid and length, or `None` when it has nothing to
    /// send; the call is written at once. Returns the xid.
    pub fn start_opt<E, F>(&mut self, enc: F) -> Result<Option<u32>, E>
    where
        E: From<RpcError>,
        F: FnOnce(&mut Client<N>, Instant, &mut [u8]) -> Result<Option<(u32, usize)>, E>,
    {
        let now = self.clock.now();
        let Some((xid, frame)) = self.pump.encode(now, enc)? else { return Ok(None) };
        if let Err(e) = write_all(&mut self.io, frame) {
            return Err(self.pump.lost(e).into());
        }
        Ok(Some(xid))
    }

    /// [`Rpc::start_opt`] for an encoder that always sends.
    pub fn start<E, F>(&mut self, enc: F) -> Result<u32, E>
    where
        E: From<RpcError>,
        F: FnOnce(&mut Client<N>, Instant, &mut [u8]) -> Result<(u32, usize), E>,
    {
        self.start_opt(|c, now, buf| enc(c, now, buf).map(Some))?.ok_or_else(|| RpcError::Idle.into())
    }

    /// Reads until a reply to an outstanding call is complete (`None`) or a call times out
    /// (its xid).
    fn wait(&mut self) -> Result<Option<u32>, RpcError> {
        if self.pump.unflushed {
            if let Err(e) = self.io.flush() {
                return Err(self.pump.lost(RpcError::Io(e.kind())));
            }
            self.pump.unflushed = false;
        }
        loop {
            if self.pump.ready()? {
                return Ok(None);
            }
            if let Some(xid) = self.pump.timed_out(self.clock.now()) {
                return Ok(Some(xid));
            }
            if !self.pump.is_up() {
                return Err(RpcError::Disconnected);
            }
            if self.pump.outstanding() == 0 {
                return Err(RpcError::Idle);
            }
            let buf = self.pump.input_space();
            if buf.is_empty() {
                return Err(RpcError::Io(ErrorKind::InvalidInput));
            }
            match self.io.read(buf) {
                Ok(0) => return Err(self.pump.lost(RpcError::Closed)),
                Ok(n) => self.pump.filled(n),
                Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
                Err(e) => return Err(self.pump.lost(RpcError::Io(e.kind()))),
            }
        }
    }

    /// Blocks until the next reply to an outstanding call, or the next call that timed out.
    /// A reply borrows the reply buffer until the driver is used again.
    pub fn next_event(&mut self) -> Result<Event<'_>, RpcError> {
        match self.wait()? {
            None => self.pump.deliver(),
            Some(xid) => Ok(Event::TimedOut(xid)),
        }
    }

    /// Makes one call and waits for its reply: the result bytes (borrowing the reply buffer).
    /// Replies to other outstanding calls that come first are dropped.
    pub fn call<E, F>(&mut self, enc: F) -> Result<&[u8], E>
    where
        E: From<RpcError>,
        F: FnOnce(&mut Client<N>, Instant, &mut [u8]) -> Result<(u32, usize), E>,
    {
        let xid = self.start(enc)?;
        loop {
            match self.wait()? {
                Some(x) if x == xid => return Err(RpcError::TimedOut.into()),
                Some(_) => {}
                None if self.pump.ready_xid() == Some(xid) => break,
                None => {
                    self.pump.deliver()?;
                }
            }
        }
        match self.pump.deliver()? {
            Event::Reply(r) => r.result.map_err(|f| RpcError::Refused(f).into()),
            Event::TimedOut(_) => Err(RpcError::TimedOut.into()),
        }
    }
}
