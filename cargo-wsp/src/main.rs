//! `cargo wsp`: the path of a Winsock provider author, outside the toolkit's repository.
//!
//! * `cargo wsp new NAME [--stream | --ifs | --layered] [--family N --sockaddr MIN..MAX]
//!   [--toolkit PATH]` writes a provider crate from the toolkit's templates (one per kind:
//!   datagrams, streams, IFS streams, a layer) that builds and passes its tests at once;
//! * `cargo wsp build --windows [--release]` builds the crate's provider DLL with the Windows
//!   toolchain (Debian's Rust 1.63), strips it and checks its exports;
//! * `cargo wsp test --wine [--release]` runs the crate's own tests and the toolkit's
//!   conformance scenarios against the DLL under Wine.
//!
//! See docs/author-guide.md.

mod json;
mod new;
mod windows;

use std::io::Write;
use std::path::PathBuf;
use std::process::exit;

/// The toolkit checkout this binary was built from (holds `runtime/`, `standin/`, `templates/`).
pub fn default_toolkit() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

const USAGE: &str = "\
usage: cargo wsp new NAME [--stream | --ifs] [--family N --sockaddr MIN..MAX] [--toolkit PATH]
       cargo wsp new NAME --layered [--toolkit PATH]
       cargo wsp build --windows [--release]
       cargo wsp test --wine [--release]

  new     writes a provider crate in ./NAME from the toolkit's templates (a fresh GUID,
          path dependencies on the toolkit, tests through the ws2_32 stand-in), one per kind:
          (default) non-IFS datagrams between the sockets of one process (templates/provider)
            --stream               non-IFS streams: listen/accept/connect, byte streams
                                   (templates/provider-stream)
            --ifs                  IFS streams: every socket is an OS handle (a named pipe
                                   on Windows, a Unix socket elsewhere) that ReadFile/WriteFile
                                   (read/write) work on (templates/provider-ifs)
            --layered              a layer over the AF_INET TCP entries of the provider
                                   installed under it, counting bytes; its tests run it over
                                   the toolkit's stream template through a catalog file;
                                   alone (templates/provider-layered)
            --family N             a provider for address family N (not AF_INET/AF_INET6),
            --sockaddr MIN..MAX    whose addresses are MIN to MAX bytes long (SockAddr::Raw)
            --toolkit PATH         the winsock-provider checkout to depend on
                                   (default: the one cargo-wsp was built from)
  build   (in a provider crate) builds its Windows DLL with Debian's rustc 1.63, strips it,
          checks its exports and prints its path
  test    (in a provider crate) builds the DLL and the crate's tests for Windows, runs the
          tests under Wine, then the toolkit's conformance scenarios against the DLL; for a
          layer, also builds its base provider's DLL, installs the base then the layer in
          the Wine prefix's catalog (regsvr32) for the tests and the scenarios, which go
          through the layer's chain entries, and removes both after (regsvr32 /u)

See docs/author-guide.md in the toolkit.";

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo wsp ...` runs `cargo-wsp wsp ...`.
    if args.first().map(String::as_str) == Some("wsp") {
        args.remove(0);
    }
    let result = match args.first().map(String::as_str) {
        Some("new") if args[1..].iter().any(|a| a == "--help" || a == "-h") => {
            let _ = writeln!(std::io::stdout(), "{}", USAGE);
            return;
        }
        Some("new") => new::run(&args[1..]),
        Some("build") => windows::build_command(&args[1..]),
        Some("test") => windows::test_command(&args[1..]),
        Some("-h") | Some("--help") | Some("help") => {
            // A closed pipe (`cargo wsp --help | head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{}", USAGE);
            return;
        }
        _ => {
            eprintln!("{}", USAGE);
            exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("cargo wsp: error: {}", e);
        exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::{default_toolkit, USAGE};

    #[test]
    fn usage_lists_every_template() {
        let templates = default_toolkit().join("templates");
        for entry in std::fs::read_dir(&templates).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                USAGE.contains(&format!("(templates/{})", name)),
                "templates/{} is not in the usage text",
                name
            );
        }
        for option in ["--stream", "--ifs", "--layered", "--family", "--sockaddr"] {
            assert!(USAGE.contains(option), "{}", option);
        }
    }
}
