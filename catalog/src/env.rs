//! Picking the system's catalog, Wine detection, `%VAR%` expansion.

use crate::backend::Backend;
use crate::error::CatalogError;

/// The environment variable naming the catalog file [`system`] uses off Windows.
pub const CATALOG_ENV: &str = "WSP_CATALOG";

/// Whether this process runs under Wine (ntdll exports `wine_get_version`); `false` off
/// Windows.
pub fn is_wine() -> bool {
    unimplemented!()
}

/// The system's catalog: on Windows the real WSC* functions ([`Wsc`](crate::Backend)), except
/// under Wine, whose WSC* functions are stubs, where it is a
/// [`StoreCatalog`](crate::StoreCatalog) over the registry; elsewhere a `StoreCatalog` over the
/// [`FileStore`](crate::FileStore) named by `WSP_CATALOG` (an error if unset).
pub fn system() -> Result<Box<dyn Backend>, CatalogError> {
    unimplemented!()
}

/// Expands `%VAR%` references from the environment as `ExpandEnvironmentStrings` does: names
/// are matched case-insensitively on Windows, an unknown variable or a lone `%` stays as written.
pub fn expand_env(path: &str) -> String {
    let _ = path;
    unimplemented!()
}
