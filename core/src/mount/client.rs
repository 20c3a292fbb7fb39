//! MOUNT v3 calls over the sans-IO [`Client`]: encode MNT, DUMP, UMNT, UMNTALL and EXPORT
//! calls and decode their results. MNT, UMNT and UMNTALL take a credential because `mount.x`
//! asks for AUTH_UNIX on them; DUMP and EXPORT are sent with AUTH_NONE.

use super::{DirPath, ExportList, MountList, MountRes3, PROGRAM, VERSION, procs};
use crate::rpc::auth::Credential;
use crate::rpc::client::{Client, ClientError};
use crate::time::Instant;
use crate::xdr;

fn dirpath(path: &str) -> Result<DirPath<'_>, ClientError> {
    DirPath::new(path).map_err(ClientError::Encode)
}

/// Encodes MNT(path) into `buf`; returns the xid and length.
pub fn mnt<const N: usize>(
    c: &mut Client<N>,
    now: Instant,
    cred: &Credential<'_>,
    path: &str,
    buf: &mut [u8],
) -> Result<(u32, usize), ClientError> {
    c.call(now, PROGRAM, VERSION, procs::MNT, cred, &dirpath(path)?, buf)
}

/// Encodes DUMP into `buf`; returns the xid and length.
pub fn dump<const N: usize>(c: &mut Client<N>, now: Instant, buf: &mut [u8]) -> Result<(u32, usize), ClientError> {
    c.call(now, PROGRAM, VERSION, procs::DUMP, &Credential::None, &(), buf)
}

/// Encodes UMNT(path) into `buf`; returns the xid and length.
pub fn umnt<const N: usize>(
    c: &mut Client<N>,
    now: Instant,
    cred: &Credential<'_>,
    path: &str,
    buf: &mut [u8],
) -> Result<(u32, usize), ClientError> {
    c.call(now, PROGRAM, VERSION, procs::UMNT, cred, &dirpath(path)?, buf)
}

/// Encodes UMNTALL into `buf`; returns the xid and length.
pub fn umntall<const N: usize>(
    c: &mut Client<N>,
    now: Instant,
    cred: &Credential<'_>,
    buf: &mut [u8],
) -> Result<(u32, usize), ClientError> {
    c.call(now, PROGRAM, VERSION, procs::UMNTALL, cred, &(), buf)
}

/// Encodes EXPORT into `buf`; returns the xid and length.
pub fn export<const N: usize>(c: &mut Client<N>, now: Instant, buf: &mut [u8]) -> Result<(u32, usize), ClientError> {
    c.call(now, PROGRAM, VERSION, procs::EXPORT, &Credential::None, &(), buf)
}

/// Decodes a MNT result.
pub fn decode_mnt(results: &[u8]) -> xdr::Result<MountRes3<'_>> {
    xdr::decode_exact(results)
}

/// Decodes a DUMP result.
pub fn decode_dump(results: &[u8]) -> xdr::Result<MountList<'_>> {
    xdr::decode_exact(results)
}

/// Decodes an EXPORT result.
pub fn decode_export(results: &[u8]) -> xdr::Result<ExportList<'_>> {
    xdr::decode_exact(results)
}

/// Decodes a UMNT or UMNTALL result (void).
pub fn decode_void(results: &[u8]) -> xdr::Result<()> {
    xdr::decode_exact(results)
}
