//! One encoder per NFSv3 procedure and one decoder per result.
//!
//! Each encoder writes a whole call message (RPC header, credential, arguments) into `buf`
//! through the RPC [`Client`], which starts the call's retransmission timer, and returns the
//! xid and the length written. Each decoder takes the result bytes of a successful reply
//! ([`Reply::result`](crate::rpc::client::Reply)) and decodes them with the caller's
//! [`Limits`], refusing trailing bytes. Results borrow from the reply (handles, names, READ
//! data, READDIR entries).

use core::ops::Range;

use crate::nfs3::FileHandle;
use crate::nfs3::{
    AccessArgs, AccessRes, CommitArgs, CommitRes, CreateArgs, CreateRes, FsinfoArgs, FsinfoRes, FsstatArgs, FsstatRes,
    GetattrArgs, GetattrRes, Limits, LinkArgs, LinkRes, LookupArgs, LookupRes, MkdirArgs, MkdirRes, MknodArgs,
    MknodRes, PROGRAM, PathconfArgs, PathconfRes, ReadArgs, ReadRes, ReaddirArgs, ReaddirRes, ReaddirplusArgs,
    ReaddirplusRes, ReadlinkArgs, ReadlinkRes, RemoveArgs, RemoveRes, RenameArgs, RenameRes, RmdirArgs, RmdirRes,
    SetattrArgs, SetattrRes, StableHow, SymlinkArgs, SymlinkRes, VERSION, WriteArgs, WriteRes, decode_exact_with,
    procs,
};
use crate::rpc::auth::Credential;
use crate::rpc::client::{Client, ClientError};
use crate::time::Instant;
use crate::xdr;

/// Encodes a call of NFSv3 procedure `proc_` with any arguments (for procedures the typed
/// encoders below cover, prefer those).
pub fn call<const N: usize, A: xdr::Encode + ?Sized>(
    c: &mut Client<N>,
    now: Instant,
    cred: &Credential<'_>,
    proc_: u32,
    args: &A,
    buf: &mut [u8],
) -> Result<(u32, usize), ClientError> {
    c.call(now, PROGRAM, VERSION, proc_, cred, args, buf)
}

/// Encodes NULL (AUTH_NONE, no arguments).
pub fn null<const N: usize>(c: &mut Client<N>, now: Instant, buf: &mut [u8]) -> Result<(u32, usize), ClientError> {
    call(c, now, &Credential::None, procs::NULL, &(), buf)
}

/// Decodes NULL's (empty) result.
pub fn decode_null(results: &[u8]) -> xdr::Result<()> {
    xdr::decode_exact(results)
}

macro_rules! procedures {
    ($($enc:ident $dec:ident $proc:ident $args:ident => $res:ty;)+) => {$(
        #[doc = concat!("Encodes ", stringify!($proc), " into `buf`; returns the xid and length.")]
        pub fn $enc<const N: usize>(
            c: &mut Client<N>,
            now: Instant,
            cred: &Credential<'_>,
            args: &$args<'_>,
            buf: &mut [u8],
        ) -> Result<(u32, usize), ClientError> {
            call(c, now, cred, procs::$proc, args, buf)
        }

        #[doc = concat!("Decodes ", stringify!($proc), "'s result with `limits`.")]
        #[allow(clippy::needless_lifetimes)]
        pub fn $dec<'a>(results: &'a [u8], limits: &Limits) -> xdr::Result<$res> {
            decode_exact_with(results, limits)
        }
    )+};
}

procedures! {
    getattr decode_getattr GETATTR GetattrArgs => GetattrRes;
    setattr decode_setattr SETATTR SetattrArgs => SetattrRes;
    lookup decode_lookup LOOKUP LookupArgs => LookupRes<'a>;
    access decode_access ACCESS AccessArgs => AccessRes;
    readlink decode_readlink READLINK ReadlinkArgs => ReadlinkRes<'a>;
    read decode_read READ ReadArgs => ReadRes<'a>;
    write decode_write WRITE WriteArgs => WriteRes;
    create decode_create CREATE CreateArgs => CreateRes<'a>;
    mkdir decode_mkdir MKDIR MkdirArgs => MkdirRes<'a>;
    symlink decode_symlink SYMLINK SymlinkArgs => SymlinkRes<'a>;
    mknod decode_mknod MKNOD MknodArgs => MknodRes<'a>;
    remove decode_remove REMOVE RemoveArgs => RemoveRes;
    rmdir decode_rmdir RMDIR RmdirArgs => RmdirRes;
    rename decode_rename RENAME RenameArgs => RenameRes;
    link decode_link LINK LinkArgs => LinkRes;
    readdir decode_readdir READDIR ReaddirArgs => ReaddirRes<'a>;
    readdirplus decode_readdirplus READDIRPLUS ReaddirplusArgs => ReaddirplusRes<'a>;
    fsstat decode_fsstat FSSTAT FsstatArgs => FsstatRes;
    fsinfo decode_fsinfo FSINFO FsinfoArgs => FsinfoRes;
    pathconf decode_pathconf PATHCONF PathconfArgs => PathconfRes;
    commit decode_commit COMMIT CommitArgs => CommitRes;
}

/// `WRITE3args` up to and including the length of the data: what [`write_in_place`] encodes.
struct WriteHead<'a> {
    file: FileHandle<'a>,
    offset: u64,
    count: u32,
    stable: StableHow,
}

impl xdr::Encode for WriteHead<'_> {
    fn encoded_len(&self) -> usize {
        self.file.encoded_len() + 8 + 4 + 4 + 4
    }

    fn encode(&self, w: &mut xdr::Writer<'_>) -> xdr::Result<()> {
        w.write(&self.file)?;
        w.put_u64(self.offset)?;
        w.put_u32(self.count)?;
        w.write(&self.stable)?;
        w.put_u32(self.count)
    }
}

/// Encodes a WRITE of `count` bytes at `offset` of `file` whose data the caller puts in place
/// afterwards, so that a driver can read its source straight into the message instead of
/// copying the data in. Returns the xid, the message's length and the range of `buf` the
/// data goes to; the XDR padding after that range is zeroed here. Once the range is filled
/// the message is the one [`write()`] makes for the same data. A `buf` too small for the whole
/// message fails before the call starts.
#[allow(clippy::too_many_arguments)]
pub fn write_in_place<const N: usize>(
    c: &mut Client<N>,
    now: Instant,
    cred: &Credential<'_>,
    file: FileHandle<'_>,
    offset: u64,
    stable: StableHow,
    count: u32,
    buf: &mut [u8],
) -> Result<(u32, usize, Range<usize>), ClientError> {
    let data = count as usize;
    let full = ClientError::Encode(xdr::Error::BufferFull);
    // The head is encoded into what is left after the data's room, so a message that would
    // not fit never starts a call.
    let room = buf.len().checked_sub(xdr::padded(data)).ok_or(full)?;
    let head = WriteHead { file, offset, count, stable };
    let (xid, len) = call(c, now, cred, procs::WRITE, &head, buf.get_mut(..room).ok_or(full)?)?;
    let end = len + xdr::padded(data);
    if let Some(pad) = buf.get_mut(len + data..end) {
        pad.fill(0);
    }
    Ok((xid, end, len..len + data))
}
