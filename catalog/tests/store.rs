//! `StoreCatalog` over a `FileStore`: the WSC* semantics, and after every failed operation a
//! catalog file byte-for-byte what it was.

mod common;

use common::*;
use winsock_catalog::{
    Arch, Backend, Catalogs, Entry, FileStore, LayerSpec, ProtocolInfo, Store, StoreCatalog, Tree,
    Value, PFL_HIDDEN, WSAEINVAL, WSANO_RECOVERY, WSATRY_AGAIN, XP1_IFS_HANDLES,
};

const PATH: &str = "%SystemRoot%\\System32\\lb.dll";

fn ids(entries: &[Entry]) -> Vec<u32> {
    entries.iter().map(|e| e.info.catalog_entry_id()).collect()
}

fn two_bases() -> Vec<ProtocolInfo> {
    vec![base(2, 1, 6, "TCP"), base(2, 2, 17, "UDP")]
}

/// Runs `op`, expects error `code` whose message contains `needle`, and checks that the file
/// did not change by a single byte.
fn refused<T: std::fmt::Debug>(
    path: &std::path::PathBuf,
    code: i32,
    needle: &str,
    op: impl FnOnce() -> Result<T, winsock_catalog::CatalogError>,
) {
    let before = read(path);
    let err = op().expect_err("operation should have failed");
    assert_eq!(err.code(), code, "{}", err);
    assert!(
        err.to_string().contains(needle),
        "error '{}' should mention '{}'",
        err,
        needle
    );
    assert_eq!(
        read(path),
        before,
        "a failed operation changed the file ({})",
        err
    );
}

#[test]
fn install_enumerate_deinstall_leaves_the_catalog_as_it_was() {
    let dir = TempDir::new("roundtrip");
    let (path, cat) = catalog(&dir, true);
    cat.install_provider(&guid(1), PATH, &[base(2, 1, 6, "first")], Catalogs::Both)
        .unwrap();
    let backup = cat.backup().unwrap();
    let before_bytes = read(&path);
    let before = masked(&path);

    cat.install_provider(&guid(2), PATH, &two_bases(), Catalogs::Both)
        .unwrap();
    for arch in [Arch::X64, Arch::X86] {
        let e = cat.enum_protocols(arch).unwrap();
        assert_eq!(ids(&e), vec![1001, 1002, 1003]);
        assert_eq!(e[1].info.provider_id(), guid(2));
        assert_eq!(e[1].path, PATH);
        assert_eq!(e[2].info.name(), "UDP");
        assert_eq!(cat.get_provider_path(&guid(2), arch).unwrap(), PATH);
    }
    cat.deinstall_provider(&guid(2), Catalogs::Both).unwrap();
    // Everything but the serial (moved on by each change, as ws2_32 expects) and the next id
    // (never reused) is as before.
    assert_eq!(masked(&path), before);
    assert_ne!(read(&path), before_bytes);
    let text = String::from_utf8(read(&path)).unwrap();
    assert!(
        text.contains("\"Serial_Access_Num\"=dword:00000003"),
        "{}",
        text
    );
    assert!(
        text.contains("\"Next_Catalog_Entry_ID\"=dword:000003ec"),
        "{}",
        text
    );
    // A restore of the backup makes it byte-identical.
    cat.restore(&backup).unwrap();
    assert_eq!(read(&path), before_bytes);
}

#[test]
fn ids_order_and_contiguous_keys() {
    let dir = TempDir::new("ids");
    let (path, cat) = catalog(&dir, true);
    for n in 1..=3 {
        cat.install_provider(&guid(n), PATH, &two_bases(), Catalogs::Native)
            .unwrap();
    }
    let e = cat.enum_protocols(Arch::X64).unwrap();
    assert_eq!(ids(&e), vec![1001, 1002, 1003, 1004, 1005, 1006]);
    assert!(cat.enum_protocols(Arch::X86).unwrap().is_empty());
    cat.deinstall_provider(&guid(2), Catalogs::Native).unwrap();
    assert_eq!(
        ids(&cat.enum_protocols(Arch::X64).unwrap()),
        vec![1001, 1002, 1005, 1006]
    );
    let tree = FileStore::open(&path).read().unwrap();
    assert_eq!(
        tree.subkeys("Protocol_Catalog9\\Catalog_Entries64"),
        vec![
            "000000000001",
            "000000000002",
            "000000000003",
            "000000000004"
        ]
    );
    assert_eq!(
        tree.value("Protocol_Catalog9", "Num_Catalog_Entries64"),
        Some(&Value::dword(4))
    );
    // Ids are never reused.
    let new = cat
        .install_provider_at(
            &guid(4),
            PATH,
            &[base(2, 1, 6, "x")],
            Catalogs::Native,
            Some(1),
        )
        .unwrap();
    assert_eq!(new, vec![1007]);
    assert_eq!(
        ids(&cat.enum_protocols(Arch::X64).unwrap()),
        vec![1001, 1007, 1002, 1005, 1006]
    );
    cat.write_provider_order(Arch::X64, &[1006, 1005, 1002, 1001, 1007])
        .unwrap();
    let e = cat.enum_protocols(Arch::X64).unwrap();
    assert_eq!(ids(&e), vec![1006, 1005, 1002, 1001, 1007]);
    assert_eq!(e[0].info.name(), "UDP");
}

#[test]
fn both_catalogs_share_ids_and_a_32_bit_system_has_only_one() {
    let dir = TempDir::new("arch");
    let (_, cat64) = catalog(&dir, true);
    assert_eq!(cat64.catalogs().unwrap(), vec![Arch::X64, Arch::X86]);
    cat64
        .install_provider(
            &guid(1),
            PATH,
            &[base(2, 1, 6, "a")],
            Catalogs::Only(Arch::X86),
        )
        .unwrap();
    cat64
        .install_provider(&guid(2), PATH, &[base(2, 1, 6, "b")], Catalogs::Both)
        .unwrap();
    assert_eq!(
        ids(&cat64.enum_protocols(Arch::X86).unwrap()),
        vec![1001, 1002]
    );
    assert_eq!(ids(&cat64.enum_protocols(Arch::X64).unwrap()), vec![1002]);

    let (path32, cat32) = catalog(&dir, false);
    assert_eq!(cat32.catalogs().unwrap(), vec![Arch::X86]);
    assert_eq!(Catalogs::all_of(&[Arch::X86]), Catalogs::Only(Arch::X86));
    assert_eq!(Catalogs::all_of(&[Arch::X64, Arch::X86]), Catalogs::Both);
    refused(&path32, WSAEINVAL, "no 64-bit catalog", || {
        cat32.install_provider(&guid(1), PATH, &two_bases(), Catalogs::Both)
    });
    refused(&path32, WSAEINVAL, "no 64-bit catalog", || {
        cat32.install_provider(&guid(1), PATH, &two_bases(), Catalogs::Only(Arch::X64))
    });
    refused(&path32, WSAEINVAL, "no 64-bit catalog", || {
        cat32.enum_protocols(Arch::X64)
    });
    refused(&path32, WSAEINVAL, "no 64-bit catalog", || {
        cat32.write_provider_order(Arch::X64, &[])
    });
    cat32
        .install_provider(&guid(1), PATH, &two_bases(), Catalogs::Only(Arch::X86))
        .unwrap();
}

#[test]
fn bad_installs_are_refused_and_change_nothing() {
    let dir = TempDir::new("badinstall");
    let (path, cat) = catalog(&dir, true);
    cat.install_provider(&guid(1), PATH, &two_bases(), Catalogs::Both)
        .unwrap();
    refused(&path, WSAEINVAL, "already installed", || {
        cat.install_provider(&guid(1), PATH, &two_bases(), Catalogs::Both)
    });
    refused(&path, WSAEINVAL, "already installed", || {
        cat.install_provider(
            &guid(1),
            "other.dll",
            &two_bases(),
            Catalogs::Only(Arch::X86),
        )
    });
    let long = format!("C:\\{}", "a".repeat(257));
    assert_eq!(long.len(), 260);
    refused(&path, WSAEINVAL, "at most 259", || {
        cat.install_provider(&guid(2), &long, &two_bases(), Catalogs::Both)
    });
    refused(&path, WSAEINVAL, "path is empty", || {
        cat.install_provider(&guid(2), "", &two_bases(), Catalogs::Both)
    });
    refused(&path, WSAEINVAL, "cannot be stored", || {
        cat.install_provider(&guid(2), "C:\\\u{4e2d}.dll", &two_bases(), Catalogs::Both)
    });
    refused(&path, WSAEINVAL, "no protocol entries", || {
        cat.install_provider(&guid(2), PATH, &[], Catalogs::Both)
    });
    refused(&path, WSAEINVAL, "all zeros", || {
        cat.install_provider(
            &winsock_catalog::Guid::NIL,
            PATH,
            &two_bases(),
            Catalogs::Both,
        )
    });
    for len in [-1, 8, 100] {
        let mut bad = base(2, 1, 6, "bad chain");
        bad.set_chain(len, &[1001]);
        refused(&path, WSAEINVAL, &format!("ChainLen {}", len), || {
            cat.install_provider(&guid(2), PATH, &[bad.clone()], Catalogs::Both)
        });
    }
    let mut dangling = base(2, 1, 6, "dangling");
    dangling.set_chain(2, &[1001, 4242]);
    refused(&path, WSAEINVAL, "4242", || {
        cat.install_provider(&guid(2), PATH, &[dangling.clone()], Catalogs::Both)
    });
    // The same path of 259 bytes is fine.
    let ok = format!("C:\\{}", "a".repeat(256));
    cat.install_provider(&guid(2), &ok, &two_bases(), Catalogs::Both)
        .unwrap();
    assert_eq!(cat.get_provider_path(&guid(2), Arch::X86).unwrap(), ok);
}

#[test]
fn bad_removals_orders_and_updates_change_nothing() {
    let dir = TempDir::new("badops");
    let (path, cat) = catalog(&dir, true);
    cat.install_provider(&guid(1), PATH, &two_bases(), Catalogs::Both)
        .unwrap();
    refused(&path, WSAEINVAL, "not installed", || {
        cat.deinstall_provider(&guid(9), Catalogs::Both)
    });
    cat.install_provider(
        &guid(3),
        PATH,
        &[base(2, 1, 6, "only32")],
        Catalogs::Only(Arch::X86),
    )
    .unwrap();
    refused(&path, WSAEINVAL, "not installed", || {
        cat.deinstall_provider(&guid(3), Catalogs::Only(Arch::X64))
    });
    refused(&path, WSAEINVAL, "names 1 entries", || {
        cat.write_provider_order(Arch::X64, &[1001])
    });
    refused(&path, WSAEINVAL, "1001", || {
        cat.write_provider_order(Arch::X64, &[1001, 1001])
    });
    refused(&path, WSAEINVAL, "77", || {
        cat.write_provider_order(Arch::X64, &[1001, 77])
    });
    refused(&path, WSAEINVAL, "has 2 entries", || {
        cat.update_provider(&guid(1), PATH, &[base(2, 1, 6, "x")], Arch::X64)
    });
    refused(&path, WSAEINVAL, "not installed", || {
        cat.update_provider(&guid(9), PATH, &two_bases(), Arch::X64)
    });
    refused(&path, WSAEINVAL, "not installed", || {
        cat.get_provider_path(&guid(9), Arch::X64)
    });
    refused(&path, WSAEINVAL, "must be 1..=259", || {
        cat.set_application_category("", "", 1)
    });
}

#[test]
fn update_provider_keeps_ids_and_order() {
    let dir = TempDir::new("update");
    let (_, cat) = catalog(&dir, true);
    cat.install_provider(&guid(1), PATH, &two_bases(), Catalogs::Both)
        .unwrap();
    cat.install_provider(&guid(2), PATH, &[base(2, 1, 6, "other")], Catalogs::Both)
        .unwrap();
    let mut new = two_bases();
    new[0].set_name("TCP v2");
    cat.update_provider(&guid(1), "%SystemRoot%\\new.dll", &new, Arch::X64)
        .unwrap();
    let e = cat.enum_protocols(Arch::X64).unwrap();
    assert_eq!(ids(&e), vec![1001, 1002, 1003]);
    assert_eq!(e[0].info.name(), "TCP v2");
    assert_eq!(e[0].info.provider_id(), guid(1));
    assert_eq!(e[0].path, "%SystemRoot%\\new.dll");
    assert_eq!(cat.enum_protocols(Arch::X86).unwrap()[0].path, PATH);
}

#[test]
fn layered_providers_and_their_chains() {
    let dir = TempDir::new("layers");
    let (path, cat) = catalog(&dir, true);
    cat.install_provider(&guid(1), PATH, &two_bases(), Catalogs::Both)
        .unwrap();
    let spec = LayerSpec {
        layer_id: guid(10),
        path: "%SystemRoot%\\lsp.dll".to_owned(),
        name: "Spy".to_owned(),
        over: Vec::new(),
        ifs: false,
        categories: 0,
    };
    let new = cat
        .install_provider_and_chains(&spec, Catalogs::Both)
        .unwrap();
    assert_eq!(new, vec![1003, 1004, 1005]);
    for arch in [Arch::X64, Arch::X86] {
        let e = cat.enum_protocols(arch).unwrap();
        assert_eq!(ids(&e), vec![1004, 1005, 1001, 1002, 1003]);
        let layer = &e[4].info;
        assert!(layer.is_layered() && layer.is_hidden());
        assert_eq!(layer.provider_flags(), PFL_HIDDEN);
        assert_eq!(layer.provider_id(), guid(10));
        assert_eq!(layer.name(), "Spy");
        let chain = &e[0].info;
        assert_eq!(chain.chain_len(), 2);
        assert_eq!(chain.chain_entries(), &[1003, 1001]);
        let bases = cat.enum_protocols(arch).unwrap();
        let tcp = &bases
            .iter()
            .find(|b| b.info.catalog_entry_id() == 1001)
            .unwrap()
            .info;
        assert_eq!(chain.provider_id(), LayerSpec::chain_guid(&guid(10), tcp));
        assert_eq!(chain.name(), "Spy over [TCP]");
        assert_eq!(chain.service_flags1() & XP1_IFS_HANDLES, 0);
        assert!(chain.matches(2, 1, 0));
        assert!(!layer.matches(2, 1, 0));
        assert_eq!(e[1].info.chain_entries(), &[1003, 1002]);
        // Each chain entry has its own GUID, neither the layer's nor the base's.
        let g: Vec<_> = e.iter().map(|x| x.info.provider_id()).collect();
        assert_ne!(g[0], g[1]);
        assert!(!g[..2].contains(&guid(10)) && !g[..2].contains(&guid(1)));
    }
    // A second layer over the first's TCP chain: not an IFS one (the chain goes through a
    // non-IFS layer, so it has no IFS handles), a non-IFS one.
    let mut spec2 = LayerSpec {
        layer_id: guid(20),
        path: "lsp2.dll".to_owned(),
        name: "Outer".to_owned(),
        over: vec![1004],
        ifs: true,
        categories: 0,
    };
    refused(
        &path,
        WSAEINVAL,
        "entry 1004 ('Spy over [TCP]') has none",
        || cat.install_provider_and_chains(&spec2, Catalogs::Only(Arch::X64)),
    );
    spec2.ifs = false;
    cat.install_provider_and_chains(&spec2, Catalogs::Only(Arch::X64))
        .unwrap();
    let e = cat.enum_protocols(Arch::X64).unwrap();
    assert_eq!(e[0].info.chain_entries(), &[1006, 1003, 1001]);
    assert_eq!(e[0].info.name(), "Outer over [Spy over [TCP]]");

    // Bad layer installs.
    refused(&path, WSAEINVAL, "already installed", || {
        cat.install_provider_and_chains(&spec, Catalogs::Both)
    });
    let mut over_layer = spec.clone();
    over_layer.layer_id = guid(30);
    over_layer.over = vec![1003];
    refused(&path, WSAEINVAL, "layered entry", || {
        cat.install_provider_and_chains(&over_layer, Catalogs::Both)
    });
    over_layer.over = vec![999];
    refused(&path, WSAEINVAL, "999", || {
        cat.install_provider_and_chains(&over_layer, Catalogs::Both)
    });
    over_layer.over = vec![1001, 1001];
    refused(&path, WSAEINVAL, "named twice", || {
        cat.install_provider_and_chains(&over_layer, Catalogs::Both)
    });

    // Removal order: what others sit on is refused, naming the dependents.
    refused(&path, WSAEINVAL, "Spy over [TCP]", || {
        cat.deinstall_provider(&guid(1), Catalogs::Both)
    });
    // Chains name the layers' own (hidden) entries and the base, never other chain entries.
    refused(&path, WSAEINVAL, "Outer over [Spy over [TCP]]", || {
        cat.deinstall_provider(&guid(10), Catalogs::Both)
    });
    refused(&path, WSAEINVAL, "remove those providers first", || {
        cat.deinstall_provider(&guid(10), Catalogs::Both)
    });
    refused(&path, WSAEINVAL, "remove --layer", || {
        cat.deinstall_provider(&guid(10), Catalogs::Both)
    });
    refused(&path, WSAEINVAL, "not a layered provider", || {
        cat.deinstall_layer(&guid(1), Catalogs::Both)
    });
    refused(&path, WSAEINVAL, "not installed", || {
        cat.deinstall_layer(&guid(99), Catalogs::Both)
    });
    for g in [20, 10] {
        cat.deinstall_layer(&guid(g), Catalogs::Both).unwrap();
    }
    cat.deinstall_provider(&guid(1), Catalogs::Both).unwrap();
    assert!(cat.enum_protocols(Arch::X64).unwrap().is_empty());
}

/// Writes `edit`ed copies of a valid catalog and checks every operation reports the problem
/// (naming the key) and leaves the file alone.
#[test]
fn corrupted_catalogs_are_reported_with_their_key_and_left_alone() {
    let dir = TempDir::new("corrupt");
    let (path, cat) = catalog(&dir, true);
    cat.install_provider(&guid(1), PATH, &two_bases(), Catalogs::Both)
        .unwrap();
    let good = FileStore::open(&path).read().unwrap();
    let key2 = "Protocol_Catalog9\\Catalog_Entries64\\000000000002";
    let item = |t: &Tree| t.value(key2, "PackedCatalogItem").unwrap().data.clone();

    let mut cases: Vec<(&str, Tree)> = Vec::new();
    let mut short = good.clone();
    let mut b = item(&good);
    b.pop();
    short.set_value(key2, "PackedCatalogItem", Value::binary(&b));
    cases.push(("887 bytes", short));
    let mut chain = good.clone();
    let mut b = item(&good);
    b[300..304].copy_from_slice(&9i32.to_le_bytes());
    chain.set_value(key2, "PackedCatalogItem", Value::binary(&b));
    cases.push(("ChainLen 9", chain));
    let mut gap = good.clone();
    let vals = gap.values(key2).to_vec();
    gap.remove_tree(key2);
    gap.set_values("Protocol_Catalog9\\Catalog_Entries64\\000000000003", vals);
    cases.push(("without gaps", gap));
    let mut count = good.clone();
    count.set_value(
        "Protocol_Catalog9",
        "Num_Catalog_Entries64",
        Value::dword(3),
    );
    cases.push(("has 2 entries", count));
    let mut missing = good.clone();
    missing.remove_value(key2, "PackedCatalogItem");
    cases.push(("no PackedCatalogItem", missing));

    for (needle, tree) in cases {
        std::fs::write(&path, tree.to_reg()).unwrap();
        let wants_key = needle != "has 2 entries";
        let check = |e: winsock_catalog::CatalogError| {
            if wants_key {
                assert!(
                    e.to_string().contains("Catalog_Entries64\\00000000000"),
                    "{}",
                    e
                );
            }
            e
        };
        refused(&path, WSANO_RECOVERY, needle, || {
            cat.enum_protocols(Arch::X86).map_err(check)
        });
        refused(&path, WSANO_RECOVERY, needle, || {
            cat.install_provider(&guid(5), PATH, &two_bases(), Catalogs::Both)
                .map_err(check)
        });
        refused(&path, WSANO_RECOVERY, needle, || {
            cat.deinstall_provider(&guid(1), Catalogs::Both)
        });
        refused(&path, WSANO_RECOVERY, needle, || {
            cat.set_application_category("C:\\app.exe", "", 1)
        });
        // The good backup restores it.
        cat.restore(&good.to_reg()).unwrap();
        assert_eq!(FileStore::open(&path).read().unwrap(), good);
    }
    // Not a catalog at all.
    std::fs::write(&path, b"garbage").unwrap();
    refused(&path, WSANO_RECOVERY, "not a .reg file", || {
        cat.enum_protocols(Arch::X64)
    });
}

#[test]
fn bad_backups_restore_nothing() {
    let dir = TempDir::new("restore");
    let (path, cat) = catalog(&dir, true);
    cat.install_provider(&guid(1), PATH, &two_bases(), Catalogs::Both)
        .unwrap();
    let good = cat.backup().unwrap();
    refused(&path, WSAEINVAL, "not a .reg file", || cat.restore("hello"));
    let outside = good.replace(
        "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\WinSock2\\Parameters\\Protocol_Catalog9]",
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Evil]",
    );
    refused(&path, WSAEINVAL, "not under", || cat.restore(&outside));
    let corrupt = good.replacen("hex:25,53", "hex:25", 1);
    refused(&path, WSAEINVAL, "corrupted catalog", || {
        cat.restore(&corrupt)
    });
    let deletion = format!("{}\r\n[-HKEY_LOCAL_MACHINE\\X]\r\n", good);
    refused(&path, WSAEINVAL, "deletions", || cat.restore(&deletion));
}

#[test]
fn a_writer_that_lost_the_race_writes_nothing() {
    let dir = TempDir::new("stale");
    let (path, cat) = catalog(&dir, true);
    let store = FileStore::open(&path);
    let stale = store.read().unwrap();
    cat.install_provider(&guid(1), PATH, &two_bases(), Catalogs::Both)
        .unwrap();
    let after_winner = read(&path);
    let mut mine = stale.clone();
    mine.set_value("Protocol_Catalog9", "Serial_Access_Num", Value::dword(1));
    let err = store.commit(&stale, &mine).unwrap_err();
    assert_eq!(err.code(), WSATRY_AGAIN, "{}", err);
    assert!(
        err.to_string().contains("Serial_Access_Num 0 -> 1"),
        "{}",
        err
    );
    assert_eq!(read(&path), after_winner);
}

#[test]
fn racing_installers_never_merge_or_corrupt_the_catalog() {
    let dir = TempDir::new("race");
    let (path, _) = catalog(&dir, true);
    let threads: Vec<_> = (0..8u8)
        .map(|n| {
            let path = path.clone();
            std::thread::spawn(move || {
                let cat = StoreCatalog::new(FileStore::open(&path));
                let mut lost = 0;
                loop {
                    match cat.install_provider(&guid(n), PATH, &two_bases(), Catalogs::Both) {
                        Ok(()) => return lost,
                        Err(e) if e.code() == WSATRY_AGAIN => lost += 1,
                        Err(e) => panic!("installer {} failed: {}", n, e),
                    }
                }
            })
        })
        .collect();
    let lost: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let cat = StoreCatalog::new(FileStore::open(&path));
    for arch in [Arch::X64, Arch::X86] {
        let e = cat.enum_protocols(arch).unwrap();
        assert_eq!(e.len(), 16);
        let mut all = ids(&e);
        all.sort_unstable();
        assert_eq!(all, (1001..1017).collect::<Vec<u32>>());
        for n in 0..8u8 {
            assert_eq!(
                e.iter().filter(|x| x.info.provider_id() == guid(n)).count(),
                2
            );
        }
    }
    let text = String::from_utf8(read(&path)).unwrap();
    assert!(
        text.contains("\"Serial_Access_Num\"=dword:00000008"),
        "{}",
        text
    );
    // Each lost race was a retry, not a partial write.
    eprintln!("{} lost races retried", lost);
}

#[test]
fn application_categories_and_namespaces() {
    let dir = TempDir::new("misc");
    let (path, cat) = catalog(&dir, true);
    cat.set_application_category("C:\\Windows\\System32\\wsl.exe", "", 0x8000_0000)
        .unwrap();
    cat.set_application_category("C:\\WINDOWS\\System32\\WSL.EXE", "", 1)
        .unwrap();
    let tree = FileStore::open(&path).read().unwrap();
    let apps = tree.subkeys("AppId_Catalog");
    assert_eq!(apps.len(), 1);
    let key = format!("AppId_Catalog\\{}", apps[0]);
    assert_eq!(
        tree.value(&key, "PermittedLspCategories"),
        Some(&Value::dword(1))
    );

    let mut t = tree.clone();
    let ns = "NameSpace_Catalog5\\Catalog_Entries64\\000000000001";
    t.set_value(
        ns,
        "LibraryPath",
        Value::string("%SystemRoot%\\System32\\NLAapi.dll"),
    );
    t.set_value(
        ns,
        "DisplayString",
        Value::string("Network Location Awareness"),
    );
    t.set_value(ns, "ProviderId", Value::binary(&guid(7).0));
    t.set_value(ns, "AddressFamily", Value::dword(0));
    t.set_value(ns, "SupportedNameSpace", Value::dword(15));
    t.set_value(ns, "Enabled", Value::dword(1));
    t.set_value(ns, "Version", Value::dword(1));
    std::fs::write(&path, t.to_reg()).unwrap();
    let n = cat.enum_namespaces(Arch::X64).unwrap();
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].display, "Network Location Awareness");
    assert_eq!(n[0].provider_id, guid(7));
    assert_eq!(n[0].namespace, 15);
    assert!(n[0].enabled);
    assert!(cat.enum_namespaces(Arch::X86).unwrap().is_empty());
}

#[test]
fn reg_text_round_trips_and_reads_utf16_exports() {
    let dir = TempDir::new("regtext");
    let (path, cat) = catalog(&dir, true);
    cat.install_provider(&guid(1), PATH, &two_bases(), Catalogs::Both)
        .unwrap();
    let mut tree = FileStore::open(&path).read().unwrap();
    tree.set_value("Odd", "quote\"back\\slash", Value::string("a \"b\" \\c"));
    tree.set_value("Odd", "", Value::string("default"));
    tree.set_value(
        "Odd",
        "multi",
        Value {
            kind: 7,
            data: vec![0x61, 0, 0, 0, 0, 0],
        },
    );
    tree.set_value(
        "Odd",
        "odd sz",
        Value {
            kind: 1,
            data: vec![0x61],
        },
    );
    tree.set_value("Odd", "empty", Value::binary(&[]));
    let text = tree.to_reg();
    assert_eq!(Tree::from_reg(&text).unwrap(), tree);
    let mut utf16 = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    assert_eq!(Tree::from_reg_bytes(&utf16).unwrap(), tree);
    // Long binary values are wrapped like regedit's.
    assert!(
        text.lines()
            .filter(|l| !l.starts_with('['))
            .all(|l| l.len() <= 80),
        "{}",
        text
    );
}
