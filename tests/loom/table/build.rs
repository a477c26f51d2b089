//! Builds the table's source with `cfg(loom)`: its `sync.rs` then takes loom's atomics, mutex
//! and thread-locals, and its pages shrink (for this package only).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-check-cfg=cfg(loom)");
    println!("cargo:rustc-check-cfg=cfg(wsp_thread_pointer)");
    println!("cargo:rustc-cfg=loom");
}
