//! [`MountTable`]: the directories this client has mounted, and the MOUNT calls around them.
//!
//! [`MountTable::mnt`] encodes MNT; [`MountTable::mounted`] decodes its result and records the
//! path with its root handle. [`MountTable::umnt`] encodes UMNT for a recorded path and
//! forgets it (a server that never answers must not keep it mounted here); the driver then
//! decodes the void result with [`decode_void`](crate::mount::client::decode_void). The table
//! holds at most `M` mounts of paths up to `P` bytes (a longer path is [`Error::Full`]).

use heapless::{String, Vec};

use super::{Error, Fh};
use crate::mount::{self, MountRes3};
use crate::rpc::auth::Credential;
use crate::rpc::client::Client;
use crate::time::Instant;

/// One mounted directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mounted<const P: usize> {
    /// The path given to MNT.
    pub path: String<P>,
    /// Its root handle.
    pub root: Fh,
}

/// Up to `M` mounted directories, paths up to `P` bytes.
#[derive(Debug, Clone, Default)]
pub struct MountTable<const M: usize, const P: usize> {
    entries: Vec<Mounted<P>, M>,
}

impl<const M: usize, const P: usize> MountTable<M, P> {
    /// An empty table.
    pub const fn new() -> Self {
        MountTable { entries: Vec::new() }
    }

    /// Encodes MNT of `path` into `buf`; returns the xid and length.
    pub fn mnt<const N: usize>(
        &self,
        c: &mut Client<N>,
        now: Instant,
        cred: &Credential<'_>,
        path: &str,
        buf: &mut [u8],
    ) -> Result<(u32, usize), Error> {
        if path.len() > P {
            return Err(Error::Full);
        }
        Ok(mount::client::mnt(c, now, cred, path, buf)?)
    }

    /// Decodes MNT's result for `path` and records the mount (again, if it was mounted
    /// already: the handle is replaced). Returns the root handle.
    pub fn mounted(&mut self, path: &str, results: &[u8]) -> Result<Fh, Error> {
        let root = match mount::client::decode_mnt(results)? {
            MountRes3::Ok { fhandle, .. } => Fh::new(fhandle.as_bytes()).ok_or(Error::Protocol)?,
            MountRes3::Fail(s) => return Err(Error::Mount(s)),
        };
        if let Some(m) = self.entries.iter_mut().find(|m| m.path == path) {
            m.root = root;
            return Ok(root);
        }
        let path = String::try_from(path).map_err(|_| Error::Full)?;
        self.entries.push(Mounted { path, root }).map_err(|_| Error::Full)?;
        Ok(root)
    }

    /// Encodes UMNT of a mounted `path` into `buf` and forgets the mount; returns the xid and
    /// length. [`Error::NotMounted`] when the table does not hold `path`.
    pub fn umnt<const N: usize>(
        &mut self,
        c: &mut Client<N>,
        now: Instant,
        cred: &Credential<'_>,
        path: &str,
        buf: &mut [u8],
    ) -> Result<(u32, usize), Error> {
        let i = self.entries.iter().position(|m| m.path == path).ok_or(Error::NotMounted)?;
        let sent = mount::client::umnt(c, now, cred, path, buf)?;
        self.entries.swap_remove(i);
        Ok(sent)
    }

    /// The mount of `path`.
    pub fn get(&self, path: &str) -> Option<&Mounted<P>> {
        self.entries.iter().find(|m| m.path == path)
    }

    /// Every mount, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Mounted<P>> {
        self.entries.iter()
    }

    /// The path of some mount (to unmount everything: UMNT it until this is `None`).
    pub fn first(&self) -> Option<&str> {
        self.entries.first().map(|m| m.path.as_str())
    }

    /// Number of mounts.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is mounted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
