//! The network poll loop, independent of the board: each mode services its sockets (for RPC,
//! through `tern-smoltcp`'s server and client pumps) in the hook.

use core::ops::ControlFlow;

use smoltcp::iface::{Interface, SocketSet};
use smoltcp::phy::Device;
use smoltcp::time::Instant;

/// An interface, its device and its sockets, driven by a clock.
pub struct Stack<'s, D: Device> {
    /// The IP interface.
    pub iface: Interface,
    /// The network device under it.
    pub device: D,
    /// Sockets the hook services.
    pub sockets: SocketSet<'s>,
    /// Current time.
    pub clock: fn() -> Instant,
}

/// Why [`Stack::pump`] returned without the hook finishing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineReached;

impl<'s, D: Device> Stack<'s, D> {
    /// Polls the interface and then calls `hook` with the current time and the sockets, in a
    /// loop, until `hook` breaks (its value is returned) or `deadline` passes.
    ///
    /// The hook services sockets (accept, read, write, close) and must not block.
    pub fn pump<R>(
        &mut self,
        deadline: Instant,
        mut hook: impl FnMut(Instant, &mut Interface, &mut SocketSet<'s>) -> ControlFlow<R>,
    ) -> Result<R, DeadlineReached> {
        loop {
            let now = (self.clock)();
            if now >= deadline {
                return Err(DeadlineReached);
            }
            self.iface.poll(now, &mut self.device, &mut self.sockets);
            if let ControlFlow::Break(r) = hook(now, &mut self.iface, &mut self.sockets) {
                return Ok(r);
            }
        }
    }
}
