//! NFSv3 arguments and results. The first byte picks the procedure (its low 5 bits; 22-31 are
//! unknown and must be refused) and, with its top bit, whether the rest is that procedure's
//! arguments (decoded through `nfs3::Args` with `Limits::default()`) or its results. Whatever
//! decodes must encode back to exactly the bytes consumed (valid XDR is canonical) and decode
//! again to an equal value; a decode with tighter limits may only fail or agree. READDIR and
//! READDIRPLUS results are also rebuilt entry by entry with the server's writers, which must give
//! the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_core::nfs3::{self, Args, DecodeWith, Limits, NfsRes, NfsStat3, ReaddirWriter, ReaddirplusWriter, procs};
use tern_core::xdr::{self, Encode, Reader, Writer};

const TIGHT: Limits = Limits { max_name: 8, max_path: 16, max_data: 64 };

/// Encodes `v`, which was decoded from `consumed`, and checks the bytes.
fn reencode<T: Encode>(v: &T, consumed: &[u8]) -> Vec<u8> {
    assert_eq!(v.encoded_len(), consumed.len(), "encoded_len differs from bytes consumed");
    let mut out = vec![0u8; consumed.len()];
    assert_eq!(xdr::encode_to(v, &mut out), Ok(consumed.len()));
    assert_eq!(out, consumed, "decode -> encode differs");
    out
}

fn args(procedure: u32, body: &[u8]) {
    let l = Limits::default();
    let mut r = Reader::new(body);
    let Some(decoded) = Args::decode(procedure, &mut r, &l) else {
        assert!(procedure >= procs::COUNT, "procedure {procedure} refused");
        return;
    };
    assert!(procedure < procs::COUNT);
    let tight = Args::decode(procedure, &mut Reader::new(body), &TIGHT).expect("known procedure");
    let Ok(a) = decoded else {
        assert!(tight.is_err(), "tighter limits accepted what the defaults refused");
        return;
    };
    assert_eq!(a.procedure(), procedure);
    if let Ok(t) = tight {
        assert_eq!(t, a);
    }
    let out = reencode(&a, &body[..r.position()]);
    let mut again = Reader::new(&out);
    assert_eq!(Args::decode(procedure, &mut again, &l), Some(Ok(a)));
    assert_eq!(again.remaining(), 0);
    if let Args::Write(w) = a {
        let (d, b) = (w.data.as_ptr_range(), body.as_ptr_range());
        assert!(w.data.is_empty() || (b.start <= d.start && d.end <= b.end), "WRITE data copied");
        assert!(w.data.len() <= l.max_data as usize);
    }
}

/// Decodes a `$t` result, re-encodes it, decodes it again; yields the value.
macro_rules! result {
    ($t:ty, $body:expr) => {{
        let l = Limits::default();
        let mut r = Reader::new($body);
        <$t as DecodeWith<Limits>>::decode_with(&mut r, &l).ok().map(|v| {
            let out = reencode(&v, &$body[..r.position()]);
            let again: $t = nfs3::decode_exact_with(&out, &l).expect("decode again");
            assert_eq!(again, v);
            v
        })
    }};
}

/// Rebuilds a READDIR(PLUS) result with its writer and compares the bytes.
macro_rules! rebuild_dir {
    ($res:expr, $body:expr, $new:expr) => {
        if let Some(res @ NfsRes::Ok(ok)) = $res {
            let len = res.encoded_len();
            assert_eq!(ok.entries.iter().count(), ok.entries.len());
            let mut buf = vec![0u8; len];
            let mut w = Writer::new(&mut buf);
            let mut dw = $new(&mut w, &ok.dir_attributes, ok.cookieverf);
            for e in ok.entries.iter() {
                assert_eq!(dw.push(&e), Ok(true), "an entry of a valid result did not fit its own size");
            }
            assert_eq!(dw.finish(ok.eof), Ok(NfsStat3::Ok));
            assert_eq!(w.written(), &$body[..len]);
        }
    };
}

fn results(procedure: u32, body: &[u8]) {
    match procedure {
        procs::NULL => {}
        procs::GETATTR => _ = result!(nfs3::GetattrRes, body),
        procs::SETATTR => _ = result!(nfs3::SetattrRes, body),
        procs::LOOKUP => _ = result!(nfs3::LookupRes<'_>, body),
        procs::ACCESS => _ = result!(nfs3::AccessRes, body),
        procs::READLINK => _ = result!(nfs3::ReadlinkRes<'_>, body),
        procs::READ => _ = result!(nfs3::ReadRes<'_>, body),
        procs::WRITE => _ = result!(nfs3::WriteRes, body),
        procs::CREATE | procs::MKDIR | procs::SYMLINK | procs::MKNOD => _ = result!(nfs3::CreateRes<'_>, body),
        procs::REMOVE | procs::RMDIR => _ = result!(nfs3::RemoveRes, body),
        procs::RENAME => _ = result!(nfs3::RenameRes, body),
        procs::LINK => _ = result!(nfs3::LinkRes, body),
        procs::READDIR => {
            let res = result!(nfs3::ReaddirRes<'_>, body);
            rebuild_dir!(res, body, |w, a, v| ReaddirWriter::new(w, a, v, u32::MAX).expect("room"));
        }
        procs::READDIRPLUS => {
            let res = result!(nfs3::ReaddirplusRes<'_>, body);
            rebuild_dir!(res, body, |w, a, v| ReaddirplusWriter::new(w, a, v, u32::MAX, u32::MAX).expect("room"));
        }
        procs::FSSTAT => _ = result!(nfs3::FsstatRes, body),
        procs::FSINFO => _ = result!(nfs3::FsinfoRes, body),
        procs::PATHCONF => _ = result!(nfs3::PathconfRes, body),
        procs::COMMIT => _ = result!(nfs3::CommitRes, body),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else { return };
    let procedure = u32::from(sel & 0x1f);
    if sel & 0x80 == 0 { args(procedure, body) } else { results(procedure, body) }
});
