//! The address space: page states, exact dirty bits, install/read for migration, range
//! checks, the arena store.

use crate::proc::{AddressSpace, ArenaStore, MemFault, PAGE_SIZE, PageInfo, PageStore};

type Mem = AddressSpace<16>;

#[test]
fn page_states_and_dirty_bits() {
    let mut s = ArenaStore::<4>::new();
    let mut m = Mem::new();
    assert_eq!(m.load(&s, 0x1000, 4), Err(MemFault::Unmapped(0x1000)));
    assert!(m.map_zero(1, 3));
    assert!(!m.map_zero(15, 2), "range leaving the space");
    // Mapping is a change a migration must copy: the new pages are dirty.
    assert_eq!(m.page(1), Some(PageInfo { vpn: 1, present: true, dirty: true, zero: true }));
    let mut taken = [0u32; 4];
    let mut n = 0;
    m.take_dirty(|v| {
        taken[n] = v;
        n += 1;
    });
    assert_eq!(&taken[..n], &[1, 2, 3]);
    assert_eq!(m.page(1), Some(PageInfo { vpn: 1, present: true, dirty: false, zero: true }));
    // Reads of a zero page allocate nothing.
    assert_eq!(m.load(&s, 0x1ffc, 4), Ok(0));
    assert_eq!((m.resident_pages(), s.free_frames()), (0, 4));
    m.store(&mut s, 0x2004, 2, 0xbeef).unwrap();
    assert_eq!(m.page(2), Some(PageInfo { vpn: 2, present: true, dirty: true, zero: false }));
    assert_eq!(m.load(&s, 0x2004, 4), Ok(0xbeef));
    assert_eq!(m.load(&s, 0x2005, 1), Ok(0xbe));
    assert_eq!((m.dirty_pages(), m.resident_pages(), s.free_frames()), (1, 1, 3));
    assert!(m.clear_dirty(2));
    assert!(!m.clear_dirty(2));
    // A read leaves the page clean; a write dirties it again.
    m.load(&s, 0x2004, 4).unwrap();
    assert_eq!(m.dirty_pages(), 0);
    m.store(&mut s, 0x2000, 1, 1).unwrap();
    assert_eq!(m.dirty_pages(), 1);
    m.clear_all_dirty();
    assert_eq!(m.dirty_pages(), 0);
    assert_eq!(m.load(&s, 0x2002, 4), Err(MemFault::Misaligned(0x2002)));
    assert_eq!(m.store(&mut s, 0x2001, 2, 0), Err(MemFault::Misaligned(0x2001)));
    assert_eq!(m.load(&s, 0xffff_fffc, 4), Err(MemFault::Unmapped(0xffff_fffc)));
    for size in [0, 3, 5, 8] {
        assert_eq!(m.load(&s, 0x2000, size), Err(MemFault::Misaligned(0x2000)), "size {size}");
        assert_eq!(m.store(&mut s, 0x2000, size, 0), Err(MemFault::Misaligned(0x2000)));
        assert_eq!(m.probe(0x2000, size), Err(MemFault::Misaligned(0x2000)));
    }
    let infos: std::vec::Vec<_> = m.pages().map(|p| (p.vpn, p.zero)).collect();
    assert_eq!(infos, [(1, true), (2, false), (3, true)]);
    m.unmap(&mut s, 2, 1);
    assert_eq!((m.mapped_pages(), s.free_frames()), (2, 4));
    // Unmapping is a change too: the page stays dirty (and unmapped) until taken.
    assert_eq!((m.page(2), m.dirty_pages()), (None, 1));
    m.unmap(&mut s, 5, 1);
    assert_eq!(m.dirty_pages(), 1, "unmapping an unmapped page changes nothing");
    let mut taken = None;
    m.take_dirty(|v| taken = Some(v));
    assert_eq!((taken, m.dirty_pages()), (Some(2), 0));
}

#[test]
fn ranges_are_checked_before_any_byte_is_written() {
    let mut s = ArenaStore::<4>::new();
    let mut m = Mem::new();
    m.map_zero(1, 2);
    let data = [7u8; 100];
    // The range runs 4 bytes past page 2 into unmapped page 3.
    assert_eq!(m.write_bytes(&mut s, 0x3000 - 96, &data), Err(MemFault::Unmapped(0x3000)));
    assert_eq!(m.resident_pages(), 0, "nothing written");
    m.write_bytes(&mut s, 0x2000 - 50, &data).unwrap();
    let mut out = [0u8; 102];
    m.read_bytes(&s, 0x2000 - 51, &mut out).unwrap();
    assert_eq!(out[0], 0);
    assert_eq!(&out[1..101], &data[..]);
    assert_eq!(out[101], 0);
    assert_eq!(m.dirty_pages(), 2);
    assert_eq!(m.check_range(0xffff_ff00, 0x200), Err(MemFault::Unmapped(u32::MAX)));
    assert_eq!(m.check_range(0x5000, 0), Ok(()));
}

#[test]
fn migration_interface() {
    let mut s = ArenaStore::<8>::new();
    let mut m = Mem::new();
    m.map_zero(0, 4);
    m.store(&mut s, 0x1000, 4, 0x1234_5678).unwrap();
    m.store(&mut s, 0x3ffc, 4, 1).unwrap();
    let sum = m.checksum(&s).unwrap();

    // Copy to a fresh address space page by page, as a migration would.
    let mut s2 = ArenaStore::<8>::new();
    let mut d = Mem::new();
    for p in m.pages() {
        match m.read_page(&s, p.vpn).unwrap() {
            Some(page) => d.install_page(&mut s2, p.vpn, page).unwrap(),
            None => d.install_zero(&mut s2, p.vpn).unwrap(),
        }
    }
    assert_eq!(d.checksum(&s2).unwrap(), sum);
    assert_eq!((d.dirty_pages(), d.resident_pages()), (0, 2), "installed pages are clean; zero pages stay frameless");

    // Post-copy: the destination lays out every page as remote, then installs on demand.
    let mut d = Mem::new();
    for p in m.pages() {
        assert!(d.map_remote(&mut s2, p.vpn));
    }
    assert_eq!(d.remote_pages(), 4);
    assert_eq!(d.load(&s2, 0x1000, 4), Err(MemFault::NotPresent(1)));
    assert_eq!(d.read_page(&s2, 1), Err(MemFault::NotPresent(1)));
    assert_eq!(d.checksum(&s2), Err(MemFault::NotPresent(0)));
    d.install_page(&mut s2, 1, m.read_page(&s, 1).unwrap().unwrap()).unwrap();
    assert_eq!(d.load(&s2, 0x1000, 4), Ok(0x1234_5678));

    // An all-zero install frees the frame.
    let free = s2.free_frames();
    d.install_page(&mut s2, 1, &[0; PAGE_SIZE]).unwrap();
    assert_eq!(s2.free_frames(), free + 1);
    assert!(d.page(1).unwrap().zero);

    // The source gives up its frames after a hand-off.
    m.mark_all_remote(&mut s);
    assert_eq!((m.resident_pages(), m.remote_pages(), s.free_frames()), (0, 4, 8));
    m.clear(&mut s);
    assert_eq!(m.mapped_pages(), 0);
}

#[test]
fn arena_store_contract() {
    let mut s = ArenaStore::<2>::new();
    let a = s.alloc().unwrap();
    let b = s.alloc().unwrap();
    assert_ne!(a, b);
    assert_eq!(s.alloc(), None);
    s.get_mut(a).unwrap()[0] = 9;
    s.free(a);
    s.free(a); // double free: ignored
    assert_eq!(s.free_frames(), 1);
    assert!(s.get(a).is_none(), "a freed frame is not readable");
    assert!(s.get(crate::proc::FrameId(99)).is_none());
    let c = s.alloc().unwrap();
    assert_eq!(c, a);
    assert_eq!(s.get(c).unwrap()[0], 0, "frames come back zeroed");
    let empty = ArenaStore::<0>::new();
    assert_eq!(empty.free_frames(), 0);
}

#[test]
fn lost_frames_are_reported_not_panicked() {
    let mut s = ArenaStore::<2>::new();
    let mut m = Mem::new();
    m.map_zero(0, 1);
    m.store(&mut s, 0, 4, 5).unwrap();
    // A host bug: the frame is freed behind the address space's back.
    s.free(crate::proc::FrameId(0));
    assert_eq!(m.load(&s, 0, 4), Err(MemFault::LostFrame(0)));
    assert_eq!(m.store(&mut s, 0, 4, 1), Err(MemFault::LostFrame(0)));
}
