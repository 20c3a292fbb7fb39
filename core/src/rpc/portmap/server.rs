//! The portmapper's registration table and its RPC program.
//!
//! Invariants: at most `N` mappings; at most one mapping per (program, version, protocol), so
//! GETPORT has one answer; a SET for a triple already present fails, as RFC 1833 says. The
//! program registers itself (TCP and UDP, port [`super::PORT`] unless told otherwise).

use heapless::Vec;

use super::{IPPROTO_TCP, IPPROTO_UDP, Mapping, PROGRAM, VERSION, procs};
use crate::rpc::server::{CallContext, ProcError, Program};
use crate::xdr::{self, Writer};

/// Who may change the table through SET and UNSET calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetPolicy {
    /// Only callers on a loopback address (rpcbind's rule).
    LoopbackOnly,
    /// Anyone (for a board whose peers are trusted).
    Anyone,
}

/// The portmapper program with room for `N` mappings.
#[derive(Debug)]
pub struct Portmapper<const N: usize> {
    table: Vec<Mapping, N>,
    policy: SetPolicy,
}

impl<const N: usize> Portmapper<N> {
    /// A portmapper that lists itself on TCP and UDP at `port`.
    pub fn new(port: u16, policy: SetPolicy) -> Self {
        let mut pm = Portmapper { table: Vec::new(), policy };
        for prot in [IPPROTO_TCP, IPPROTO_UDP] {
            pm.set(Mapping { prog: PROGRAM, vers: VERSION, prot, port: u32::from(port) });
        }
        pm
    }

    /// Registers a mapping; false when the triple is taken or the table is full.
    pub fn set(&mut self, m: Mapping) -> bool {
        if self.table.iter().any(|e| e.prog == m.prog && e.vers == m.vers && e.prot == m.prot) {
            return false;
        }
        self.table.push(m).is_ok()
    }

    /// Removes every mapping of a program version; false when there was none.
    pub fn unset(&mut self, prog: u32, vers: u32) -> bool {
        let before = self.table.len();
        self.table.retain(|e| !(e.prog == prog && e.vers == vers));
        self.table.len() != before
    }

    /// The port of a program version on a protocol, 0 when not registered.
    pub fn getport(&self, prog: u32, vers: u32, prot: u32) -> u32 {
        self.table.iter().find(|e| e.prog == prog && e.vers == vers && e.prot == prot).map_or(0, |e| e.port)
    }

    /// All mappings, in registration order.
    pub fn mappings(&self) -> &[Mapping] {
        &self.table
    }

    fn may_change(&self, ctx: &CallContext<'_>) -> bool {
        self.policy == SetPolicy::Anyone || ctx.peer.addr.ip().is_loopback()
    }
}

impl<const N: usize> Program for Portmapper<N> {
    fn program(&self) -> u32 {
        PROGRAM
    }

    fn versions(&self) -> (u32, u32) {
        (VERSION, VERSION)
    }

    fn call(&mut self, ctx: &CallContext<'_>, args: &[u8], out: &mut Writer<'_>) -> Result<(), ProcError> {
        match ctx.proc_ {
            procs::SET => {
                let m: Mapping = xdr::decode_exact(args)?;
                let ok = self.may_change(ctx) && self.set(m);
                out.write(&ok)?;
            }
            procs::UNSET => {
                let m: Mapping = xdr::decode_exact(args)?;
                let ok = self.may_change(ctx) && self.unset(m.prog, m.vers);
                out.write(&ok)?;
            }
            procs::GETPORT => {
                let m: Mapping = xdr::decode_exact(args)?;
                out.put_u32(self.getport(m.prog, m.vers, m.prot))?;
            }
            procs::DUMP => {
                xdr::decode_exact::<()>(args)?;
                out.write(&xdr::SliceChain::<Mapping, { u32::MAX }>(&self.table))?;
            }
            _ => return Err(ProcError::ProcUnavail),
        }
        Ok(())
    }
}
