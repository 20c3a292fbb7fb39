//! Fixtures for the codec benchmarks (`benches/codec.rs`): one RPC call and one 1 MiB opaque,
//! each encoded and decoded by Tern's core and by an established crate, so that both sides of
//! a comparison do the same work on the same bytes.
//!
//! - The call: NFSv3 GETATTR (program 100003, version 3, procedure 1) with AUTH_SYS credentials
//!   (16-byte machine name, 8 groups), an AUTH_NONE verifier and a 64-byte file handle
//!   (`opaque<64>`) as the argument, behind a record-marking header (`onc-rpc` always reads and
//!   writes one). Compared with `onc-rpc`, which leaves arguments to the caller: its side reads
//!   the handle from the payload with [`read_opaque`] and writes it from pre-encoded bytes.
//! - The opaque: a 1 MiB `opaque<>`, compared with `xdr-codec`.

use std::io::Cursor;

use onc_rpc::auth::{AuthFlavor, AuthUnixParams};
use onc_rpc::{CallBody, MessageType, RpcMessage};
use tern_core::rpc::auth::{AuthSys, Credential, Gids};
use tern_core::rpc::msg::MsgType;
use tern_core::rpc::record::LAST_FRAGMENT;
use tern_core::rpc::{CallHeader, Message, OpaqueAuth, RPC_VERSION};
use tern_core::xdr::{self, Opaque, Writer, XdrStr};

/// Transaction id of the call.
pub const XID: u32 = 0x1234_5678;
/// NFS.
pub const PROG: u32 = 100_003;
/// NFSv3.
pub const VERS: u32 = 3;
/// GETATTR.
pub const PROC: u32 = 1;
/// AUTH_SYS stamp.
pub const STAMP: u32 = 0x5eed;
/// AUTH_SYS machine name (16 bytes).
pub const MACHINE: &str = "client-host-0001";
/// AUTH_SYS uid.
pub const UID: u32 = 1000;
/// AUTH_SYS gid.
pub const GID: u32 = 100;
/// AUTH_SYS supplementary groups.
pub const GIDS: [u32; 8] = [4, 24, 27, 30, 46, 100, 110, 1000];
/// The 64-byte file handle argument.
pub const HANDLE: [u8; 64] = {
    let mut h = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        h[i] = (i as u8).wrapping_mul(37) ^ 0xa5;
        i += 1;
    }
    h
};
/// Length of the large opaque.
pub const OPAQUE_LEN: usize = 1 << 20;
/// Maximum both sides allow for the large opaque.
pub const OPAQUE_MAX: u32 = 2 << 20;

/// The handle argument as XDR (`opaque<64>`: length word, then the bytes; no padding needed).
pub fn handle_arg() -> [u8; 68] {
    let mut a = [0u8; 68];
    a[..4].copy_from_slice(&64u32.to_be_bytes());
    a[4..].copy_from_slice(&HANDLE);
    a
}

/// The data of the large opaque.
pub fn opaque_data() -> Vec<u8> {
    (0..OPAQUE_LEN).map(|i| (i % 251) as u8).collect()
}

/// A decoded call as Tern gives it: the header, the interpreted credential, the handle; every
/// byte slice borrows from the input.
#[derive(Debug, Clone, Copy)]
pub struct TernCall<'a> {
    /// The call header.
    pub header: CallHeader<'a>,
    /// The AUTH_SYS credential (groups validated, iterated lazily).
    pub cred: AuthSys<'a>,
    /// The file handle.
    pub handle: Opaque<'a, 64>,
}

/// Tern's credential for the call.
pub fn tern_credential() -> Credential<'static> {
    Credential::Sys(AuthSys {
        stamp: STAMP,
        machine_name: XdrStr::new(MACHINE).expect("short name"),
        uid: UID,
        gid: GID,
        gids: Gids::Slice(&GIDS),
    })
}

/// Decodes a record-marked call with Tern: record mark, message, credential, argument.
#[inline]
pub fn tern_decode_call(wire: &[u8]) -> Option<TernCall<'_>> {
    let (mark, msg) = wire.split_first_chunk::<4>()?;
    if u32::from_be_bytes(*mark) != LAST_FRAGMENT | u32::try_from(msg.len()).ok()? {
        return None;
    }
    let Message::Call(header, args) = Message::decode(msg).ok()? else {
        return None;
    };
    let Credential::Sys(cred) = Credential::from_opaque(&header.cred).ok()? else {
        return None;
    };
    let handle = xdr::decode_exact(args).ok()?;
    Some(TernCall { header, cred, handle })
}

/// Encodes the record-marked call with Tern into `buf`; returns the length.
#[inline]
pub fn tern_encode_call(cred: &Credential<'_>, handle: Opaque<'_, 64>, buf: &mut [u8]) -> xdr::Result<usize> {
    let mut w = Writer::new(buf);
    w.put_u32(0)?;
    w.put_u32(XID)?;
    w.write(&MsgType::Call)?;
    for v in [RPC_VERSION, PROG, VERS, PROC] {
        w.put_u32(v)?;
    }
    cred.encode_opaque(&mut w)?;
    w.write(&OpaqueAuth::NONE)?;
    w.write(&handle)?;
    let n = w.position();
    let len = u32::try_from(n - 4).map_err(|_| xdr::Error::LengthExceeded)?;
    w.patch_u32(0, LAST_FRAGMENT | len)?;
    Ok(n)
}

/// A decoded call as onc-rpc gives it, with the handle read from its payload.
#[derive(Debug)]
pub struct OncCall<'a> {
    /// The message (AUTH_SYS parameters parsed, groups copied into an array).
    pub msg: RpcMessage<&'a [u8], &'a [u8]>,
    /// The file handle.
    pub handle: &'a [u8],
}

/// Reads `opaque<max>` filling `b` exactly, borrowed, with the checks Tern makes (length bound,
/// bytes present, zero padding, nothing after). Used on onc-rpc's payload.
#[inline]
pub fn read_opaque(b: &[u8], max: usize) -> Option<&[u8]> {
    let (len, rest) = b.split_first_chunk::<4>()?;
    let len = u32::from_be_bytes(*len) as usize;
    if len > max || rest.len() != len.next_multiple_of(4) {
        return None;
    }
    let (data, pad) = rest.split_at(len);
    pad.iter().all(|&p| p == 0).then_some(data)
}

/// Decodes a record-marked call with onc-rpc, then its handle with [`read_opaque`].
#[inline]
pub fn onc_decode_call(wire: &[u8]) -> Option<OncCall<'_>> {
    let msg = RpcMessage::try_from(wire).ok()?;
    let body = msg.call_body()?;
    if !matches!(body.auth_credentials(), AuthFlavor::AuthUnix(_)) {
        return None;
    }
    let payload: &[u8] = body.payload();
    let handle = read_opaque(payload, 64)?;
    Some(OncCall { msg, handle })
}

/// onc-rpc's message for the call; `arg` is the encoded argument ([`handle_arg`]).
pub fn onc_message(arg: &[u8]) -> RpcMessage<&[u8], &[u8]> {
    let params = AuthUnixParams::new(STAMP, MACHINE.as_bytes(), UID, GID, GIDS);
    RpcMessage::new(
        XID,
        MessageType::Call(CallBody::new(
            PROG,
            VERS,
            PROC,
            AuthFlavor::AuthUnix(params),
            AuthFlavor::AuthNone(None),
            arg,
        )),
    )
}

/// Encodes the record-marked call with onc-rpc into `buf`; returns the length.
#[inline]
pub fn onc_encode_call(msg: &RpcMessage<&[u8], &[u8]>, buf: &mut [u8]) -> Option<usize> {
    let mut c = Cursor::new(buf);
    msg.serialise_into(&mut c).ok()?;
    usize::try_from(c.position()).ok()
}

/// Decodes `opaque<OPAQUE_MAX>` filling `wire` with Tern (zero-copy).
#[inline]
pub fn tern_decode_opaque(wire: &[u8]) -> Option<&[u8]> {
    xdr::decode_exact::<Opaque<'_, OPAQUE_MAX>>(wire).ok().map(|o| o.as_bytes())
}

/// Encodes `data` as `opaque<OPAQUE_MAX>` with Tern; returns the length.
#[inline]
pub fn tern_encode_opaque(data: &[u8], buf: &mut [u8]) -> Option<usize> {
    xdr::encode_to(&Opaque::<OPAQUE_MAX>::new(data).ok()?, buf).ok()
}

/// Decodes `opaque<OPAQUE_MAX>` filling `wire` with xdr-codec (into a new `Vec`).
#[inline]
pub fn xdrc_decode_opaque(wire: &[u8]) -> Option<Vec<u8>> {
    let mut c = Cursor::new(wire);
    let (v, n) = xdr_codec::unpack_opaque_flex(&mut c, Some(OPAQUE_MAX as usize)).ok()?;
    (n == wire.len()).then_some(v)
}

/// Encodes `data` as `opaque<OPAQUE_MAX>` with xdr-codec; returns the length.
#[inline]
pub fn xdrc_encode_opaque(data: &[u8], buf: &mut [u8]) -> Option<usize> {
    let mut c = Cursor::new(buf);
    xdr_codec::pack_opaque_flex(data, Some(OPAQUE_MAX as usize), &mut c).ok()
}

/// True when `part` lies inside `whole`.
pub fn borrowed_from(part: &[u8], whole: &[u8]) -> bool {
    let (p, w) = (part.as_ptr_range(), whole.as_ptr_range());
    w.start <= p.start && p.end <= w.end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_crates_agree_on_the_call() {
        let mut a = [0u8; 256];
        let handle = Opaque::new(&HANDLE).unwrap();
        let n = tern_encode_call(&tern_credential(), handle, &mut a).unwrap();
        let arg = handle_arg();
        let mut b = [0u8; 256];
        let m = onc_encode_call(&onc_message(&arg), &mut b).unwrap();
        assert_eq!(a[..n], b[..m]);

        let wire = &a[..n];
        let t = tern_decode_call(wire).unwrap();
        let o = onc_decode_call(wire).unwrap();
        assert_eq!(t.header.xid, o.msg.xid());
        assert_eq!(t.cred.machine_name.as_bytes(), MACHINE.as_bytes());
        assert!(t.cred.gids.iter().eq(GIDS));
        let AuthFlavor::AuthUnix(p) = o.msg.call_body().unwrap().auth_credentials() else { panic!("not AUTH_UNIX") };
        assert_eq!((p.uid(), p.gid(), p.gids()), (UID, GID, Some(&GIDS[..])));
        assert_eq!(t.handle.as_bytes(), o.handle);
        assert!(borrowed_from(t.handle.as_bytes(), wire));
        assert!(tern_decode_call(&wire[..n - 1]).is_none());
        assert!(onc_decode_call(&wire[..n - 1]).is_none());
    }

    #[test]
    fn both_crates_agree_on_the_opaque() {
        let data = opaque_data();
        let (mut a, mut b) = (vec![0u8; OPAQUE_LEN + 4], vec![0u8; OPAQUE_LEN + 4]);
        assert_eq!(tern_encode_opaque(&data, &mut a), Some(a.len()));
        assert_eq!(xdrc_encode_opaque(&data, &mut b), Some(b.len()));
        assert_eq!(a, b);
        let t = tern_decode_opaque(&a).unwrap();
        assert!(borrowed_from(t, &a));
        assert_eq!(t, &data[..]);
        assert_eq!(xdrc_decode_opaque(&a).unwrap(), data);
    }
}
