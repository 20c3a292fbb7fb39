//! Time from the CLINT `mtime` counter (QEMU `virt`: 10 MHz, at 0x0200_bff8).

use smoltcp::time::Instant;

/// Address of the low word of the 64-bit `mtime` register.
const MTIME_LO: usize = 0x0200_bff8;
/// Address of the high word of `mtime`.
const MTIME_HI: usize = MTIME_LO + 4;
/// `mtime` frequency on QEMU `virt`.
pub const MTIME_HZ: u64 = 10_000_000;
const TICKS_PER_MICRO: u64 = MTIME_HZ / 1_000_000;

/// Raw 64-bit `mtime` value. Reads high, low, high and retries if the high word changed,
/// so a carry between the two 32-bit reads cannot produce a torn value.
pub fn ticks() -> u64 {
    loop {
        // SAFETY: `mtime` is a always-mapped, read-only-for-us, 4-byte-aligned MMIO register
        // pair of the CLINT on QEMU `virt`; volatile 32-bit reads have no side effects.
        let (hi, lo, hi2) = unsafe {
            let hi = (MTIME_HI as *const u32).read_volatile();
            let lo = (MTIME_LO as *const u32).read_volatile();
            let hi2 = (MTIME_HI as *const u32).read_volatile();
            (hi, lo, hi2)
        };
        if hi == hi2 {
            return (u64::from(hi) << 32) | u64::from(lo);
        }
    }
}

/// Microseconds since reset.
pub fn now_micros() -> u64 {
    ticks() / TICKS_PER_MICRO
}

/// Converts microseconds since reset to a smoltcp [`Instant`].
pub fn to_instant(micros: u64) -> Instant {
    Instant::from_micros(i64::try_from(micros).unwrap_or(i64::MAX))
}

/// The current time as a smoltcp [`Instant`].
pub fn now() -> Instant {
    to_instant(now_micros())
}
