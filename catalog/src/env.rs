//! Picking the system's catalog, Wine detection, `%VAR%` expansion.

use crate::backend::Backend;
use crate::error::CatalogError;

/// The environment variable naming the catalog file [`system`] uses off Windows.
pub const CATALOG_ENV: &str = "WSP_CATALOG";

/// Whether this process runs under Wine (ntdll exports `wine_get_version`); `false` off
/// Windows.
pub fn is_wine() -> bool {
    #[cfg(windows)]
    {
        let ntdll = crate::win::wide("ntdll.dll");
        // SAFETY: `ntdll` is a NUL-terminated UTF-16 string that outlives the call.
        let module = unsafe { crate::win::GetModuleHandleW(ntdll.as_ptr()) };
        if module.is_null() {
            return false;
        }
        // SAFETY: `module` is ntdll's handle (ntdll is never unloaded); the name is
        // NUL-terminated.
        let f = unsafe { crate::win::GetProcAddress(module, b"wine_get_version\0".as_ptr()) };
        !f.is_null()
    }
    #[cfg(not(windows))]
    {
        false
    }
}

/// The system's catalog: on Windows the real WSC* functions (`Wsc`), except
/// under Wine, whose WSC* functions are stubs that succeed without doing anything, where it is
/// a [`StoreCatalog`](crate::StoreCatalog) over the registry (on real Windows the registry is
/// never written directly); elsewhere a `StoreCatalog` over the
/// [`FileStore`](crate::FileStore) named by `WSP_CATALOG` (an error if unset).
pub fn system() -> Result<Box<dyn Backend>, CatalogError> {
    #[cfg(windows)]
    {
        if is_wine() {
            Ok(Box::new(crate::StoreCatalog::new(
                crate::RegistryStore::new(),
            )))
        } else {
            Ok(Box::new(crate::Wsc::new()))
        }
    }
    #[cfg(not(windows))]
    {
        match std::env::var_os(CATALOG_ENV) {
            Some(p) if !p.is_empty() => Ok(Box::new(crate::StoreCatalog::new(
                crate::FileStore::open(p),
            ))),
            _ => Err(CatalogError::no_recovery(format!(
                "there is no system Winsock catalog on this OS: set {} to a catalog file (create one with `wsp-catalog --file PATH init`)",
                CATALOG_ENV
            ))),
        }
    }
}

/// Expands `%VAR%` references from the environment as `ExpandEnvironmentStrings` does: a
/// defined variable is replaced by its value (names match case-insensitively on Windows, as
/// the environment does there), an undefined one or a lone `%` stays as written.
pub fn expand_env(path: &str) -> String {
    expand_with(path, |name| {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    })
}

/// [`expand_env`] with `lookup` as the environment.
pub(crate) fn expand_with(path: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(start) = rest.find('%') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('%') {
            Some(end) => {
                let name = &after[..end];
                match (!name.is_empty()).then(|| lookup(name)).flatten() {
                    Some(v) => {
                        out.push_str(&v);
                        rest = &after[end + 1..];
                    }
                    None => {
                        // Copy "%NAME" and rescan from the closing '%', which may open the next
                        // reference.
                        out.push('%');
                        out.push_str(name);
                        rest = &after[end..];
                    }
                }
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::expand_with;

    fn env(name: &str) -> Option<String> {
        match name {
            "SystemRoot" => Some("C:\\Windows".to_owned()),
            "A" => Some("x".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn expands_known_variables_and_keeps_the_rest() {
        assert_eq!(
            expand_with("%SystemRoot%\\System32\\x.dll", env),
            "C:\\Windows\\System32\\x.dll"
        );
        assert_eq!(expand_with("%A%%A%", env), "xx");
        assert_eq!(expand_with("%NOPE%\\y", env), "%NOPE%\\y");
        assert_eq!(expand_with("50%", env), "50%");
        assert_eq!(expand_with("%NOPE%A%", env), "%NOPEx");
        assert_eq!(expand_with("%%", env), "%%");
        assert_eq!(expand_with("plain", env), "plain");
    }
}
