//! MOUNT and NFS on one dispatcher, over the same back ends.
//!
//! [`MountServer`] owns the [`ExportRoots`] it asks for handles, and a dispatcher owns its
//! program table; the back ends can have only one owner. So the NFS program itself is the
//! MOUNT server's `R`: [`Nfs3Server`] implements [`ExportRoots`] (MNT's path → the root handle
//! of an export, walked down a subdirectory with LOOKUPs), and [`NfsService`] holds the
//! `MountServer<Nfs3Server>` and answers the dispatcher's lookups for both program numbers
//! from it (the NFS program through [`MountServer::roots`]). Each keeps its copy of the
//! exports table: [`NfsService::set_exports`] replaces both.
//!
//! The NFS program may be wrapped in a duplicate request cache: `DrcProgram<Nfs3Server>`
//! implements [`ExportRoots`] and [`ExportTable`] by passing them to the server. A third table
//! of programs (a [`Portmapper`](crate::rpc::portmap::Portmapper), say) can share the
//! dispatcher through [`NfsService::with_programs`].

use core::net::IpAddr;

use heapless::String;

use super::errors::mount_status;
use super::{Nfs3Server, handle};
use crate::exports::{Exports, components};
use crate::fs::{FileSystem, FileType};
use crate::mount::{self, ExportRoots, MountServer, MountStat};
use crate::rpc::drc::DrcProgram;
use crate::rpc::server::{Program, ProgramTable};

/// A program that keeps its own copy of an exports table.
pub trait ExportTable<'a, const E: usize, const C: usize> {
    /// The table.
    fn exports(&self) -> &Exports<'a, E, C>;
    /// Replaces the table (a reload).
    fn set_exports(&mut self, exports: Exports<'a, E, C>);
}

impl<'a, F: FileSystem, const X: usize, const E: usize, const C: usize> ExportTable<'a, E, C>
    for Nfs3Server<'a, F, X, E, C>
{
    fn exports(&self) -> &Exports<'a, E, C> {
        Nfs3Server::exports(self)
    }

    fn set_exports(&mut self, exports: Exports<'a, E, C>) {
        Nfs3Server::set_exports(self, exports);
    }
}

impl<'a, P: ExportTable<'a, E, C>, const E: usize, const C: usize, const N: usize, const R: usize> ExportTable<'a, E, C>
    for DrcProgram<P, N, R>
{
    fn exports(&self) -> &Exports<'a, E, C> {
        self.inner().exports()
    }

    fn set_exports(&mut self, exports: Exports<'a, E, C>) {
        self.inner_mut().set_exports(exports);
    }
}

impl<F: FileSystem, const X: usize, const E: usize, const C: usize> ExportRoots for Nfs3Server<'_, F, X, E, C> {
    /// The root of the export served at `export_path`, or the directory `subdir` below it
    /// found one LOOKUP at a time (as the back end's root user: MNT is not an NFS call).
    /// An export without a back end is `MNT3ERR_NOENT`; a path through or to a non-directory
    /// `MNT3ERR_NOTDIR`; a `..` component `MNT3ERR_INVAL`.
    fn root_handle(&mut self, export_path: &str, subdir: &str, out: &mut [u8; 64]) -> Result<usize, MountStat> {
        let b =
            self.bound.iter_mut().find(|b| components(b.path).eq(components(export_path))).ok_or(MountStat::NoEnt)?;
        let mut h = b.mount.root;
        for name in components(subdir) {
            if name == ".." {
                return Err(MountStat::Inval);
            }
            h = b.fs.lookup(&h, name.as_bytes()).map_err(mount_status)?;
        }
        if b.fs.getattr(&h).map_err(mount_status)?.ftype != FileType::Directory {
            return Err(MountStat::NotDir);
        }
        let wire = handle::compose(b.mount.slot, b.mount.tag, &h);
        let bytes = wire.as_bytes();
        out.get_mut(..bytes.len()).ok_or(MountStat::ServerFault)?.copy_from_slice(bytes);
        Ok(bytes.len())
    }

    fn host_name(&mut self, addr: IpAddr, out: &mut String<{ mount::MNTNAMLEN as usize }>) -> bool {
        self.host_names.is_some_and(|f| f(addr, out))
    }
}

impl<P: ExportRoots, const N: usize, const R: usize> ExportRoots for DrcProgram<P, N, R> {
    fn root_handle(&mut self, export_path: &str, subdir: &str, out: &mut [u8; 64]) -> Result<usize, MountStat> {
        self.inner_mut().root_handle(export_path, subdir, out)
    }

    fn host_name(&mut self, addr: IpAddr, out: &mut String<{ mount::MNTNAMLEN as usize }>) -> bool {
        self.inner_mut().host_name(addr, out)
    }
}

/// No further programs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoPrograms;

impl ProgramTable for NoPrograms {
    fn lookup(&mut self, _prog: u32) -> Option<&mut dyn Program> {
        None
    }
}

/// MOUNT v3 and NFSv3 (the program `N`: an [`Nfs3Server`], possibly in a `DrcProgram`) as one
/// [`ProgramTable`], with a mount list of `M` entries of paths up to `P` bytes, and the
/// programs of `T` after them.
#[derive(Debug)]
pub struct NfsService<'a, N, const E: usize, const C: usize, const M: usize, const P: usize, T = NoPrograms> {
    mount: MountServer<'a, N, E, C, M, P>,
    more: T,
}

impl<'a, N, const E: usize, const C: usize, const M: usize, const P: usize> NfsService<'a, N, E, C, M, P>
where
    N: Program + ExportRoots + ExportTable<'a, E, C>,
{
    /// MOUNT over a copy of `nfs`'s exports table, and `nfs`.
    pub fn new(nfs: N) -> Self {
        let table = nfs.exports().clone();
        NfsService { mount: MountServer::new(table, nfs), more: NoPrograms }
    }
}

impl<'a, N, const E: usize, const C: usize, const M: usize, const P: usize, T> NfsService<'a, N, E, C, M, P, T>
where
    N: Program + ExportRoots + ExportTable<'a, E, C>,
{
    /// The same service, with the programs of `more` served too (looked up after NFS and
    /// MOUNT).
    pub fn with_programs<U: ProgramTable>(self, more: U) -> NfsService<'a, N, E, C, M, P, U> {
        NfsService { mount: self.mount, more }
    }

    /// The NFS program.
    pub fn nfs(&mut self) -> &mut N {
        self.mount.roots()
    }

    /// The MOUNT program (its mount list, for one).
    pub fn mount(&mut self) -> &mut MountServer<'a, N, E, C, M, P> {
        &mut self.mount
    }

    /// The further programs.
    pub fn programs(&mut self) -> &mut T {
        &mut self.more
    }

    /// Replaces the exports table of both programs (a reload; the mount list is kept).
    pub fn set_exports(&mut self, exports: Exports<'a, E, C>) {
        self.mount.set_exports(exports.clone());
        self.mount.roots().set_exports(exports);
    }
}

impl<'a, N, const E: usize, const C: usize, const M: usize, const P: usize, T> ProgramTable
    for NfsService<'a, N, E, C, M, P, T>
where
    N: Program + ExportRoots,
    T: ProgramTable,
{
    fn lookup(&mut self, prog: u32) -> Option<&mut dyn Program> {
        match prog {
            crate::nfs3::PROGRAM => Some(self.mount.roots()),
            mount::PROGRAM => Some(&mut self.mount),
            _ => self.more.lookup(prog),
        }
    }
}
