//! Declares the `loom` cfg (set by the loom model, tests/loom) to compilers that check cfgs.
//! Provider DLLs are built with Rust 1.63, whose cargo does not know the declaration.

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
        println!("cargo:rustc-check-cfg=cfg(loom)");
    }
}
