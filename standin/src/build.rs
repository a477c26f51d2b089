//! Building a provider crate's library from its own tests, to load it by path (as a DLL is
//! loaded) or install it in a catalog: `cargo test` builds only the rlib its tests link.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable naming a folder of prebuilt provider libraries that
/// [`build_library`] returns instead of building them.
pub const LIBRARY_DIR_ENV: &str = "WSP_LIBRARY_DIR";

/// Builds the shared library (`cdylib`) of package `package` in the crate or workspace at
/// `manifest_dir`, with the profile, target directory and target of the running test binary,
/// and returns its path (`lib<name>.so`, `<name>.dll`, ...). A no-op when it is up to date.
///
/// In a provider crate's tests, [`this_library!`](crate::this_library) calls it for that crate:
/// `let dll = ws2_standin::this_library!()?;`.
///
/// Where the tests cannot run cargo (a test binary built for Windows and run under Wine, or
/// copied to a Windows machine), set [`LIBRARY_DIR_ENV`] (`WSP_LIBRARY_DIR`) to a folder of
/// libraries built beforehand: the function then builds nothing and returns that folder's
/// library of `package` (`<name>.dll` on Windows), an error if it is not there.
/// `cargo wsp test --wine` sets it to the folder of the DLLs it built.
pub fn build_library(manifest_dir: impl AsRef<Path>, package: &str) -> Result<PathBuf, String> {
    let file = format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        package.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    );
    if let Some(dir) = std::env::var_os(LIBRARY_DIR_ENV).filter(|d| !d.is_empty()) {
        let path = PathBuf::from(dir).join(&file);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "{} is set but there is no {} (the library of {}, built beforehand)",
                LIBRARY_DIR_ENV,
                path.display(),
                package
            ))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {}", e))?;
    // target/<profile>/deps/<test>, or target/<triple>/<profile>/deps/<test>.
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("{} is not in a cargo target directory", exe.display()))?;
    let profile = profile_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = profile_dir
        .parent()
        .ok_or_else(|| format!("{} has no target directory", profile_dir.display()))?;
    let (target_dir, triple) = if parent.join("CACHEDIR.TAG").exists() {
        (parent.to_path_buf(), None)
    } else {
        let grand = parent
            .parent()
            .ok_or_else(|| format!("{} has no target directory", parent.display()))?;
        let triple = parent.file_name().map(|n| n.to_string_lossy().into_owned());
        (grand.to_path_buf(), triple)
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(manifest_dir.as_ref().join("Cargo.toml"))
        .args(["--lib", "-p", package])
        .arg("--target-dir")
        .arg(&target_dir)
        .arg("--profile")
        .arg(if profile == "debug" { "dev" } else { &profile });
    if let Some(triple) = &triple {
        cmd.arg("--target").arg(triple);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo: {}", e))?;
    if !out.status.success() {
        return Err(format!(
            "`{:?}` failed ({}):\n{}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let path = profile_dir.join(file);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "cargo built {} but there is no {} (is its crate-type \"cdylib\"?)",
            package,
            path.display()
        ))
    }
}

/// The shared library of the crate whose test calls it, built first if needed (see
/// [`build_library`]): `let dll = ws2_standin::this_library!()?;`.
#[macro_export]
macro_rules! this_library {
    () => {
        $crate::build_library(env!("CARGO_MANIFEST_DIR"), env!("CARGO_PKG_NAME"))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prebuilt_libraries_are_taken_from_the_folder_the_variable_names() {
        let dir = std::env::temp_dir().join(format!("wsp-prebuilt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let name = format!(
            "{}my_provider{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        );
        std::fs::write(dir.join(&name), b"").unwrap();
        std::env::set_var(LIBRARY_DIR_ENV, &dir);
        let found = build_library("/no/such/crate", "my-provider");
        let missing = build_library("/no/such/crate", "other-provider");
        std::env::remove_var(LIBRARY_DIR_ENV);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(found, Ok(dir.join(name)));
        let why = missing.unwrap_err();
        assert!(
            why.contains(LIBRARY_DIR_ENV) && why.contains("other"),
            "{}",
            why
        );
    }
}
