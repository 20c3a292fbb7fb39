//! What the blocking and async NFS clients share: each operation as an [`Op`] (encode the call,
//! decode the results into owned values), the I/O sizes that fit the caller's buffers, and the
//! sources of windowed writes.
//!
//! An operation's output never borrows the reply buffer: handles are copied into [`Fh`],
//! attributes are `Copy`, names and link targets go to the caller's closure or buffer.

use core::ops::ControlFlow;

use tern_core::mount;
use tern_core::nfs3::client::{self as cc, Error as ClientError, Fh, IoSizes, ListCursor, MountTable};
use tern_core::nfs3::{
    CommitArgs, DirOpArgs3, Entry3, Fattr3, Filename, FsinfoArgs, FsinfoResOk, FsstatArgs, FsstatResOk, GetattrArgs,
    Limits, LookupArgs, NfsRes, RemoveArgs, RenameArgs, RmdirArgs, Sattr3, SetattrArgs, Verifier,
};
use tern_core::rpc::auth::Credential;
use tern_core::rpc::client::Client;
use tern_core::time::Instant;

use crate::{IO_OVERHEAD, MOUNT_PATH, MOUNTS, NfsError};

/// The mount table of a client.
pub(crate) type Mounts = MountTable<MOUNTS, MOUNT_PATH>;

/// What a windowed write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteStats {
    /// Bytes acknowledged by WRITE replies (including bytes sent again).
    pub acked: u64,
    /// Bytes sent more than once (short writes, a changed write verifier).
    pub resent: u64,
    /// Times the server's write verifier changed (it restarted and may have lost data).
    pub verifier_changes: u32,
}

/// One call and the decoding of its results.
pub(crate) trait Op {
    /// What the operation gives back.
    type Out;
    /// Encodes the call into `buf`; returns the xid and length.
    fn encode<const N: usize>(
        &mut self,
        c: &mut Client<N>,
        now: Instant,
        cred: &Credential<'_>,
        buf: &mut [u8],
    ) -> Result<(u32, usize), NfsError>;
    /// Decodes the results of a successful reply.
    fn decode(self, results: &[u8], limits: &Limits) -> Result<Self::Out, NfsError>;
}

fn ok<T, F>(r: NfsRes<T, F>) -> Result<T, NfsError> {
    match r {
        NfsRes::Ok(t) => Ok(t),
        NfsRes::Fail(s, _) => Err(ClientError::Status(s).into()),
    }
}

fn fh(bytes: &[u8]) -> Result<Fh, NfsError> {
    Fh::new(bytes).ok_or(NfsError::Client(ClientError::Protocol))
}

fn dirop<'a>(dir: &'a Fh, name: &'a str) -> DirOpArgs3<'a> {
    DirOpArgs3 { dir: dir.wire(), name: Filename::from_str(name) }
}

/// Implements [`Op`] for an operation whose arguments borrow from its fields.
macro_rules! op {
    ($name:ident $(<$l:lifetime>)? => $out:ty, |$s:ident| $args:expr, $enc:path,
     |$s2:ident, $res:ident, $lim:ident| $dec:expr) => {
        impl$(<$l>)? Op for $name$(<$l>)? {
            type Out = $out;
            fn encode<const N: usize>(
                &mut self,
                c: &mut Client<N>,
                now: Instant,
                cred: &Credential<'_>,
                buf: &mut [u8],
            ) -> Result<(u32, usize), NfsError> {
                let $s = &*self;
                Ok($enc(c, now, cred, &$args, buf)?)
            }
            fn decode(self, $res: &[u8], $lim: &Limits) -> Result<$out, NfsError> {
                let $s2 = self;
                $dec
            }
        }
    };
}

/// NULL (AUTH_NONE).
pub(crate) struct Null;

impl Op for Null {
    type Out = ();
    fn encode<const N: usize>(
        &mut self,
        c: &mut Client<N>,
        now: Instant,
        _: &Credential<'_>,
        buf: &mut [u8],
    ) -> Result<(u32, usize), NfsError> {
        Ok(cc::null(c, now, buf)?)
    }
    fn decode(self, results: &[u8], _: &Limits) -> Result<(), NfsError> {
        Ok(cc::decode_null(results)?)
    }
}

pub(crate) struct Getattr<'a>(pub &'a Fh);
op!(Getattr<'a> => Fattr3, |s| GetattrArgs { object: s.0.wire() }, cc::getattr,
    |_s, r, l| ok(cc::decode_getattr(r, l)?));

pub(crate) struct Setattr<'a>(pub &'a Fh, pub Sattr3);
op!(Setattr<'a> => Option<Fattr3>,
    |s| SetattrArgs { object: s.0.wire(), new_attributes: s.1, guard: None }, cc::setattr,
    |_s, r, l| Ok(ok(cc::decode_setattr(r, l)?)?.after));

pub(crate) struct Lookup<'a>(pub &'a Fh, pub &'a str);
op!(Lookup<'a> => (Fh, Option<Fattr3>), |s| LookupArgs { what: dirop(s.0, s.1) }, cc::lookup,
    |_s, r, l| { let o = ok(cc::decode_lookup(r, l)?)?; Ok((fh(o.object.as_bytes())?, o.obj_attributes)) });

/// CREATE, MKDIR and SYMLINK give the new handle, when the server sends it.
fn made(obj: Option<tern_core::nfs3::FileHandle<'_>>) -> Result<Option<Fh>, NfsError> {
    obj.map(|h| fh(h.as_bytes())).transpose()
}

pub(crate) struct Create<'a>(pub &'a Fh, pub &'a str, pub tern_core::nfs3::CreateHow3);
op!(Create<'a> => Option<Fh>,
    |s| tern_core::nfs3::CreateArgs { where_: dirop(s.0, s.1), how: s.2 }, cc::create,
    |_s, r, l| made(ok(cc::decode_create(r, l)?)?.obj));

pub(crate) struct Mkdir<'a>(pub &'a Fh, pub &'a str, pub Sattr3);
op!(Mkdir<'a> => Option<Fh>,
    |s| tern_core::nfs3::MkdirArgs { where_: dirop(s.0, s.1), attributes: s.2 }, cc::mkdir,
    |_s, r, l| made(ok(cc::decode_mkdir(r, l)?)?.obj));

pub(crate) struct Symlink<'a>(pub &'a Fh, pub &'a str, pub &'a [u8], pub Sattr3);
op!(Symlink<'a> => Option<Fh>,
    |s| tern_core::nfs3::SymlinkArgs {
        where_: dirop(s.0, s.1),
        symlink: tern_core::nfs3::SymlinkData3 {
            symlink_attributes: s.3,
            symlink_data: tern_core::nfs3::NfsPath::new(s.2),
        },
    }, cc::symlink,
    |_s, r, l| made(ok(cc::decode_symlink(r, l)?)?.obj));

/// READLINK into the caller's buffer: the target's length (a buffer too small is
/// [`ClientError::Full`]).
pub(crate) struct Readlink<'a, 'o>(pub &'a Fh, pub &'o mut [u8]);

impl Op for Readlink<'_, '_> {
    type Out = usize;
    fn encode<const N: usize>(
        &mut self,
        c: &mut Client<N>,
        now: Instant,
        cred: &Credential<'_>,
        buf: &mut [u8],
    ) -> Result<(u32, usize), NfsError> {
        Ok(cc::readlink(c, now, cred, &tern_core::nfs3::ReadlinkArgs { symlink: self.0.wire() }, buf)?)
    }
    fn decode(self, results: &[u8], limits: &Limits) -> Result<usize, NfsError> {
        let target = ok(cc::decode_readlink(results, limits)?)?.data;
        let t = target.as_bytes();
        self.1.get_mut(..t.len()).ok_or(NfsError::Client(ClientError::Full))?.copy_from_slice(t);
        Ok(t.len())
    }
}

pub(crate) struct Remove<'a>(pub &'a Fh, pub &'a str);
op!(Remove<'a> => (), |s| RemoveArgs { object: dirop(s.0, s.1) }, cc::remove,
    |_s, r, l| ok(cc::decode_remove(r, l)?).map(|_| ()));

pub(crate) struct Rmdir<'a>(pub &'a Fh, pub &'a str);
op!(Rmdir<'a> => (), |s| RmdirArgs { object: dirop(s.0, s.1) }, cc::rmdir,
    |_s, r, l| ok(cc::decode_rmdir(r, l)?).map(|_| ()));

pub(crate) struct Rename<'a>(pub &'a Fh, pub &'a str, pub &'a Fh, pub &'a str);
op!(Rename<'a> => (), |s| RenameArgs { from: dirop(s.0, s.1), to: dirop(s.2, s.3) }, cc::rename,
    |_s, r, l| ok(cc::decode_rename(r, l)?).map(|_| ()));

pub(crate) struct Fsinfo<'a>(pub &'a Fh);
op!(Fsinfo<'a> => FsinfoResOk, |s| FsinfoArgs { fsroot: s.0.wire() }, cc::fsinfo,
    |_s, r, l| ok(cc::decode_fsinfo(r, l)?));

pub(crate) struct Fsstat<'a>(pub &'a Fh);
op!(Fsstat<'a> => FsstatResOk, |s| FsstatArgs { fsroot: s.0.wire() }, cc::fsstat,
    |_s, r, l| ok(cc::decode_fsstat(r, l)?));

pub(crate) struct Commit<'a>(pub &'a Fh);
op!(Commit<'a> => Verifier, |s| CommitArgs { file: s.0.wire(), offset: 0, count: 0 }, cc::commit,
    |_s, r, l| Ok(ok(cc::decode_commit(r, l)?)?.verf));

/// One READDIR page of a walk: hands each entry to `each`, then moves the cursor.
pub(crate) struct ReaddirPage<'c, F> {
    pub cursor: &'c mut ListCursor,
    pub count: u32,
    pub each: &'c mut F,
}

impl<F: FnMut(&Entry3<'_>)> Op for ReaddirPage<'_, F> {
    type Out = ();
    fn encode<const N: usize>(
        &mut self,
        c: &mut Client<N>,
        now: Instant,
        cred: &Credential<'_>,
        buf: &mut [u8],
    ) -> Result<(u32, usize), NfsError> {
        Ok(cc::readdir(c, now, cred, &self.cursor.readdir_args(self.count), buf)?)
    }
    fn decode(self, results: &[u8], limits: &Limits) -> Result<(), NfsError> {
        let page = ok(cc::decode_readdir(results, limits)?)?;
        for e in page.entries.iter() {
            (self.each)(&e);
        }
        Ok(self.cursor.advance_readdir(&page)?)
    }
}

/// MNT of `path`: records the mount; the root handle.
pub(crate) struct Mnt<'a>(pub &'a mut Mounts, pub &'a str);

impl Op for Mnt<'_> {
    type Out = Fh;
    fn encode<const N: usize>(
        &mut self,
        c: &mut Client<N>,
        now: Instant,
        cred: &Credential<'_>,
        buf: &mut [u8],
    ) -> Result<(u32, usize), NfsError> {
        Ok(self.0.mnt(c, now, cred, self.1, buf)?)
    }
    fn decode(self, results: &[u8], _: &Limits) -> Result<Fh, NfsError> {
        Ok(self.0.mounted(self.1, results)?)
    }
}

/// UMNT of a mounted `path` (forgotten by the table as soon as the call is encoded).
pub(crate) struct Umnt<'a>(pub &'a mut Mounts, pub &'a str);

impl Op for Umnt<'_> {
    type Out = ();
    fn encode<const N: usize>(
        &mut self,
        c: &mut Client<N>,
        now: Instant,
        cred: &Credential<'_>,
        buf: &mut [u8],
    ) -> Result<(u32, usize), NfsError> {
        Ok(self.0.umnt(c, now, cred, self.1, buf)?)
    }
    fn decode(self, results: &[u8], _: &Limits) -> Result<(), NfsError> {
        Ok(mount::client::decode_void(results)?)
    }
}

/// A READ or WRITE size that fits `cap` bytes of buffer after [`IO_OVERHEAD`]: a multiple of
/// 4 KiB when at least 4 KiB fit, never 0.
fn fit(buffer: usize) -> u32 {
    let n = u32::try_from(buffer.saturating_sub(IO_OVERHEAD)).unwrap_or(u32::MAX).max(1);
    if n >= 4096 { n & !4095 } else { n }
}

/// I/O sizes for a call buffer of `call` bytes and a reply buffer of `reply` bytes, from the
/// server's FSINFO when known (else as large as the buffers allow, at most 1 MiB).
pub(crate) fn io_sizes(call: usize, reply: usize, info: Option<&FsinfoResOk>, limits: &Limits) -> IoSizes {
    let (wcap, rcap) = (fit(call), fit(reply));
    let dtsize = rcap.clamp(1, 32 * 1024);
    let Some(info) = info else {
        let m = limits.max_data;
        return IoSizes { rsize: rcap.min(m), wsize: wcap.min(m), dtsize };
    };
    // `from_fsinfo` never goes below 512 bytes: a buffer that small still gets what fits.
    let r = IoSizes::from_fsinfo(info, rcap, limits).rsize.min(rcap);
    let w = IoSizes::from_fsinfo(info, wcap, limits).wsize.min(wcap);
    IoSizes { rsize: r, wsize: w, dtsize: IoSizes::from_fsinfo(info, rcap, limits).dtsize.min(rcap) }
}

/// Where a windowed write takes the bytes of each chunk; asked for ranges in any order,
/// possibly more than once.
pub(crate) trait Source {
    fn bytes(&mut self, offset: u64, len: usize) -> Result<&[u8], NfsError>;
}

/// The bytes of a slice that starts at file offset `start`.
pub(crate) struct SliceSource<'d> {
    pub start: u64,
    pub data: &'d [u8],
}

impl Source for SliceSource<'_> {
    fn bytes(&mut self, offset: u64, len: usize) -> Result<&[u8], NfsError> {
        let i = usize::try_from(offset.saturating_sub(self.start)).map_err(|_| ClientError::Misuse)?;
        Ok(self.data.get(i..i.saturating_add(len)).ok_or(ClientError::Misuse)?)
    }
}

/// Bytes a closure fills into a staging buffer.
pub(crate) struct FillSource<'c, F> {
    pub chunk: &'c mut [u8],
    pub fill: F,
}

impl<F: FnMut(u64, &mut [u8]) -> ControlFlow<()>> Source for FillSource<'_, F> {
    fn bytes(&mut self, offset: u64, len: usize) -> Result<&[u8], NfsError> {
        let buf = self.chunk.get_mut(..len).ok_or(ClientError::Full)?;
        match (self.fill)(offset, buf) {
            ControlFlow::Continue(()) => Ok(buf),
            ControlFlow::Break(()) => Err(NfsError::Aborted),
        }
    }
}

/// Copies each piece of a windowed read into `out`, which starts at file offset `start`.
pub(crate) fn into_slice(start: u64, out: &mut [u8]) -> impl FnMut(u64, &[u8]) -> ControlFlow<()> + '_ {
    move |offset, data| {
        let at = usize::try_from(offset.saturating_sub(start)).unwrap_or(usize::MAX);
        match out.get_mut(at..at.saturating_add(data.len())) {
            Some(dst) => {
                dst.copy_from_slice(data);
                ControlFlow::Continue(())
            }
            None => ControlFlow::Break(()),
        }
    }
}
