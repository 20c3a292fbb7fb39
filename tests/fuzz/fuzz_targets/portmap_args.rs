//! The portmapper's argument and result types: `Mapping` (SET, UNSET, GETPORT) and `PmapList`
//! (the DUMP result) decode -> encode -> decode, and the list agrees with its elements.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_core::rpc::portmap::{MAX_DUMP, Mapping, PmapList, client::decode_dump};
use tern_core::xdr::{self, Encode, SliceChain};

fuzz_target!(|data: &[u8]| {
    if let Ok((m, rest)) = xdr::decode_prefix::<Mapping>(data) {
        assert_eq!(rest, &data[16..]);
        let mut out = [0u8; 16];
        assert_eq!(xdr::encode_to(&m, &mut out), Ok(16));
        assert_eq!(out, data[..16]);
        assert_eq!(xdr::decode_exact::<Mapping>(&out), Ok(m));
    }
    if let Ok((list, rest)) = xdr::decode_prefix::<PmapList<'_>>(data) {
        let consumed = &data[..data.len() - rest.len()];
        let mut out = vec![0u8; list.encoded_len()];
        assert_eq!(xdr::encode_to(&list, &mut out), Ok(out.len()));
        assert_eq!(out, consumed);
        assert_eq!(decode_dump(&out), Ok(list));
        let items: Vec<Mapping> = list.iter().collect();
        assert!(items.len() == list.len() && items.len() <= MAX_DUMP as usize);
        let chain = SliceChain::<Mapping, MAX_DUMP>(&items);
        assert_eq!(chain.encoded_len(), consumed.len());
        let mut again = vec![0u8; consumed.len()];
        assert_eq!(xdr::encode_to(&chain, &mut again), Ok(consumed.len()));
        assert_eq!(again, consumed);
    }
});
