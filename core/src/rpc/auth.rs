//! Authentication in RPC messages (RFC 5531 §8–9 and Appendix A): the opaque credential and
//! verifier, the AUTH_SYS credential, and the `auth_stat` reasons for refusing one.
//!
//! Bounds: an `opaque_auth` body is at most 400 bytes; an AUTH_SYS machine name at most 255
//! bytes and its group list at most 16 entries. All are checked before the bytes are read.

use crate::xdr::{self, Decode, Encode, List, Opaque, Reader, Writer, XdrStr};
use crate::xdr_enum;

/// Largest body of a credential or verifier (RFC 5531 §8.2).
pub const MAX_AUTH_BYTES: u32 = 400;
/// Largest AUTH_SYS machine name.
pub const MAX_MACHINE_NAME: u32 = 255;
/// Largest AUTH_SYS supplementary group list.
pub const MAX_GIDS: u32 = 16;

xdr_enum! {
    /// `auth_flavor`.
    pub enum AuthFlavor { None = 0, Sys = 1, Short = 2, Dh = 3, RpcsecGss = 6 }
}

xdr_enum! {
    /// `auth_stat`: why a server refused a credential or verifier.
    pub enum AuthStat {
        Ok = 0, BadCred = 1, RejectedCred = 2, BadVerf = 3, RejectedVerf = 4, TooWeak = 5,
        InvalidResp = 6, Failed = 7, KerbGeneric = 8, TimeExpire = 9, TktFile = 10, Decode = 11,
        NetAddr = 12, RpcsecGssCredProblem = 13, RpcsecGssCtxProblem = 14,
    }
}

/// `opaque_auth`: a flavor and an uninterpreted body of at most 400 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpaqueAuth<'a> {
    /// The authentication flavor.
    pub flavor: AuthFlavor,
    /// The flavor's body.
    pub body: Opaque<'a, MAX_AUTH_BYTES>,
}

impl OpaqueAuth<'_> {
    /// AUTH_NONE with an empty body.
    pub const NONE: OpaqueAuth<'static> = OpaqueAuth { flavor: AuthFlavor::None, body: Opaque::EMPTY };
}

impl Encode for OpaqueAuth<'_> {
    fn encoded_len(&self) -> usize {
        4 + self.body.encoded_len()
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        w.write(&self.flavor)?;
        w.write(&self.body)
    }
}

impl<'a> Decode<'a> for OpaqueAuth<'a> {
    fn decode(r: &mut Reader<'a>) -> xdr::Result<Self> {
        Ok(OpaqueAuth { flavor: r.read()?, body: r.read()? })
    }
}

/// AUTH_SYS groups: borrowed from the wire when decoded, from a slice when built to send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gids<'a> {
    /// Decoded, validated wire bytes.
    Wire(List<'a, u32, MAX_GIDS>),
    /// Groups to encode.
    Slice(&'a [u32]),
}

impl Gids<'_> {
    /// The groups, in order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let (wire, slice) = match self {
            Gids::Wire(l) => (Some(l.iter()), None),
            Gids::Slice(s) => (None, Some(s.iter().copied())),
        };
        wire.into_iter().flatten().chain(slice.into_iter().flatten())
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        match self {
            Gids::Wire(l) => l.len(),
            Gids::Slice(s) => s.len(),
        }
    }

    /// True when there are no supplementary groups.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `authsys_parms` (RFC 5531 Appendix A).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AuthSys<'a> {
    /// Arbitrary id the caller's machine may generate.
    pub stamp: u32,
    /// The caller's machine name, at most 255 bytes.
    pub machine_name: XdrStr<'a, MAX_MACHINE_NAME>,
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
    /// Supplementary groups, at most 16.
    pub gids: Gids<'a>,
}

impl Encode for AuthSys<'_> {
    fn encoded_len(&self) -> usize {
        4 + self.machine_name.encoded_len() + 8 + 4 + 4 * self.gids.len()
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        let ngids = u32::try_from(self.gids.len()).map_err(|_| xdr::Error::LengthExceeded)?;
        if ngids > MAX_GIDS {
            return Err(xdr::Error::LengthExceeded);
        }
        w.put_u32(self.stamp)?;
        w.write(&self.machine_name)?;
        w.put_u32(self.uid)?;
        w.put_u32(self.gid)?;
        w.put_u32(ngids)?;
        self.gids.iter().try_for_each(|g| w.put_u32(g))
    }
}

impl<'a> Decode<'a> for AuthSys<'a> {
    fn decode(r: &mut Reader<'a>) -> xdr::Result<Self> {
        Ok(AuthSys {
            stamp: r.read()?,
            machine_name: r.read()?,
            uid: r.read()?,
            gid: r.read()?,
            gids: Gids::Wire(r.read()?),
        })
    }
}

/// A caller's credential, interpreted for the flavors Tern understands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Credential<'a> {
    /// AUTH_NONE.
    None,
    /// AUTH_SYS (formerly AUTH_UNIX).
    Sys(AuthSys<'a>),
}

impl<'a> Credential<'a> {
    /// Interprets a credential; `Err` carries the `auth_stat` a server replies with.
    pub fn from_opaque(auth: &OpaqueAuth<'a>) -> Result<Self, AuthStat> {
        match auth.flavor {
            AuthFlavor::None => Ok(Credential::None),
            AuthFlavor::Sys => {
                xdr::decode_exact(auth.body.as_bytes()).map(Credential::Sys).map_err(|_| AuthStat::BadCred)
            }
            _ => Err(AuthStat::BadCred),
        }
    }

    /// Encodes the credential as an `opaque_auth` into `scratch`, which must hold its body.
    pub fn to_opaque<'s>(&self, scratch: &'s mut [u8]) -> xdr::Result<OpaqueAuth<'s>> {
        match self {
            Credential::None => Ok(OpaqueAuth { flavor: AuthFlavor::None, body: Opaque::EMPTY }),
            Credential::Sys(sys) => {
                let n = xdr::encode_to(sys, scratch)?;
                Ok(OpaqueAuth { flavor: AuthFlavor::Sys, body: Opaque::new(&scratch[..n])? })
            }
        }
    }

    /// Writes the credential as an `opaque_auth` (flavor, length, body) without scratch space.
    pub fn encode_opaque(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        match self {
            Credential::None => w.write(&OpaqueAuth::NONE),
            Credential::Sys(sys) => {
                let len = u32::try_from(sys.encoded_len()).map_err(|_| xdr::Error::LengthExceeded)?;
                if len > MAX_AUTH_BYTES {
                    return Err(xdr::Error::LengthExceeded);
                }
                w.write(&AuthFlavor::Sys)?;
                w.put_u32(len)?;
                w.write(sys)
            }
        }
    }

    /// The `opaque_auth` encoding length of this credential.
    pub fn opaque_len(&self) -> usize {
        match self {
            Credential::None => 8,
            Credential::Sys(sys) => 8 + sys.encoded_len(),
        }
    }

    /// The user id, if the flavor carries one.
    pub fn uid(&self) -> Option<u32> {
        match self {
            Credential::None => None,
            Credential::Sys(s) => Some(s.uid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_sys_roundtrip() {
        let sys = AuthSys {
            stamp: 7,
            machine_name: XdrStr::new("board").unwrap(),
            uid: 1000,
            gid: 100,
            gids: Gids::Slice(&[4, 24]),
        };
        let mut buf = [0u8; 64];
        let n = xdr::encode_to(&sys, &mut buf).unwrap();
        assert_eq!(n, sys.encoded_len());
        let back: AuthSys<'_> = xdr::decode_exact(&buf[..n]).unwrap();
        assert_eq!(back.uid, 1000);
        assert!(back.gids.iter().eq([4, 24]));
        let mut scratch = [0u8; 64];
        let oa = Credential::Sys(sys).to_opaque(&mut scratch).unwrap();
        assert_eq!(oa.encoded_len(), Credential::Sys(sys).opaque_len());
        assert!(matches!(Credential::from_opaque(&oa), Ok(Credential::Sys(s)) if s.gid == 100));
    }

    #[test]
    fn auth_sys_bounds() {
        // 17 groups.
        let gids = [0u32; 17];
        let sys =
            AuthSys { stamp: 0, machine_name: XdrStr::new("h").unwrap(), uid: 0, gid: 0, gids: Gids::Slice(&gids) };
        let mut buf = [0u8; 128];
        assert_eq!(xdr::encode_to(&sys, &mut buf), Err(xdr::Error::LengthExceeded));
        let mut wire = [0u8; 12 + 8 + 4 + 17 * 4];
        wire[4..8].copy_from_slice(&1u32.to_be_bytes());
        wire[8] = b'h';
        wire[20..24].copy_from_slice(&17u32.to_be_bytes());
        assert_eq!(xdr::decode_exact::<AuthSys<'_>>(&wire), Err(xdr::Error::LengthExceeded));
        let oa = OpaqueAuth { flavor: AuthFlavor::Sys, body: Opaque::new(&wire).unwrap() };
        assert_eq!(Credential::from_opaque(&oa), Err(AuthStat::BadCred));
        let oa = OpaqueAuth { flavor: AuthFlavor::Dh, body: Opaque::EMPTY };
        assert_eq!(Credential::from_opaque(&oa), Err(AuthStat::BadCred));
    }
}
