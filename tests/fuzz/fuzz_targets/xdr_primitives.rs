//! Drives `xdr::Reader` through a sequence of operations chosen by the input's first bytes.
//! Every item that decodes is encoded again and must give back exactly the bytes it was read
//! from (valid XDR is canonical), and those bytes must decode to an equal value.
//!
//! Input: `[n, op_1 .. op_n, xdr ...]`; the low nibble of an op picks the item, the high nibble
//! is a length parameter for the raw `var_opaque` / `fixed_opaque` reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_core::xdr::{self, ChainList, FixedOpaque, List, Opaque, Reader, Writer, XdrStr};

/// Decodes one `$t`, re-encodes it and checks bytes and a second decode; `None` on an error.
macro_rules! roundtrip {
    ($r:expr, $input:expr, $t:ty) => {{
        let start = $r.position();
        $r.read::<$t>().ok().map(|v| {
            let mut out = vec![0u8; xdr::Encode::encoded_len(&v)];
            let n = xdr::encode_to(&v, &mut out).expect("re-encode");
            assert_eq!(n, out.len(), "encoded_len differs from bytes written");
            assert_eq!(&out[..], &$input[start..$r.position()], "decode -> encode differs");
            let again: $t = xdr::decode_exact(&out).expect("decode again");
            assert_eq!(again, v);
            v
        })
    }};
}

/// True when `part` lies inside `whole` (zero-copy decode).
fn borrowed(part: &[u8], whole: &[u8]) -> bool {
    let (p, w) = (part.as_ptr_range(), whole.as_ptr_range());
    part.is_empty() || (w.start <= p.start && p.end <= w.end)
}

/// Runs one operation; false when the item did not decode (the reader is then unspecified).
fn step(op: u8, r: &mut Reader<'_>, input: &[u8]) -> bool {
    // Lengths near the top of usize reach the overflow-prone arithmetic of 32-bit targets.
    let param = match op >> 4 {
        15 => usize::MAX - 2,
        14 => u32::MAX as usize,
        p => usize::from(p),
    };
    match op & 0x0f {
        0 => roundtrip!(r, input, u32).is_some(),
        1 => roundtrip!(r, input, u64).is_some(),
        2 => roundtrip!(r, input, bool).is_some(),
        3 => roundtrip!(r, input, Opaque<'_, 16>)
            .inspect(|o| assert!(o.len() <= 16 && borrowed(o.as_bytes(), input)))
            .is_some(),
        4 => roundtrip!(r, input, Opaque<'_, { u32::MAX }>).is_some(),
        5 => roundtrip!(r, input, XdrStr<'_, 8>).inspect(|s| assert!(s.as_bytes().len() <= 8)).is_some(),
        6 => roundtrip!(r, input, FixedOpaque<'_, 5>).is_some(),
        7 => roundtrip!(r, input, [u32; 3]).is_some(),
        8 => roundtrip!(r, input, List<'_, u32, 8>)
            .inspect(|l| assert!(l.len() <= 8 && l.iter().count() == l.len()))
            .is_some(),
        9 => roundtrip!(r, input, ChainList<'_, u32, 4>)
            .inspect(|l| assert!(l.len() <= 4 && l.iter().count() == l.len()))
            .is_some(),
        10 => roundtrip!(r, input, Option<u32>).is_some(),
        11 => roundtrip!(r, input, List<'_, Opaque<'_, 8>, 4>)
            .inspect(|l| assert!(l.iter().filter(|o| o.len() <= 8).count() == l.len()))
            .is_some(),
        12 => roundtrip!(r, input, Option<XdrStr<'_, 4>>).is_some(),
        13 => raw(r, input, param, true),
        14 => raw(r, input, param, false),
        _ => roundtrip!(r, input, ChainList<'_, Opaque<'_, 4>, 2>).is_some(),
    }
}

/// `Reader::var_opaque(param)` or `Reader::fixed_opaque(param)`, then the `Writer` counterpart.
fn raw(r: &mut Reader<'_>, input: &[u8], param: usize, var: bool) -> bool {
    let start = r.position();
    let max = u32::try_from(param).unwrap_or(u32::MAX);
    let got = if var { r.var_opaque(max) } else { r.fixed_opaque(param) };
    let Ok(d) = got else { return false };
    assert!(borrowed(d, input));
    assert!(if var { d.len() <= param } else { d.len() == param });
    let mut out = vec![0u8; 4 + xdr::padded(d.len())];
    let mut w = Writer::new(&mut out);
    if var {
        w.put_var_opaque(d, max).expect("re-encode");
    } else {
        w.put_fixed_opaque(d).expect("re-encode");
    }
    let n = w.position();
    assert_eq!(&out[..n], &input[start..r.position()]);
    true
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let (ops, input) = rest.split_at(usize::from(n % 32).min(rest.len()));
    let mut r = Reader::new(input);
    for &op in ops {
        if !step(op, &mut r, input) {
            break;
        }
        assert_eq!(r.rest(), &input[r.position()..]);
    }
});
