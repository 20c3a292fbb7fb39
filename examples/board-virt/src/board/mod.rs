//! Board support for QEMU `virt` (riscv32, M-mode, no MMU).
//!
//! Everything that touches raw addresses lives under this module: the virtio-mmio probe,
//! the DMA pool behind virtio-drivers' [`Hal`], take-once static storage, the CLINT timer
//! ([`time`]) and the smoltcp device over virtio-net ([`net`]). `main.rs` stays free of
//! `unsafe`.

pub mod net;
pub mod time;

use core::cell::UnsafeCell;
use core::fmt;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

/// Base address of the first virtio-mmio slot on QEMU `virt`.
const VIRTIO_MMIO_BASE: usize = 0x1000_1000;
/// Distance between two virtio-mmio slots (and the size of each slot's register window).
const VIRTIO_MMIO_STRIDE: usize = 0x1000;
/// Number of virtio-mmio slots QEMU `virt` provides.
const VIRTIO_MMIO_SLOTS: usize = 8;

/// Virtqueue size used for the network device (descriptors per queue).
pub const NET_QUEUE_SIZE: usize = 16;

/// The virtio-net driver as this board instantiates it.
pub type NetRaw = VirtIONetRaw<BoardHal, MmioTransport<'static>, NET_QUEUE_SIZE>;

/// Why the board could not be brought up.
#[derive(Debug)]
pub enum BoardError {
    /// [`take_net`] was called a second time: the device is already owned.
    AlreadyTaken,
    /// None of the virtio-mmio slots holds a network device.
    NoNetDevice,
    /// The virtio-net driver failed to initialise the device.
    Virtio(virtio_drivers::Error),
}

impl fmt::Display for BoardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadyTaken => f.write_str("network device already taken"),
            Self::NoNetDevice => f.write_str("no virtio-net device in the virtio-mmio slots"),
            Self::Virtio(e) => write!(f, "virtio-net init failed: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Take-once static storage
// ---------------------------------------------------------------------------------------------

/// Static storage that hands out a single `&'static mut` to its contents.
///
/// Used for buffers that must not move (virtio RX/TX buffers, which the device writes while
/// they are posted) and for large socket buffers that should not live on the stack.
pub struct StaticCell<T> {
    taken: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the only access to `value` is through `take`, which hands out at most one reference
// (guarded by the atomic swap), so sharing the cell between contexts cannot create aliasing
// references. `T: Send` because that single reference may be used from any context.
unsafe impl<T: Send> Sync for StaticCell<T> {}

impl<T> StaticCell<T> {
    /// Storage initialised with `value` (evaluated at compile time for statics).
    pub const fn new(value: T) -> Self {
        Self { taken: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    /// The unique mutable reference to the contents, or `None` if it was already taken.
    #[expect(
        clippy::mut_from_ref,
        reason = "take-once: the atomic flag guarantees a single `&mut` for the program's life"
    )]
    pub fn take(&'static self) -> Option<&'static mut T> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: the swap above returns `false` exactly once for the lifetime of the program,
        // so this is the only reference ever created to `value`, and `self` is `'static`.
        Some(unsafe { &mut *self.value.get() })
    }
}

// ---------------------------------------------------------------------------------------------
// DMA pool and virtio-drivers HAL
// ---------------------------------------------------------------------------------------------

/// Pages in the DMA pool. A virtio-net device with two queues of [`NET_QUEUE_SIZE`] needs 4
/// (see `dma_pages_used`); the rest is headroom for a second device.
const DMA_PAGES: usize = 8;

#[repr(C, align(4096))]
struct DmaPool(UnsafeCell<[u8; DMA_PAGES * PAGE_SIZE]>);

// SAFETY: the pool is only accessed through `BoardHal::dma_alloc`, which hands out disjoint
// page ranges (an atomic bump index), so no two users ever see the same bytes.
unsafe impl Sync for DmaPool {}

static DMA_POOL: DmaPool = DmaPool(UnsafeCell::new([0; DMA_PAGES * PAGE_SIZE]));
/// Index of the next free page in `DMA_POOL`.
static DMA_NEXT_PAGE: AtomicUsize = AtomicUsize::new(0);

/// Pages of the DMA pool handed out so far (pages are never returned).
pub fn dma_pages_used() -> usize {
    DMA_NEXT_PAGE.load(Ordering::Relaxed)
}

/// Pages in the DMA pool.
pub const fn dma_pages_total() -> usize {
    DMA_PAGES
}

/// virtio-drivers HAL for this board: M-mode without an MMU, so physical = virtual, and DMA
/// memory comes from a static page-aligned pool with a bump allocator.
pub struct BoardHal;

// SAFETY: `dma_alloc` returns page-aligned, zeroed, non-aliased memory from `DMA_POOL`
// (disjoint ranges from an atomic bump index, never reused); addresses are identity-mapped,
// so the returned physical address is the pointer value. `mmio_phys_to_virt` is identity
// for the same reason.
unsafe impl Hal for BoardHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let first = DMA_NEXT_PAGE
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |next| {
                next.checked_add(pages).filter(|&end| end <= DMA_PAGES)
            })
            .unwrap_or_else(|next| panic!("DMA pool exhausted: {pages} pages wanted, {next}/{DMA_PAGES} used"));
        let base = DMA_POOL.0.get().cast::<u8>();
        // SAFETY: `first + pages <= DMA_PAGES`, so the offset stays inside `DMA_POOL`.
        let start = unsafe { base.add(first * PAGE_SIZE) };
        // SAFETY: `[start, start + pages * PAGE_SIZE)` lies inside the pool and was just
        // reserved for this caller alone by the bump index. The pool is zero-initialised and
        // pages are never reused, but zero again so the contract does not rest on that.
        unsafe { start.write_bytes(0, pages * PAGE_SIZE) };
        let ptr = NonNull::new(start).expect("static pool is not at address 0");
        (start as usize as PhysAddr, ptr)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        // A bump allocator never frees; devices live for the whole run.
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        let addr = usize::try_from(paddr).expect("MMIO address fits the address space");
        NonNull::new(addr as *mut u8).expect("MMIO address is not 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        // Identity-mapped and cache-coherent (QEMU): the device sees the buffer where it is.
        buffer.cast::<u8>().as_ptr() as usize as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

// ---------------------------------------------------------------------------------------------
// virtio-mmio probe
// ---------------------------------------------------------------------------------------------

/// Set once the virtio-mmio slots have been probed (each slot may have one owner only).
static PROBED: AtomicBool = AtomicBool::new(false);

/// Probes the 8 virtio-mmio slots for a network device and initialises the driver.
///
/// Can succeed only once: the returned driver owns the device's register window.
pub fn take_net() -> Result<NetRaw, BoardError> {
    if PROBED.swap(true, Ordering::AcqRel) {
        return Err(BoardError::AlreadyTaken);
    }
    let transport = (0..VIRTIO_MMIO_SLOTS)
        .filter_map(|slot| {
            let addr = VIRTIO_MMIO_BASE + slot * VIRTIO_MMIO_STRIDE;
            let header = NonNull::new(addr as *mut VirtIOHeader)?;
            // SAFETY: on QEMU `virt` each slot is a 0x1000-byte virtio-mmio register window
            // at this address, always mapped (empty slots read device id 0). `PROBED` makes
            // this loop run once, and transports for slots other than the returned one are
            // dropped here, so each window gets at most one live owner.
            unsafe { MmioTransport::new(header, VIRTIO_MMIO_STRIDE) }.ok()
        })
        .find(|t| t.device_type() == DeviceType::Network)
        .ok_or(BoardError::NoNetDevice)?;
    NetRaw::new(transport).map_err(BoardError::Virtio)
}

// ---------------------------------------------------------------------------------------------
// Traps
// ---------------------------------------------------------------------------------------------

/// Reports an unexpected exception over semihosting and exits (instead of riscv-rt's default,
/// which spins forever and leaves the host waiting for its timeout).
#[unsafe(export_name = "ExceptionHandler")]
fn exception_handler(trap_frame: &riscv_rt::TrapFrame) -> ! {
    let mcause = riscv::register::mcause::read().bits();
    let mepc = riscv::register::mepc::read();
    let mtval = riscv::register::mtval::read();
    semihosting::eprintln!("exception: mcause={mcause:#x} mepc={mepc:#x} mtval={mtval:#x} ra={:#x}", trap_frame.ra);
    semihosting::process::exit(3)
}
