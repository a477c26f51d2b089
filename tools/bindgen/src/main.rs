//! Regenerates the committed ws2spi bindings, or checks that they are current.
//!
//! `cargo run --manifest-path tools/bindgen/Cargo.toml` rewrites `runtime/src/sys/bindings.rs`
//! from `ws2spi.args`; with `-- --check` it regenerates into a temporary file and fails if the
//! committed file differs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const COMMITTED: &str = "../../runtime/src/sys/bindings.rs";

fn main() -> ExitCode {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let check = std::env::args().any(|a| a == "--check");
    let args_text = std::fs::read_to_string(here.join("ws2spi.args")).expect("read ws2spi.args");
    let mut args: Vec<String> = args_text.split_whitespace().map(str::to_owned).collect();
    let committed = here.join(COMMITTED);
    let out: PathBuf = if check {
        std::env::temp_dir().join(format!("ws2spi-bindings-{}.rs", std::process::id()))
    } else {
        committed.clone()
    };
    let pos = args
        .iter()
        .position(|a| a == "--out")
        .expect("--out in ws2spi.args")
        + 1;
    args[pos] = out.to_string_lossy().into_owned();
    windows_bindgen::bindgen(args).unwrap();
    if !check {
        println!("wrote {}", committed.display());
        return ExitCode::SUCCESS;
    }
    let fresh = std::fs::read_to_string(&out).expect("read regenerated bindings");
    let _ = std::fs::remove_file(&out);
    let old = std::fs::read_to_string(&committed).unwrap_or_default();
    if fresh == old {
        println!("bindings are current");
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "runtime/src/sys/bindings.rs differs from what windows-bindgen generates from \
             tools/bindgen/ws2spi.args.\nRegenerate it with:\n    \
             cargo run --manifest-path tools/bindgen/Cargo.toml\nand commit the result."
        );
        ExitCode::FAILURE
    }
}
