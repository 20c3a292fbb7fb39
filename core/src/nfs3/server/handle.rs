//! Wire handles: the server's 8-byte prefix followed by the back end's handle.
//!
//! | bytes | meaning |
//! |---|---|
//! | 0 | [`HANDLE_FORMAT`] |
//! | 1 | the export's slot in the server (the order of [`super::Nfs3Server::add`]; a hint) |
//! | 2..8 | check bytes: 48 bits of FNV-1a 64 over the server id, the export's path (by components) and the back end's root handle |
//! | 8.. | the back end's [`fs::Handle`] (at most [`fs::MAX_HANDLE`] bytes) |
//!
//! A handle shorter than the prefix or with another format byte is malformed
//! (`NFS3ERR_BADHANDLE`); one whose check bytes match no export of this server (another server
//! id, another export, an export that is gone) is stale (`NFS3ERR_STALE`). The check bytes are
//! not a secret: they keep handles of one export or server from being taken for another's,
//! while admission decides who may use an export. Nothing here depends on state that a restart
//! loses, so handles stay valid across restarts with the same server id, paths and back ends.

use crate::exports::components;
use crate::fs;
use crate::nfs3::{FHSIZE, FileHandle, NfsStat3};

/// The first byte of every handle this server issues (format 1).
pub const HANDLE_FORMAT: u8 = 0x31;
/// Bytes the server puts before the back end's handle.
pub const PREFIX_LEN: usize = 8;

/// A handle as it goes on the wire (at most 64 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct WireHandle {
    len: u8,
    bytes: [u8; FHSIZE as usize],
}

impl WireHandle {
    /// The handle's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// The handle as an `nfs_fh3`.
    pub fn file_handle(&self) -> FileHandle<'_> {
        FileHandle::new(self.as_bytes()).unwrap_or_default()
    }
}

impl core::fmt::Debug for WireHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("WireHandle(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// The check bytes of an export: 48 bits of FNV-1a 64 over `server_id`, the components of
/// `path` (each followed by `/`) and `root`'s bytes.
pub(super) fn tag(server_id: u32, path: &str, root: &fs::Handle) -> [u8; 6] {
    let mut h = Fnv::new();
    h.write(&server_id.to_be_bytes());
    for c in components(path) {
        h.write(c.as_bytes());
        h.write(b"/");
    }
    h.write(&[0]);
    h.write(root.as_bytes());
    let b = h.0.to_be_bytes();
    [b[0] ^ b[6], b[1] ^ b[7], b[2], b[3], b[4], b[5]]
}

struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The wire handle of back-end handle `h` in the export at `slot` with check bytes `tag`.
pub(super) fn compose(slot: u8, tag: [u8; 6], h: &fs::Handle) -> WireHandle {
    let mut bytes = [0u8; FHSIZE as usize];
    bytes[0] = HANDLE_FORMAT;
    bytes[1] = slot;
    bytes[2..PREFIX_LEN].copy_from_slice(&tag);
    let body = h.as_bytes();
    let n = body.len().min(fs::MAX_HANDLE);
    bytes[PREFIX_LEN..PREFIX_LEN + n].copy_from_slice(&body[..n]);
    WireHandle { len: (PREFIX_LEN + n) as u8, bytes }
}

/// Splits a wire handle into its slot, check bytes and back-end handle; `NFS3ERR_BADHANDLE`
/// when it is malformed.
pub(super) fn split(wire: &[u8]) -> Result<(usize, [u8; 6], fs::Handle), NfsStat3> {
    let (prefix, body) = wire.split_at_checked(PREFIX_LEN).ok_or(NfsStat3::BadHandle)?;
    if prefix[0] != HANDLE_FORMAT {
        return Err(NfsStat3::BadHandle);
    }
    let mut tag = [0u8; 6];
    tag.copy_from_slice(&prefix[2..]);
    let h = fs::Handle::new(body).ok_or(NfsStat3::BadHandle)?;
    Ok((usize::from(prefix[1]), tag, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_and_split() {
        let root = fs::Handle::new(&[1, 2, 3]).unwrap();
        let t = tag(7, "/srv/nfs", &root);
        let h = fs::Handle::new(&[9; 56]).unwrap();
        let w = compose(3, t, &h);
        assert_eq!(w.as_bytes().len(), 64);
        assert_eq!(&w.as_bytes()[..2], &[HANDLE_FORMAT, 3]);
        assert_eq!(w.file_handle().as_bytes(), w.as_bytes());
        assert_eq!(split(w.as_bytes()), Ok((3, t, h)));
        let empty = fs::Handle::new(&[]).unwrap();
        assert_eq!(split(compose(0, t, &empty).as_bytes()), Ok((0, t, empty)));
        // Malformed: short, or another format byte.
        assert_eq!(split(&w.as_bytes()[..7]), Err(NfsStat3::BadHandle));
        assert_eq!(split(&[]), Err(NfsStat3::BadHandle));
        let mut other = *w.as_bytes().first_chunk::<64>().unwrap();
        other[0] ^= 1;
        assert_eq!(split(&other), Err(NfsStat3::BadHandle));
        assert!(std::format!("{w:?}").starts_with("WireHandle(3103"));
    }

    #[test]
    fn tags_differ_by_server_path_and_root() {
        let root = fs::Handle::new(&[1, 2, 3]).unwrap();
        let t = tag(7, "/srv/nfs", &root);
        // The path is compared by components.
        assert_eq!(tag(7, "//srv/./nfs/", &root), t);
        assert_ne!(tag(8, "/srv/nfs", &root), t);
        assert_ne!(tag(7, "/srv/nf", &root), t);
        assert_ne!(tag(7, "/srv/nfs/x", &root), t);
        assert_ne!(tag(7, "/srvnfs", &root), t);
        assert_ne!(tag(7, "/srv/nfs", &fs::Handle::new(&[1, 2, 4]).unwrap()), t);
    }
}
