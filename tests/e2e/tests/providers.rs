//! Runs the `wsp-e2e` driver against the example providers built as shared libraries for the
//! host (`libloopback_provider.so` / `libpipe_provider.so` on Linux), the same way
//! `run-wine.sh` runs it against the DLLs under Wine.
//!
//! Cargo does not build other packages' cdylibs for this test, so it first runs
//! `cargo build -p loopback-provider -p pipe-provider` with the profile, target directory and
//! target of this test binary (a no-op when they are up to date).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Where the driver binary is, and so the profile directory cargo put everything in.
fn driver() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_wsp-e2e"))
}

fn profile_dir() -> PathBuf {
    driver()
        .parent()
        .expect("driver binary has a parent directory")
        .to_path_buf()
}

/// Builds the provider cdylibs once per test binary, returning the directory holding them.
fn providers_dir() -> PathBuf {
    static BUILT: Mutex<Option<Result<PathBuf, String>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built.is_none() {
        *built = Some(build_providers());
    }
    match built.as_ref().unwrap() {
        Ok(dir) => dir.clone(),
        Err(e) => panic!("{}", e),
    }
}

fn build_providers() -> Result<PathBuf, String> {
    let profile_dir = profile_dir();
    let profile = profile_dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let parent = profile_dir.parent().unwrap();
    // target/<profile>, or target/<triple>/<profile> when built with --target.
    let (target_dir, triple) = if parent.join("CACHEDIR.TAG").exists() {
        (parent.to_path_buf(), None)
    } else {
        let grand = parent.parent().unwrap();
        (
            grand.to_path_buf(),
            Some(parent.file_name().unwrap().to_string_lossy().into_owned()),
        )
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["-p", "loopback-provider", "-p", "pipe-provider"])
        .arg("--target-dir")
        .arg(&target_dir)
        .arg("--profile")
        .arg(if profile == "debug" {
            "dev"
        } else {
            profile.as_str()
        });
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
    Ok(profile_dir)
}

fn library(crate_name: &str) -> PathBuf {
    providers_dir().join(format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        crate_name,
        std::env::consts::DLL_SUFFIX
    ))
}

/// Runs `wsp-e2e <library> <suite>` and fails with the driver's FAIL lines if anything failed.
fn run(crate_name: &str, suite: &str) {
    let lib = library(crate_name);
    assert!(lib.exists(), "{} was not built", lib.display());
    let out = Command::new(driver())
        .arg(&lib)
        .arg(suite)
        .output()
        .expect("cannot run wsp-e2e");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{}", stdout);
    eprint!("{}", stderr);
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.ends_with(" failed") && l.contains(" passed, "));
    let fails: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert!(
        out.status.success() && summary.is_some() && fails.is_empty(),
        "wsp-e2e {} {} exited with {} ({}):\n{}",
        lib.display(),
        suite,
        out.status,
        summary.unwrap_or("no summary line"),
        if fails.is_empty() {
            stderr.to_string()
        } else {
            fails.join("\n")
        }
    );
}

#[test]
fn loopback_library() {
    run("loopback_provider", "loopback");
}

#[test]
fn pipe_library() {
    run("pipe_provider", "pipe");
}
