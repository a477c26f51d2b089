//! Runs the outside benchmark's driver briefly against the provider libraries this workspace
//! builds (`outside-minimal`, `outside-ideal`, `outside-global-lock`, and the layer
//! `outside-minimal-layer` over `outside-minimal`), as `bench/outside/run.sh` does at full
//! length: every provider loads, every measured call returns what the driver expects on every
//! socket, and the report has a row per call and thread count.
//!
//! Cargo does not build other packages' cdylibs for this test, so it first runs
//! `cargo build -p outside-minimal -p outside-ideal -p outside-global-lock -p
//! outside-minimal-layer` with this test's profile and target directory (a no-op when they are
//! up to date).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn driver() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_wsp-outside"))
}

/// Builds the provider cdylibs, returning the directory holding them.
fn providers_dir() -> PathBuf {
    let profile_dir = driver()
        .parent()
        .expect("driver binary has a parent directory")
        .to_path_buf();
    let profile = profile_dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let target_dir = profile_dir.parent().unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args([
            "-p",
            "outside-minimal",
            "-p",
            "outside-ideal",
            "-p",
            "outside-global-lock",
            "-p",
            "outside-minimal-layer",
        ])
        .arg("--target-dir")
        .arg(target_dir)
        .arg("--profile")
        .arg(if profile == "debug" {
            "dev"
        } else {
            profile.as_str()
        });
    let out = cmd.output().expect("cannot run cargo");
    assert!(
        out.status.success(),
        "`{:?}` failed ({}):\n{}",
        cmd,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    profile_dir
}

fn library(dir: &Path, crate_name: &str) -> String {
    dir.join(format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        crate_name,
        std::env::consts::DLL_SUFFIX
    ))
    .display()
    .to_string()
}

fn run(args: &[String]) -> Output {
    Command::new(driver())
        .args(args)
        .env("WSP_OUTSIDE_CALLS", "2000")
        .env("WSP_OUTSIDE_ROUNDS", "3")
        .env("WSP_OUTSIDE_THREADS", "1,2")
        .env("WSP_OUTSIDE_SOCKETS", "64")
        .output()
        .expect("cannot run wsp-outside")
}

/// Runs the driver, which must succeed; its standard output and error.
fn run_ok(args: &[String]) -> (String, String) {
    let out = run(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "wsp-outside exited with {}:\n{}{}",
        out.status,
        stdout,
        stderr
    );
    (stdout, stderr)
}

#[test]
fn measures_every_call_of_every_provider() {
    let dir = providers_dir();
    // `ideal` last: its table must take the handle values of a third session, as the
    // stand-in gives each session a range of its own.
    let args: Vec<String> = [
        ("minimal", "outside_minimal"),
        ("global-lock", "outside_global_lock"),
        ("ideal", "outside_ideal"),
    ]
    .iter()
    .map(|(label, name)| format!("{}={}", label, library(&dir, name)))
    .collect();
    let (stdout, _) = run_ok(&args);
    for call in [
        "`WSPRecv`",
        "`WSPSend`",
        "`WSPGetSockOpt(SO_TYPE)`",
        "`WSPIoctl(FIONREAD)`",
    ] {
        for threads in [1, 2] {
            let prefix = format!("| {}", call);
            let row = stdout.lines().find(|l| {
                l.starts_with(&prefix)
                    && l.split('|').nth(2).map(str::trim) == Some(&threads.to_string())
            });
            let row = row.unwrap_or_else(|| {
                panic!("no row for {} at {} threads:\n{}", call, threads, stdout)
            });
            // Three providers' times and four ratios, all numbers.
            let cells: Vec<&str> = row
                .split('|')
                .skip(3)
                .filter(|c| !c.trim().is_empty())
                .collect();
            assert_eq!(cells.len(), 5, "{}", row);
        }
    }
    assert!(
        stdout.contains("Targets (issue 10) for `minimal`"),
        "{}",
        stdout
    );

    let counted = run(&[
        "--count".into(),
        "recv".into(),
        "1000".into(),
        args[0].clone(),
    ]);
    assert!(
        counted.status.success(),
        "{}",
        String::from_utf8_lossy(&counted.stderr)
    );
}

#[test]
fn measures_a_layer_over_its_base() {
    let dir = providers_dir();
    let base = library(&dir, "outside_minimal");
    let through = format!(
        "minimal-layer={}@{}",
        library(&dir, "outside_minimal_layer"),
        base
    );
    let (stdout, stderr) = run_ok(&[format!("minimal={}", base), through.clone()]);
    let layers = stdout
        .split("Layers: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no table of layers:\n{}", stdout));
    for call in [
        "`WSPRecv`",
        "`WSPSend`",
        "`WSPGetSockOpt(SO_TYPE)`",
        "`WSPIoctl(FIONREAD)`",
    ] {
        for threads in ["1", "2"] {
            let row = layers
                .lines()
                .find(|l| {
                    let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                    l.starts_with(&format!("| {}", call)) && cells.get(2) == Some(&threads)
                })
                .unwrap_or_else(|| panic!("no layer row for {} at {}:\n{}", call, threads, stdout));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            assert_eq!(&cells[3..5], ["minimal-layer", "minimal"], "{}", row);
            for number in &cells[5..9] {
                assert!(number.parse::<f64>().is_ok(), "{}", row);
            }
        }
    }
    // The layer's sessions are closed before the base's, with nothing left open (the
    // stand-in's clean-up checks would fail the run otherwise).
    assert!(!stderr.contains("closesocket"), "{}", stderr);

    let counted = run(&["--count".into(), "send".into(), "1000".into(), through]);
    assert!(
        counted.status.success(),
        "{}",
        String::from_utf8_lossy(&counted.stderr)
    );
}

#[test]
fn a_library_that_is_not_a_provider_is_refused() {
    let out = run(&[format!("bogus={}", driver().display())]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"));
}
