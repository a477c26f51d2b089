//! `restore_by_operations`: restoring a backup through WSC* operations alone (what `Wsc` does
//! on Windows), run here against our own implementation of those operations.

mod common;

use common::*;
use winsock_catalog::{
    restore_by_operations, Arch, Backend, Catalogs, Entry, FileStore, LayerSpec, StoreCatalog,
    WSAEINVAL,
};

const PATH: &str = "%SystemRoot%\\System32\\p.dll";

/// A catalog's contents without catalog ids: per entry its provider, name, path, flags and its
/// chain as (provider, name) pairs.
fn view(cat: &StoreCatalog<FileStore>, arch: Arch) -> Vec<String> {
    let es = cat.enum_protocols(arch).unwrap();
    let name = |id: u32| -> String {
        es.iter()
            .find(|e| e.info.catalog_entry_id() == id)
            .map(|e: &Entry| format!("{}/{}", e.info.provider_id(), e.info.name()))
            .unwrap_or_else(|| format!("MISSING {}", id))
    };
    es.iter()
        .map(|e| {
            let chain: Vec<String> = if e.info.chain_len() >= 2 {
                e.info.chain_entries().iter().map(|c| name(*c)).collect()
            } else {
                Vec::new()
            };
            format!(
                "{} {} {} flags={:x} len={} chain={:?}",
                e.info.provider_id(),
                e.info.name(),
                e.path,
                e.info.provider_flags(),
                e.info.chain_len(),
                chain
            )
        })
        .collect()
}

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

#[test]
fn restores_providers_layers_and_order_with_new_ids() {
    let dir = TempDir::new("ops");
    let (_, cat) = catalog(&dir, true);
    cat.install_provider(
        &guid(1),
        PATH,
        &[base(2, 1, 6, "TCP"), base(2, 2, 17, "UDP")],
        Catalogs::Both,
    )
    .unwrap();
    cat.install_provider(&guid(2), PATH, &[base(23, 1, 6, "TCP6")], Catalogs::Both)
        .unwrap();
    cat.install_provider_and_chains(&layer(10, vec![1001]), Catalogs::Both)
        .unwrap();
    cat.install_provider(
        &guid(3),
        "only32.dll",
        &[base(2, 1, 6, "x")],
        Catalogs::Only(Arch::X86),
    )
    .unwrap();
    let first = cat.enum_protocols(Arch::X64).unwrap();
    let ids: Vec<u32> = first
        .iter()
        .rev()
        .map(|e| e.info.catalog_entry_id())
        .collect();
    cat.write_provider_order(Arch::X64, &ids).unwrap();
    let backup = cat.backup().unwrap();
    let want64 = view(&cat, Arch::X64);
    let want32 = view(&cat, Arch::X86);

    // Wreck it: remove the layer and a base, add others, change the order.
    cat.deinstall_layer(&guid(10), Catalogs::Both).unwrap();
    cat.deinstall_provider(&guid(2), Catalogs::Both).unwrap();
    cat.install_provider(&guid(5), PATH, &[base(2, 1, 6, "intruder")], Catalogs::Both)
        .unwrap();
    cat.install_provider_and_chains(&layer(20, Vec::new()), Catalogs::Both)
        .unwrap();
    assert_ne!(view(&cat, Arch::X64), want64);

    restore_by_operations(&cat, &backup).unwrap();
    assert_eq!(view(&cat, Arch::X64), want64);
    assert_eq!(view(&cat, Arch::X86), want32);
    // Re-installed entries have new ids; the chain points at the new base and layer ids.
    let now = cat.enum_protocols(Arch::X64).unwrap();
    let id_of = |g: u8| {
        now.iter()
            .filter(|e| e.info.provider_id() == guid(g) && e.info.chain_len() <= 1)
            .map(|e| e.info.catalog_entry_id())
            .min()
            .unwrap()
    };
    assert_eq!(id_of(1), 1001);
    assert!(id_of(2) > 1007, "guid 2 was re-installed: {}", id_of(2));
    let chain = now
        .iter()
        .find(|e| e.info.chain_len() >= 2 && e.info.name() == "L10 over [TCP]")
        .unwrap();
    assert_eq!(chain.info.chain_entries(), &[id_of(10), 1001]);
    // A second restore of the same backup changes nothing.
    let before = cat.backup().unwrap();
    restore_by_operations(&cat, &before).unwrap();
    assert_eq!(cat.backup().unwrap(), before);
}

#[test]
fn a_base_under_a_kept_layer_is_replaced_with_the_layer_rebuilt_over_it() {
    let dir = TempDir::new("ops-base");
    let (_, cat) = catalog(&dir, true);
    cat.install_provider(&guid(1), PATH, &[base(2, 1, 6, "TCP")], Catalogs::Both)
        .unwrap();
    cat.install_provider_and_chains(&layer(10, Vec::new()), Catalogs::Both)
        .unwrap();
    let backup = cat.backup().unwrap();
    let want = view(&cat, Arch::X64);
    // The base changes (new path) under the layer: only possible by removing the layer first.
    cat.deinstall_layer(&guid(10), Catalogs::Both).unwrap();
    cat.update_provider(&guid(1), "moved.dll", &[base(2, 1, 6, "TCP")], Arch::X64)
        .unwrap();
    cat.install_provider_and_chains(&layer(10, Vec::new()), Catalogs::Both)
        .unwrap();
    restore_by_operations(&cat, &backup).unwrap();
    assert_eq!(view(&cat, Arch::X64), want);
}

#[test]
fn bad_backups_change_nothing_and_failures_are_rolled_back() {
    let dir = TempDir::new("ops-bad");
    let (path, cat) = catalog(&dir, true);
    cat.install_provider(&guid(1), PATH, &[base(2, 1, 6, "TCP")], Catalogs::Both)
        .unwrap();
    let before = read(&path);
    let err = restore_by_operations(&cat, "nonsense").unwrap_err();
    assert_eq!(err.code(), WSAEINVAL);
    assert_eq!(read(&path), before);

    // A backup whose chain names an entry it does not hold cannot be installed: the catalog is
    // put back (same entries; ids and serial move on).
    let (other_path, other) = {
        let d = dir.file("other.reg");
        let s = FileStore::create(&d, true).unwrap();
        (d, StoreCatalog::new(s))
    };
    other
        .install_provider(&guid(7), PATH, &[base(2, 1, 6, "B")], Catalogs::Both)
        .unwrap();
    other
        .install_provider_and_chains(&layer(30, Vec::new()), Catalogs::Both)
        .unwrap();
    let mut text = other.backup().unwrap();
    // Drop the layer's hidden entry (the last key of each catalog) from the text.
    for arch_key in ["Catalog_Entries64", "Catalog_Entries"] {
        let start = text
            .find(&format!("Protocol_Catalog9\\{}\\000000000003]", arch_key))
            .unwrap();
        let start = text[..start].rfind('[').unwrap();
        let end = text[start + 1..]
            .find("\r\n[")
            .map(|i| start + 1 + i + 2)
            .unwrap_or(text.len());
        text.replace_range(start..end, "");
    }
    text = text.replace("dword:00000003", "dword:00000002");
    let _ = std::fs::remove_file(&other_path);
    let want = view(&cat, Arch::X64);
    let err = restore_by_operations(&cat, &text).unwrap_err();
    assert!(err.to_string().contains("put back"), "{}", err);
    assert_eq!(view(&cat, Arch::X64), want);
    assert_eq!(cat.get_provider_path(&guid(1), Arch::X64).unwrap(), PATH);
}
