//! Any UTF-8 text as an exports file: parsing never panics, an error points inside the text,
//! and for a table that parses, every export is found by its own path, `admit`, `admit_path`
//! and `resolve` answer for a few clients without panicking and agree with each other, and the
//! EXPORT reply encodes and decodes back to the table.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use tern_core::exports::{Exports, Refusal, strip_export};
use tern_core::mount::{ExportsReply, client::decode_export};
use tern_core::xdr::{self, Encode};

const CLIENTS: [&str; 6] = ["10.0.0.1", "192.168.1.20", "::ffff:10.0.0.1", "2001:db8::1", "0.0.0.0", "::"];
const HOSTS: [Option<&str>; 3] = [None, Some("board.lab"), Some("NODE1.example.org.")];
const PORTS: [u16; 3] = [0, 1023, 1024];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let table = match Exports::<8, 32>::parse(text) {
        Ok(t) => t,
        Err(e) => {
            assert!(e.offset <= text.len());
            assert!(e.line >= 1 && e.line as usize <= text.split('\n').count());
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    assert!(table.len() <= 8 && table.clients().len() <= 32);
    let mut clients = 0;
    for e in table.iter() {
        assert!(!e.clients.is_empty());
        clients += e.clients.len();
        assert_eq!(table.find(e.path), Some(e.index));
        let (found, rest) = table.resolve(e.path).expect("an export resolves to itself");
        assert_eq!((found, rest), (e.index, ""));
        let sub = format!("{}/sub/dir", e.path);
        for addr in CLIENTS {
            let ip: IpAddr = addr.parse().unwrap();
            for host in HOSTS {
                for port in PORTS {
                    let direct = table.admit(e.index, ip, port, host);
                    if let Ok(a) = direct {
                        assert_eq!(a.export, e.index);
                        assert!(a.entry < table.clients().len());
                        assert!(port < 1024 || !a.options.secure);
                        let _ = a.map_identity(0, 0);
                        let _ = a.map_groups([0, 1, 2]).count();
                    }
                    // Through the path: the same export unless a shorter one admits instead.
                    match table.admit_path(e.path, ip, port, host) {
                        Ok((a, rest)) if a.export == e.index => assert_eq!(rest, ""),
                        Ok((a, rest)) => {
                            // A shorter export admitted the client that this one refused.
                            assert!(direct.is_err());
                            let shorter = table.get(a.export).unwrap().path;
                            assert_eq!(strip_export(shorter, e.path), Some(rest));
                        }
                        Err(r) => assert!(direct.is_err() && r != Refusal::NoExport),
                    }
                    let _ = table.admit_path(&sub, ip, port, host);
                }
            }
        }
    }
    assert_eq!(clients, table.clients().len());
    assert_eq!(table.admit(table.len(), "10.0.0.1".parse().unwrap(), 0, None), Err(Refusal::NoExport));

    // The EXPORT reply lists exactly the table.
    let reply = ExportsReply(&table);
    let mut buf = vec![0u8; reply.encoded_len()];
    assert_eq!(xdr::encode_to(&reply, &mut buf), Ok(buf.len()));
    let list = decode_export(&buf).expect("EXPORT reply decodes");
    assert_eq!(list.len(), table.len());
    for (node, e) in list.iter().zip(table.iter()) {
        assert_eq!(node.dir.to_str(), Some(e.path));
        assert!(node.groups.iter().map(|g| g.to_str().unwrap()).eq(e.clients.iter().map(|c| c.text)));
    }
});
