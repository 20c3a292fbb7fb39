//! Windowed READ and WRITE transfers against the server over a faulty link.

use std::vec::Vec;

use super::super::*;
use super::{EXPORT, Rig, cred, pattern};
use crate::nfs3::{CreateArgs, CreateHow3, DirOpArgs3, Filename, Limits, NfsRes, Sattr3, StableHow};
use crate::rpc::client::{CallFailure, ClientConfig};
use crate::time::Duration;

/// What happened in the driver loop, for the tests' hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Reply,
    CommitSent,
    Tick,
}

type Hook<'h, T> = &'h mut dyn FnMut(Event, &mut Rig, &T);

fn result(r: &Result<Vec<u8>, CallFailure>) -> Result<&[u8], CallFailure> {
    r.as_ref().map(Vec::as_slice).map_err(|e| *e)
}

/// Mounts the export and creates `name`; its handle.
fn setup(rig: &mut Rig, name: &str) -> Fh {
    let cr = cred();
    let l = Limits::default();
    let mut table = MountTable::<1, 16>::new();
    let res = rig.call(|c, now, b| table.mnt(c, now, &cr, EXPORT, b).unwrap()).unwrap();
    let root = table.mounted(EXPORT, &res).unwrap();
    let args = CreateArgs {
        where_: DirOpArgs3 { dir: root.wire(), name: Filename::from_str(name) },
        how: CreateHow3::Unchecked(Sattr3::UNCHANGED),
    };
    let res = rig.call(|c, now, b| create(c, now, &cr, &args, b).unwrap()).unwrap();
    let NfsRes::Ok(ok) = decode_create(&res, &l).unwrap() else { panic!() };
    Fh::new(ok.obj.unwrap().as_bytes()).unwrap()
}

/// Drives a write of `data` to completion (or to its error).
fn write_all(
    rig: &mut Rig,
    t: &mut WriteTransfer<8>,
    data: &[u8],
    hook: Hook<'_, WriteTransfer<8>>,
) -> Result<(), Error> {
    let cr = cred();
    let l = Limits::default();
    let mut buf = std::vec![0u8; 64 * 1024];
    loop {
        while let Some(next) = t.poll_transmit() {
            let (xid, n) = match next {
                // Every other chunk is encoded around its data (as the std driver does).
                Next::Write(ch) if (ch.offset / u64::from(ch.len.max(1))) % 2 == 1 => {
                    let s = ch.offset as usize;
                    let (xid, n, at) = t.send_write_in_place(&mut rig.c, rig.now, &cr, ch, &mut buf)?;
                    buf[at].copy_from_slice(&data[s..s + ch.len as usize]);
                    (xid, n)
                }
                Next::Write(ch) => {
                    let s = ch.offset as usize;
                    t.send_write(&mut rig.c, rig.now, &cr, ch, &data[s..s + ch.len as usize], &mut buf)?
                }
                Next::Commit => t.send_commit(&mut rig.c, rig.now, &cr, &mut buf)?,
            };
            rig.send(xid, &buf[..n]);
            if next == Next::Commit {
                hook(Event::CommitSent, rig, t);
            }
        }
        if t.is_done() {
            return Ok(());
        }
        let replies = rig.pump();
        if replies.is_empty() {
            for x in rig.tick() {
                t.handle_timeout(x)?;
            }
            hook(Event::Tick, rig, t);
            continue;
        }
        for (x, r) in replies {
            t.handle_reply(x, result(&r), &l)?;
            hook(Event::Reply, rig, t);
        }
    }
}

/// Drives a read to completion; the bytes, placed by offset.
fn read_all(rig: &mut Rig, t: &mut ReadTransfer<8>) -> Result<Vec<u8>, Error> {
    let cr = cred();
    let l = Limits::default();
    let mut buf = std::vec![0u8; 1024];
    let mut out = Vec::new();
    loop {
        while let Some((xid, n)) = t.poll_transmit(&mut rig.c, rig.now, &cr, &mut buf)? {
            rig.send(xid, &buf[..n]);
        }
        if t.is_done() {
            return Ok(out);
        }
        let replies = rig.pump();
        if replies.is_empty() {
            for x in rig.tick() {
                t.handle_timeout(x)?;
            }
            continue;
        }
        for (x, r) in replies {
            let (off, data) = t.handle_reply(x, result(&r), &l)?;
            if data.is_empty() {
                continue;
            }
            let end = off as usize + data.len();
            if out.len() < end {
                out.resize(end, 0);
            }
            out[off as usize..end].copy_from_slice(data);
        }
    }
}

fn nothing() -> impl FnMut(Event, &mut Rig, &WriteTransfer<8>) {
    |_, _, _| {}
}

#[test]
fn write_and_read_back_over_a_lossy_reordering_link() {
    let mut rig = Rig::new(4096, 8192, ClientConfig::datagram());
    let fh = setup(&mut rig, "big");
    rig.faults.lose_reply_every = 3;
    rig.faults.reverse = true;
    rig.faults.duplicate = true;
    let data = pattern(300_001, 1);
    let mut w = WriteTransfer::<8>::new(fh, 0, data.len() as u64, 8192, 4, StableHow::Unstable);
    write_all(&mut rig, &mut w, &data, &mut nothing()).unwrap();
    assert!(rig.retransmissions > 0);
    assert_eq!(w.verifier_changes(), 0);
    assert_eq!(w.uncommitted(), 0);
    assert_eq!(rig.fs().commits, 1);
    assert_eq!(rig.fs().content("big"), data);

    let mut r = ReadTransfer::<8>::new(fh, 0, u64::MAX, 4096, 6);
    let back = read_all(&mut rig, &mut r).unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data);
    assert_eq!(r.eof_at(), Some(data.len() as u64));
    assert_eq!(r.received(), data.len() as u64);

    // A part of the file, with a known end.
    let mut r = ReadTransfer::<8>::new(fh, 1000, 50_000, 4096, 3);
    let part = read_all(&mut rig, &mut r).unwrap();
    assert!(part[1000..] == data[1000..50_000]);
}

#[test]
fn verifier_change_mid_transfer_resends_what_was_lost() {
    let mut rig = Rig::new(4096, 8192, ClientConfig::datagram());
    let fh = setup(&mut rig, "f");
    rig.faults.reverse = true;
    let data = pattern(200_000, 2);
    let mut w = WriteTransfer::<8>::new(fh, 0, data.len() as u64, 8192, 4, StableHow::Unstable);
    let mut crashed = false;
    let mut hook = |ev: Event, rig: &mut Rig, t: &WriteTransfer<8>| {
        if ev == Event::Reply && !crashed && t.acked() > 100_000 {
            rig.fs().crash();
            crashed = true;
        }
    };
    write_all(&mut rig, &mut w, &data, &mut hook).unwrap();
    assert_eq!(w.verifier_changes(), 1);
    assert!(w.resent() >= 100_000, "{}", w.resent());
    assert_eq!(rig.fs().content("f"), data);
}

#[test]
fn periodic_commits_limit_what_a_restart_sends_again() {
    let data = pattern(400_000, 5);
    let resent = |every: u64| {
        let mut rig = Rig::new(4096, 8192, ClientConfig::datagram());
        let fh = setup(&mut rig, "f");
        rig.faults.reverse = true;
        let mut w = WriteTransfer::<8>::new(fh, 0, data.len() as u64, 8192, 4, StableHow::Unstable).commit_every(every);
        let mut crashed = false;
        let mut hook = |ev: Event, rig: &mut Rig, t: &WriteTransfer<8>| {
            if ev == Event::Reply && !crashed && t.acked() > 300_000 {
                rig.fs().crash();
                crashed = true;
            }
        };
        write_all(&mut rig, &mut w, &data, &mut hook).unwrap();
        assert_eq!(w.verifier_changes(), 1);
        assert_eq!(w.uncommitted(), 0);
        assert_eq!(rig.fs().content("f"), data);
        (w.resent(), rig.fs().commits)
    };
    let (all, commits) = resent(0);
    assert!(all >= 300_000, "{all}");
    assert_eq!(commits, 1);
    // Every 64 KiB: at most what came after the last COMMIT, and what was in flight, goes again.
    let (some, commits) = resent(65_536);
    assert!(some <= 65_536 + 6 * 8192, "{some}");
    assert!(commits >= 5, "{commits}");
}

#[test]
fn periodic_commits_over_a_lossy_link() {
    let mut rig = Rig::new(4096, 8192, ClientConfig::datagram());
    let fh = setup(&mut rig, "f");
    rig.faults.lose_reply_every = 4;
    rig.faults.reverse = true;
    rig.faults.duplicate = true;
    let data = pattern(250_000, 6);
    let mut w = WriteTransfer::<8>::new(fh, 0, data.len() as u64, 8192, 6, StableHow::Unstable).commit_every(30_000);
    write_all(&mut rig, &mut w, &data, &mut nothing()).unwrap();
    assert_eq!(w.uncommitted(), 0);
    assert!(rig.fs().commits >= 5, "{}", rig.fs().commits);
    assert_eq!(rig.fs().content("f"), data);
}

#[test]
fn verifier_change_at_commit_writes_everything_again() {
    let mut rig = Rig::new(4096, 8192, ClientConfig::datagram());
    let fh = setup(&mut rig, "f");
    let data = pattern(65_536 + 17, 3);
    let mut w = WriteTransfer::<8>::new(fh, 0, data.len() as u64, 8192, 8, StableHow::Unstable);
    let mut commits = 0;
    let mut hook = |ev: Event, rig: &mut Rig, _: &WriteTransfer<8>| {
        if ev == Event::CommitSent {
            commits += 1;
            if commits == 1 {
                rig.fs().crash();
            }
        }
    };
    write_all(&mut rig, &mut w, &data, &mut hook).unwrap();
    assert_eq!(commits, 2);
    assert_eq!(w.verifier_changes(), 1);
    assert_eq!(w.resent(), data.len() as u64);
    assert_eq!(rig.fs().content("f"), data);
}

#[test]
fn short_reads_and_writes_are_completed() {
    // The server cuts READs and WRITEs to 4 KiB; the client asks for 16 KiB.
    let mut rig = Rig::new(4096, 4096, ClientConfig::datagram());
    let fh = setup(&mut rig, "f");
    let data = pattern(100_000, 4);
    let mut w = WriteTransfer::<8>::new(fh, 0, data.len() as u64, 16384, 4, StableHow::FileSync);
    write_all(&mut rig, &mut w, &data, &mut nothing()).unwrap();
    assert!(w.resent() > 0);
    // FILE_SYNC writes need no COMMIT.
    assert_eq!(rig.fs().commits, 0);
    assert_eq!(rig.fs().content("f"), data);
    let mut r = ReadTransfer::<8>::new(fh, 0, data.len() as u64, 16384, 4);
    assert!(read_all(&mut rig, &mut r).unwrap() == data);
    // Reading past the end stops at the end of the file.
    let mut r = ReadTransfer::<8>::new(fh, 90_000, 200_000, 16384, 4);
    let tail = read_all(&mut rig, &mut r).unwrap();
    assert_eq!(tail.len(), data.len());
    assert!(tail[90_000..] == data[90_000..]);
    assert_eq!(r.eof_at(), Some(100_000));
}

#[test]
fn soft_semantics_give_up() {
    let t = Timeouts {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(400),
        retries: 3,
        ..Timeouts::datagram()
    };
    let mut rig = Rig::new(4096, 8192, t.rpc_config(Semantics::Soft));
    let fh = setup(&mut rig, "f");
    rig.faults.down = true;
    let data = pattern(40_000, 5);
    let mut w = WriteTransfer::<8>::new(fh, 0, data.len() as u64, 8192, 4, StableHow::Unstable);
    let start = rig.now;
    assert_eq!(write_all(&mut rig, &mut w, &data, &mut nothing()), Err(Error::TimedOut));
    // 100 + 200 + 400 + 400 ms.
    assert_eq!(rig.now.saturating_since(start), Duration::from_millis(1100));
    let mut r = ReadTransfer::<8>::new(fh, 0, 1000, 4096, 1);
    assert_eq!(read_all(&mut rig, &mut r), Err(Error::TimedOut));
}

#[test]
fn hard_semantics_retry_until_the_server_is_back() {
    let t = Timeouts {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(10),
        retries: 3,
        ..Timeouts::datagram()
    };
    let mut rig = Rig::new(4096, 8192, t.rpc_config(Semantics::Hard));
    let fh = setup(&mut rig, "f");
    let data = pattern(80_000, 6);
    let mut w = WriteTransfer::<8>::new(fh, 0, data.len() as u64, 8192, 4, StableHow::Unstable);
    let mut ticks = 0;
    let mut hook = |ev: Event, rig: &mut Rig, t: &WriteTransfer<8>| match ev {
        // Down (and restarted, losing unstable data) half-way, for an hour of virtual time.
        Event::Reply if t.acked() > 40_000 && ticks == 0 && !rig.faults.down => {
            rig.faults.down = true;
            rig.fs().crash();
        }
        Event::Tick => {
            ticks += 1;
            if rig.now > crate::time::Instant::from_millis(3_600_000) {
                rig.faults.down = false;
            }
        }
        _ => {}
    };
    write_all(&mut rig, &mut w, &data, &mut hook).unwrap();
    assert!(ticks > 300, "{ticks}");
    assert_eq!(w.verifier_changes(), 1);
    assert_eq!(rig.fs().content("f"), data);
}

#[test]
fn misuse_is_refused() {
    let mut rig = Rig::new(4096, 8192, ClientConfig::datagram());
    let fh = setup(&mut rig, "f");
    let cr = cred();
    let mut buf = [0u8; 1024];
    let mut w = WriteTransfer::<2>::new(fh, 0, 100, 64, 2, StableHow::Unstable);
    let Some(Next::Write(ch)) = w.poll_transmit() else { panic!() };
    assert_eq!(ch, Chunk { offset: 0, len: 64 });
    assert_eq!(w.send_write(&mut rig.c, rig.now, &cr, ch, &[0; 10], &mut buf), Err(Error::Misuse));
    let other = Chunk { offset: 64, len: 36 };
    assert_eq!(w.send_write(&mut rig.c, rig.now, &cr, other, &[0; 36], &mut buf), Err(Error::Misuse));
    assert_eq!(w.send_commit(&mut rig.c, rig.now, &cr, &mut buf), Err(Error::Misuse));
    assert_eq!(w.handle_reply(12345, Ok(&[]), &Limits::default()), Err(Error::Misuse));
    // Nothing to write: done at once, no COMMIT.
    let empty = WriteTransfer::<2>::new(fh, 10, 10, 64, 2, StableHow::Unstable);
    assert!(empty.is_done() && empty.poll_transmit().is_none());
    let mut r = ReadTransfer::<2>::new(fh, 0, 0, 64, 2);
    assert!(r.is_done());
    assert_eq!(r.poll_transmit(&mut rig.c, rig.now, &cr, &mut buf), Ok(None));
}

#[test]
fn contradicting_replies_are_protocol_errors() {
    let mut rig = Rig::new(4096, 8192, ClientConfig::datagram());
    let fh = setup(&mut rig, "f");
    let cr = cred();
    let l = Limits::default();
    let mut buf = [0u8; 1024];
    // A READ result with more data than asked.
    let mut r = ReadTransfer::<2>::new(fh, 0, 4, 4, 1);
    let (xid, _) = r.poll_transmit(&mut rig.c, rig.now, &cr, &mut buf).unwrap().unwrap();
    let too_much = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
    assert_eq!(r.handle_reply(xid, Ok(&too_much), &l), Err(Error::Protocol));
    // An empty READ result without eof.
    let mut r = ReadTransfer::<2>::new(fh, 0, 4, 4, 1);
    let (xid, _) = r.poll_transmit(&mut rig.c, rig.now, &cr, &mut buf).unwrap().unwrap();
    let empty = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(r.handle_reply(xid, Ok(&empty), &l), Err(Error::Protocol));
    // A status comes through.
    let mut r = ReadTransfer::<2>::new(fh, 0, 4, 4, 1);
    let (xid, _) = r.poll_transmit(&mut rig.c, rig.now, &cr, &mut buf).unwrap().unwrap();
    assert_eq!(
        r.handle_reply(xid, Ok(&[0, 0, 0, 70, 0, 0, 0, 0]), &l),
        Err(Error::Status(crate::nfs3::NfsStat3::Stale))
    );
}
