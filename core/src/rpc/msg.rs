//! RPC messages (RFC 5531 §9): the call header, and the reply header with every accept and
//! reject status. Arguments and results are not part of these types: they follow the header
//! in the same message and are handed on as the borrowed remainder.

use super::auth::{AuthStat, OpaqueAuth};
use crate::xdr::{self, Decode, Encode, Reader, Writer};
use crate::xdr_enum;

/// The only RPC version (RFC 5531 §9).
pub const RPC_VERSION: u32 = 2;

xdr_enum! {
    /// `msg_type`.
    pub enum MsgType { Call = 0, Reply = 1 }
}

xdr_enum! {
    /// `reply_stat`.
    pub enum ReplyStat { Accepted = 0, Denied = 1 }
}

xdr_enum! {
    /// `accept_stat`.
    pub enum AcceptStatCode {
        Success = 0, ProgUnavail = 1, ProgMismatch = 2, ProcUnavail = 3, GarbageArgs = 4, SystemErr = 5,
    }
}

xdr_enum! {
    /// `reject_stat`.
    pub enum RejectStatCode { RpcMismatch = 0, AuthError = 1 }
}

/// The start of a call message: everything before the procedure's arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallHeader<'a> {
    /// Transaction id, echoed in the reply.
    pub xid: u32,
    /// RPC version; [`RPC_VERSION`] for every valid call.
    pub rpcvers: u32,
    /// Program number.
    pub prog: u32,
    /// Program version.
    pub vers: u32,
    /// Procedure number.
    pub proc_: u32,
    /// Credential.
    pub cred: OpaqueAuth<'a>,
    /// Verifier.
    pub verf: OpaqueAuth<'a>,
}

impl Encode for CallHeader<'_> {
    fn encoded_len(&self) -> usize {
        24 + self.cred.encoded_len() + self.verf.encoded_len()
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        w.put_u32(self.xid)?;
        w.write(&MsgType::Call)?;
        w.put_u32(self.rpcvers)?;
        w.put_u32(self.prog)?;
        w.put_u32(self.vers)?;
        w.put_u32(self.proc_)?;
        w.write(&self.cred)?;
        w.write(&self.verf)
    }
}

impl<'a> Decode<'a> for CallHeader<'a> {
    fn decode(r: &mut Reader<'a>) -> xdr::Result<Self> {
        let xid = r.u32()?;
        if r.read::<MsgType>()? != MsgType::Call {
            return Err(xdr::Error::InvalidDiscriminant);
        }
        Ok(CallHeader {
            xid,
            rpcvers: r.read()?,
            prog: r.read()?,
            vers: r.read()?,
            proc_: r.read()?,
            cred: r.read()?,
            verf: r.read()?,
        })
    }
}

/// How an accepted call ended (`accepted_reply`'s union).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptStat {
    /// The procedure ran; its results follow.
    Success,
    /// The program is not served here.
    ProgUnavail,
    /// The version is not served; the supported range is given.
    ProgMismatch {
        /// Lowest supported version.
        low: u32,
        /// Highest supported version.
        high: u32,
    },
    /// The procedure is not served.
    ProcUnavail,
    /// The arguments could not be decoded.
    GarbageArgs,
    /// The server failed (for example, out of memory).
    SystemErr,
}

/// Why a call was denied (`rejected_reply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectStat {
    /// The RPC version is not served; the supported range is given.
    RpcMismatch {
        /// Lowest supported RPC version.
        low: u32,
        /// Highest supported RPC version.
        high: u32,
    },
    /// The credential or verifier was refused.
    AuthError(AuthStat),
}

/// The body of a reply message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReplyBody<'a> {
    /// `MSG_ACCEPTED`: a verifier and how the call ended.
    Accepted {
        /// The server's verifier.
        verf: OpaqueAuth<'a>,
        /// How the call ended.
        stat: AcceptStat,
    },
    /// `MSG_DENIED`.
    Denied(RejectStat),
}

/// A reply message's header: everything before the procedure's results.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplyHeader<'a> {
    /// Transaction id of the call answered.
    pub xid: u32,
    /// Accepted or denied.
    pub body: ReplyBody<'a>,
}

impl ReplyHeader<'static> {
    /// An accepted reply with an AUTH_NONE verifier.
    pub const fn accepted(xid: u32, stat: AcceptStat) -> Self {
        ReplyHeader { xid, body: ReplyBody::Accepted { verf: OpaqueAuth::NONE, stat } }
    }

    /// A denied reply.
    pub const fn denied(xid: u32, why: RejectStat) -> Self {
        ReplyHeader { xid, body: ReplyBody::Denied(why) }
    }
}

impl Encode for ReplyHeader<'_> {
    fn encoded_len(&self) -> usize {
        12 + match &self.body {
            ReplyBody::Accepted { verf, stat } => {
                verf.encoded_len() + 4 + if matches!(stat, AcceptStat::ProgMismatch { .. }) { 8 } else { 0 }
            }
            ReplyBody::Denied(RejectStat::RpcMismatch { .. }) => 12,
            ReplyBody::Denied(RejectStat::AuthError(_)) => 8,
        }
    }

    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        w.put_u32(self.xid)?;
        w.write(&MsgType::Reply)?;
        match &self.body {
            ReplyBody::Accepted { verf, stat } => {
                w.write(&ReplyStat::Accepted)?;
                w.write(verf)?;
                let code = match stat {
                    AcceptStat::Success => AcceptStatCode::Success,
                    AcceptStat::ProgUnavail => AcceptStatCode::ProgUnavail,
                    AcceptStat::ProgMismatch { .. } => AcceptStatCode::ProgMismatch,
                    AcceptStat::ProcUnavail => AcceptStatCode::ProcUnavail,
                    AcceptStat::GarbageArgs => AcceptStatCode::GarbageArgs,
                    AcceptStat::SystemErr => AcceptStatCode::SystemErr,
                };
                w.write(&code)?;
                if let AcceptStat::ProgMismatch { low, high } = stat {
                    w.put_u32(*low)?;
                    w.put_u32(*high)?;
                }
                Ok(())
            }
            ReplyBody::Denied(why) => {
                w.write(&ReplyStat::Denied)?;
                match why {
                    RejectStat::RpcMismatch { low, high } => {
                        w.write(&RejectStatCode::RpcMismatch)?;
                        w.put_u32(*low)?;
                        w.put_u32(*high)
                    }
                    RejectStat::AuthError(stat) => {
                        w.write(&RejectStatCode::AuthError)?;
                        w.write(stat)
                    }
                }
            }
        }
    }
}

impl<'a> Decode<'a> for ReplyHeader<'a> {
    fn decode(r: &mut Reader<'a>) -> xdr::Result<Self> {
        let xid = r.u32()?;
        if r.read::<MsgType>()? != MsgType::Reply {
            return Err(xdr::Error::InvalidDiscriminant);
        }
        let body = match r.read::<ReplyStat>()? {
            ReplyStat::Accepted => {
                let verf = r.read()?;
                let stat = match r.read::<AcceptStatCode>()? {
                    AcceptStatCode::Success => AcceptStat::Success,
                    AcceptStatCode::ProgUnavail => AcceptStat::ProgUnavail,
                    AcceptStatCode::ProgMismatch => AcceptStat::ProgMismatch { low: r.read()?, high: r.read()? },
                    AcceptStatCode::ProcUnavail => AcceptStat::ProcUnavail,
                    AcceptStatCode::GarbageArgs => AcceptStat::GarbageArgs,
                    AcceptStatCode::SystemErr => AcceptStat::SystemErr,
                    AcceptStatCode::Unknown(_) => return Err(xdr::Error::InvalidDiscriminant),
                };
                ReplyBody::Accepted { verf, stat }
            }
            ReplyStat::Denied => ReplyBody::Denied(match r.read::<RejectStatCode>()? {
                RejectStatCode::RpcMismatch => RejectStat::RpcMismatch { low: r.read()?, high: r.read()? },
                RejectStatCode::AuthError => RejectStat::AuthError(r.read()?),
                RejectStatCode::Unknown(_) => return Err(xdr::Error::InvalidDiscriminant),
            }),
            ReplyStat::Unknown(_) => return Err(xdr::Error::InvalidDiscriminant),
        };
        Ok(ReplyHeader { xid, body })
    }
}

/// Any RPC message: a call with its arguments or a reply with its results, both borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Message<'a> {
    /// A call header and the argument bytes after it.
    Call(CallHeader<'a>, &'a [u8]),
    /// A reply header and the result bytes after it (empty unless the call succeeded).
    Reply(ReplyHeader<'a>, &'a [u8]),
}

impl<'a> Message<'a> {
    /// Decodes a whole message (a datagram, or one record of a stream).
    pub fn decode(buf: &'a [u8]) -> xdr::Result<Self> {
        let mut probe = Reader::new(buf);
        probe.u32()?;
        match probe.read::<MsgType>()? {
            MsgType::Call => {
                let (h, rest) = xdr::decode_prefix::<CallHeader<'a>>(buf)?;
                Ok(Message::Call(h, rest))
            }
            MsgType::Reply => {
                let (h, rest) = xdr::decode_prefix::<ReplyHeader<'a>>(buf)?;
                Ok(Message::Reply(h, rest))
            }
            MsgType::Unknown(_) => Err(xdr::Error::InvalidDiscriminant),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::auth::AuthFlavor;
    use crate::xdr::Opaque;

    fn roundtrip(h: ReplyHeader<'_>, expect: &[u8]) {
        let mut buf = [0u8; 64];
        let n = xdr::encode_to(&h, &mut buf).unwrap();
        assert_eq!(n, h.encoded_len());
        assert_eq!(&buf[..n], expect);
        assert_eq!(Message::decode(&buf[..n]), Ok(Message::Reply(h, &[])));
    }

    #[test]
    fn every_accept_and_reject_status() {
        let acc = |code: u8| [0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, code];
        roundtrip(ReplyHeader::accepted(9, AcceptStat::Success), &acc(0));
        roundtrip(ReplyHeader::accepted(9, AcceptStat::ProgUnavail), &acc(1));
        roundtrip(ReplyHeader::accepted(9, AcceptStat::ProcUnavail), &acc(3));
        roundtrip(ReplyHeader::accepted(9, AcceptStat::GarbageArgs), &acc(4));
        roundtrip(ReplyHeader::accepted(9, AcceptStat::SystemErr), &acc(5));
        let mut mm = [0u8; 32];
        mm[..24].copy_from_slice(&acc(2));
        mm[27] = 2;
        mm[31] = 3;
        roundtrip(ReplyHeader::accepted(9, AcceptStat::ProgMismatch { low: 2, high: 3 }), &mm);
        roundtrip(
            ReplyHeader::denied(9, RejectStat::RpcMismatch { low: 2, high: 2 }),
            &[0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2],
        );
        roundtrip(
            ReplyHeader::denied(9, RejectStat::AuthError(AuthStat::TooWeak)),
            &[0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 5],
        );
    }

    #[test]
    fn call_header_roundtrip() {
        let h = CallHeader {
            xid: 0x1234,
            rpcvers: RPC_VERSION,
            prog: 100000,
            vers: 2,
            proc_: 3,
            cred: OpaqueAuth { flavor: AuthFlavor::Sys, body: Opaque::new(&[0; 20]).unwrap() },
            verf: OpaqueAuth::NONE,
        };
        let mut buf = [0u8; 96];
        let n = xdr::encode_to(&h, &mut buf).unwrap();
        buf[n..n + 4].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(n, h.encoded_len());
        assert_eq!(Message::decode(&buf[..n + 4]), Ok(Message::Call(h, &[1, 2, 3, 4])));
        assert!(Message::decode(&buf[..n - 1]).is_err());
    }
}
