//! Detects compiler features the runtime uses when present but must not require: provider DLLs
//! are built with Rust 1.63 (Debian's Windows cross toolchain), tests with current stable.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()));
    // Declaring the cfg is understood from Rust 1.80 on; older cargo warns about the line.
    if minor.map_or(false, |m| m >= 80) {
        println!("cargo:rustc-check-cfg=cfg(wsp_diagnostic_namespace)");
    }
    // `#[diagnostic::on_unimplemented]` (Rust 1.78) lets trait-bound failures say what to write.
    if minor.map_or(false, |m| m >= 78) {
        println!("cargo:rustc-cfg=wsp_diagnostic_namespace");
    }
}
