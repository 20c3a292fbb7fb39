//! Client patterns of exports(5): who an entry applies to, and the matching rule.
//!
//! Matching never allocates and never recurses: wildcards use the iterative backtracking glob
//! (one saved `*` position), so its cost is at most `pattern × name` byte steps.

use core::net::{IpAddr, Ipv4Addr};

use super::ErrorKind;

/// Longest client pattern, in bytes (the MOUNT protocol's `name<255>`, used in EXPORT replies).
pub const MAX_PATTERN: usize = 255;

/// Who a client entry applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern<'a> {
    /// `*` alone, an empty host (`/path (opts)`), or no client at all: everyone.
    Anyone,
    /// A host name, compared with the client's host name without regard to ASCII case (and to
    /// one trailing dot). Matches only when the caller passes the client's host name.
    Host(&'a str),
    /// A host name with `*`, `?` or `[...]` wildcards, matched against the client's host name
    /// without regard to ASCII case. `*` matches any run of characters, dots included (as
    /// Linux's `wildmat`); `[a-z]`, `[!a-z]` and `[^a-z]` are character classes.
    Wildcard(&'a str),
    /// One address. IPv4-mapped IPv6 addresses are kept as IPv4.
    Addr(IpAddr),
    /// A network: `addr/prefix`, or `addr/netmask` with a dotted IPv4 netmask.
    Subnet {
        /// The network address (host bits are ignored when matching).
        net: IpAddr,
        /// Number of leading bits that must be equal (at most 32 for IPv4, 128 for IPv6).
        prefix: u8,
    },
}

impl<'a> Pattern<'a> {
    /// Parses a client pattern (the part of a client token before `(`).
    pub fn parse(text: &'a str) -> Result<Self, ErrorKind> {
        if text.is_empty() || text == "*" {
            return Ok(Pattern::Anyone);
        }
        if text.len() > MAX_PATTERN {
            return Err(ErrorKind::BadClient);
        }
        if text.starts_with('@') {
            // NIS netgroups need a directory service the core does not have.
            return Err(ErrorKind::BadClient);
        }
        if let Some((addr, mask)) = text.split_once('/') {
            return parse_subnet(addr, mask);
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Pattern::Addr(ip.to_canonical()));
        }
        if text.bytes().any(|b| b == b':') || text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(ErrorKind::BadAddress);
        }
        if text.bytes().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            validate_wildcard(text)?;
            return Ok(Pattern::Wildcard(text));
        }
        if !text.bytes().all(is_host_byte) {
            return Err(ErrorKind::BadClient);
        }
        Ok(Pattern::Host(text))
    }

    /// True when a client at `addr`, whose host name is `host` if known, matches.
    pub fn matches(&self, addr: IpAddr, host: Option<&str>) -> bool {
        match *self {
            Pattern::Anyone => true,
            Pattern::Host(name) => host.is_some_and(|h| trim_dot(h).eq_ignore_ascii_case(trim_dot(name))),
            Pattern::Wildcard(glob) => host.is_some_and(|h| wildcard_match(glob.as_bytes(), trim_dot(h).as_bytes())),
            Pattern::Addr(ip) => addr.to_canonical() == ip,
            Pattern::Subnet { net, prefix } => in_subnet(addr.to_canonical(), net, prefix),
        }
    }
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')
}

fn trim_dot(s: &str) -> &str {
    s.strip_suffix('.').unwrap_or(s)
}

fn parse_subnet<'a>(addr: &str, mask: &str) -> Result<Pattern<'a>, ErrorKind> {
    let net: IpAddr = addr.parse().map_err(|_| ErrorKind::BadAddress)?;
    let max = if net.is_ipv4() { 32 } else { 128 };
    let prefix = if !mask.is_empty() && mask.len() <= 3 && mask.bytes().all(|b| b.is_ascii_digit()) {
        mask.parse::<u8>().ok().filter(|&p| p <= max).ok_or(ErrorKind::BadPrefix)?
    } else if net.is_ipv4() {
        let m: Ipv4Addr = mask.parse().map_err(|_| ErrorKind::BadPrefix)?;
        let bits = u32::from(m);
        // A netmask must be contiguous ones followed by zeros.
        if bits.leading_ones() + bits.trailing_zeros() != 32 {
            return Err(ErrorKind::BadPrefix);
        }
        bits.leading_ones() as u8
    } else {
        return Err(ErrorKind::BadPrefix);
    };
    Ok(match net {
        // An IPv4-mapped network (::ffff:a.b.c.d/96+n) is the IPv4 network a.b.c.d/n.
        IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => Pattern::Subnet { net: IpAddr::V4(v4), prefix: prefix - 96 },
            None => Pattern::Subnet { net, prefix },
        },
        _ => Pattern::Subnet { net, prefix },
    })
}

fn in_subnet(addr: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix.min(32))).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix.min(128))).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Checks a wildcard host pattern: host-name bytes, `*`, `?` and closed `[...]` classes.
fn validate_wildcard(text: &str) -> Result<(), ErrorKind> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'*' | b'?' => i += 1,
            b'[' => i = class_end(b, i).ok_or(ErrorKind::BadClient)?,
            c if is_host_byte(c) => i += 1,
            _ => return Err(ErrorKind::BadClient),
        }
    }
    Ok(())
}

/// Index just past the `]` closing the class that starts at `b[open] == b'['`. A `]` right
/// after `[` (or after `[!`/`[^`) is a member, as in fnmatch.
fn class_end(b: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    if matches!(b.get(i), Some(b'!' | b'^')) {
        i += 1;
    }
    if b.get(i) == Some(&b']') {
        i += 1;
    }
    while i < b.len() {
        if b[i] == b']' {
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// Does the class `b[open..end]` (brackets included) contain `c`? Case-insensitive.
fn class_contains(class: &[u8], c: u8) -> bool {
    let mut body = &class[1..class.len() - 1];
    let negate = matches!(body.first(), Some(b'!' | b'^'));
    if negate {
        body = &body[1..];
    }
    let c = c.to_ascii_lowercase();
    let mut found = false;
    let mut i = 0;
    while i < body.len() {
        let lo = body[i].to_ascii_lowercase();
        if i + 2 < body.len() && body[i + 1] == b'-' {
            let hi = body[i + 2].to_ascii_lowercase();
            found |= lo <= c && c <= hi;
            i += 3;
        } else {
            found |= lo == c;
            i += 1;
        }
    }
    found != negate
}

/// Glob match of `name` against `pat` (`*`, `?`, `[...]`), ASCII case-insensitive. The pattern
/// must have passed [`validate_wildcard`]; an unclosed class then cannot occur, and would only
/// fail to match.
fn wildcard_match(pat: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    // Where to resume after the last `*`: (pattern index after it, name index it now covers up to).
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match pat.get(p) {
            Some(b'*') => {
                star = Some((p + 1, n));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => class_end(pat, p).filter(|&end| class_contains(&pat[p..end], name[n])),
            Some(&c) => c.eq_ignore_ascii_case(&name[n]).then_some(p + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                p = next;
                n += 1;
            }
            (None, Some((sp, sn))) => {
                star = Some((sp, sn + 1));
                p = sp;
                n = sn + 1;
            }
            (None, None) => return false,
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn glob() {
        let m = |p: &str, n: &str| wildcard_match(p.as_bytes(), n.as_bytes());
        assert!(m("*.example.com", "a.example.com"));
        assert!(m("*.example.com", "a.b.EXAMPLE.com"));
        assert!(!m("*.example.com", "example.com"));
        assert!(m("host?", "host1"));
        assert!(!m("host?", "host"));
        assert!(!m("host?", "host12"));
        assert!(m("h*t*", "host"));
        assert!(m("node[0-3]", "node2"));
        assert!(!m("node[0-3]", "node4"));
        assert!(m("node[!0-3]", "node4"));
        assert!(m("node[^0-3]x", "nodeax"));
        assert!(m("node[A-C]", "nodeb"));
        assert!(m("[]a]", "]"));
        assert!(m("**", ""));
        assert!(!m("a*b*c", "aXbY"));
        assert!(m("a*b*c", "aXbYc"));
    }

    #[test]
    fn parse_kinds() {
        assert_eq!(Pattern::parse("*"), Ok(Pattern::Anyone));
        assert_eq!(Pattern::parse(""), Ok(Pattern::Anyone));
        assert_eq!(Pattern::parse("Board.local"), Ok(Pattern::Host("Board.local")));
        assert_eq!(Pattern::parse("*.lan"), Ok(Pattern::Wildcard("*.lan")));
        assert_eq!(Pattern::parse("10.0.0.1"), Ok(Pattern::Addr(ip("10.0.0.1"))));
        assert_eq!(Pattern::parse("::ffff:10.0.0.1"), Ok(Pattern::Addr(ip("10.0.0.1"))));
        assert_eq!(Pattern::parse("fe80::1"), Ok(Pattern::Addr(ip("fe80::1"))));
        assert_eq!(Pattern::parse("10.1.0.0/16"), Ok(Pattern::Subnet { net: ip("10.1.0.0"), prefix: 16 }));
        assert_eq!(Pattern::parse("10.1.0.0/255.255.0.0"), Ok(Pattern::Subnet { net: ip("10.1.0.0"), prefix: 16 }));
        assert_eq!(Pattern::parse("10.1.0.0/0.0.0.0"), Ok(Pattern::Subnet { net: ip("10.1.0.0"), prefix: 0 }));
        assert_eq!(Pattern::parse("2001:db8::/32"), Ok(Pattern::Subnet { net: ip("2001:db8::"), prefix: 32 }));
        assert_eq!(Pattern::parse("::ffff:10.0.0.0/104"), Ok(Pattern::Subnet { net: ip("10.0.0.0"), prefix: 8 }));
        assert_eq!(Pattern::parse("10.1.0.0/33"), Err(ErrorKind::BadPrefix));
        assert_eq!(Pattern::parse("10.1.0.0/"), Err(ErrorKind::BadPrefix));
        assert_eq!(Pattern::parse("10.1.0.0/255.0.255.0"), Err(ErrorKind::BadPrefix));
        assert_eq!(Pattern::parse("2001:db8::/ffff::"), Err(ErrorKind::BadPrefix));
        assert_eq!(Pattern::parse("2001:db8::/129"), Err(ErrorKind::BadPrefix));
        assert_eq!(Pattern::parse("10.1.0/16"), Err(ErrorKind::BadAddress));
        assert_eq!(Pattern::parse("10.1.0.256"), Err(ErrorKind::BadAddress));
        assert_eq!(Pattern::parse("fe80::1%eth0"), Err(ErrorKind::BadAddress));
        assert_eq!(Pattern::parse("gss/krb5"), Err(ErrorKind::BadAddress));
        assert_eq!(Pattern::parse("@trusted"), Err(ErrorKind::BadClient));
        assert_eq!(Pattern::parse("node[0-3"), Err(ErrorKind::BadClient));
        assert_eq!(Pattern::parse("bad host"), Err(ErrorKind::BadClient));
        assert_eq!(Pattern::parse("h\u{e9}te"), Err(ErrorKind::BadClient));
        let long = "a".repeat(256);
        assert_eq!(Pattern::parse(&long), Err(ErrorKind::BadClient));
        assert_eq!(Pattern::parse(&long[..255]), Ok(Pattern::Host(&long[..255])));
    }

    #[test]
    fn matching() {
        let v4 = ip("192.168.1.20");
        let mapped = ip("::ffff:192.168.1.20");
        let p = |s| Pattern::parse(s).unwrap();
        assert!(p("*").matches(v4, None));
        assert!(p("192.168.1.20").matches(v4, None));
        assert!(p("192.168.1.20").matches(mapped, None));
        assert!(!p("192.168.1.21").matches(v4, None));
        assert!(p("192.168.1.0/24").matches(mapped, None));
        assert!(p("192.168.0.0/255.255.254.0").matches(v4, None));
        assert!(!p("192.168.2.0/24").matches(v4, None));
        assert!(p("0.0.0.0/0").matches(v4, None));
        assert!(!p("0.0.0.0/0").matches(ip("2001:db8::1"), None));
        assert!(p("2001:db8::/32").matches(ip("2001:db8:1::1"), None));
        assert!(!p("2001:db8::/33").matches(ip("2001:db8:8000::1"), None));
        assert!(p("::/0").matches(ip("2001:db8::1"), None));
        assert!(p("2001:db8::1/128").matches(ip("2001:db8::1"), None));
        assert!(p("board.lan").matches(v4, Some("BOARD.lan.")));
        assert!(!p("board.lan").matches(v4, None));
        assert!(!p("board.lan").matches(v4, Some("board.lan.x")));
        assert!(p("*.lan").matches(v4, Some("board.LAN")));
        assert!(!p("*.lan").matches(v4, None));
        assert!(!p("*.lan").matches(v4, Some("192.168.1.20")));
    }
}
