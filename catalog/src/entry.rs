//! [`Entry`]: one `PackedCatalogItem` (library path + protocol info).

use crate::error::CatalogError;
use crate::info::{ProtocolInfo, MAX_PROTOCOL_CHAIN, PACKED_ITEM_LEN, PATH_FIELD_LEN};

/// One protocol catalog entry: what a `PackedCatalogItem` value holds.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Entry {
    /// The library path as stored: unexpanded (`%SystemRoot%\System32\x.dll`), ANSI. Bytes
    /// 0x80..=0xFF are read and written as the characters U+0080..=U+00FF (no code page is
    /// applied); at most 259 bytes.
    pub path: String,
    /// The `WSAPROTOCOL_INFOW`.
    pub info: ProtocolInfo,
}

/// The path field's bytes for `path`, or why it cannot be stored.
pub(crate) fn encode_path(path: &str) -> Result<[u8; PATH_FIELD_LEN], CatalogError> {
    let mut out = [0u8; PATH_FIELD_LEN];
    let mut n = 0;
    for c in path.chars() {
        let c = c as u32;
        if c == 0 || c > 0xFF {
            return Err(CatalogError::invalid(format!(
                "library path '{}' has a character that cannot be stored in the catalog's ANSI path (NUL or above U+00FF)",
                path
            )));
        }
        if n >= PATH_FIELD_LEN - 1 {
            return Err(CatalogError::invalid(format!(
                "library path '{}' is {} bytes; the catalog holds at most {}",
                path,
                path.chars().count(),
                PATH_FIELD_LEN - 1
            )));
        }
        out[n] = c as u8;
        n += 1;
    }
    if n == 0 {
        return Err(CatalogError::invalid("library path is empty"));
    }
    Ok(out)
}

/// Checks the parts of a protocol entry the catalog relies on: `ChainLen` in 0..=7.
pub(crate) fn check_chain(info: &ProtocolInfo) -> Result<(), CatalogError> {
    let len = info.chain_len();
    if len < 0 || len > MAX_PROTOCOL_CHAIN as i32 {
        return Err(CatalogError::invalid(format!(
            "entry '{}' has ChainLen {} (must be 0..={})",
            info.name(),
            len,
            MAX_PROTOCOL_CHAIN
        )));
    }
    Ok(())
}

impl Entry {
    /// Decodes a `PackedCatalogItem`: exactly 888 bytes, a NUL-terminated path in the first
    /// 260, and `ChainLen` in 0..=7.
    pub fn decode(b: &[u8]) -> Result<Entry, CatalogError> {
        if b.len() != PACKED_ITEM_LEN {
            return Err(CatalogError::no_recovery(format!(
                "PackedCatalogItem is {} bytes, expected {}",
                b.len(),
                PACKED_ITEM_LEN
            )));
        }
        let nul = match b[..PATH_FIELD_LEN].iter().position(|&c| c == 0) {
            Some(n) => n,
            None => {
                return Err(CatalogError::no_recovery(
                    "PackedCatalogItem's library path is not NUL-terminated",
                ))
            }
        };
        let path: String = b[..nul].iter().map(|&c| char::from(c)).collect();
        let info = ProtocolInfo::from_bytes(&b[PATH_FIELD_LEN..])?;
        check_chain(&info).map_err(|e| CatalogError::no_recovery(e.message()))?;
        Ok(Entry { path, info })
    }

    /// Encodes the entry as a `PackedCatalogItem` (the path NUL-padded to 260 bytes).
    pub fn encode(&self) -> Result<Vec<u8>, CatalogError> {
        let path = encode_path(&self.path)?;
        check_chain(&self.info)?;
        let mut out = Vec::with_capacity(PACKED_ITEM_LEN);
        out.extend_from_slice(&path);
        out.extend_from_slice(self.info.as_bytes());
        Ok(out)
    }
}
