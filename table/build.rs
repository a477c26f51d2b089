//! Declares the `loom` cfg (set by the loom model, tests/loom) to compilers that check cfgs
//! (provider DLLs are built with Rust 1.63, whose cargo does not know the declaration), and sets
//! `wsp_thread_pointer` on the targets whose thread pointer the hazard records are found by
//! (`src/hazard.rs`).

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
        println!("cargo:rustc-check-cfg=cfg(wsp_thread_pointer)");
    }
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let (arch, os) = (var("CARGO_CFG_TARGET_ARCH"), var("CARGO_CFG_TARGET_OS"));
    let thread_pointer = matches!(
        (arch.as_str(), os.as_str()),
        ("x86_64", "linux") | ("x86_64", "windows") | ("x86", "windows") | ("aarch64", "linux")
    );
    // Under loom the model's threads are not OS threads.
    if thread_pointer && std::env::var_os("CARGO_CFG_LOOM").is_none() {
        println!("cargo:rustc-cfg=wsp_thread_pointer");
    }
}
