//! The async drivers, over [`embedded_io_async::Read`] + [`embedded_io_async::Write`]:
//! [`Rpc`] (ONC RPC over the stream) and [`NfsClient`] (MOUNT and NFSv3 above it). They are
//! the blocking drivers with `.await` at each read and write; no executor is assumed.
//!
//! Each read is raced against the [`Timer`] set to the next call deadline, so calls time out
//! even while the connection stays silent. A read that loses the race is dropped: the stream's
//! `read` must then be side-effect-free on cancel (as `embedded_io_async` encourages, and as
//! embassy-net's TCP socket is); with a stream whose reads are not, use a timer that never
//! completes and a read time-out in the stream (a read failing with [`ErrorKind::TimedOut`]
//! is a tick, as in the blocking driver). Writes are not raced.
//!
//! A future of these drivers that is dropped before it completes leaves the stream in an
//! unknown place (a call partly written): give the driver a new stream before using it again.

mod nfs;

pub use nfs::NfsClient;

use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;

use embedded_io_async::{Error as _, ErrorKind, Read, Write};
use tern_core::rpc::client::Client;
use tern_core::time::Instant;

use crate::pump::Pump;
use crate::{Buffers, Event, RpcError, Timer};

/// ONC RPC calls over one async stream, at most `N` in flight; see the crate docs.
#[derive(Debug)]
pub struct Rpc<'b, S, T, const N: usize> {
    io: S,
    timer: T,
    pump: Pump<'b, N>,
}

/// Which of two futures finished first.
enum First<A, B> {
    A(A),
    B(B),
}

/// Polls `a` and `b` until one completes (`a` first); the other is dropped.
async fn first<A: Future, B: Future>(a: A, b: B) -> First<A::Output, B::Output> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    poll_fn(|cx| {
        if let Poll::Ready(x) = a.as_mut().poll(cx) {
            return Poll::Ready(First::A(x));
        }
        if let Poll::Ready(y) = b.as_mut().poll(cx) {
            return Poll::Ready(First::B(y));
        }
        Poll::Pending
    })
    .await
}

/// Writes all of `frame`, or fails with the error that ends the connection.
async fn write_all<S: Write>(io: &mut S, mut frame: &[u8]) -> Result<(), RpcError> {
    while !frame.is_empty() {
        match io.write(frame).await {
            Ok(0) => return Err(RpcError::Closed),
            Ok(n) => frame = frame.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(RpcError::Io(e.kind())),
        }
    }
    Ok(())
}

impl<'b, S: Read + Write, T: Timer, const N: usize> Rpc<'b, S, T, N> {
    /// A driver for `client` over the connected stream `io`, with time from `timer` and the
    /// caller's buffers (see [`blocking::Rpc::new`](crate::blocking::Rpc::new)).
    pub fn new(io: S, timer: T, client: Client<N>, bufs: Buffers<'b>) -> Self {
        Rpc { io, timer, pump: Pump::new(client, bufs) }
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

    /// The time now, from the driver's timer.
    pub fn now(&mut self) -> Instant {
        self.timer.now()
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

    /// Takes a new connected stream and gives back the old one; calls outstanding on the old
    /// stream are forgotten.
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

    /// Starts a call encoded by `enc` (see
    /// [`blocking::Rpc::start_opt`](crate::blocking::Rpc::start_opt)) and writes it.
    pub async fn start_opt<E, F>(&mut self, enc: F) -> Result<Option<u32>, E>
    where
        E: From<RpcError>,
        F: FnOnce(&mut Client<N>, Instant, &mut [u8]) -> Result<Option<(u32, usize)>, E>,
    {
        let now = self.timer.now();
        let Some((xid, frame)) = self.pump.encode(now, enc)? else { return Ok(None) };
        if let Err(e) = write_all(&mut self.io, frame).await {
            return Err(self.pump.lost(e).into());
        }
        Ok(Some(xid))
    }

    /// [`Rpc::start_opt`] for an encoder that always sends.
    pub async fn start<E, F>(&mut self, enc: F) -> Result<u32, E>
    where
        E: From<RpcError>,
        F: FnOnce(&mut Client<N>, Instant, &mut [u8]) -> Result<(u32, usize), E>,
    {
        self.start_opt(|c, now, buf| enc(c, now, buf).map(Some)).await?.ok_or_else(|| RpcError::Idle.into())
    }

    /// Reads until a reply to an outstanding call is complete (`None`) or a call times out
    /// (its xid).
    async fn wait(&mut self) -> Result<Option<u32>, RpcError> {
        if self.pump.unflushed {
            if let Err(e) = self.io.flush().await {
                return Err(self.pump.lost(RpcError::Io(e.kind())));
            }
            self.pump.unflushed = false;
        }
        loop {
            if self.pump.ready()? {
                return Ok(None);
            }
            if let Some(xid) = self.pump.timed_out(self.timer.now()) {
                return Ok(Some(xid));
            }
            if !self.pump.is_up() {
                return Err(RpcError::Disconnected);
            }
            if self.pump.outstanding() == 0 {
                return Err(RpcError::Idle);
            }
            let deadline = self.pump.deadline();
            let buf = self.pump.input_space();
            if buf.is_empty() {
                return Err(RpcError::Io(ErrorKind::InvalidInput));
            }
            let read = match deadline {
                Some(at) => match first(self.io.read(buf), self.timer.at(at)).await {
                    First::A(r) => r,
                    First::B(()) => continue,
                },
                None => self.io.read(buf).await,
            };
            match read {
                Ok(0) => return Err(self.pump.lost(RpcError::Closed)),
                Ok(n) => self.pump.filled(n),
                Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
                Err(e) => return Err(self.pump.lost(RpcError::Io(e.kind()))),
            }
        }
    }

    /// Waits for the next reply to an outstanding call, or the next call that timed out. A
    /// reply borrows the reply buffer until the driver is used again.
    pub async fn next_event(&mut self) -> Result<Event<'_>, RpcError> {
        match self.wait().await? {
            None => self.pump.deliver(),
            Some(xid) => Ok(Event::TimedOut(xid)),
        }
    }

    /// Makes one call and waits for its reply: the result bytes (borrowing the reply buffer).
    /// Replies to other outstanding calls that come first are dropped.
    pub async fn call<E, F>(&mut self, enc: F) -> Result<&[u8], E>
    where
        E: From<RpcError>,
        F: FnOnce(&mut Client<N>, Instant, &mut [u8]) -> Result<(u32, usize), E>,
    {
        let xid = self.start(enc).await?;
        loop {
            match self.wait().await? {
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
