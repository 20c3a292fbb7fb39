//! The portmapper, program 100000 version 2 (RFC 1833 §3).
//!
//! [`Portmapper`] serves NULL, SET, UNSET, GETPORT and DUMP. CALLIT (procedure 5) is answered
//! with `PROC_UNAVAIL`: forwarding calls on a caller's behalf is an amplification and spoofing
//! vector and no client Tern cares about needs it (rpcbind itself only allows it for a few
//! programs). The client side is [`client`]: GETPORT and DUMP over the sans-IO client.

pub mod client;
mod server;

pub use server::{Portmapper, SetPolicy};

use crate::xdr::{self, ChainList, Decode, Encode, Reader, Writer};

/// Program number.
pub const PROGRAM: u32 = 100_000;
/// Version served.
pub const VERSION: u32 = 2;
/// Well-known port.
pub const PORT: u16 = 111;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: u32 = 6;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: u32 = 17;

/// Procedure numbers.
pub mod procs {
    /// Do nothing.
    pub const NULL: u32 = 0;
    /// Register a mapping.
    pub const SET: u32 = 1;
    /// Unregister a program version on every protocol.
    pub const UNSET: u32 = 2;
    /// Look up a port.
    pub const GETPORT: u32 = 3;
    /// List all mappings.
    pub const DUMP: u32 = 4;
    /// Indirect call (not served).
    pub const CALLIT: u32 = 5;
}

/// Most mappings a DUMP reply is decoded with.
pub const MAX_DUMP: u32 = 4096;

/// `mapping`: a program version on a protocol at a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Mapping {
    /// Program number.
    pub prog: u32,
    /// Version.
    pub vers: u32,
    /// [`IPPROTO_TCP`] or [`IPPROTO_UDP`].
    pub prot: u32,
    /// Port (ignored by UNSET and GETPORT).
    pub port: u32,
}

impl Encode for Mapping {
    fn encoded_len(&self) -> usize {
        16
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        [self.prog, self.vers, self.prot, self.port].iter().try_for_each(|v| w.put_u32(*v))
    }
}

impl<'a> Decode<'a> for Mapping {
    const MIN_LEN: usize = 16;
    fn decode(r: &mut Reader<'a>) -> xdr::Result<Self> {
        Ok(Mapping { prog: r.read()?, vers: r.read()?, prot: r.read()?, port: r.read()? })
    }
}

/// `pmaplist`, the result of DUMP, decoded lazily.
pub type PmapList<'a> = ChainList<'a, Mapping, MAX_DUMP>;

#[cfg(test)]
mod tests;
