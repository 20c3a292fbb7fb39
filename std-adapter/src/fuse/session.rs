//! Mounting and unmounting: [`mount_background`] (a [`Mounted`] handle that unmounts on
//! drop), [`mount_foreground`], [`unmount`] and [`is_tern_mount`].
//!
//! Tern mounts have the file-system type `fuse.tern` (the kernel's `subtype=` option) and the
//! source name given in [`MountOptions::fsname`], so `/proc/self/mountinfo` tells them apart;
//! [`unmount`] refuses anything else, so `tern umount /` cannot unmount the host's root.
//! Unmounting ends the FUSE connection: the session threads see `ENODEV` and return, so a
//! process serving a mount exits when another process unmounts it.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use fuser::{BackgroundSession, Config, MountOption, SessionACL};
use tern_core::fs::FileSystem;

use super::FuseFs;
use crate::sys;

/// The file-system type of every Tern FUSE mount in `/proc/self/mountinfo`.
pub const FSTYPE: &str = "fuse.tern";

/// How to mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// The source shown by `mount` and `df` (for example `memfs:256M` or an `nfs://` URL).
    pub fsname: String,
    /// Session threads reading requests from the kernel (at least 1).
    pub threads: usize,
    /// Let every user use the mount (`allow_other`), as with NFS; permissions are then checked
    /// by the kernel from the attributes (`default_permissions` is always on).
    pub allow_other: bool,
    /// Mount read-only.
    pub read_only: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions { fsname: "tern".into(), threads: 2, allow_other: true, read_only: false }
    }
}

/// Why a mount or unmount failed.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// The kernel refused the mount, or `/dev/fuse` could not be used.
    #[error("cannot mount on {dir}: {source}")]
    Mount {
        /// The mount point.
        dir: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Nothing is mounted there.
    #[error("{0}: not mounted")]
    NotMounted(PathBuf),
    /// Something other than a Tern mount is mounted there.
    #[error("{dir}: not a Tern mount (file system type {fstype})")]
    NotTern {
        /// The mount point.
        dir: PathBuf,
        /// Its file-system type.
        fstype: String,
    },
    /// The mount is in use (unmount lazily to detach it anyway).
    #[error("{0}: busy (files are open there; --lazy detaches it now and unmounts when they close)")]
    Busy(PathBuf),
    /// Another failure of `umount2` or of reading the mount table.
    #[error("{dir}: {source}")]
    Io {
        /// The mount point.
        dir: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

fn config(opts: &MountOptions) -> Config {
    let mut c = Config::default();
    c.mount_options = vec![
        MountOption::FSName(opts.fsname.replace([',', ' ', '\n', '\t'], "_")),
        MountOption::CUSTOM("subtype=tern".into()),
        MountOption::DefaultPermissions,
        MountOption::NoDev,
        MountOption::NoSuid,
        if opts.read_only { MountOption::RO } else { MountOption::RW },
    ];
    c.acl = if opts.allow_other { SessionACL::All } else { SessionACL::Owner };
    c.n_threads = Some(opts.threads.max(1));
    c
}

/// Mounts `fs` on `dir` and serves it on background threads until the returned handle is
/// dropped (or [`Mounted::unmount`]ed), or until the file system is unmounted by someone else.
pub fn mount_background<F: FileSystem + Send + 'static>(
    fs: FuseFs<F>,
    dir: &Path,
    opts: &MountOptions,
) -> Result<Mounted, MountError> {
    let session = fuser::spawn_mount(fs, dir, &config(opts))
        .map_err(|source| MountError::Mount { dir: dir.to_path_buf(), source })?;
    Ok(Mounted { session: Some(session), dir: dir.to_path_buf() })
}

/// Mounts `fs` on `dir` and serves it on this thread (and [`MountOptions::threads`] − 1 more)
/// until it is unmounted.
pub fn mount_foreground<F: FileSystem + Send + 'static>(
    fs: FuseFs<F>,
    dir: &Path,
    opts: &MountOptions,
) -> Result<(), MountError> {
    fuser::mount(fs, dir, &config(opts)).map_err(|source| MountError::Mount { dir: dir.to_path_buf(), source })
}

/// A mounted file system served in the background; unmounts when dropped.
#[derive(Debug)]
pub struct Mounted {
    session: Option<BackgroundSession>,
    dir: PathBuf,
}

impl Mounted {
    /// The mount point.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Waits until the file system is unmounted (by [`unmount`], `umount` or `tern umount`)
    /// and the session has ended.
    pub fn join(mut self) -> io::Result<()> {
        match self.session.take() {
            Some(s) => s.join(),
            None => Ok(()),
        }
    }

    /// Unmounts now and waits for the session to end; [`MountError::Busy`] while files are
    /// open there (the mount then stays; dropping the handle detaches it lazily).
    pub fn unmount(&mut self) -> Result<(), MountError> {
        if self.session.is_none() {
            return Ok(());
        }
        unmount(&self.dir, false)?;
        match self.session.take() {
            Some(s) => s.join().map_err(|source| MountError::Io { dir: self.dir.clone(), source }),
            None => Ok(()),
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let Some(s) = self.session.take() else { return };
        match unmount(&self.dir, false) {
            Ok(()) | Err(MountError::NotMounted(_)) => {
                if let Err(e) = s.join() {
                    tracing::warn!(dir = %self.dir.display(), "FUSE session ended with an error: {e}");
                }
            }
            Err(e) => {
                // Busy: detach it; the session serves the open files until they close.
                tracing::warn!("{e}; detaching it");
                let _ = unmount(&self.dir, true);
                // The session must not unmount by path itself later: the path may hold
                // another mount by then. It ends when the kernel drops the connection.
                std::mem::forget(s);
            }
        }
    }
}

/// Unmounts the Tern mount at `dir` (`lazy`: detach it now even if files are open there, and
/// finish when they close). Anything else mounted there is refused.
pub fn unmount(dir: &Path, lazy: bool) -> Result<(), MountError> {
    let abs = absolute(dir);
    match mounted_type(&abs)? {
        None => return Err(MountError::NotMounted(dir.to_path_buf())),
        Some(t) if t != FSTYPE => return Err(MountError::NotTern { dir: dir.to_path_buf(), fstype: t }),
        Some(_) => {}
    }
    let c = CString::new(abs.as_os_str().as_bytes())
        .map_err(|_| MountError::Io { dir: dir.to_path_buf(), source: io::ErrorKind::InvalidInput.into() })?;
    let flags = if lazy { libc::MNT_DETACH } else { 0 };
    sys::umount2(&c, flags).map_err(|e| match e.raw_os_error() {
        Some(libc::EBUSY) => MountError::Busy(dir.to_path_buf()),
        Some(libc::EINVAL) => MountError::NotMounted(dir.to_path_buf()),
        _ => MountError::Io { dir: dir.to_path_buf(), source: e },
    })
}

/// Whether a Tern file system is mounted at `dir`.
pub fn is_tern_mount(dir: &Path) -> Result<bool, MountError> {
    Ok(mounted_type(&absolute(dir))?.as_deref() == Some(FSTYPE))
}

/// `dir` made absolute with symlinks resolved, without touching `dir` itself (a mount whose
/// server died answers every `stat` with `ENOTCONN`).
fn absolute(dir: &Path) -> PathBuf {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    match (abs.parent(), abs.file_name()) {
        (Some(p), Some(name)) => p.canonicalize().map(|p| p.join(name)).unwrap_or(abs),
        _ => abs,
    }
}

/// The type of the file system mounted on top at `dir`, if any.
fn mounted_type(dir: &Path) -> Result<Option<String>, MountError> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|source| MountError::Io { dir: dir.to_path_buf(), source })?;
    Ok(parse_mountinfo(&text, dir.as_os_str().as_bytes()))
}

/// The file-system type of the last (topmost) mount at `dir` in mountinfo `text`.
fn parse_mountinfo(text: &str, dir: &[u8]) -> Option<String> {
    let mut found = None;
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let Some(point) = left.split(' ').nth(4) else { continue };
        if unescape(point) == dir {
            found = right.split(' ').next().map(str::to_string);
        }
    }
    found
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\134` for a backslash, ...).
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b.get(i + 1..i + 4).filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(d) => {
                out.push(d.iter().fold(0u8, |v, c| v.wrapping_mul(8).wrapping_add(c - b'0')));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 0:21 / /proc rw,nosuid - proc proc rw
40 22 0:40 / /mnt/a\\040b rw,nosuid,nodev - fuse.tern memfs:64M rw,user_id=0,group_id=0
41 22 0:41 / /mnt/x rw - tmpfs tmpfs rw
42 41 0:42 / /mnt/x rw - fuse.tern nfs://h/e rw
bad line without separator
43 1 0:43 /
";

    #[test]
    fn finds_the_topmost_mount() {
        assert_eq!(parse_mountinfo(INFO, b"/mnt/a b").as_deref(), Some(FSTYPE));
        assert_eq!(parse_mountinfo(INFO, b"/mnt/x").as_deref(), Some(FSTYPE));
        assert_eq!(parse_mountinfo(INFO, b"/proc").as_deref(), Some("proc"));
        assert_eq!(parse_mountinfo(INFO, b"/mnt"), None);
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape("a\\040b\\134c\\"), b"a b\\c\\");
        assert_eq!(unescape("\\09x"), b"\\09x");
    }

    #[test]
    fn options_name_the_type() {
        let c = config(&MountOptions { fsname: "memfs 1,2".into(), ..MountOptions::default() });
        assert!(c.mount_options.contains(&MountOption::FSName("memfs_1_2".into())));
        assert!(c.mount_options.contains(&MountOption::CUSTOM("subtype=tern".into())));
        assert_eq!(c.n_threads, Some(2));
    }
}
