//! Export options (the `(...)` list of exports(5)) and the identity mapping they imply.

use crate::rpc::auth::AuthFlavor;

use super::ErrorKind;

/// The anonymous user and group id Linux uses when none is given (`nobody`/`nogroup`).
pub const DEFAULT_ANON_ID: u32 = 65534;

/// A file system id given with `fsid=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fsid {
    /// `fsid=N` (decimal, or hexadecimal with `0x`).
    Number(u32),
    /// `fsid=root` (or `fsid=0`'s NFSv4 meaning; kept as given).
    Root,
    /// `fsid=UUID`: 32 hexadecimal digits (dashes and colons are ignored, as Linux does).
    Uuid([u8; 16]),
}

/// The security flavors an export accepts (`sec=`), in the order given: at most two, from
/// AUTH_SYS and AUTH_NONE. The default is AUTH_SYS alone, which is what Linux's mountd lists in
/// its MNT replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecFlavors {
    list: [AuthFlavor; 2],
    len: u8,
}

impl SecFlavors {
    /// AUTH_SYS alone.
    pub const SYS: SecFlavors = SecFlavors { list: [AuthFlavor::Sys, AuthFlavor::None], len: 1 };

    /// The flavors, in order of preference.
    pub fn as_slice(&self) -> &[AuthFlavor] {
        &self.list[..usize::from(self.len).min(2)]
    }

    /// True when `flavor` is accepted.
    pub fn allows(&self, flavor: AuthFlavor) -> bool {
        self.as_slice().contains(&flavor)
    }

    fn parse(value: &str) -> Result<Self, ErrorKind> {
        let mut out = SecFlavors { list: [AuthFlavor::Sys; 2], len: 0 };
        for name in value.split(':') {
            let flavor = match name {
                "sys" | "unix" => AuthFlavor::Sys,
                "none" | "null" => AuthFlavor::None,
                "krb5" | "krb5i" | "krb5p" => return Err(ErrorKind::UnsupportedOption),
                _ => return Err(ErrorKind::BadSecurity),
            };
            if out.as_slice().contains(&flavor) {
                continue;
            }
            let slot = out.list.get_mut(usize::from(out.len)).ok_or(ErrorKind::BadSecurity)?;
            *slot = flavor;
            out.len += 1;
        }
        Ok(out)
    }
}

/// The options of one client entry. [`Options::DEFAULT`] holds the Linux defaults.
///
/// Only `rw`, the squash options, `anonuid`/`anongid`, `secure` and `sec=` change what
/// [`super::Exports::admit`] and [`Options::map_identity`] decide; `sync`, `wdelay`,
/// `subtree_check`, `crossmnt`, `nohide` and `fsid` are kept for the file-system layer, and
/// the other options Linux knows (see [`Options::apply`]) are accepted and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// `rw` (true) or `ro` (false, the default).
    pub writable: bool,
    /// `root_squash` (the default): user and group id 0 become the anonymous ids.
    pub root_squash: bool,
    /// `all_squash`: every user and group id becomes the anonymous ids.
    pub all_squash: bool,
    /// `anonuid=N` (default 65534).
    pub anonuid: u32,
    /// `anongid=N` (default 65534).
    pub anongid: u32,
    /// `secure` (the default): requests must come from a source port below 1024.
    pub secure: bool,
    /// `sync` (the default) or `async`.
    pub sync: bool,
    /// `wdelay` (the default) or `no_wdelay`.
    pub wdelay: bool,
    /// `subtree_check`, or `no_subtree_check` (the default).
    pub subtree_check: bool,
    /// `crossmnt`.
    pub crossmnt: bool,
    /// `nohide`.
    pub nohide: bool,
    /// `fsid=`.
    pub fsid: Option<Fsid>,
    /// `sec=` (default `sys`).
    pub sec: SecFlavors,
}

impl Default for Options {
    fn default() -> Self {
        Options::DEFAULT
    }
}

impl Options {
    /// The Linux defaults: `ro,root_squash,anonuid=65534,anongid=65534,secure,sync,wdelay,
    /// no_subtree_check,sec=sys`.
    pub const DEFAULT: Options = Options {
        writable: false,
        root_squash: true,
        all_squash: false,
        anonuid: DEFAULT_ANON_ID,
        anongid: DEFAULT_ANON_ID,
        secure: true,
        sync: true,
        wdelay: true,
        subtree_check: false,
        crossmnt: false,
        nohide: false,
        fsid: None,
        sec: SecFlavors::SYS,
    };

    /// Applies a comma-separated option list (without parentheses) on top of `self`; later
    /// options win. An empty list changes nothing; an empty item (`rw,,sync`) is an error.
    ///
    /// Accepted and ignored: `hide`, `nocrossmnt`, `no_all_squash` (it does clear
    /// `all_squash`), `acl`, `no_acl`, `secure_locks`, `insecure_locks`, `auth_nlm`,
    /// `no_auth_nlm`, `nordirplus`, `security_label`, `pnfs`, `no_pnfs`, `mountpoint`, `mp`
    /// (with or without `=path`). Refused as [`ErrorKind::UnsupportedOption`] because
    /// ignoring them would weaken what the administrator asked for: `squash_uids=`,
    /// `squash_gids=`, `refer=`, `replicas=`, `xprtsec=`, `sec=krb5*`.
    pub fn apply(&mut self, list: &str) -> Result<(), ErrorKind> {
        if list.is_empty() {
            return Ok(());
        }
        list.split(',').try_for_each(|opt| self.apply_one(opt))
    }

    fn apply_one(&mut self, opt: &str) -> Result<(), ErrorKind> {
        if let Some((key, value)) = opt.split_once('=') {
            return self.apply_value(key, value);
        }
        match opt {
            "" => return Err(ErrorKind::BadOptionList),
            "ro" => self.writable = false,
            "rw" => self.writable = true,
            "root_squash" => self.root_squash = true,
            "no_root_squash" => self.root_squash = false,
            "all_squash" => self.all_squash = true,
            "no_all_squash" => self.all_squash = false,
            "secure" => self.secure = true,
            "insecure" => self.secure = false,
            "sync" => self.sync = true,
            "async" => self.sync = false,
            "wdelay" => self.wdelay = true,
            "no_wdelay" => self.wdelay = false,
            "subtree_check" => self.subtree_check = true,
            "no_subtree_check" => self.subtree_check = false,
            "crossmnt" => self.crossmnt = true,
            "nocrossmnt" => self.crossmnt = false,
            "nohide" => self.nohide = true,
            "hide" => self.nohide = false,
            "acl" | "no_acl" | "secure_locks" | "insecure_locks" | "auth_nlm" | "no_auth_nlm" | "nordirplus"
            | "security_label" | "pnfs" | "no_pnfs" | "mountpoint" | "mp" => {}
            _ => return Err(ErrorKind::UnknownOption),
        }
        Ok(())
    }

    fn apply_value(&mut self, key: &str, value: &str) -> Result<(), ErrorKind> {
        match key {
            "anonuid" => self.anonuid = parse_id(value)?,
            "anongid" => self.anongid = parse_id(value)?,
            "fsid" => self.fsid = Some(parse_fsid(value)?),
            "sec" => self.sec = SecFlavors::parse(value)?,
            "mountpoint" | "mp" => {}
            "squash_uids" | "squash_gids" | "refer" | "replicas" | "xprtsec" => {
                return Err(ErrorKind::UnsupportedOption);
            }
            _ => return Err(ErrorKind::UnknownOption),
        }
        Ok(())
    }

    /// Maps a caller's user and group id through the squash options.
    ///
    /// `all_squash` maps both to `anonuid`/`anongid`; `root_squash` maps a uid of 0 to
    /// `anonuid` and, independently, a gid of 0 to `anongid` (as the Linux server does).
    /// Supplementary groups go through [`Options::map_groups`].
    pub fn map_identity(&self, uid: u32, gid: u32) -> Identity {
        if self.all_squash {
            return self.anonymous();
        }
        let (mut out, mut squashed) = (Identity { uid, gid, squashed: false }, false);
        if self.root_squash {
            if uid == 0 {
                out.uid = self.anonuid;
                squashed = true;
            }
            if gid == 0 {
                out.gid = self.anongid;
                squashed = true;
            }
        }
        out.squashed = squashed;
        out
    }

    /// The identity of a caller without credentials (AUTH_NONE): the anonymous ids.
    pub fn anonymous(&self) -> Identity {
        Identity { uid: self.anonuid, gid: self.anongid, squashed: true }
    }

    /// Maps supplementary groups: none at all under `all_squash`; under `root_squash`, group 0
    /// becomes `anongid`; otherwise unchanged.
    pub fn map_groups<I: IntoIterator<Item = u32>>(&self, gids: I) -> MapGroups<I::IntoIter> {
        MapGroups { inner: gids.into_iter(), all: self.all_squash, root: self.root_squash, anongid: self.anongid }
    }
}

/// A caller's identity after the squash options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    /// User id to act as.
    pub uid: u32,
    /// Group id to act as.
    pub gid: u32,
    /// True when the uid or gid was replaced by an anonymous id.
    pub squashed: bool,
}

/// Supplementary groups after the squash options ([`Options::map_groups`]).
#[derive(Debug, Clone)]
pub struct MapGroups<I> {
    inner: I,
    all: bool,
    root: bool,
    anongid: u32,
}

impl<I: Iterator<Item = u32>> Iterator for MapGroups<I> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.all {
            return None;
        }
        let g = self.inner.next()?;
        Some(if self.root && g == 0 { self.anongid } else { g })
    }
}

/// A decimal user or group id (`anonuid=`, `anongid=`); `-1`..`-N` wrap as Linux's `strtol`
/// into `uid_t` would (so `anonuid=-2` is 4294967294).
fn parse_id(v: &str) -> Result<u32, ErrorKind> {
    if let Some(neg) = v.strip_prefix('-') {
        let n = parse_decimal(neg)?;
        if n == 0 || n > 1 << 31 {
            return Err(ErrorKind::BadNumber);
        }
        return Ok(n.wrapping_neg());
    }
    parse_decimal(v)
}

fn parse_decimal(v: &str) -> Result<u32, ErrorKind> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ErrorKind::BadNumber);
    }
    v.parse().map_err(|_| ErrorKind::BadNumber)
}

fn parse_fsid(v: &str) -> Result<Fsid, ErrorKind> {
    if v == "root" {
        return Ok(Fsid::Root);
    }
    if let Some(hex) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return u32::from_str_radix(hex, 16).map(Fsid::Number).map_err(|_| ErrorKind::BadNumber);
        }
    } else if let Ok(n) = parse_decimal(v) {
        return Ok(Fsid::Number(n));
    }
    parse_uuid(v).map(Fsid::Uuid).ok_or(ErrorKind::BadNumber)
}

fn parse_uuid(v: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    let mut digits = 0usize;
    for b in v.bytes() {
        if matches!(b, b'-' | b':') {
            continue;
        }
        let d = char::from(b).to_digit(16)? as u8;
        let byte = out.get_mut(digits / 2)?;
        *byte = (*byte << 4) | d;
        digits += 1;
    }
    (digits == 32).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &str) -> Result<Options, ErrorKind> {
        let mut o = Options::DEFAULT;
        o.apply(list).map(|()| o)
    }

    #[test]
    fn each_option() {
        let d = Options::DEFAULT;
        assert_eq!(opts(""), Ok(d));
        assert!(opts("rw").unwrap().writable);
        assert!(!opts("rw,ro").unwrap().writable);
        assert!(!opts("no_root_squash").unwrap().root_squash);
        assert!(opts("no_root_squash,root_squash").unwrap().root_squash);
        assert!(opts("all_squash").unwrap().all_squash);
        assert!(!opts("all_squash,no_all_squash").unwrap().all_squash);
        assert_eq!(opts("anonuid=1000").unwrap().anonuid, 1000);
        assert_eq!(opts("anongid=0").unwrap().anongid, 0);
        assert_eq!(opts("anonuid=-2").unwrap().anonuid, 4_294_967_294);
        assert_eq!(opts("anonuid=4294967295").unwrap().anonuid, u32::MAX);
        assert!(!opts("insecure").unwrap().secure);
        assert!(opts("insecure,secure").unwrap().secure);
        assert!(!opts("async").unwrap().sync);
        assert!(opts("async,sync").unwrap().sync);
        assert!(!opts("no_wdelay").unwrap().wdelay);
        assert!(opts("subtree_check").unwrap().subtree_check);
        assert!(!opts("subtree_check,no_subtree_check").unwrap().subtree_check);
        assert!(opts("crossmnt").unwrap().crossmnt);
        assert!(opts("nohide").unwrap().nohide);
        assert_eq!(opts("fsid=7").unwrap().fsid, Some(Fsid::Number(7)));
        assert_eq!(opts("fsid=0x10").unwrap().fsid, Some(Fsid::Number(16)));
        assert_eq!(opts("fsid=root").unwrap().fsid, Some(Fsid::Root));
        let uuid = opts("fsid=01234567-89ab-cdef-0123-456789ABCDEF").unwrap().fsid;
        assert_eq!(
            uuid,
            Some(Fsid::Uuid([
                0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef
            ]))
        );
        assert_eq!(opts("sec=sys").unwrap().sec.as_slice(), [AuthFlavor::Sys]);
        assert_eq!(opts("sec=none:sys").unwrap().sec.as_slice(), [AuthFlavor::None, AuthFlavor::Sys]);
        assert_eq!(opts("sec=unix:sys").unwrap().sec.as_slice(), [AuthFlavor::Sys]);
        assert!(opts("sec=none").unwrap().sec.allows(AuthFlavor::None));
        assert!(!opts("sec=none").unwrap().sec.allows(AuthFlavor::Sys));
        assert_eq!(opts("no_acl,mp=/x,mountpoint,hide,nocrossmnt,insecure_locks,pnfs"), Ok(d));
    }

    #[test]
    fn option_errors() {
        assert_eq!(opts("rw,,sync"), Err(ErrorKind::BadOptionList));
        assert_eq!(opts("rw,"), Err(ErrorKind::BadOptionList));
        assert_eq!(opts("readwrite"), Err(ErrorKind::UnknownOption));
        assert_eq!(opts("RW"), Err(ErrorKind::UnknownOption));
        assert_eq!(opts("bogus=1"), Err(ErrorKind::UnknownOption));
        assert_eq!(opts("anonuid="), Err(ErrorKind::BadNumber));
        assert_eq!(opts("anonuid=12a"), Err(ErrorKind::BadNumber));
        assert_eq!(opts("anonuid=+1"), Err(ErrorKind::BadNumber));
        assert_eq!(opts("anonuid=4294967296"), Err(ErrorKind::BadNumber));
        assert_eq!(opts("anongid=-0"), Err(ErrorKind::BadNumber));
        assert_eq!(opts("anongid=-2147483649"), Err(ErrorKind::BadNumber));
        assert_eq!(opts("fsid="), Err(ErrorKind::BadNumber));
        assert_eq!(opts("fsid=0x"), Err(ErrorKind::BadNumber));
        assert_eq!(opts("fsid=0x100000000"), Err(ErrorKind::BadNumber));
        assert_eq!(opts("fsid=abc"), Err(ErrorKind::BadNumber));
        assert_eq!(opts("sec=krb5p"), Err(ErrorKind::UnsupportedOption));
        assert_eq!(opts("sec=bogus"), Err(ErrorKind::BadSecurity));
        assert_eq!(opts("sec="), Err(ErrorKind::BadSecurity));
        assert_eq!(opts("squash_uids=0-99"), Err(ErrorKind::UnsupportedOption));
        assert_eq!(opts("refer=/a@b"), Err(ErrorKind::UnsupportedOption));
    }

    #[test]
    fn identity_mapping() {
        let root = Options::DEFAULT;
        assert_eq!(root.map_identity(0, 0), Identity { uid: 65534, gid: 65534, squashed: true });
        assert_eq!(root.map_identity(1000, 0), Identity { uid: 1000, gid: 65534, squashed: true });
        assert_eq!(root.map_identity(1000, 100), Identity { uid: 1000, gid: 100, squashed: false });
        assert!(root.map_groups([0, 4, 0]).eq([65534, 4, 65534]));
        let none = opts("no_root_squash").unwrap();
        assert_eq!(none.map_identity(0, 0), Identity { uid: 0, gid: 0, squashed: false });
        assert!(none.map_groups([0, 4]).eq([0, 4]));
        let all = opts("all_squash,anonuid=1001,anongid=1002").unwrap();
        assert_eq!(all.map_identity(1000, 100), Identity { uid: 1001, gid: 1002, squashed: true });
        assert_eq!(all.map_groups([4, 24]).count(), 0);
        assert_eq!(all.anonymous(), Identity { uid: 1001, gid: 1002, squashed: true });
    }
}
