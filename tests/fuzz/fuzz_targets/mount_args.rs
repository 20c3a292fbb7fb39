//! MOUNT v3 arguments and results: `dirpath` (MNT, UMNT), `mountres3` (MNT), `mountlist`
//! (DUMP) and `exports` (EXPORT) decode -> encode -> decode; lists agree with `SliceChain` of
//! their elements, and every bound holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_core::mount::{
    DirPath, ExportList, ExportNode, FHSIZE3, MAX_AUTH_FLAVORS, MAX_EXPORT_LIST, MAX_GROUPS, MAX_MOUNT_LIST, MNTNAMLEN,
    MNTPATHLEN, MountBody, MountList, MountRes3, MountStat, client,
};
use tern_core::xdr::{self, Decode, Encode, SliceChain};

/// Decodes a prefix as `T`, re-encodes it to exactly the consumed bytes, and decodes those
/// bytes again exactly; returns the value and the consumed bytes.
fn roundtrip<'a, T: Decode<'a> + Encode>(data: &'a [u8]) -> Option<(T, &'a [u8])> {
    let (v, rest) = xdr::decode_prefix::<T>(data).ok()?;
    let consumed = &data[..data.len() - rest.len()];
    assert_eq!(v.encoded_len(), consumed.len());
    let mut out = vec![0u8; consumed.len()];
    assert_eq!(xdr::encode_to(&v, &mut out), Ok(consumed.len()));
    assert_eq!(out, consumed);
    assert!(xdr::decode_exact::<T>(consumed).is_ok());
    Some((v, consumed))
}

fn encode_vec<T: Encode + ?Sized>(v: &T) -> Vec<u8> {
    let mut out = vec![0u8; v.encoded_len()];
    assert_eq!(xdr::encode_to(v, &mut out), Ok(out.len()));
    out
}

fuzz_target!(|data: &[u8]| {
    // MNT and UMNT arguments.
    if let Some((dir, _)) = roundtrip::<DirPath<'_>>(data) {
        assert!(dir.as_bytes().len() <= MNTPATHLEN as usize);
    }
    // MNT results.
    if let Some((res, consumed)) = roundtrip::<MountRes3<'_>>(data) {
        assert_eq!(client::decode_mnt(consumed), Ok(res));
        match res {
            MountRes3::Ok { fhandle, auth_flavors } => {
                assert!(fhandle.len() <= FHSIZE3 as usize);
                assert!(auth_flavors.len() <= MAX_AUTH_FLAVORS as usize);
                assert_eq!(auth_flavors.iter().count(), auth_flavors.len());
            }
            MountRes3::Fail(stat) => assert_ne!(stat, MountStat::Ok),
        }
    }
    // DUMP results.
    if let Some((list, consumed)) = roundtrip::<MountList<'_>>(data) {
        assert_eq!(client::decode_dump(consumed), Ok(list));
        let items: Vec<MountBody<'_>> = list.iter().collect();
        assert!(items.len() == list.len() && items.len() <= MAX_MOUNT_LIST as usize);
        for m in &items {
            assert!(m.hostname.as_bytes().len() <= MNTNAMLEN as usize);
            assert!(m.directory.as_bytes().len() <= MNTPATHLEN as usize);
        }
        assert_eq!(encode_vec(&SliceChain::<MountBody<'_>, MAX_MOUNT_LIST>(&items)), consumed);
    }
    // EXPORT results.
    if let Some((list, consumed)) = roundtrip::<ExportList<'_>>(data) {
        assert_eq!(client::decode_export(consumed), Ok(list));
        let nodes: Vec<ExportNode<'_>> = list.iter().collect();
        assert!(nodes.len() == list.len() && nodes.len() <= MAX_EXPORT_LIST as usize);
        for n in &nodes {
            let groups: Vec<_> = n.groups.iter().collect();
            assert!(groups.len() == n.groups.len() && groups.len() <= MAX_GROUPS as usize);
            assert_eq!(encode_vec(&SliceChain::<_, MAX_GROUPS>(&groups)), encode_vec(&n.groups));
        }
        assert_eq!(encode_vec(&SliceChain::<ExportNode<'_>, MAX_EXPORT_LIST>(&nodes)), consumed);
    }
    // UMNT, UMNTALL results and void arguments.
    if client::decode_void(data).is_ok() {
        assert!(data.is_empty());
    }
});
