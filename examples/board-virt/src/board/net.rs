//! smoltcp [`phy::Device`] over the virtio-net driver ([`NetRaw`]).
//!
//! RX: [`RX_BUFS`] buffers of [`RX_BUF_LEN`] bytes in static storage stay posted to the device;
//! a completed one is lent to smoltcp as an [`RxToken`] and posted again on the next call.
//! TX: [`TX_BUFS`] static buffers; a frame is handed to the device without waiting, and its
//! buffer is reclaimed once the device reports it done.

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::EthernetAddress;

use super::{BoardError, NetRaw, StaticCell};

/// Bytes per RX buffer: virtio-net header (12) + Ethernet frame (1514), rounded up.
/// virtio-drivers rejects buffers shorter than 1526 bytes.
pub const RX_BUF_LEN: usize = 1536;
/// RX buffers kept posted to the device.
pub const RX_BUFS: usize = 4;
/// Bytes per TX buffer (header + largest frame).
pub const TX_BUF_LEN: usize = 1536;
/// TX buffers that may be in flight at once.
pub const TX_BUFS: usize = 4;
/// Largest Ethernet frame handed to smoltcp (IP MTU 1500 + 14-byte Ethernet header).
const MAX_FRAME: usize = 1514;

const _: () = assert!(RX_BUFS + TX_BUFS <= super::NET_QUEUE_SIZE);

/// Static frame buffers: they must not move while the device owns them.
struct Buffers {
    rx: [[u8; RX_BUF_LEN]; RX_BUFS],
    tx: [[u8; TX_BUF_LEN]; TX_BUFS],
}

static BUFFERS: StaticCell<Buffers> =
    StaticCell::new(Buffers { rx: [[0; RX_BUF_LEN]; RX_BUFS], tx: [[0; TX_BUF_LEN]; TX_BUFS] });

/// A virtio-net NIC as a smoltcp device.
pub struct VirtioNet {
    raw: NetRaw,
    rx: &'static mut [[u8; RX_BUF_LEN]; RX_BUFS],
    /// Token of each RX buffer while it is posted to the device; `None` while it is ours.
    rx_posted: [Option<u16>; RX_BUFS],
    tx: &'static mut [[u8; TX_BUF_LEN]; TX_BUFS],
    /// Token of each TX buffer while the device owns it; `None` when free.
    tx_inflight: [Option<u16>; TX_BUFS],
}

impl VirtioNet {
    /// Wraps the driver and posts all RX buffers. Can succeed only once (static buffers).
    pub fn new(raw: NetRaw) -> Result<Self, BoardError> {
        let bufs = BUFFERS.take().ok_or(BoardError::AlreadyTaken)?;
        let mut dev =
            Self { raw, rx: &mut bufs.rx, rx_posted: [None; RX_BUFS], tx: &mut bufs.tx, tx_inflight: [None; TX_BUFS] };
        dev.post_rx()?;
        Ok(dev)
    }

    /// The device's MAC address.
    pub fn mac(&self) -> EthernetAddress {
        EthernetAddress(self.raw.mac_address())
    }

    /// Posts every RX buffer that is not currently posted.
    fn post_rx(&mut self) -> Result<(), BoardError> {
        for (buf, posted) in self.rx.iter_mut().zip(self.rx_posted.iter_mut()) {
            if posted.is_none() {
                // SAFETY: `buf` is in static storage (it never moves) and is owned by this
                // device; it is not read or written again until `receive_complete` has
                // returned it (`rx_posted` is `Some` until then, and only buffers with
                // `None` are ever lent out).
                let token = unsafe { self.raw.receive_begin(buf) }.map_err(BoardError::Virtio)?;
                *posted = Some(token);
            }
        }
        Ok(())
    }

    /// Reclaims TX buffers the device has finished with.
    fn reap_tx(&mut self) {
        while let Some(token) = self.raw.poll_transmit() {
            let Some(i) = self.tx_inflight.iter().position(|t| *t == Some(token)) else {
                // Cannot happen: every token comes from `transmit_begin` below.
                panic!("virtio-net: unknown TX token {token}");
            };
            // SAFETY: buffer `i` is the one passed to `transmit_begin` for this token.
            let done = unsafe { self.raw.transmit_complete(token, &self.tx[i]) };
            if let Err(e) = done {
                panic!("virtio-net: transmit_complete failed: {e}");
            }
            self.tx_inflight[i] = None;
        }
    }

    /// Index of a free TX buffer, reclaiming completed ones first.
    fn free_tx(&mut self) -> Option<usize> {
        self.reap_tx();
        if !self.raw.can_send() {
            return None;
        }
        self.tx_inflight.iter().position(Option::is_none)
    }
}

/// A received frame, lent to smoltcp.
pub struct RxToken<'a> {
    frame: &'a [u8],
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(self.frame)
    }
}

/// A free TX buffer; consuming it hands the frame to the device.
pub struct TxToken<'a> {
    raw: &'a mut NetRaw,
    buf: &'a mut [u8; TX_BUF_LEN],
    inflight: &'a mut Option<u16>,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let hdr = self.raw.fill_buffer_header(self.buf).expect("TX buffer holds a virtio-net header");
        let frame = &mut self.buf[hdr..hdr + len];
        let result = f(frame);
        // SAFETY: the buffer is in static storage; `inflight` records the token, and the
        // buffer is not handed out again until `reap_tx` has completed that token.
        match unsafe { self.raw.transmit_begin(&self.buf[..hdr + len]) } {
            Ok(token) => *self.inflight = Some(token),
            // Queue full cannot happen (checked by `free_tx`); drop the frame otherwise,
            // smoltcp's protocols recover from loss.
            Err(e) => semihosting::eprintln!("virtio-net: transmit_begin failed: {e}"),
        }
        result
    }
}

impl phy::Device for VirtioNet {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        // Re-post the buffer lent out by the previous call (its token has been consumed).
        if let Err(e) = self.post_rx() {
            panic!("virtio-net: posting RX buffers failed: {e}");
        }
        let token = self.raw.poll_receive()?;
        // smoltcp wants a TX token with every RX token; without a free TX buffer, leave the
        // frame in the used ring until one is free.
        let t = self.free_tx()?;
        let Some(r) = self.rx_posted.iter().position(|p| *p == Some(token)) else {
            panic!("virtio-net: unknown RX token {token}");
        };
        // SAFETY: buffer `r` is the one passed to `receive_begin` for this token.
        let completed = unsafe { self.raw.receive_complete(token, &mut self.rx[r]) };
        self.rx_posted[r] = None;
        let (hdr, len) = match completed {
            Ok(v) => v,
            Err(e) => panic!("virtio-net: receive_complete failed: {e}"),
        };
        let rx = RxToken { frame: &self.rx[r][hdr..hdr + len] };
        let tx = TxToken { raw: &mut self.raw, buf: &mut self.tx[t], inflight: &mut self.tx_inflight[t] };
        Some((rx, tx))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<TxToken<'_>> {
        let t = self.free_tx()?;
        Some(TxToken { raw: &mut self.raw, buf: &mut self.tx[t], inflight: &mut self.tx_inflight[t] })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME;
        caps.max_burst_size = Some(RX_BUFS);
        caps
    }
}
