//! Declares the `loom` cfg (set by the loom model, tests/loom) to compilers that check cfgs
//! (provider DLLs are built with Rust 1.63, whose cargo does not know the declaration), and sets
//! `wsp_thread_pointer` on the targets where the hazard records are found by the thread pointer
//! (`src/hazard.rs`): Windows on x86-64 and x86.

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
    // Windows only: there `windows-gnu` reaches a thread-local through `TlsGetValue` calls, while
    // on Linux the thread-local costs about as much as the thread pointer's hash and checks (less
    // in an executable, where it is one `fs`-relative load).
    let thread_pointer = os == "windows" && matches!(arch.as_str(), "x86_64" | "x86");
    // Under loom the model's threads are not OS threads.
    if thread_pointer && std::env::var_os("CARGO_CFG_LOOM").is_none() {
        println!("cargo:rustc-cfg=wsp_thread_pointer");
    }
}
