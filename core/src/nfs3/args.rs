//! [`Args`]: the arguments of any NFSv3 procedure behind one decoder, for a server's dispatch
//! (and the fuzz target).

use super::*;
use crate::xdr::{self, Encode, Reader, Writer};

macro_rules! args_enum {
    ($($var:ident($t:ident) = $proc:ident,)+) => {
        /// The decoded arguments of one NFSv3 call.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Args<'a> {
            /// NULL (`void`).
            Null,
            $(#[doc = concat!("`", stringify!($proc), "`.")] $var($t<'a>),)+
        }

        impl<'a> Args<'a> {
            /// Decodes the arguments of procedure `procedure` with bounds `limits`; `None` for a
            /// procedure number above 21 (`PROC_UNAVAIL`). Bytes left after the arguments are
            /// not checked here (see [`Reader::finish`]).
            pub fn decode(procedure: u32, r: &mut Reader<'a>, limits: &Limits) -> Option<xdr::Result<Self>> {
                Some(match procedure {
                    procs::NULL => Ok(Args::Null),
                    $(procs::$proc => $t::decode_with(r, limits).map(Args::$var),)+
                    _ => return None,
                })
            }

            /// The procedure number.
            pub fn procedure(&self) -> u32 {
                match self {
                    Args::Null => procs::NULL,
                    $(Args::$var(_) => procs::$proc,)+
                }
            }
        }

        impl Encode for Args<'_> {
            fn encoded_len(&self) -> usize {
                match self {
                    Args::Null => 0,
                    $(Args::$var(a) => a.encoded_len(),)+
                }
            }
            fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
                match self {
                    Args::Null => Ok(()),
                    $(Args::$var(a) => a.encode(w),)+
                }
            }
        }
    };
}

args_enum! {
    Getattr(GetattrArgs) = GETATTR,
    Setattr(SetattrArgs) = SETATTR,
    Lookup(LookupArgs) = LOOKUP,
    Access(AccessArgs) = ACCESS,
    Readlink(ReadlinkArgs) = READLINK,
    Read(ReadArgs) = READ,
    Write(WriteArgs) = WRITE,
    Create(CreateArgs) = CREATE,
    Mkdir(MkdirArgs) = MKDIR,
    Symlink(SymlinkArgs) = SYMLINK,
    Mknod(MknodArgs) = MKNOD,
    Remove(RemoveArgs) = REMOVE,
    Rmdir(RmdirArgs) = RMDIR,
    Rename(RenameArgs) = RENAME,
    Link(LinkArgs) = LINK,
    Readdir(ReaddirArgs) = READDIR,
    Readdirplus(ReaddirplusArgs) = READDIRPLUS,
    Fsstat(FsstatArgs) = FSSTAT,
    Fsinfo(FsinfoArgs) = FSINFO,
    Pathconf(PathconfArgs) = PATHCONF,
    Commit(CommitArgs) = COMMIT,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nfs3::testutil::words;

    #[test]
    fn every_procedure() {
        let l = Limits::default();
        // A handle of 4 bytes, then zeros: enough for every procedure's arguments.
        let mut wire = words(&[4, 0xabcd_ef01]);
        wire.extend_from_slice(&[0; 128]);
        for p in 0..procs::COUNT {
            let mut r = Reader::new(&wire);
            let args = Args::decode(p, &mut r, &l).expect("known procedure").expect("decodes");
            assert_eq!(args.procedure(), p);
            let used = r.position();
            assert_eq!(args.encoded_len(), used);
            let mut out = [0u8; 256];
            assert_eq!(xdr::encode_to(&args, &mut out), Ok(used));
            assert_eq!(&out[..used], &wire[..used]);
        }
        assert!(Args::decode(procs::COUNT, &mut Reader::new(&wire), &l).is_none());
    }
}
