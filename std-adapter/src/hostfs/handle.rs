//! Handle format, the per-server secret, and the MAC that binds a handle to its export.
//!
//! ```text
//! offset 0        1              2                 2+n          2+n+16
//!        version  kernel type    kernel handle     MAC (16 bytes)
//!        (1)      (FILEID_*)     (n <= 38 bytes)
//! ```
//!
//! MAC = HMAC-SHA256(secret, "tern-hostfs handle v1\0" ‖ export id ‖ bytes 0..2+n), truncated to
//! its first 16 bytes, where export id = SHA-256(`f_fsid` of the exported file system ‖ kernel
//! type ‖ kernel handle of the export root). See the parent module for the security argument.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tern_core::fs::{FsError, FsResult, Handle, MAX_HANDLE};

use crate::sys::KernelHandle;

/// Handle format version (byte 0).
pub(crate) const VERSION: u8 = 1;
/// Bytes of the truncated MAC at the end of every handle.
pub(crate) const MAC_LEN: usize = 16;
/// Bytes before the kernel handle: version and kernel handle type.
const HEADER: usize = 2;
/// Longest kernel handle that fits (38 bytes; ext4 uses 8).
pub(crate) const MAX_KERNEL_BYTES: usize = MAX_HANDLE - HEADER - MAC_LEN;
/// Domain separation for the handle MAC.
const DOMAIN: &[u8] = b"tern-hostfs handle v1\0";
/// Domain separation for the export id.
const EXPORT_DOMAIN: &[u8] = b"tern-hostfs export v1\0";
/// Length of the secret.
const SECRET_LEN: usize = 32;

/// The per-server secret that authenticates handles: 32 random bytes, kept in
/// `<state dir>/handle-secret` (mode 0600) so that handles survive restarts.
///
/// Every export served with the same secret can check the others' handles' MACs, which is why
/// the MAC also covers the export id.
#[derive(Clone)]
pub struct HandleSecret {
    key: [u8; SECRET_LEN],
}

impl core::fmt::Debug for HandleSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HandleSecret(..)")
    }
}

impl HandleSecret {
    /// Name of the secret's file inside the state directory.
    pub const FILE_NAME: &'static str = "handle-secret";

    /// A secret with these bytes (for tests and for callers that keep the secret elsewhere).
    pub fn from_bytes(key: [u8; SECRET_LEN]) -> Self {
        HandleSecret { key }
    }

    /// A fresh random secret (from the OS's random source).
    pub fn generate() -> io::Result<Self> {
        let mut key = [0u8; SECRET_LEN];
        getrandom::fill(&mut key).map_err(|e| io::Error::other(format!("getrandom: {e}")))?;
        Ok(HandleSecret { key })
    }

    /// Reads `<state_dir>/handle-secret`, creating it (and `state_dir`, mode 0700) with a fresh
    /// random secret and mode 0600 on first use. The file is published atomically (written
    /// to a temporary name, then hard-linked), so two servers starting at once agree on one
    /// secret. A secret file that is not a regular file of 32 bytes, or that the group or
    /// others may access, is refused.
    pub fn load_or_create(state_dir: &Path) -> io::Result<Self> {
        let path = state_dir.join(Self::FILE_NAME);
        match Self::load(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => return other,
        }
        DirBuilder::new().recursive(true).mode(0o700).create(state_dir)?;
        let secret = Self::generate()?;
        let tmp = state_dir.join(format!(".{}.{}.tmp", Self::FILE_NAME, std::process::id()));
        let _ = fs::remove_file(&tmp);
        let written = (|| {
            let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            f.write_all(&secret.key)?;
            f.sync_all()?;
            fs::hard_link(&tmp, &path)
        })();
        let _ = fs::remove_file(&tmp);
        match written {
            Ok(()) => {
                File::open(state_dir)?.sync_all()?;
                Ok(secret)
            }
            // Another server published its secret first: use that one.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Self::load(&path),
            Err(e) => Err(e),
        }
    }

    fn load(path: &Path) -> io::Result<Self> {
        let mut f = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path)?;
        let meta = f.metadata()?;
        let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {why}", path.display()));
        if !meta.is_file() {
            return Err(bad("not a regular file"));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(bad("group or others may access the handle secret (chmod 600 it)"));
        }
        if meta.len() != SECRET_LEN as u64 {
            return Err(bad("a handle secret is 32 bytes"));
        }
        let mut key = [0u8; SECRET_LEN];
        f.read_exact(&mut key)?;
        Ok(HandleSecret { key })
    }
}

/// The export id: names the exported directory independently of paths, mount ids and device
/// numbers, so it stays the same across restarts and reboots.
pub(crate) fn export_id(fsid: u64, root: &KernelHandle) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(EXPORT_DOMAIN);
    h.update(fsid.to_le_bytes());
    h.update(root.handle_type.to_le_bytes());
    h.update(root.bytes());
    h.finalize().into()
}

/// Turns kernel handles into MAC-protected NFS handles of one export and back.
#[derive(Clone)]
pub(crate) struct HandleCodec {
    /// HMAC state keyed with the secret that has already absorbed the domain and export id.
    prefix: Hmac<Sha256>,
}

impl core::fmt::Debug for HandleCodec {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HandleCodec(..)")
    }
}

impl HandleCodec {
    pub(crate) fn new(secret: &HandleSecret, export: &[u8; 32]) -> Self {
        let mut prefix = <Hmac<Sha256> as Mac>::new_from_slice(&secret.key).expect("HMAC takes keys of any length");
        prefix.update(DOMAIN);
        prefix.update(export);
        HandleCodec { prefix }
    }

    /// The NFS handle for a kernel handle; `None` when the kernel handle does not fit (longer
    /// than [`MAX_KERNEL_BYTES`], or a handle type above 255).
    pub(crate) fn encode(&self, kh: &KernelHandle) -> Option<Handle> {
        let kind = u8::try_from(kh.handle_type).ok()?;
        let kb = kh.bytes();
        if kb.len() > MAX_KERNEL_BYTES {
            return None;
        }
        let mut buf = [0u8; MAX_HANDLE];
        buf[0] = VERSION;
        buf[1] = kind;
        buf[HEADER..HEADER + kb.len()].copy_from_slice(kb);
        let body = HEADER + kb.len();
        let mut mac = self.prefix.clone();
        mac.update(&buf[..body]);
        let tag = mac.finalize().into_bytes();
        buf[body..body + MAC_LEN].copy_from_slice(&tag[..MAC_LEN]);
        Handle::new(&buf[..body + MAC_LEN])
    }

    /// The kernel handle inside an NFS handle: [`FsError::BadHandle`] when it is not in this
    /// format at all (length, version), [`FsError::Stale`] when the MAC does not match (a
    /// handle this export never issued: forged, altered, from another export, or made with
    /// another secret).
    pub(crate) fn decode(&self, fh: &Handle) -> FsResult<KernelHandle> {
        let b = fh.as_bytes();
        if b.len() < HEADER + 1 + MAC_LEN || b[0] != VERSION {
            return Err(FsError::BadHandle);
        }
        let (body, tag) = b.split_at(b.len() - MAC_LEN);
        let mut mac = self.prefix.clone();
        mac.update(body);
        mac.verify_truncated_left(tag).map_err(|_| FsError::Stale)?;
        KernelHandle::new(i32::from(body[1]), &body[HEADER..]).ok_or(FsError::BadHandle)
    }
}
