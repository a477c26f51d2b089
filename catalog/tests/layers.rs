//! Layers in a `StoreCatalog` over a `FileStore`: a GUID per chain entry, LSP categories, and
//! removal of a layer that others are stacked on.

mod common;

use common::*;
use winsock_catalog::{
    describe_categories, lsp_permitted, parse_categories, Arch, Backend, Catalogs, Entry, Guid,
    LayerSpec, LSP_FIREWALL, LSP_INSPECTOR, LSP_PROXY, LSP_SYSTEM, WSAEINVAL,
};

const PATH: &str = "%SystemRoot%\\System32\\lb.dll";

fn layer(n: u8, over: Vec<u32>) -> LayerSpec {
    LayerSpec {
        layer_id: guid(n),
        path: format!("lsp{}.dll", n),
        name: format!("L{}", n),
        over,
        ifs: false,
        categories: 0,
    }
}

/// (id, name, chain, provider) of every entry, in catalog order.
fn summary(entries: &[Entry]) -> Vec<(u32, String, Vec<u32>, Guid)> {
    entries
        .iter()
        .map(|e| {
            let i = &e.info;
            let chain = if i.chain_len() >= 2 {
                i.chain_entries().to_vec()
            } else {
                Vec::new()
            };
            (i.catalog_entry_id(), i.name(), chain, i.provider_id())
        })
        .collect()
}

fn entry(entries: &[Entry], id: u32) -> &Entry {
    entries
        .iter()
        .find(|e| e.info.catalog_entry_id() == id)
        .unwrap()
}

#[test]
fn every_chain_entry_has_its_own_guid_and_reinstalling_gives_the_same_ones() {
    let dir = TempDir::new("guids");
    let (_, cat) = catalog(&dir, true);
    // One provider, two entries of the same protocol (the second one needs the ordinal).
    cat.install_provider(
        &guid(1),
        PATH,
        &[
            base(2, 1, 6, "TCP"),
            base(2, 2, 17, "UDP"),
            base(2, 1, 6, "TCP again"),
        ],
        Catalogs::Both,
    )
    .unwrap();
    let ids = cat
        .install_provider_and_chains(&layer(10, Vec::new()), Catalogs::Both)
        .unwrap();
    assert_eq!(ids, vec![1004, 1005, 1006, 1007]);
    let first = cat.enum_protocols(Arch::X64).unwrap();
    let guids: Vec<Guid> = first[..3].iter().map(|e| e.info.provider_id()).collect();
    for (i, g) in guids.iter().enumerate() {
        assert!(!guids[..i].contains(g), "chain GUIDs repeat: {:?}", guids);
        assert_ne!(*g, guid(10));
        assert_ne!(*g, guid(1));
        // Version 8, RFC 4122 variant.
        assert_eq!(g.data3() >> 12, 8);
        assert_eq!(g.data4()[0] & 0xC0, 0x80);
    }
    let tcp = &entry(&first, 1001).info;
    let udp = &entry(&first, 1002).info;
    assert_eq!(guids[0], LayerSpec::chain_guid(&guid(10), tcp));
    assert_eq!(guids[1], LayerSpec::chain_guid(&guid(10), udp));
    assert_ne!(
        LayerSpec::chain_guid(&guid(10), tcp),
        LayerSpec::chain_guid(&guid(11), tcp),
        "another layer over the same entry gets another GUID"
    );
    // The same entries in the 32-bit catalog, under the same GUIDs and ids.
    assert_eq!(
        summary(&cat.enum_protocols(Arch::X86).unwrap()),
        summary(&first)
    );

    // Removing the layer and installing it again gives the same GUIDs.
    cat.deinstall_layer(&guid(10), Catalogs::Both).unwrap();
    assert_eq!(cat.enum_protocols(Arch::X64).unwrap().len(), 3);
    cat.install_provider_and_chains(&layer(10, Vec::new()), Catalogs::Both)
        .unwrap();
    let again = cat.enum_protocols(Arch::X64).unwrap();
    let guids2: Vec<Guid> = again[..3].iter().map(|e| e.info.provider_id()).collect();
    assert_eq!(guids2, guids);
    // Each chain can be removed on its own, by its GUID.
    cat.deinstall_provider(&guids[1], Catalogs::Both).unwrap();
    let left = cat.enum_protocols(Arch::X64).unwrap();
    assert_eq!(left.len(), 6);
    assert!(!left.iter().any(|e| e.info.name() == "L10 over [UDP]"));
}

#[test]
fn categories_are_set_on_the_layer_and_its_chains_and_applications_are_categorized() {
    let dir = TempDir::new("categories");
    let (path, cat) = catalog(&dir, true);
    cat.install_provider(&guid(1), PATH, &[base(2, 1, 6, "TCP")], Catalogs::Both)
        .unwrap();
    let mut spec = layer(10, Vec::new());
    spec.categories = LSP_PROXY | LSP_SYSTEM;
    cat.install_provider_and_chains(&spec, Catalogs::Both)
        .unwrap();
    for arch in [Arch::X64, Arch::X86] {
        for e in cat.enum_protocols(arch).unwrap() {
            let want = if e.info.provider_id() == guid(1) {
                0
            } else {
                LSP_PROXY | LSP_SYSTEM
            };
            assert_eq!(
                cat.provider_categories(&e.info.provider_id(), arch)
                    .unwrap(),
                want,
                "{}",
                e.info.name()
            );
        }
    }
    let text = String::from_utf8(read(&path)).unwrap();
    assert_eq!(
        text.matches("\"LspCategories\"=dword:80000004").count(),
        4,
        "{}",
        text
    );
    // Changing them (WSCSetProviderInfo) and a provider that is not there.
    cat.set_provider_categories(&guid(10), Arch::X64, LSP_FIREWALL)
        .unwrap();
    assert_eq!(
        cat.provider_categories(&guid(10), Arch::X64).unwrap(),
        LSP_FIREWALL
    );
    assert_eq!(
        cat.provider_categories(&guid(10), Arch::X86).unwrap(),
        LSP_PROXY | LSP_SYSTEM
    );
    let before = read(&path);
    let err = cat
        .set_provider_categories(&guid(99), Arch::X64, 1)
        .unwrap_err();
    assert_eq!(err.code(), WSAEINVAL);
    assert_eq!(read(&path), before);

    // Applications: never categorized, then categorized, then changed in place.
    let app = "C:\\Windows\\System32\\wsl.exe";
    assert_eq!(cat.application_category(app, "").unwrap(), None);
    cat.set_application_category(app, "", LSP_SYSTEM).unwrap();
    assert_eq!(
        cat.application_category("c:\\windows\\system32\\WSL.EXE", "")
            .unwrap(),
        Some(LSP_SYSTEM)
    );
    assert_eq!(cat.application_category(app, "-k other").unwrap(), None);
    cat.set_application_category(app, "", LSP_SYSTEM | LSP_PROXY)
        .unwrap();
    assert_eq!(
        cat.application_category(app, "").unwrap(),
        Some(LSP_SYSTEM | LSP_PROXY)
    );
    let text = String::from_utf8(read(&path)).unwrap();
    assert_eq!(text.matches("\"PermittedLspCategories\"").count(), 1);
}

#[test]
fn category_names_and_the_loading_rule() {
    assert_eq!(
        parse_categories("LSP_PROXY,lsp_system").unwrap(),
        LSP_PROXY | LSP_SYSTEM
    );
    assert_eq!(
        parse_categories("inspector|firewall").unwrap(),
        LSP_INSPECTOR | LSP_FIREWALL
    );
    assert_eq!(parse_categories("0x80000004").unwrap(), 0x8000_0004);
    assert_eq!(parse_categories("none").unwrap(), 0);
    assert_eq!(parse_categories("LSP_BOGUS").unwrap_err().code(), WSAEINVAL);
    assert_eq!(parse_categories("0x100").unwrap_err().code(), WSAEINVAL);
    assert_eq!(describe_categories(0), "none");
    assert_eq!(
        describe_categories(LSP_PROXY | LSP_SYSTEM),
        "LSP_SYSTEM|LSP_PROXY"
    );

    // An uncategorized application loads every layer, categorized or not.
    assert!(lsp_permitted(None, 0));
    assert!(lsp_permitted(None, LSP_PROXY));
    // A categorized one: at least one shared category, none it lacks, LSP_SYSTEM if it has it.
    assert!(lsp_permitted(Some(LSP_PROXY | LSP_FIREWALL), LSP_PROXY));
    assert!(!lsp_permitted(Some(LSP_PROXY), 0), "uncategorized layer");
    assert!(!lsp_permitted(Some(LSP_PROXY), LSP_FIREWALL));
    assert!(!lsp_permitted(Some(LSP_PROXY), LSP_PROXY | LSP_FIREWALL));
    assert!(!lsp_permitted(Some(LSP_SYSTEM | LSP_PROXY), LSP_PROXY));
    assert!(lsp_permitted(
        Some(LSP_SYSTEM | LSP_PROXY),
        LSP_SYSTEM | LSP_PROXY
    ));
    assert!(!lsp_permitted(Some(LSP_SYSTEM), LSP_SYSTEM | LSP_PROXY));
}

#[test]
fn removing_a_layer_rewrites_the_chains_stacked_on_it() {
    let dir = TempDir::new("rewrite");
    let (_, cat) = catalog(&dir, true);
    cat.install_provider(
        &guid(1),
        PATH,
        &[base(2, 1, 6, "TCP"), base(2, 2, 17, "UDP")],
        Catalogs::Both,
    )
    .unwrap();
    // L10 over both (chains 1004 TCP, 1005 UDP), L20 over L10's chains (1007, 1008), L30 over
    // L20's TCP chain (1010).
    cat.install_provider_and_chains(&layer(10, Vec::new()), Catalogs::Both)
        .unwrap();
    cat.install_provider_and_chains(&layer(20, vec![1004, 1005]), Catalogs::Both)
        .unwrap();
    cat.install_provider_and_chains(&layer(30, vec![1007]), Catalogs::Both)
        .unwrap();
    let before = cat.enum_protocols(Arch::X64).unwrap();
    assert_eq!(
        entry(&before, 1010).info.name(),
        "L30 over [L20 over [L10 over [TCP]]]"
    );
    assert_eq!(
        entry(&before, 1010).info.chain_entries(),
        &[1009, 1006, 1003, 1001]
    );
    // Someone renamed one of L20's chains: the name is theirs and stays.
    let mut renamed = entry(&before, 1008).info.clone();
    renamed.set_name("custom name");
    cat.update_provider(
        &renamed.provider_id(),
        "lsp20.dll",
        &[renamed.clone()],
        Arch::X64,
    )
    .unwrap();

    cat.deinstall_layer(&guid(10), Catalogs::Both).unwrap();
    for arch in [Arch::X64, Arch::X86] {
        let after = cat.enum_protocols(arch).unwrap();
        let s = summary(&after);
        // L10's entries are gone, the rest keeps its order, ids and GUIDs.
        let ids: Vec<u32> = s.iter().map(|x| x.0).collect();
        assert_eq!(ids, vec![1010, 1007, 1008, 1001, 1002, 1006, 1009]);
        for x in &s {
            let old = entry(&before, x.0);
            assert_eq!(x.3, old.info.provider_id());
        }
        assert_eq!(entry(&after, 1007).info.chain_entries(), &[1006, 1001]);
        assert_eq!(entry(&after, 1007).info.name(), "L20 over [TCP]");
        assert_eq!(entry(&after, 1008).info.chain_entries(), &[1006, 1002]);
        assert_eq!(
            entry(&after, 1010).info.chain_entries(),
            &[1009, 1006, 1001]
        );
        assert_eq!(entry(&after, 1010).info.name(), "L30 over [L20 over [TCP]]");
    }
    let x64 = cat.enum_protocols(Arch::X64).unwrap();
    assert_eq!(entry(&x64, 1008).info.name(), "custom name");
    let x86 = cat.enum_protocols(Arch::X86).unwrap();
    assert_eq!(entry(&x86, 1008).info.name(), "L20 over [UDP]");

    // Then the middle of what is left, and the top: down to the base.
    cat.deinstall_layer(&guid(20), Catalogs::Both).unwrap();
    let x64 = cat.enum_protocols(Arch::X64).unwrap();
    assert_eq!(entry(&x64, 1010).info.chain_entries(), &[1009, 1001]);
    assert_eq!(entry(&x64, 1010).info.name(), "L30 over [TCP]");
    cat.deinstall_layer(&guid(30), Catalogs::Both).unwrap();
    assert_eq!(
        summary(&cat.enum_protocols(Arch::X64).unwrap()),
        summary(&before[before.len() - 5..before.len() - 3])
    );
}

#[test]
fn a_rewritten_chain_that_duplicates_another_goes_and_failures_change_nothing() {
    let dir = TempDir::new("duplicate");
    let (path, cat) = catalog(&dir, true);
    cat.install_provider(&guid(1), PATH, &[base(2, 1, 6, "TCP")], Catalogs::Both)
        .unwrap();
    // L10 over TCP (1003); L20 over every visible entry: L10's chain (1005) and TCP (1006).
    cat.install_provider_and_chains(&layer(10, Vec::new()), Catalogs::Both)
        .unwrap();
    cat.install_provider_and_chains(&layer(20, Vec::new()), Catalogs::Both)
        .unwrap();
    let e = cat.enum_protocols(Arch::X64).unwrap();
    let s = summary(&e);
    assert_eq!(s[0].2, vec![1004, 1002, 1001]);
    assert_eq!(s[1].2, vec![1004, 1001]);

    // A layer whose chain shares its GUID with an entry that does not go through it cannot
    // be removed without taking that entry along: refused, the file as it was.
    let sharing = base(2, 2, 17, "shares a GUID");
    let l10_chain_guid = entry(&e, 1003).info.provider_id();
    let dir2 = TempDir::new("duplicate-shared");
    let (path2, cat2) = catalog(&dir2, true);
    cat2.install_provider(&guid(1), PATH, &[base(2, 1, 6, "TCP")], Catalogs::Both)
        .unwrap();
    cat2.install_provider_and_chains(&layer(10, Vec::new()), Catalogs::Both)
        .unwrap();
    let mut infos: Vec<_> = cat2
        .enum_protocols(Arch::X64)
        .unwrap()
        .iter()
        .filter(|x| x.info.provider_id() == l10_chain_guid)
        .map(|x| x.info.clone())
        .collect();
    assert_eq!(infos.len(), 1);
    infos.push(sharing);
    // Re-create the chain's GUID with an extra, unrelated entry.
    cat2.deinstall_provider(&l10_chain_guid, Catalogs::Both)
        .unwrap();
    cat2.install_provider(&l10_chain_guid, "x.dll", &infos, Catalogs::Both)
        .unwrap();
    let before = read(&path2);
    let err = cat2.deinstall_layer(&guid(10), Catalogs::Both).unwrap_err();
    assert_eq!(err.code(), WSAEINVAL);
    assert!(err.to_string().contains("shares a GUID"), "{}", err);
    assert_eq!(read(&path2), before);

    // L20 over [L10 over [TCP]] would become a second L20 over [TCP]: it goes.
    let before = read(&path);
    cat.deinstall_layer(&guid(10), Catalogs::Both).unwrap();
    assert_ne!(read(&path), before);
    let s = summary(&cat.enum_protocols(Arch::X64).unwrap());
    assert_eq!(s.len(), 3);
    assert_eq!(s[0].1, "L20 over [TCP]");
    assert_eq!(s[0].2, vec![1004, 1001]);
}

#[test]
fn a_categorized_application_gets_the_base_entry_where_a_layer_is_not_permitted() {
    let dir = TempDir::new("app-view");
    let (_, cat) = catalog(&dir, true);
    cat.install_provider(&guid(1), PATH, &[base(2, 1, 6, "TCP")], Catalogs::Both)
        .unwrap();
    // L10 a proxy (chain 1003), L20 uncategorized over L10's chain (1005).
    let mut proxy = layer(10, Vec::new());
    proxy.categories = LSP_PROXY;
    cat.install_provider_and_chains(&proxy, Catalogs::Both)
        .unwrap();
    cat.install_provider_and_chains(&layer(20, vec![1003]), Catalogs::Both)
        .unwrap();
    let names = |app: &str| -> Vec<String> {
        winsock_catalog::entries_for_application(&cat, Arch::X64, app, "")
            .unwrap()
            .iter()
            .filter(|e| e.info.chain_len() >= 1)
            .map(|e| e.info.name())
            .collect()
    };
    let all = vec!["L20 over [L10 over [TCP]]", "L10 over [TCP]", "TCP"];
    // Not categorized: every chain.
    assert_eq!(names("C:\\plain.exe"), all);
    // Permits proxies: L10's chain, not the one through the uncategorized L20.
    cat.set_application_category("C:\\browser.exe", "", LSP_PROXY)
        .unwrap();
    assert_eq!(names("C:\\browser.exe"), vec!["L10 over [TCP]", "TCP"]);
    // A system application (wsl.exe): no layer without LSP_SYSTEM, so the base entry.
    cat.set_application_category("C:\\wsl.exe", "", LSP_SYSTEM | LSP_PROXY)
        .unwrap();
    assert_eq!(names("C:\\wsl.exe"), vec!["TCP"]);
    // Once L10 declares LSP_SYSTEM too, wsl.exe gets its chain.
    cat.set_provider_categories(&guid(10), Arch::X64, LSP_SYSTEM | LSP_PROXY)
        .unwrap();
    assert_eq!(names("C:\\wsl.exe"), vec!["L10 over [TCP]", "TCP"]);
}
