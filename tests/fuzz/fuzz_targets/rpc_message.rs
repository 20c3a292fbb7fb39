//! `Message::decode` on any bytes: the header that decodes must encode back to the bytes it was
//! read from, followed by the untouched remainder, and a call's credential must interpret
//! consistently (`Credential::from_opaque`, then `to_opaque` / `encode_opaque` for AUTH_SYS).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_core::rpc::Message;
use tern_core::rpc::auth::{AuthFlavor, AuthStat, Credential, MAX_AUTH_BYTES, OpaqueAuth};
use tern_core::xdr::{self, Encode, Writer};

fn check_cred(cred: &OpaqueAuth<'_>) {
    match Credential::from_opaque(cred) {
        Ok(Credential::None) => assert_eq!(cred.flavor, AuthFlavor::None),
        Ok(c @ Credential::Sys(sys)) => {
            assert_eq!(cred.flavor, AuthFlavor::Sys);
            assert!(sys.machine_name.as_bytes().len() <= 255 && sys.gids.len() <= 16);
            assert_eq!(sys.gids.iter().count(), sys.gids.len());
            assert_eq!(c.uid(), Some(sys.uid));
            let mut scratch = [0u8; MAX_AUTH_BYTES as usize];
            assert_eq!(c.to_opaque(&mut scratch), Ok(*cred), "AUTH_SYS body round trip");
            assert_eq!(c.opaque_len(), cred.encoded_len());
            let (mut a, mut b) = ([0u8; 512], [0u8; 512]);
            let mut w = Writer::new(&mut a);
            c.encode_opaque(&mut w).expect("encode_opaque");
            let n = w.position();
            assert_eq!(xdr::encode_to(cred, &mut b), Ok(n));
            assert_eq!(a[..n], b[..n]);
        }
        Err(stat) => {
            assert_eq!(stat, AuthStat::BadCred);
            assert_ne!(cred.flavor, AuthFlavor::None);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::decode(data) else { return };
    let mut out = vec![0u8; data.len()];
    let (n, len, rest) = match msg {
        Message::Call(h, rest) => {
            check_cred(&h.cred);
            (xdr::encode_to(&h, &mut out), h.encoded_len(), rest)
        }
        Message::Reply(h, rest) => (xdr::encode_to(&h, &mut out), h.encoded_len(), rest),
    };
    let n = n.expect("re-encode header");
    assert_eq!(n, len, "encoded_len differs from bytes written");
    assert_eq!(n + rest.len(), data.len());
    assert_eq!(&out[..n], &data[..n], "decode -> encode differs");
    out[n..].copy_from_slice(rest);
    assert_eq!(Message::decode(&out), Ok(msg));
});
