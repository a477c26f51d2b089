//! The runtime's handle table is compiled into this crate (`src/tables.rs`). Its slot index is
//! `h >> 2` on Windows, where handles are multiples of 4, and the value itself elsewhere (file
//! descriptors). The handles benchmarked here are Windows-shaped (`4, 8, ..., 4n`), so measure
//! the Windows rule.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-cfg=wsp_windows_index");
}
