//! Helpers shared by the catalog tests: temporary catalog files and protocol entries.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use winsock_catalog::{FileStore, Guid, ProtocolInfo, StoreCatalog, PFL_MATCHES_PROTOCOL_ZERO};

/// A fresh directory under the system's temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "wsp-catalog-{}-{}-{}",
            tag,
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new empty catalog file (64-bit system unless `sixty_four` is false).
pub fn catalog(dir: &TempDir, sixty_four: bool) -> (PathBuf, StoreCatalog<FileStore>) {
    let path = dir.file(if sixty_four { "cat64.reg" } else { "cat32.reg" });
    let store = FileStore::create(&path, sixty_four).unwrap();
    (path, StoreCatalog::new(store))
}

pub fn guid(n: u8) -> Guid {
    Guid::from_fields(
        0x1234_5600 | u32::from(n),
        0xabcd,
        0x4ef0,
        [n, 1, 2, 3, 4, 5, 6, 7],
    )
}

/// A base protocol entry (ChainLen 1) for family `af`, type `ty`, protocol `proto`.
pub fn base(af: i32, ty: i32, proto: i32, name: &str) -> ProtocolInfo {
    let mut i = ProtocolInfo::new();
    i.set_service_flags1(0x20066);
    i.set_provider_flags(PFL_MATCHES_PROTOCOL_ZERO);
    i.set_chain(1, &[]);
    i.set_version(2);
    i.set_address_family(af);
    i.set_max_sockaddr(16);
    i.set_min_sockaddr(16);
    i.set_socket_type(ty);
    i.set_protocol(proto);
    i.set_network_byte_order(0);
    i.set_name(name);
    i
}

pub fn read(path: &PathBuf) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// The file's text with the two values every successful change moves (`Serial_Access_Num`,
/// `Next_Catalog_Entry_ID`) blanked out.
pub fn masked(path: &PathBuf) -> String {
    String::from_utf8(read(path))
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("\"Serial_Access_Num\"=")
                || l.starts_with("\"Next_Catalog_Entry_ID\"=")
            {
                "<moves>".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
