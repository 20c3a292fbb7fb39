//! Portmapper calls over the sans-IO [`Client`]: encode GETPORT, DUMP, SET and UNSET calls and
//! decode their results.

use super::{Mapping, PROGRAM, PmapList, VERSION, procs};
use crate::rpc::auth::Credential;
use crate::rpc::client::{Client, ClientError};
use crate::time::Instant;
use crate::xdr;

/// Encodes GETPORT(prog, vers, prot) into `buf`; returns the xid and length.
pub fn getport<const N: usize>(
    c: &mut Client<N>,
    now: Instant,
    prog: u32,
    vers: u32,
    prot: u32,
    buf: &mut [u8],
) -> Result<(u32, usize), ClientError> {
    let m = Mapping { prog, vers, prot, port: 0 };
    c.call(now, PROGRAM, VERSION, procs::GETPORT, &Credential::None, &m, buf)
}

/// Encodes DUMP into `buf`; returns the xid and length.
pub fn dump<const N: usize>(c: &mut Client<N>, now: Instant, buf: &mut [u8]) -> Result<(u32, usize), ClientError> {
    c.call(now, PROGRAM, VERSION, procs::DUMP, &Credential::None, &(), buf)
}

/// Encodes SET(m) into `buf`; returns the xid and length.
pub fn set<const N: usize>(
    c: &mut Client<N>,
    now: Instant,
    m: Mapping,
    buf: &mut [u8],
) -> Result<(u32, usize), ClientError> {
    c.call(now, PROGRAM, VERSION, procs::SET, &Credential::None, &m, buf)
}

/// Encodes UNSET(prog, vers) into `buf`; returns the xid and length.
pub fn unset<const N: usize>(
    c: &mut Client<N>,
    now: Instant,
    prog: u32,
    vers: u32,
    buf: &mut [u8],
) -> Result<(u32, usize), ClientError> {
    let m = Mapping { prog, vers, prot: 0, port: 0 };
    c.call(now, PROGRAM, VERSION, procs::UNSET, &Credential::None, &m, buf)
}

/// Decodes a GETPORT result (0 means not registered).
pub fn decode_port(results: &[u8]) -> xdr::Result<u32> {
    xdr::decode_exact(results)
}

/// Decodes a SET or UNSET result.
pub fn decode_bool(results: &[u8]) -> xdr::Result<bool> {
    xdr::decode_exact(results)
}

/// Decodes a DUMP result.
pub fn decode_dump(results: &[u8]) -> xdr::Result<PmapList<'_>> {
    xdr::decode_exact(results)
}
