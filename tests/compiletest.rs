//! Compile-time behaviour of `#[winsock_provider(...)]`: the forms that must build, and one
//! clear error for each mistake (`ui/fail/*.stderr`).
//!
//! The expected output is rustc's, so it is only exact for the compiler it was blessed with,
//! recorded in `ui/BLESSED_WITH` (and pinned by the repository's `rust-toolchain.toml`). To
//! re-bless after a deliberate change: `TRYBUILD=overwrite cargo test -p winsock-provider-tests
//! --test compiletest`, read every changed `.stderr`, and update `ui/BLESSED_WITH` with
//! `rustc --version > tests/ui/BLESSED_WITH` if the compiler changed.

use std::io::Write;
use std::process::Command;

#[test]
fn ui() {
    note_compiler_mismatch();
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}

/// Says so (on the terminal, past the test harness's capture) when the compiler differs from
/// the one the `.stderr` files were blessed with; the suite runs regardless.
fn note_compiler_mismatch() {
    let blessed_path = concat!(env!("CARGO_MANIFEST_DIR"), "/ui/BLESSED_WITH");
    let blessed = std::fs::read_to_string(blessed_path).unwrap_or_default();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let current = Command::new(&rustc)
        .arg("--version")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .unwrap_or_default();
    let (blessed, current) = (blessed.trim(), current.trim());
    if blessed != current {
        let _ = writeln!(
            std::io::stderr(),
            "\nnote: the UI suite was blessed with `{}` but `{} --version` is `{}`: rustc's \
             wording and spans differ between releases, so `.stderr` mismatches may be the \
             compiler's, not the macro's (the repository's rust-toolchain.toml pins the \
             blessed one)\n",
            if blessed.is_empty() {
                "(unknown)"
            } else {
                blessed
            },
            rustc,
            if current.is_empty() {
                "(no output)"
            } else {
                current
            },
        );
    }
}
