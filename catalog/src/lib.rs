//! The Winsock 2 protocol catalog, with Windows' semantics, in one place.
//!
//! ws2_32 keeps its providers in the registry under
//! `HKLM\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters`:
//! `Protocol_Catalog9\Catalog_Entries64\%012u\PackedCatalogItem` (the 64-bit catalog),
//! `Catalog_Entries\...` (the 32-bit one), each item a 260-byte ANSI library path followed by
//! a 628-byte `WSAPROTOCOL_INFOW` ([`Entry`], [`ProtocolInfo`]); ids come from
//! `Next_Catalog_Entry_ID`, the order is the subkey order, and `Serial_Access_Num` moves on
//! every change.
//!
//! Everything that changes the catalog goes through a [`Backend`], the WSC* operations:
//! - [`StoreCatalog`] implements them itself over a [`Store`] holding that registry layout:
//!   a [`FileStore`] (a `.reg`-syntax text file, on every OS) or, on Windows, the
//!   `RegistryStore` (the real key; used under Wine, whose WSC* functions are stubs);
//! - on Windows, `Wsc` calls the real WSC* functions, looked up at run time.
//!
//! [`system`] picks the right one. The crate has no dependencies and builds with Rust 1.63, so
//! it can live inside a provider DLL.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod backend;
mod catalog;
mod category;
mod entry;
mod env;
mod error;
mod file;
mod guid;
mod info;
mod layers;
mod reconcile;
mod reg;
mod store;

#[cfg(windows)]
mod registry;
#[cfg(windows)]
mod win;
#[cfg(windows)]
mod wsc;

pub use backend::{Arch, Backend, Catalogs, LayerSpec, NamespaceEntry};
pub use catalog::StoreCatalog;
pub use category::{
    describe_categories, entries_for_application, lsp_permitted, parse_categories,
    LSP_CRYPTO_COMPRESS, LSP_FIREWALL, LSP_INBOUND_MODIFY, LSP_INSPECTOR, LSP_LOCAL_CACHE,
    LSP_OUTBOUND_MODIFY, LSP_PROXY, LSP_REDIRECTOR, LSP_SYSTEM,
};
pub use entry::Entry;
pub use env::{expand_env, is_wine, system, CATALOG_ENV};
pub use error::{
    CatalogError, WSAEFAULT, WSAEINVAL, WSANO_RECOVERY, WSATRY_AGAIN, WSA_NOT_ENOUGH_MEMORY,
};
pub use file::FileStore;
pub use guid::Guid;
pub use info::{
    ProtocolInfo, BASE_PROTOCOL, LAYERED_PROTOCOL, MAX_PROTOCOL_CHAIN, PACKED_ITEM_LEN,
    PATH_FIELD_LEN, PFL_HIDDEN, PFL_MATCHES_PROTOCOL_ZERO, PFL_MULTIPLE_PROTO_ENTRIES,
    PFL_NETWORKDIRECT_PROVIDER, PFL_RECOMMENDED_PROTO_ENTRY, PROTOCOL_INFO_LEN,
    PROTOCOL_NAME_UNITS, XP1_IFS_HANDLES,
};
pub use reconcile::restore_by_operations;
pub use reg::{Tree, Value, PARAMETERS_KEY, REG_BINARY, REG_DWORD, REG_EXPAND_SZ, REG_SZ};
pub use store::Store;

#[cfg(windows)]
pub use registry::RegistryStore;
#[cfg(windows)]
pub use wsc::Wsc;
