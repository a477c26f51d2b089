//! Compiles the included table source against loom's primitives (its `sync` shim switches on
//! `cfg(loom)`), for this crate only.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-check-cfg=cfg(loom)");
    println!("cargo:rustc-check-cfg=cfg(wsp_windows_index)");
    println!("cargo:rustc-cfg=loom");
}
