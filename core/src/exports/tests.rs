//! The exports reader and the admission rule, line by line.

use super::*;

type Table<'a> = Exports<'a, 8, 16>;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn err(text: &str) -> (u32, ErrorKind) {
    let e = Table::parse(text).unwrap_err();
    (e.line, e.kind)
}

fn only_client<'t, 'a>(t: &'t Table<'a>, path: &str) -> &'t ClientEntry<'a> {
    let e = t.get(t.find(path).unwrap()).unwrap();
    assert_eq!(e.clients.len(), 1);
    &e.clients[0]
}

#[test]
fn a_typical_file() {
    let text = "\
# /etc/exports for the lab
/srv/nfs    192.168.1.0/24(rw,sync,no_subtree_check) *.lab(ro)  # lab clients
/srv/public *(ro,insecure,all_squash,anonuid=1000,anongid=1000)

/home       board1(rw,no_root_squash) 10.0.0.7(rw)
";
    let t = Table::parse(text).unwrap();
    assert_eq!(t.len(), 3);
    let paths: std::vec::Vec<&str> = t.iter().map(|e| e.path).collect();
    assert_eq!(paths, ["/srv/nfs", "/srv/public", "/home"]);
    let groups: std::vec::Vec<&str> = t.get(0).unwrap().clients.iter().map(|c| c.text).collect();
    assert_eq!(groups, ["192.168.1.0/24", "*.lab"]);
    assert_eq!(t.clients().len(), 5);
    let home = t.get(2).unwrap();
    assert_eq!(home.clients[0].pattern, Pattern::Host("board1"));
    assert!(!home.clients[0].options.root_squash);
    assert_eq!(home.clients[1].pattern, Pattern::Addr(ip("10.0.0.7")));
    let public = &t.get(1).unwrap().clients[0];
    assert_eq!(public.pattern, Pattern::Anyone);
    assert!(public.options.all_squash && !public.options.secure && !public.options.writable);
    assert_eq!((public.options.anonuid, public.options.anongid), (1000, 1000));
}

#[test]
fn empty_and_comment_only_files() {
    for text in ["", "\n\n", "# nothing\n   # indented\n\t\n", "\\\n", "  \\\n  \n"] {
        assert!(Table::parse(text).unwrap().is_empty(), "{text:?}");
    }
}

#[test]
fn defaults_and_world_entries() {
    // A client without options gets the defaults.
    let t = Table::parse("/a host1").unwrap();
    assert_eq!(only_client(&t, "/a").options, Options::DEFAULT);
    // A bare path is for everyone with the defaults.
    let t = Table::parse("/a\n/b   # comment\n").unwrap();
    for p in ["/a", "/b"] {
        let c = only_client(&t, p);
        assert_eq!((c.text, c.pattern, c.options), ("*", Pattern::Anyone, Options::DEFAULT));
    }
    // `PATH (opts)`: everyone, with those options.
    let t = Table::parse("/a (rw)").unwrap();
    let c = only_client(&t, "/a");
    assert_eq!((c.text, c.pattern, c.options.writable), ("*", Pattern::Anyone, true));
    // `-opts`: defaults for the clients after it, per line.
    let t = Table::parse("/a -rw,insecure h1 h2(ro) -async h3\n/b h4").unwrap();
    let a = t.get(0).unwrap().clients;
    assert!(a[0].options.writable && !a[0].options.secure);
    assert!(!a[1].options.writable && !a[1].options.secure);
    assert!(a[2].options.writable && !a[2].options.sync);
    assert_eq!(t.get(1).unwrap().clients[0].options, Options::DEFAULT);
    // `PATH -opts` alone: everyone with those options.
    let t = Table::parse("/a -rw").unwrap();
    assert!(only_client(&t, "/a").options.writable);
    assert_eq!(only_client(&t, "/a").pattern, Pattern::Anyone);
    // `*` and `*()` are everyone too.
    let t = Table::parse("/a *\n/b *()").unwrap();
    assert_eq!(only_client(&t, "/b").options, Options::DEFAULT);
}

#[test]
fn continuation_lines() {
    let text = "/srv/nfs \\\n    10.0.0.1(rw) \\\r\n\t10.0.0.2(ro)\n/x h\n";
    let t = Table::parse(text).unwrap();
    assert_eq!(t.get(0).unwrap().clients.len(), 2);
    assert_eq!(t.get(1).unwrap().path, "/x");
    // A continuation separates tokens, as in Linux.
    let t = Table::parse("/a h1\\\nh2").unwrap();
    assert_eq!(t.get(0).unwrap().clients.len(), 2);
    // The line count goes on through continuations.
    assert_eq!(err("/a \\\n h1 \\\n h2(bogus)"), (3, ErrorKind::UnknownOption));
    // A backslash at the end of a comment does not continue it.
    let t = Table::parse("/a h1 # note \\\n/b h2").unwrap();
    assert_eq!(t.len(), 2);
    // A continuation at the very end of the file.
    assert_eq!(Table::parse("/a h1 \\\n").unwrap().len(), 1);
}

#[test]
fn comments() {
    let t = Table::parse("#/not an export\n/a h1(rw)# trailing\n  # /b\n/c#x\n").unwrap();
    let paths: std::vec::Vec<&str> = t.iter().map(|e| e.path).collect();
    assert_eq!(paths, ["/a", "/c"]);
    assert!(only_client(&t, "/a").options.writable);
}

#[test]
fn quoted_paths() {
    let t = Table::parse("\"/with space\" h1(rw)\n\"/q\"\n").unwrap();
    assert_eq!(t.get(0).unwrap().path, "/with space");
    assert_eq!(t.find("/with space"), Some(0));
    assert_eq!(only_client(&t, "/q").pattern, Pattern::Anyone);
    assert_eq!(err("\"/open h1"), (1, ErrorKind::UnterminatedQuote));
    assert_eq!(err("\"/open\nh1\""), (1, ErrorKind::UnterminatedQuote));
    assert_eq!(err("\"/a\"b h1"), (1, ErrorKind::BadQuote));
    assert_eq!(err("/a\"b\" h1"), (1, ErrorKind::BadQuote));
    assert_eq!(err("/a \"h1\""), (1, ErrorKind::BadQuote));
    assert_eq!(err("\"\" h1"), (1, ErrorKind::MissingPath));
    assert_eq!(err("\"/a\\040b\" h1"), (1, ErrorKind::UnsupportedEscape));
    assert_eq!(err("/a\\040b h1"), (1, ErrorKind::UnsupportedEscape));
    assert_eq!(err("/a h1 \\ h2"), (1, ErrorKind::UnsupportedEscape));
}

#[test]
fn path_errors_with_line_numbers() {
    assert_eq!(err("\n\nsrv h1"), (3, ErrorKind::PathNotAbsolute));
    assert_eq!(err("# c\n-rw h1"), (2, ErrorKind::MissingPath));
    assert_eq!(err("h1(rw)"), (1, ErrorKind::MissingPath));
    assert_eq!(err("/a/../etc h1"), (1, ErrorKind::BadPath));
    assert_eq!(err("/a\u{7}b h1"), (1, ErrorKind::BadPath));
    assert_eq!(err("/a h1\n/b h2\n/a/ h3"), (3, ErrorKind::DuplicatePath));
    assert_eq!(err("/a h1\n/./a h3"), (2, ErrorKind::DuplicatePath));
    let long = std::format!("/{}", "x".repeat(MAX_PATH));
    assert_eq!(err(&long), (1, ErrorKind::PathTooLong));
    assert!(Table::parse(&long[..MAX_PATH]).is_ok());
}

#[test]
fn client_and_option_errors_with_line_numbers() {
    assert_eq!(err("/a h1\n/b h2(rw,bogus)"), (2, ErrorKind::UnknownOption));
    assert_eq!(err("/a h1(anonuid=x)"), (1, ErrorKind::BadNumber));
    assert_eq!(err("/a\n\n/b 10.0.0.300"), (3, ErrorKind::BadAddress));
    assert_eq!(err("/a 10.0.0.0/40"), (1, ErrorKind::BadPrefix));
    assert_eq!(err("/a 10.0.0.0/255.0.255.0(rw)"), (1, ErrorKind::BadPrefix));
    assert_eq!(err("/a h1(rw"), (1, ErrorKind::BadOptionList));
    assert_eq!(err("/a h1(rw)x"), (1, ErrorKind::BadOptionList));
    assert_eq!(err("/a h1(rw)(ro)"), (1, ErrorKind::BadOptionList));
    assert_eq!(err("/a h1)"), (1, ErrorKind::BadOptionList));
    assert_eq!(err("/a h1 (rw"), (1, ErrorKind::BadOptionList));
    assert_eq!(err("/a @netgroup(rw)"), (1, ErrorKind::BadClient));
    assert_eq!(err("/a h1(sec=krb5)"), (1, ErrorKind::UnsupportedOption));
    assert_eq!(err("/a h1(sec=foo)"), (1, ErrorKind::BadSecurity));
    assert_eq!(err("/a -bogus h1"), (1, ErrorKind::UnknownOption));
    assert_eq!(err("/a h1 -rw"), (1, ErrorKind::MissingClient));
    assert_eq!(err("/a h1 \\\n -rw\n"), (2, ErrorKind::MissingClient));
    // The offset points at the offending token.
    let text = "/a h1\n/b h2(rw,bogus)";
    let e = Table::parse(text).unwrap_err();
    assert_eq!(&text[e.offset..], "h2(rw,bogus)");
    assert_eq!(std::format!("{e}"), "line 2: unknown option");
}

#[test]
fn capacity() {
    type Small<'a> = Exports<'a, 2, 3>;
    assert!(Small::parse("/a h1 h2\n/b h3").is_ok());
    let e = Small::parse("/a h1\n/b h2\n/c h3").unwrap_err();
    assert_eq!((e.line, e.kind), (3, ErrorKind::TooManyExports));
    let e = Small::parse("/a h1 h2\n/b h3 h4").unwrap_err();
    assert_eq!((e.line, e.kind), (2, ErrorKind::TooManyClients));
    // A bare path uses one client entry.
    let e = Small::parse("/a h1 h2 h3\n/b").unwrap_err();
    assert_eq!((e.line, e.kind), (2, ErrorKind::TooManyClients));
    let e = Exports::<0, 0>::parse("# empty is fine\n").map(|t| t.len());
    assert_eq!(e, Ok(0));
}

#[test]
fn first_match_in_file_order() {
    let t = Table::parse("/a 10.0.0.5(rw) 10.0.0.0/24(ro) *(ro,all_squash)").unwrap();
    let a = t.admit(0, ip("10.0.0.5"), 700, None).unwrap();
    assert!(a.writable() && a.entry == 0);
    let a = t.admit(0, ip("10.0.0.6"), 700, None).unwrap();
    assert!(!a.writable() && a.entry == 1 && !a.options.all_squash);
    let a = t.admit(0, ip("192.0.2.1"), 700, None).unwrap();
    assert!(a.entry == 2 && a.options.all_squash);
    // Reversed order: the world entry shadows the others.
    let t = Table::parse("/a *(ro) 10.0.0.5(rw)").unwrap();
    assert!(!t.admit(0, ip("10.0.0.5"), 700, None).unwrap().writable());
}

#[test]
fn each_pattern_kind_admits() {
    let t = Table::parse(
        "/host board.lan(rw)\n/wild node?.lab(rw) *.example.org(ro)\n/v4 192.0.2.9\n/v6 2001:db8::9\n\
         /net 10.1.0.0/16 198.51.100.0/255.255.255.128 2001:db8:100::/48\n/all *\n",
    )
    .unwrap();
    let admit = |p: &str, a: &str, h: Option<&str>| t.admit(t.find(p).unwrap(), ip(a), 800, h);
    assert!(admit("/host", "192.0.2.1", Some("Board.LAN")).is_ok());
    assert_eq!(admit("/host", "192.0.2.1", Some("other.lan")), Err(Refusal::NotAllowed));
    assert_eq!(admit("/host", "192.0.2.1", None), Err(Refusal::NotAllowed));
    assert!(admit("/wild", "192.0.2.1", Some("node7.lab")).unwrap().writable());
    assert!(!admit("/wild", "192.0.2.1", Some("www.example.org")).unwrap().writable());
    assert_eq!(admit("/wild", "192.0.2.1", Some("node17.lab")), Err(Refusal::NotAllowed));
    assert!(admit("/v4", "192.0.2.9", None).is_ok());
    assert!(admit("/v4", "::ffff:192.0.2.9", None).is_ok());
    assert_eq!(admit("/v4", "192.0.2.10", None), Err(Refusal::NotAllowed));
    assert!(admit("/v6", "2001:db8::9", None).is_ok());
    assert_eq!(admit("/v6", "2001:db8::a", None), Err(Refusal::NotAllowed));
    assert!(admit("/net", "10.1.255.255", None).is_ok());
    assert_eq!(admit("/net", "10.2.0.1", None), Err(Refusal::NotAllowed));
    assert!(admit("/net", "198.51.100.127", None).is_ok());
    assert_eq!(admit("/net", "198.51.100.128", None), Err(Refusal::NotAllowed));
    assert!(admit("/net", "2001:db8:100:ffff::1", None).is_ok());
    assert!(admit("/all", "2001:db8:ffff::1", None).is_ok());
    assert_eq!(t.admit(99, ip("10.1.0.1"), 800, None), Err(Refusal::NoExport));
}

#[test]
fn secure_port() {
    let t = Table::parse("/s 10.0.0.1(rw) *(insecure)").unwrap();
    assert!(t.admit(0, ip("10.0.0.1"), 1023, None).is_ok());
    assert_eq!(t.admit(0, ip("10.0.0.1"), 1024, None), Err(Refusal::InsecurePort));
    // The first match decides: a later insecure entry does not rescue a secure one.
    assert_eq!(t.admit(0, ip("10.0.0.1"), 40000, None), Err(Refusal::InsecurePort));
    assert!(t.admit(0, ip("10.0.0.2"), 40000, None).is_ok());
}

#[test]
fn identity_through_access() {
    let t = Table::parse("/a 10.0.0.1(rw,anonuid=99,anongid=98) 10.0.0.2(all_squash)").unwrap();
    let a = t.admit(0, ip("10.0.0.1"), 1, None).unwrap();
    assert_eq!(a.map_identity(0, 5), Identity { uid: 99, gid: 5, squashed: true });
    assert!(a.map_groups([0, 7]).eq([98, 7]));
    let a = t.admit(0, ip("10.0.0.2"), 1, None).unwrap();
    assert_eq!(a.map_identity(1000, 1000), Identity { uid: 65534, gid: 65534, squashed: true });
}

#[test]
fn lookup_and_subdirectories() {
    let t = Table::parse("/srv h1(rw)\n/srv/nfs/private 10.0.0.1\n/ 10.0.0.9\n").unwrap();
    assert_eq!(t.find("/srv"), Some(0));
    assert_eq!(t.find("//srv/"), Some(0));
    assert_eq!(t.find("/srv/nfs"), None);
    assert_eq!(t.resolve("/srv/nfs/x"), Some((0, "nfs/x")));
    assert_eq!(t.resolve("/srv/nfs/private/a/"), Some((1, "a")));
    assert_eq!(t.resolve("/srv/nfs/privateer"), Some((0, "nfs/privateer")));
    assert_eq!(t.resolve("/srv"), Some((0, "")));
    assert_eq!(t.resolve("/etc"), Some((2, "etc")));

    let t = Table::parse("/srv *(ro)\n/srv/nfs/private 10.0.0.1(rw)\n").unwrap();
    let (a, rest) = t.admit_path("/srv/nfs/private/docs", ip("10.0.0.1"), 700, None).unwrap();
    assert_eq!((a.export, a.writable(), rest), (1, true, "docs"));
    // Refused by the deeper export: falls back to /srv, read-only.
    let (a, rest) = t.admit_path("/srv/nfs/private", ip("10.0.0.2"), 700, None).unwrap();
    assert_eq!((a.export, a.writable(), rest), (0, false, "nfs/private"));
    assert_eq!(t.admit_path("/etc", ip("10.0.0.1"), 700, None), Err(Refusal::NoExport));
    assert_eq!(t.admit_path("/srv/../etc", ip("10.0.0.1"), 700, None), Err(Refusal::BadPath));
    assert_eq!(t.admit_path("srv", ip("10.0.0.1"), 700, None), Err(Refusal::BadPath));
    // When no candidate admits, the deepest one's refusal is reported.
    let t = Table::parse("/srv 10.0.0.3\n/srv/a 10.0.0.1\n").unwrap();
    assert_eq!(t.admit_path("/srv/a", ip("10.0.0.1"), 5000, None), Err(Refusal::InsecurePort));
    assert_eq!(t.admit_path("/srv/a", ip("10.0.0.2"), 500, None), Err(Refusal::NotAllowed));
}

#[test]
fn strip_export_rules() {
    assert_eq!(strip_export("/", "/"), Some(""));
    assert_eq!(strip_export("/", "/a/b/"), Some("a/b"));
    assert_eq!(strip_export("/a/b", "/a/./b//c/"), Some("c"));
    assert_eq!(strip_export("/a/b", "/a/bc"), None);
    assert_eq!(strip_export("/a/b", "/a"), None);
    assert_eq!(strip_export("/a/", "/a"), Some(""));
    assert_eq!(strip_export("/a/.", "/a/."), Some(""));
    assert_eq!(strip_export("/a", "/a/./b/./"), Some("b"));
    assert_eq!(strip_export("/a", "/a/b/.//c/./."), Some("b/.//c"));
    assert!(components("/a//./b/").eq(["a", "b"]));
}
