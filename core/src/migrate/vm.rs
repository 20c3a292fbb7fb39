//! The VM's processes as the protocol sees them: [`VmProcess`], a [`Migratable`] view of a
//! [`proc::Process`](crate::proc::Process) and the [`PageStore`] holding its frames.
//!
//! It lives here rather than in `proc` because `migrate` is the higher layer (it imports the
//! VM, never the other way round). A runner builds one for each call into a
//! [`Source`](super::Source) or [`Destination`](super::Destination), from the process, its
//! store and a run switch it keeps next to the process (the switch must outlive the view: the
//! protocol stops a process in one call and resumes it in a later one).
//!
//! How the contract of [`Migratable`] is kept:
//! - **Dirty bits** are the address space's own: every write, and every change of the layout
//!   (`brk` growing or shrinking: pages mapped or unmapped), sets a page's bit, and
//!   [`take_dirty`](Migratable::take_dirty) takes and clears them in one pass
//!   ([`AddressSpace::take_dirty`](crate::proc::AddressSpace::take_dirty)); an installed page
//!   is clean.
//! - **Page kinds** come from the page table alone: a mapped page without a frame is
//!   [`PageKind::Zero`], one with a frame is [`PageKind::Data`] (even when its bytes happen to
//!   be zero), a remote page is [`PageKind::Data`] too (it has contents, elsewhere).
//! - **A source has every page**: [`VmProcess::can_be_source`] says whether the process may be
//!   migrated (running, no remote page); the runner checks it before creating a
//!   [`Source`](super::Source). Reading a page that is remote or whose frame the store lost
//!   gives [`PageKind::Data`] with zero bytes, which cannot happen when that check held.
//! - **Stop** is the runner's switch: while it is set the runner does not run the process, so
//!   neither its memory nor its control block changes. The VM finishes an instruction or has
//!   no effect, and a host call is re-derived from the registers, so a process stopped between
//!   two `run` calls is at a clean point; a runner that performs host calls inside its turn
//!   (answering before the next `run`) never stops a process with a call outstanding, and a
//!   parked call (a receive on an empty channel) is simply issued again at the destination.
//! - **The control block** is [`ControlBlock::encode`]/[`ControlBlock::decode`] (bounded by
//!   [`ControlBlock::MAX_ENCODED`], validated on decode). A runner that carries more with the
//!   process (its console, say) wraps this type and frames its own bytes around these.

use super::{Migratable, PAGE_SIZE, PageContent, PageKind, PageSet, ProcessError};
use crate::proc::{ControlBlock, MemFault, PageStore, Process, Status};

/// A process and its page store, seen through [`Migratable`]: dirty bits and layout changes from the page table, the control block as [`ControlBlock::encode`] bytes, stop and resume as a run switch the runner keeps.
pub struct VmProcess<'a, const P: usize, S: PageStore + ?Sized> {
    process: &'a mut Process<P>,
    store: &'a mut S,
    stopped: &'a mut bool,
}

impl<'a, const P: usize, S: PageStore + ?Sized> VmProcess<'a, P, S> {
    /// The view of `process` (frames in `store`) with its run switch `stopped` (true: the
    /// runner must not run it).
    pub fn new(process: &'a mut Process<P>, store: &'a mut S, stopped: &'a mut bool) -> Self {
        VmProcess { process, store, stopped }
    }

    /// Whether the process may be the source of a migration: still running, and every page
    /// present (a process whose post-copy migration has not completed may not move again).
    pub fn can_be_source(&self) -> bool {
        self.process.cb.status == Status::Running && self.process.mem.remote_pages() == 0
    }

    /// The process.
    pub fn process(&self) -> &Process<P> {
        self.process
    }

    /// Whether the runner must not run it.
    pub fn is_stopped(&self) -> bool {
        *self.stopped
    }
}

fn mem_error(e: MemFault) -> ProcessError {
    match e {
        MemFault::OutOfMemory(_) => ProcessError::OutOfMemory,
        _ => ProcessError::BadPage,
    }
}

impl<const P: usize, S: PageStore + ?Sized> Migratable for VmProcess<'_, P, S> {
    fn page_count(&self) -> u32 {
        P as u32
    }

    fn page_kind(&self, vpn: u32) -> PageKind {
        match self.process.mem.page(vpn) {
            None => PageKind::Unmapped,
            Some(p) if p.zero => PageKind::Zero,
            Some(_) => PageKind::Data,
        }
    }

    fn read_page(&self, vpn: u32, buf: &mut [u8; PAGE_SIZE]) -> PageKind {
        match self.process.mem.read_page(&*self.store, vpn) {
            Ok(Some(page)) => {
                buf.copy_from_slice(page);
                PageKind::Data
            }
            Ok(None) => PageKind::Zero,
            Err(MemFault::Unmapped(_)) => PageKind::Unmapped,
            // Remote or lost: cannot happen for a process that passed `can_be_source`.
            Err(_) => {
                buf.fill(0);
                PageKind::Data
            }
        }
    }

    fn take_dirty(&mut self, into: &mut PageSet<'_>) {
        self.process.mem.take_dirty(|vpn| {
            into.insert(vpn);
        });
    }

    fn install_page(&mut self, vpn: u32, page: PageContent<'_>) -> Result<(), ProcessError> {
        if vpn as usize >= P {
            return Err(ProcessError::BadPage);
        }
        let mem = &mut self.process.mem;
        match page {
            PageContent::Unmapped => {
                mem.unmap(self.store, vpn, 1);
                mem.clear_dirty(vpn);
                Ok(())
            }
            PageContent::Zero => mem.install_zero(self.store, vpn).map_err(mem_error),
            PageContent::Data(data) => mem.install_page(self.store, vpn, data).map_err(mem_error),
        }
    }

    fn mark_absent(&mut self, vpn: u32) -> Result<(), ProcessError> {
        if self.process.mem.map_remote(self.store, vpn) { Ok(()) } else { Err(ProcessError::BadPage) }
    }

    fn save_control(&self, buf: &mut [u8]) -> Result<usize, ProcessError> {
        self.process.cb.encode(buf).map_err(|_| ProcessError::BadControl)
    }

    fn load_control(&mut self, bytes: &[u8]) -> Result<(), ProcessError> {
        let cb = ControlBlock::decode(bytes).map_err(|_| ProcessError::BadControl)?;
        // A block whose heap reaches beyond this address space is not one of ours to run.
        if u64::from(cb.brk_limit) > u64::from(crate::proc::AddressSpace::<P>::limit()) {
            return Err(ProcessError::BadControl);
        }
        self.process.cb = cb;
        Ok(())
    }

    fn stop(&mut self) {
        *self.stopped = true;
    }

    fn resume(&mut self) {
        *self.stopped = false;
    }
}
