//! libnfs-style URLs: `nfs://HOST[:PORT]/PATH?version=3&nfsport=N&mountport=N&uid=N&gid=N`.
//!
//! The path holds the export and the path inside it; which part is the export is found by
//! asking the server (see [`Session::open_url`](super::Session::open_url)). A port after the
//! host is taken as `nfsport` (libnfs refuses it; Tern accepts it as a shorthand). Unknown
//! parameters, a repeated parameter, a number that does not parse, a version other than 3, a
//! scheme other than `nfs`, an empty host, percent-escapes that are not hex, and a path
//! without a leading `/` are refused with a message that names the culprit.

use std::fmt;

/// A parsed `nfs://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfsUrl {
    /// Host name or address (brackets of an IPv6 literal removed).
    pub host: String,
    /// The absolute path on the server (export and path within it), percent-decoded, without
    /// a trailing `/` (except for `/` itself).
    pub path: String,
    /// NFS port (no portmapper query for it when given).
    pub nfsport: Option<u16>,
    /// MOUNT port (no portmapper query for it when given).
    pub mountport: Option<u16>,
    /// AUTH_SYS uid (default: the caller's).
    pub uid: Option<u32>,
    /// AUTH_SYS gid (default: the caller's).
    pub gid: Option<u32>,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(pub String);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UrlError {}

fn bad(url: &str, why: impl fmt::Display) -> UrlError {
    UrlError(format!("bad URL {url:?}: {why}"))
}

fn percent_decode(url: &str, s: &str) -> Result<String, UrlError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let v = hex.and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or_else(|| bad(url, "bad %-escape"))?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad(url, "the path is not UTF-8"))
}

impl NfsUrl {
    /// Parses `url`.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let rest = url.strip_prefix("nfs://").ok_or_else(|| bad(url, "expected nfs://HOST/PATH"))?;
        let (main, query) = match rest.split_once('?') {
            Some((m, q)) => (m, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match main.find('/') {
            Some(i) => main.split_at(i),
            None => (main, "/"),
        };
        let (host, port) = split_host(url, authority)?;
        if host.is_empty() {
            return Err(bad(url, "no host"));
        }
        let mut path = percent_decode(url, path)?;
        while path.len() > 1 && path.ends_with('/') {
            path.pop();
        }
        let mut u = NfsUrl { host, path, nfsport: port, mountport: None, uid: None, gid: None };
        let mut seen = Vec::new();
        for kv in query.into_iter().flat_map(|q| q.split('&')).filter(|kv| !kv.is_empty()) {
            let (k, v) = kv.split_once('=').ok_or_else(|| bad(url, format!("parameter {kv:?} has no value")))?;
            if seen.contains(&k) {
                return Err(bad(url, format!("parameter {k} given twice")));
            }
            seen.push(k);
            let num = |what: &str| -> Result<u32, UrlError> {
                v.parse::<u32>().map_err(|_| bad(url, format!("{what}={v:?} is not a number")))
            };
            let port = |what: &str| -> Result<u16, UrlError> {
                v.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad(url, format!("{what}={v:?} is not a port")))
            };
            match k {
                "version" if v == "3" => {}
                "version" => return Err(bad(url, format!("NFS version {v} is not supported (only 3)"))),
                "nfsport" => u.nfsport = Some(port(k)?),
                "mountport" => u.mountport = Some(port(k)?),
                "uid" => u.uid = Some(num(k)?),
                "gid" => u.gid = Some(num(k)?),
                _ => return Err(bad(url, format!("unknown parameter {k:?}"))),
            }
        }
        Ok(u)
    }

    /// True when `s` looks like an `nfs://` URL (the CLI tells remote from local paths so).
    pub fn is_url(s: &str) -> bool {
        s.starts_with("nfs://")
    }

    /// The same server and options with another path.
    pub fn with_path(&self, path: &str) -> NfsUrl {
        NfsUrl { path: path.to_string(), ..self.clone() }
    }
}

fn split_host(url: &str, authority: &str) -> Result<(String, Option<u16>), UrlError> {
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad(url, format!("bad port {p:?}")));
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| bad(url, "unclosed [ in the host"))?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((host.to_string(), Some(port(p)?))),
            None if after.is_empty() => Ok((host.to_string(), None)),
            None => Err(bad(url, "junk after the host")),
        };
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_string(), Some(port(p)?))),
        None => Ok((authority.to_string(), None)),
    }
}

impl fmt::Display for NfsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nfs://{}{}", self.host, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_url() {
        let u =
            NfsUrl::parse("nfs://127.0.0.1/srv/x/a%20b.txt?version=3&nfsport=2049&mountport=20048&uid=1000&gid=100")
                .unwrap();
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.path, "/srv/x/a b.txt");
        assert_eq!((u.nfsport, u.mountport, u.uid, u.gid), (Some(2049), Some(20048), Some(1000), Some(100)));
        assert_eq!(u.to_string(), "nfs://127.0.0.1/srv/x/a b.txt");
    }

    #[test]
    fn minimal_and_v6() {
        let u = NfsUrl::parse("nfs://server").unwrap();
        assert_eq!((u.host.as_str(), u.path.as_str(), u.nfsport), ("server", "/", None));
        let u = NfsUrl::parse("nfs://[::1]:2049/e/").unwrap();
        assert_eq!((u.host.as_str(), u.path.as_str(), u.nfsport), ("::1", "/e", Some(2049)));
    }

    #[test]
    fn refusals_name_the_problem() {
        for (url, what) in [
            ("http://h/x", "nfs://"),
            ("nfs:///x", "no host"),
            ("nfs://h/x?version=4", "version 4"),
            ("nfs://h/x?nfsport=abc", "nfsport"),
            ("nfs://h/x?mountport=0", "mountport"),
            ("nfs://h/x?uid=-1", "uid"),
            ("nfs://h/x?color=red", "unknown parameter \"color\""),
            ("nfs://h/x?uid", "no value"),
            ("nfs://h/x?uid=1&uid=2", "twice"),
            ("nfs://h/%zz", "%-escape"),
            ("nfs://h:99999/x", "bad port"),
            ("nfs://[::1/x", "unclosed"),
        ] {
            let e = NfsUrl::parse(url).unwrap_err().to_string();
            assert!(e.contains(what), "{url}: {e}");
        }
    }
}
