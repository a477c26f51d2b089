//! LSP categories (`LSP_*`): what a layered provider declares it does
//! (`WSCSetProviderInfo(ProviderInfoLspCategories)`) and what an application permits
//! (`WSCSetApplicationCategory`), and the rule by which ws2_32 matches the two.

use crate::backend::{Arch, Backend};
use crate::entry::Entry;
use crate::error::CatalogError;

/// The layer inspects the traffic without changing it.
pub const LSP_INSPECTOR: u32 = 0x0000_0001;
/// The layer redirects connections.
pub const LSP_REDIRECTOR: u32 = 0x0000_0002;
/// The layer proxies connections.
pub const LSP_PROXY: u32 = 0x0000_0004;
/// The layer filters connections (a firewall).
pub const LSP_FIREWALL: u32 = 0x0000_0008;
/// The layer changes inbound data.
pub const LSP_INBOUND_MODIFY: u32 = 0x0000_0010;
/// The layer changes outbound data.
pub const LSP_OUTBOUND_MODIFY: u32 = 0x0000_0020;
/// The layer encrypts or compresses the data.
pub const LSP_CRYPTO_COMPRESS: u32 = 0x0000_0040;
/// The layer caches data locally.
pub const LSP_LOCAL_CACHE: u32 = 0x0000_0080;
/// The layer may be loaded into system services (and an application with it only loads
/// layers that have it).
pub const LSP_SYSTEM: u32 = 0x8000_0000;

/// The categories by name, in the order [`describe_categories`] prints them.
const NAMES: [(&str, u32); 9] = [
    ("LSP_SYSTEM", LSP_SYSTEM),
    ("LSP_INSPECTOR", LSP_INSPECTOR),
    ("LSP_REDIRECTOR", LSP_REDIRECTOR),
    ("LSP_PROXY", LSP_PROXY),
    ("LSP_FIREWALL", LSP_FIREWALL),
    ("LSP_INBOUND_MODIFY", LSP_INBOUND_MODIFY),
    ("LSP_OUTBOUND_MODIFY", LSP_OUTBOUND_MODIFY),
    ("LSP_CRYPTO_COMPRESS", LSP_CRYPTO_COMPRESS),
    ("LSP_LOCAL_CACHE", LSP_LOCAL_CACHE),
];

/// Every defined category bit.
const ALL: u32 = LSP_SYSTEM | 0xFF;

/// Parses a category list: names separated by `,` or `|` (`LSP_PROXY,LSP_SYSTEM`; the `LSP_`
/// prefix and case are optional), a number (`0x80000004`), or `none` (0). `WSAEINVAL` for an
/// unknown name or a bit no category has.
pub fn parse_categories(text: &str) -> Result<u32, CatalogError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") {
        return Ok(0);
    }
    let number = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()
    } else {
        text.parse::<u32>().ok()
    };
    if let Some(n) = number {
        if n & !ALL != 0 {
            return Err(CatalogError::invalid(format!(
                "{:#x} has bits no LSP category has ({:#x})",
                n,
                n & !ALL
            )));
        }
        return Ok(n);
    }
    let mut out = 0;
    for part in text.split([',', '|']) {
        let part = part.trim();
        let upper = part.to_ascii_uppercase();
        let full = if upper.starts_with("LSP_") {
            upper
        } else {
            format!("LSP_{}", upper)
        };
        match NAMES.iter().find(|(n, _)| *n == full) {
            Some((_, bit)) => out |= bit,
            None => {
                let known: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
                return Err(CatalogError::invalid(format!(
                    "'{}' is not an LSP category (they are: {}, or none)",
                    part,
                    known.join(", ")
                )));
            }
        }
    }
    Ok(out)
}

/// The categories as names joined by `|` (`none` for 0; unknown bits as a number).
pub fn describe_categories(categories: u32) -> String {
    if categories == 0 {
        return "none".to_owned();
    }
    let mut parts: Vec<String> = NAMES
        .iter()
        .filter(|(_, bit)| categories & bit != 0)
        .map(|(n, _)| (*n).to_owned())
        .collect();
    if categories & !ALL != 0 {
        parts.push(format!("{:#x}", categories & !ALL));
    }
    parts.join("|")
}

/// Whether ws2_32 loads a layer with categories `layer` into an application whose permitted
/// categories are `app` (`None`: the application was never categorized), by the rules of
/// "Categorizing Layered Service Providers and Applications": an uncategorized application
/// loads every layer; a categorized one loads a layer only when the layer has at least one of
/// the application's categories, none that the application lacks, and `LSP_SYSTEM` whenever
/// the application has it. An uncategorized layer (0) is therefore never loaded into a
/// categorized application.
pub fn lsp_permitted(app: Option<u32>, layer: u32) -> bool {
    let app = match app {
        None => return true,
        Some(a) => a,
    };
    layer & app != 0 && layer & !app == 0 && (app & LSP_SYSTEM == 0 || layer & LSP_SYSTEM != 0)
}

/// The entries of catalog `arch` as ws2_32 offers them to application `path` (with
/// command-line `args`): every entry when the application is not categorized; otherwise
/// without the chain entries that go through a layer [`lsp_permitted`] refuses for it, so its
/// `socket()` finds the next entry of that protocol (the base entry, or a chain of permitted
/// layers). A layer's categories are those of its hidden layered entry.
pub fn entries_for_application(
    backend: &dyn Backend,
    arch: Arch,
    path: &str,
    args: &str,
) -> Result<Vec<Entry>, CatalogError> {
    let entries = backend.enum_protocols(arch)?;
    let app = match backend.application_category(path, args)? {
        None => return Ok(entries),
        Some(a) => a,
    };
    let mut refused: Vec<u32> = Vec::new();
    for e in entries.iter().filter(|e| e.info.is_layered()) {
        let categories = backend.provider_categories(&e.info.provider_id(), arch)?;
        if !lsp_permitted(Some(app), categories) {
            refused.push(e.info.catalog_entry_id());
        }
    }
    Ok(entries
        .into_iter()
        .filter(|e| {
            e.info.chain_len() < 2 || !e.info.chain_entries().iter().any(|c| refused.contains(c))
        })
        .collect())
}
