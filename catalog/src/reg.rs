//! [`Tree`]: the registry keys and values under `WinSock2\Parameters`, and their `.reg` text.

use std::collections::BTreeMap;

/// The registry key a catalog tree is rooted at.
pub const PARAMETERS_KEY: &str =
    "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\WinSock2\\Parameters";

/// `REG_SZ`.
pub const REG_SZ: u32 = 1;
/// `REG_EXPAND_SZ`.
pub const REG_EXPAND_SZ: u32 = 2;
/// `REG_BINARY`.
pub const REG_BINARY: u32 = 3;
/// `REG_DWORD`.
pub const REG_DWORD: u32 = 4;

/// A registry value: its type and its raw bytes (strings as NUL-terminated UTF-16LE).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Value {
    /// `REG_*` type.
    pub kind: u32,
    /// The data, as `RegQueryValueEx` returns it.
    pub data: Vec<u8>,
}

/// The keys (paths relative to [`PARAMETERS_KEY`], `""` for the key itself, components
/// separated by `\`) and their values, in a stable order.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Tree {
    keys: BTreeMap<String, Vec<(String, Value)>>,
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Tree {
        Tree::default()
    }
}
