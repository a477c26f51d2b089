//! `cargo wsp build --windows` and `cargo wsp test --wine`.
//!
//! The only Windows toolchain on a Debian machine is Debian's own: rustc 1.63 with the
//! `x86_64-pc-windows-gnu` standard library and cargo 1.65, which reads only version-3
//! lockfiles and cannot reach the registry. So: resolve with the modern cargo under the
//! `fallback` rule (the crate declares `rust-version = "1.63"`, so the lockfile is version 3
//! and every dependency builds with 1.63), vendor (cached per lockfile under `target/wsp/`),
//! then build offline with Debian's cargo and `RUSTC=/usr/bin/rustc`, in a target directory
//! of its own (`target/wsp/target`, or `$CARGO_WSP_TARGET_DIR` to share one between crates).

use crate::json::Json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The Windows target.
const TRIPLE: &str = "x86_64-pc-windows-gnu";
/// Debian's packages that make up the toolchain and Wine.
const PACKAGES: &[&str] = &[
    "rustc",
    "cargo",
    "libstd-rust-dev-windows",
    "gcc-mingw-w64-x86-64",
    "binutils-mingw-w64-x86-64",
    "wine64",
    "wine",
];
/// The exports every provider DLL must have, under these exact names.
const EXPORTS: &[&str] = &[
    "WSPStartup",
    "WspEnumProviderProtocols",
    "WspSetHostHooks",
    "DllRegisterServer",
    "DllUnregisterServer",
];
/// The oldest Rust the DLL is built with.
const WINDOWS_RUST_MINOR: u64 = 63;

/// The provider crate `cargo wsp` runs in.
struct Crate {
    /// The folder holding its `Cargo.toml`.
    dir: PathBuf,
    /// Its workspace's root (the crate's own folder for a crate made by `cargo wsp new`):
    /// where `Cargo.lock` and `target/` are.
    root: PathBuf,
    /// The package name.
    name: String,
    /// The library target's name (the DLL is `<lib>.dll`).
    lib: String,
    /// `[package.metadata.wsp] address`: one address pattern or several.
    addresses: Vec<String>,
    /// `[package.metadata.wsp] base`: the folder of the base provider a layer's tests install
    /// under it (set for layers only).
    base: Option<PathBuf>,
    /// The toolkit the crate depends on (the folder of its `winsock-provider` dependency's
    /// parent), where the conformance driver's source is.
    toolkit: Option<PathBuf>,
}

impl Crate {
    /// `target/wsp` of the crate's workspace: everything `cargo wsp` makes.
    fn wsp(&self) -> PathBuf {
        self.root.join("target/wsp")
    }

    /// Where the vendored sources and the Wine prefix are: beside a shared Windows build
    /// folder (`$CARGO_WSP_TARGET_DIR/wsp`), so that crates with the same dependencies share
    /// them too (a build reuses artifacts only for sources at the same path), else `wsp()`.
    fn cache(&self) -> PathBuf {
        match std::env::var_os("CARGO_WSP_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("wsp"),
            _ => self.wsp(),
        }
    }
}

/// Options shared by `build` and `test`.
struct Options {
    release: bool,
}

fn options(args: &[String], required: &str) -> Result<Options, String> {
    let mut release = false;
    let mut seen = false;
    for a in args {
        match a.as_str() {
            "--release" => release = true,
            s if s == required => seen = true,
            s => return Err(format!("unknown argument {}", s)),
        }
    }
    if !seen {
        return Err(format!(
            "this command needs {} (cargo wsp builds for one target: Windows, x86_64)",
            required
        ));
    }
    Ok(Options { release })
}

/// `cargo wsp build --windows [--release]`.
pub fn build_command(args: &[String]) -> Result<(), String> {
    let opts = options(args, "--windows")?;
    let krate = find_crate()?;
    toolchain()?;
    // The conformance driver is resolved and vendored with the crate even here, so that
    // `build` and `test` share one vendored tree (and one set of build artifacts).
    let driver = driver_crate(&krate).ok();
    let extra: Vec<&Path> = driver.iter().map(PathBuf::as_path).collect();
    let home = prepare(&krate, &extra)?;
    let dll = build_dll(&krate, &home, &opts, &dll_dir(&krate, &opts), &[])?;
    println!("{}", dll.display());
    Ok(())
}

/// `cargo wsp test --wine [--release]`.
///
/// For a layer (`[package.metadata.wsp] base`), the base provider is built too (a standalone
/// copy, [`base_crate`]), both DLLs are installed in the prefix's catalog (`regsvr32` of the
/// base, then of the layer) for the tests and the conformance scenarios, which then run
/// through the layer's chain entries, and removed after (`regsvr32 /u`).
pub fn test_command(args: &[String]) -> Result<(), String> {
    let opts = options(args, "--wine")?;
    let krate = find_crate()?;
    toolchain()?;
    let driver = driver_crate(&krate)?;
    let base = match &krate.base {
        Some(dir) => Some(base_crate(&krate, dir)?),
        None => None,
    };
    let mut extra = vec![driver.as_path()];
    extra.extend(base.iter().map(|b| b.dir.as_path()));
    let home = prepare(&krate, &extra)?;
    let dlls = dll_dir(&krate, &opts);
    let dll = build_dll(&krate, &home, &opts, &dlls, &[])?;
    let base_dll = match &base {
        Some(b) => Some(build_dll(b, &home, &opts, &dlls, &[])?),
        None => None,
    };
    let tests = build_tests(&krate, &home, &opts)?;
    let exe = build_driver(&krate, &driver, &home, &opts)?;
    let prefix = wine_prefix(&krate)?;
    if let Some(b) = &base_dll {
        install_layer(&prefix, b, &dll)?;
    }
    let mut failed = Vec::new();
    for t in &tests {
        step(&format!("wine {}", t.display()));
        let mut cmd = wine_command(&prefix);
        cmd.arg(t)
            .current_dir(&krate.dir)
            .env(LIBRARY_DIR_ENV, windows_path(&dlls));
        if !cmd.status().map_err(|e| format!("wine: {}", e))?.success() {
            failed.push(format!("test binary {}", file_name(t)));
        }
    }
    let mut args = match &base_dll {
        // Through the catalog: `socket()` finds the layer's chain over each base entry.
        Some(b) => vec![
            "--catalog".to_owned(),
            "conformance".to_owned(),
            "--entries".to_owned(),
            windows_path(b),
        ],
        None => vec![dll.display().to_string(), "conformance".to_owned()],
    };
    let addresses = base.as_ref().map_or(&krate.addresses, |b| &b.addresses);
    for a in addresses {
        args.push("--address".to_owned());
        args.push(a.clone());
    }
    step(&format!(
        "wine wsp-e2e.exe {} (the toolkit's scenarios for the {}'s protocol entries)",
        args.join(" "),
        if base.is_some() {
            "layer over the base provider"
        } else {
            "DLL"
        }
    ));
    let log = krate.wsp().join("conformance.stderr");
    let stderr = std::fs::File::create(&log).map_err(|e| format!("{}: {}", log.display(), e))?;
    let mut cmd = wine_command(&prefix);
    cmd.arg(&exe)
        .args(&args)
        .current_dir(exe.parent().unwrap_or(&krate.dir))
        .stderr(stderr);
    let status = cmd.status().map_err(|e| format!("wine: {}", e))?;
    if !status.success() {
        failed.push(format!(
            "the conformance scenarios (timings and Wine's messages: {})",
            log.display()
        ));
    }
    if let Some(b) = &base_dll {
        failed.extend(uninstall_layer(&prefix, b, &dll));
    } else if let Err(why) = trace_check(&krate, &home, &opts, &exe, &prefix) {
        failed.push(why);
    }
    if failed.is_empty() {
        println!("cargo wsp: all tests and conformance scenarios passed under Wine");
        Ok(())
    } else {
        Err(format!("failed under Wine: {}", failed.join(", ")))
    }
}

/// The lines a DLL built with the runtime's `trace` feature writes under `WSP_TRACE=1` for
/// the `startup` suite: the start-up and the clean-up.
const TRACE_LINES: &[&str] = &["wsp: WSPStartup(", "wsp: WSPCleanup("];

/// Tracing under Wine: builds the DLL again with the runtime's `trace` feature (beside the
/// other, in `target/wsp/dll/<profile>-trace`), runs `wsp-e2e.exe <dll> startup` with
/// `WSP_TRACE=1` and `WINEDEBUG=+debugstr`, and checks that Wine's debug output (its stderr,
/// kept in `target/wsp/trace.stderr`) has the provider's trace lines.
fn trace_check(
    krate: &Crate,
    home: &Path,
    opts: &Options,
    exe: &Path,
    prefix: &Path,
) -> Result<(), String> {
    let dir = krate
        .wsp()
        .join("dll")
        .join(format!("{}-trace", profile(opts)));
    let copy = trace_copy(krate)?;
    let dll = build_dll(&copy, home, opts, &dir, &["winsock-provider/trace"])?;
    step(&format!(
        "WSP_TRACE=1 WINEDEBUG=+debugstr wine wsp-e2e.exe {} startup (the trace lines reach Wine's debug output)",
        dll.display()
    ));
    let log = krate.wsp().join("trace.stderr");
    let stderr = std::fs::File::create(&log).map_err(|e| format!("{}: {}", log.display(), e))?;
    let mut cmd = wine_command(prefix);
    cmd.env("WSP_TRACE", "1")
        .env("WINEDEBUG", "+debugstr")
        .arg(exe)
        .arg(windows_path(&dll))
        .arg("startup")
        .current_dir(exe.parent().unwrap_or(&krate.dir))
        .stdout(Stdio::null())
        .stderr(stderr);
    let status = cmd.status().map_err(|e| format!("wine: {}", e))?;
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let missing = missing_trace_lines(&output);
    if !status.success() || !missing.is_empty() {
        return Err(format!(
            "tracing under Wine: wsp-e2e.exe startup with the trace build {} ({}), and Wine's debug output has no line with {} (it is in {})",
            if status.success() { "passed" } else { "failed" },
            status,
            missing.join(", "),
            log.display()
        ));
    }
    let lines = output.lines().filter(|l| l.contains("wsp: ")).count();
    println!("    {} trace lines in Wine's debug output", lines);
    Ok(())
}

/// The crate as a standalone copy in `target/wsp/trace/<folder>` (as [`base_crate`] makes
/// one), where the build with the runtime's `trace` feature may add the `tracing` crate to a
/// lockfile: the crate's own lockfile does not hold it (features of a dependency are locked
/// only when asked for) and stays as it is.
fn trace_copy(krate: &Crate) -> Result<Crate, String> {
    let manifest = krate.dir.join("Cargo.toml");
    let text =
        std::fs::read_to_string(&manifest).map_err(|e| format!("{}: {}", manifest.display(), e))?;
    let copy = krate.wsp().join("trace").join(file_name(&krate.dir));
    copy_tree(&krate.dir, &copy)?;
    write_if_changed(
        &copy.join("Cargo.toml"),
        &standalone_manifest(&text, &krate.dir),
    )?;
    let lock = krate.root.join("Cargo.lock");
    if !copy.join("Cargo.lock").is_file() {
        std::fs::copy(&lock, copy.join("Cargo.lock"))
            .map_err(|e| format!("{}: {}", lock.display(), e))?;
    }
    let mut crate_ = read_crate(copy)?;
    crate_.root = krate.root.clone();
    Ok(crate_)
}

/// Which of [`TRACE_LINES`] Wine's debug output `output` lacks (Wine prints each
/// `OutputDebugStringA` call as `warn:debugstr:OutputDebugStringA "<text>"`).
fn missing_trace_lines(output: &str) -> Vec<&'static str> {
    TRACE_LINES
        .iter()
        .copied()
        .filter(|want| {
            !output
                .lines()
                .any(|l| l.contains("debugstr") && l.contains(want))
        })
        .collect()
}

/// The environment variable naming the folder of prebuilt provider libraries that
/// `ws2_standin::build_library` returns instead of running cargo (see its documentation).
const LIBRARY_DIR_ENV: &str = "WSP_LIBRARY_DIR";

/// `path` as a Windows program under Wine names it (drive `Z:` is the Unix root).
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// `wine regsvr32 /s [/u] <dll>` in the prefix, run in the DLL's folder; whether it
/// succeeded.
fn regsvr32(prefix: &Path, dll: &Path, install: bool) -> Result<bool, String> {
    let mut cmd = wine_command(prefix);
    cmd.arg("regsvr32").arg("/s");
    if !install {
        cmd.arg("/u");
    }
    cmd.arg(file_name(dll))
        .current_dir(dll.parent().unwrap_or(Path::new(".")))
        .stdout(Stdio::null());
    let status = cmd.status().map_err(|e| format!("wine regsvr32: {}", e))?;
    Ok(status.success())
}

/// Installs a layer's base provider, then the layer (which chains itself over the base's
/// entries), in the prefix's catalog, after removing what an interrupted run may have left.
fn install_layer(prefix: &Path, base: &Path, layer: &Path) -> Result<(), String> {
    step(&format!(
        "wine regsvr32 {} {} (the base provider, then the layer over it, in the prefix's catalog)",
        file_name(base),
        file_name(layer)
    ));
    for dll in [layer, base] {
        regsvr32(prefix, dll, false)?;
    }
    for dll in [base, layer] {
        if !regsvr32(prefix, dll, true)? {
            uninstall_layer(prefix, base, layer);
            return Err(format!(
                "wine regsvr32 {} failed: its DllRegisterServer could not install it in the Wine prefix's catalog ({})",
                file_name(dll),
                prefix.display()
            ));
        }
    }
    Ok(())
}

/// Removes the layer, then its base provider, from the prefix's catalog; what failed.
fn uninstall_layer(prefix: &Path, base: &Path, layer: &Path) -> Vec<String> {
    step(&format!(
        "wine regsvr32 /u {} {}",
        file_name(layer),
        file_name(base)
    ));
    let mut failed = Vec::new();
    for dll in [layer, base] {
        if !regsvr32(prefix, dll, false).unwrap_or(false) {
            failed.push(format!("wine regsvr32 /u {}", file_name(dll)));
        }
    }
    failed
}

fn step(text: &str) {
    println!("==> {}", text);
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The cargo that ran us (rustup's), which resolves and vendors.
fn modern_cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.env_remove("CARGO_TARGET_DIR");
    c
}

/// Debian's cargo, driving Debian's rustc, offline against the vendored sources in `home`.
fn debian_cargo(dir: &Path, home: &Path, target_dir: &Path) -> Command {
    let mut c = Command::new("/usr/bin/cargo");
    // Anything rustup or a surrounding cargo set must not reach it.
    for v in [
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTDOC",
        "CARGO",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_MANIFEST_DIR",
        "CARGO_BUILD_RUSTC",
        "CARGO_BUILD_RUSTC_WRAPPER",
        "RUSTUP_TOOLCHAIN",
        "CARGO_MAKEFLAGS",
    ] {
        c.env_remove(v);
    }
    c.current_dir(dir)
        .env("RUSTC", "/usr/bin/rustc")
        .env("CARGO_HOME", home)
        .env("CARGO_TARGET_DIR", target_dir)
        .env("CARGO_TERM_COLOR", "never");
    c
}

fn run(mut cmd: Command, what: &str) -> Result<String, String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{}: {}", what, e))?;
    if !out.status.success() {
        return Err(format!("{} failed ({})", what, out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn find_crate() -> Result<Crate, String> {
    read_crate(std::env::current_dir().map_err(|e| e.to_string())?)
}

/// The provider crate whose `Cargo.toml` is in `dir`.
fn read_crate(dir: PathBuf) -> Result<Crate, String> {
    if !dir.join("Cargo.toml").is_file() {
        return Err(format!(
            "no Cargo.toml in {}: run cargo wsp in the provider crate's folder",
            dir.display()
        ));
    }
    let mut cmd = modern_cargo();
    cmd.current_dir(&dir)
        .args(["metadata", "--format-version", "1", "--no-deps"]);
    let meta = Json::parse(&run(cmd, "cargo metadata")?)?;
    let manifest = dir.join("Cargo.toml");
    let package = meta
        .get("packages")
        .items()
        .iter()
        .find(|p| {
            p.get("manifest_path")
                .str()
                .is_some_and(|m| Path::new(m) == manifest)
        })
        .ok_or_else(|| format!("{} is not a package (a workspace root?); run cargo wsp in the provider crate's folder", manifest.display()))?;
    let name = package.get("name").str().unwrap_or_default().to_owned();
    let lib = package
        .get("targets")
        .items()
        .iter()
        .find(|t| {
            t.get("kind")
                .items()
                .iter()
                .any(|k| k.str() == Some("cdylib"))
        })
        .and_then(|t| t.get("name").str())
        .ok_or_else(|| {
            format!(
                "{} has no cdylib target: add `[lib] crate-type = [\"cdylib\", \"rlib\"]`",
                name
            )
        })?
        .replace('-', "_");
    if let Some(v) = package.get("rust_version").str() {
        if minor(v) > WINDOWS_RUST_MINOR {
            return Err(format!(
                "{} declares rust-version = \"{}\"; the Windows toolchain is Rust 1.{} (declare rust-version = \"1.63\")",
                name, v, WINDOWS_RUST_MINOR
            ));
        }
    } else {
        return Err(format!(
            "{} declares no rust-version: add rust-version = \"1.63\" under [package] (it makes the resolver pick dependencies that build with the Windows toolchain)",
            name
        ));
    }
    let wsp = package.get("metadata").get("wsp");
    let addresses = match wsp.get("address") {
        Json::Str(s) => vec![s.clone()],
        Json::Arr(a) => a
            .iter()
            .filter_map(|v| v.str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let toolkit = package
        .get("dependencies")
        .items()
        .iter()
        .find(|d| d.get("name").str() == Some("winsock-provider"))
        .and_then(|d| d.get("path").str())
        .and_then(|p| Path::new(p).parent().map(Path::to_path_buf));
    let base = wsp.get("base").get("path").str().map(|p| dir.join(p));
    let root = meta
        .get("workspace_root")
        .str()
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.clone());
    Ok(Crate {
        dir,
        root,
        name,
        lib,
        addresses,
        base,
        toolkit,
    })
}

fn minor(version: &str) -> u64 {
    version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| o.stdout == b"install ok installed")
}

/// Checks Debian's Windows toolchain and Wine; installs them with apt-get when root.
fn toolchain() -> Result<(), String> {
    step("toolchain");
    let missing: Vec<&str> = PACKAGES.iter().copied().filter(|p| !installed(p)).collect();
    if !missing.is_empty() {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if !root {
            return Err(format!(
                "missing Debian packages: {}; install them with `sudo apt-get install {}`",
                missing.join(" "),
                PACKAGES.join(" ")
            ));
        }
        step(&format!(
            "installing {} (apt-get; a few minutes on a fresh machine)",
            missing.join(" ")
        ));
        let mut update = Command::new("apt-get");
        update.args(["update", "-qq"]);
        run(update, "apt-get update")?;
        let mut install = Command::new("apt-get");
        install
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq"])
            .args(PACKAGES);
        run(install, "apt-get install")?;
    }
    if !Path::new("/usr/lib/rustlib").join(TRIPLE).is_dir() {
        return Err(format!(
            "Debian's rustc has no {} standard library (package libstd-rust-dev-windows)",
            TRIPLE
        ));
    }
    for tool in [
        "/usr/bin/rustc",
        "/usr/bin/cargo",
        "x86_64-w64-mingw32-strip",
        "x86_64-w64-mingw32-objdump",
        "wine",
        "timeout",
    ] {
        let ok = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !ok {
            return Err(format!(
                "{} not found after installing {}",
                tool,
                PACKAGES.join(" ")
            ));
        }
    }
    Ok(())
}

/// The conformance driver: a package under `target/wsp/driver` whose binary is the toolkit's
/// `wsp-e2e` (built from its source), depending on the same toolkit as the crate. It asks for
/// the runtime's `trace` feature, so that its lockfile, and so the vendored sources, hold the
/// `tracing` crate the trace check's build of the DLL needs.
fn driver_crate(krate: &Crate) -> Result<PathBuf, String> {
    let toolkit = krate.toolkit.clone().ok_or_else(|| {
        format!(
            "{} has no path dependency on winsock-provider: cargo wsp test needs the toolkit's source for its conformance driver",
            krate.name
        )
    })?;
    let main = toolkit.join("tests/e2e/src/main.rs");
    if !main.is_file() {
        return Err(format!(
            "{} not found (the toolkit's conformance driver)",
            main.display()
        ));
    }
    let dir = krate.wsp().join("driver");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {}", dir.display(), e))?;
    let slash = |p: &Path| p.display().to_string().replace('\\', "/");
    let manifest = format!(
        "# Generated by cargo wsp: the toolkit's conformance driver, built like the provider.\n\
         [package]\nname = \"wsp-conformance\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         rust-version = \"1.63\"\npublish = false\n\n\
         [[bin]]\nname = \"wsp-e2e\"\npath = \"{main}\"\n\n\
         [dependencies]\nwinsock-provider = {{ path = \"{tk}/runtime\", features = [\"trace\"] }}\n\
         ws2-standin = {{ path = \"{tk}/standin\" }}\n\n[workspace]\n",
        main = slash(&main),
        tk = slash(&toolkit)
    );
    write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
    Ok(dir)
}

/// A layer's base provider (`[package.metadata.wsp] base`, at `base`) as a standalone package
/// in the layer's `target/wsp/base/<folder>`: its files but `target/` and hidden ones copied
/// (a file only when it changed, so builds stay fresh), the path dependencies that leave its
/// folder made absolute, and a `[workspace]` of its own, so that Debian's cargo builds it
/// without reading the workspace around it (the toolkit's, for the templates).
fn base_crate(krate: &Crate, base: &Path) -> Result<Crate, String> {
    let manifest = base.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| {
        format!(
            "the base provider of {} ([package.metadata.wsp] base): {}: {}",
            krate.name,
            manifest.display(),
            e
        )
    })?;
    let folder = base
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "base".to_owned());
    let copy = krate.wsp().join("base").join(folder);
    copy_tree(base, &copy)?;
    write_if_changed(&copy.join("Cargo.toml"), &standalone_manifest(&text, base))?;
    let mut crate_ = read_crate(copy)?;
    // Built in the layer's Windows target folder, beside the layer, sharing its artifacts.
    crate_.root = krate.root.clone();
    Ok(crate_)
}

/// Copies the files of `from` into `to`, but `target/` and hidden files and folders, writing
/// only the files whose bytes differ.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {}", to.display(), e))?;
    let entries = std::fs::read_dir(from).map_err(|e| format!("{}: {}", from.display(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {}", from.display(), e))?;
        let name = entry.file_name();
        let skip = name.to_string_lossy().starts_with('.') || name == "target";
        let path = entry.path();
        if skip {
            continue;
        }
        if path.is_dir() {
            copy_tree(&path, &to.join(&name))?;
        } else {
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {}", path.display(), e))?;
            let dest = to.join(&name);
            if std::fs::read(&dest).ok().as_deref() != Some(&bytes[..]) {
                std::fs::write(&dest, &bytes).map_err(|e| format!("{}: {}", dest.display(), e))?;
            }
        }
    }
    Ok(())
}

/// `manifest` (a package's `Cargo.toml`, in folder `dir`) for a copy elsewhere: every
/// `path = "../..."` made absolute (paths inside the package stay as they are), and a
/// `[workspace]` table if it has none.
fn standalone_manifest(manifest: &str, dir: &Path) -> String {
    let mut out = String::with_capacity(manifest.len() + 64);
    let mut rest = manifest;
    while let Some(at) = rest.find("path = \"") {
        let start = at + "path = \"".len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find('"').unwrap_or(rest.len());
        let value = &rest[..end];
        if value == ".." || value.starts_with("../") || value.starts_with("..\\") {
            let absolute = dir.join(value);
            let absolute = absolute.canonicalize().unwrap_or(absolute);
            out.push_str(&absolute.display().to_string().replace('\\', "/"));
        } else {
            out.push_str(value);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    if !manifest.lines().any(|l| l.trim() == "[workspace]") {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("\n# Added by cargo wsp: a standalone copy of the layer's base provider.\n[workspace]\n");
    }
    out
}

fn write_if_changed(path: &Path, text: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).map_err(|e| format!("{}: {}", path.display(), e))?;
    }
    Ok(())
}

/// Resolves the crate and the standalone packages in `extra` (the conformance driver, a
/// layer's base provider) with the fallback rule, checks the lockfiles are version 3 with
/// nothing newer than Rust 1.63, and vendors them all into one tree; returns the `CARGO_HOME`
/// that points Debian's cargo at the vendored sources.
fn prepare(krate: &Crate, extra: &[&Path]) -> Result<PathBuf, String> {
    step("resolving dependencies (rust-version 1.63 fallback, lockfile v3)");
    let config = krate.dir.join(".cargo/config.toml");
    let fallback =
        std::fs::read_to_string(&config).is_ok_and(|c| c.contains("incompatible-rust-versions"));
    if !fallback {
        println!(
            "    note: {} has no `[resolver] incompatible-rust-versions = \"fallback\"`; resolving with it anyway",
            config.display()
        );
    }
    let mut dirs = vec![krate.root.clone()];
    for d in extra {
        // Start from the crate's lockfile so the others use the same versions.
        let lock = krate.root.join("Cargo.lock");
        if lock.is_file() && !d.join("Cargo.lock").is_file() {
            std::fs::copy(&lock, d.join("Cargo.lock")).map_err(|e| e.to_string())?;
        }
        dirs.push(d.to_path_buf());
    }
    let mut registry = std::collections::BTreeSet::new();
    for dir in &dirs {
        let mut cmd = modern_cargo();
        cmd.current_dir(dir)
            .env("CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS", "fallback")
            .args(["metadata", "--format-version", "1"]);
        let meta = Json::parse(&run(cmd, &format!("cargo metadata in {}", dir.display()))?)?;
        for p in meta.get("packages").items() {
            if let Some(v) = p.get("rust_version").str() {
                if minor(v) > WINDOWS_RUST_MINOR {
                    return Err(format!(
                        "{} {} needs Rust {} but the Windows toolchain is 1.{}: run `cargo update -p {}` (with the fallback resolver it picks an older version), or pin one in Cargo.toml",
                        p.get("name").str().unwrap_or("?"),
                        p.get("version").str().unwrap_or("?"),
                        v,
                        WINDOWS_RUST_MINOR,
                        p.get("name").str().unwrap_or("?")
                    ));
                }
            }
        }
        let lock = dir.join("Cargo.lock");
        let text =
            std::fs::read_to_string(&lock).map_err(|e| format!("{}: {}", lock.display(), e))?;
        if !text.lines().any(|l| l == "version = 3") {
            return Err(format!(
                "{} is not a version-3 lockfile (Debian's cargo 1.65 reads no other): does every package declare rust-version = \"1.63\"? Delete the lockfile and run again",
                lock.display()
            ));
        }
        registry.extend(registry_packages(&text));
    }
    let mut hash = Fnv::new();
    for p in &registry {
        hash.write(p.as_bytes());
    }
    let key = format!("{:016x}", hash.0);
    let cache = krate.cache();
    let vendor = cache.join("vendor").join(&key);
    let home = cache.join("cargo-home").join(&key);
    if home.join("config.toml").is_file() && vendor.is_dir() {
        step("vendored sources up to date (cached for these locked packages)");
        return Ok(home);
    }
    step(&format!("vendoring dependencies into {}", vendor.display()));
    let _ = std::fs::remove_dir_all(&vendor);
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    let mut cmd = modern_cargo();
    cmd.current_dir(&krate.root).args(["vendor", "--locked"]);
    for d in extra {
        cmd.arg("-s").arg(d.join("Cargo.toml"));
    }
    cmd.arg(&vendor);
    let out = cmd.output().map_err(|e| format!("cargo vendor: {}", e))?;
    if !out.status.success() {
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        return Err(format!("cargo vendor failed ({})", out.status));
    }
    let config = String::from_utf8_lossy(&out.stdout).into_owned();
    std::fs::write(home.join("config.toml"), config).map_err(|e| e.to_string())?;
    Ok(home)
}

/// The `[[package]]` entries of a lockfile that come from a registry (what `cargo vendor`
/// copies), as text: the vendored tree depends on these alone.
fn registry_packages(lockfile: &str) -> Vec<String> {
    lockfile
        .split("[[package]]")
        .skip(1)
        .filter(|block| block.lines().any(|l| l.starts_with("source = ")))
        .map(|block| block.trim().to_owned())
        .collect()
}

/// 64-bit FNV-1a, the vendor cache's key.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Where Debian's cargo builds: `$CARGO_WSP_TARGET_DIR` (several crates may share one: their
/// dependencies are then built once), else the crate's `target/wsp/target`.
fn windows_target_dir(krate: &Crate) -> PathBuf {
    match std::env::var_os("CARGO_WSP_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => krate.wsp().join("target"),
    }
}

fn profile(opts: &Options) -> &'static str {
    if opts.release {
        "release"
    } else {
        "debug"
    }
}

/// The JSON messages of a Debian cargo run (`--message-format=json`), failing with its
/// diagnostics rendered when the build fails.
fn cargo_json(mut cmd: Command, what: &str) -> Result<Vec<Json>, String> {
    let out = cmd
        .arg("--message-format=json")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{}: {}", what, e))?;
    let messages: Vec<Json> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| Json::parse(l).ok())
        .collect();
    for m in &messages {
        if m.get("reason").str() == Some("compiler-message") {
            if let Some(text) = m.get("message").get("rendered").str() {
                eprint!("{}", text);
            }
        }
    }
    if !out.status.success() {
        return Err(format!(
            "{} with Debian's cargo 1.65 / rustc 1.63 failed ({})",
            what, out.status
        ));
    }
    Ok(messages)
}

/// Where the stripped DLLs go: the crate's `target/wsp/dll/<profile>` (a layer's base
/// provider's DLL goes there too).
fn dll_dir(krate: &Crate, opts: &Options) -> PathBuf {
    krate.wsp().join("dll").join(profile(opts))
}

/// Builds, strips and checks the provider DLL, with the cargo `features` given (`pkg/feat`
/// for a dependency's; the lockfile may then gain what they add, from the vendored sources:
/// give a copy of the crate, see [`trace_copy`]); returns the stripped DLL's path, in
/// `out_dir`.
fn build_dll(
    krate: &Crate,
    home: &Path,
    opts: &Options,
    out_dir: &Path,
    features: &[&str],
) -> Result<PathBuf, String> {
    step(&format!(
        "building {} for {} with Debian's cargo 1.65 / rustc 1.63 ({}{}{})",
        krate.name,
        TRIPLE,
        profile(opts),
        if features.is_empty() {
            ""
        } else {
            ", features "
        },
        features.join(",")
    ));
    let start = Instant::now();
    let target_dir = windows_target_dir(krate);
    let mut cmd = debian_cargo(&krate.dir, home, &target_dir);
    cmd.args([
        "build",
        "--offline",
        "--lib",
        "--target",
        TRIPLE,
        "-p",
        &krate.name,
    ]);
    if features.is_empty() {
        cmd.arg("--locked");
    }
    if opts.release {
        cmd.arg("--release");
    }
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    let messages = cargo_json(cmd, "the Windows build")?;
    let dll = messages
        .iter()
        .filter(|m| m.get("reason").str() == Some("compiler-artifact"))
        .flat_map(|m| m.get("filenames").items().iter())
        .filter_map(|f| f.str())
        .find(|f| f.ends_with(&format!("{}.dll", krate.lib)))
        .map(PathBuf::from)
        .ok_or_else(|| format!("the build produced no {}.dll", krate.lib))?;
    println!("    built in {:.1} s", start.elapsed().as_secs_f64());

    std::fs::create_dir_all(out_dir).map_err(|e| e.to_string())?;
    let stripped = out_dir.join(format!("{}.dll", krate.lib));
    let mut strip = Command::new("x86_64-w64-mingw32-strip");
    strip.arg("-o").arg(&stripped).arg(&dll);
    run(strip, "x86_64-w64-mingw32-strip")?;
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    println!(
        "    stripped: {} KiB -> {} KiB",
        size(&dll) / 1024,
        size(&stripped) / 1024
    );

    let mut objdump = Command::new("x86_64-w64-mingw32-objdump");
    objdump.arg("-p").arg(&stripped);
    let dump = run(objdump, "x86_64-w64-mingw32-objdump -p")?;
    let table: Vec<&str> = dump
        .lines()
        .skip_while(|l| !l.starts_with("[Ordinal/Name Pointer] Table"))
        .take_while(|l| !l.trim().is_empty())
        .collect();
    let missing: Vec<&str> = EXPORTS
        .iter()
        .copied()
        .filter(|sym| !table.iter().any(|l| l.ends_with(&format!("] {}", sym))))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} does not export {} under the exact (undecorated) name; does the crate have #[winsock_provider] on its provider struct?",
            stripped.display(),
            missing.join(", ")
        ));
    }
    println!("    exports {}", EXPORTS.join(", "));
    Ok(stripped)
}

/// Builds the crate's tests for Windows; returns the test executables.
fn build_tests(krate: &Crate, home: &Path, opts: &Options) -> Result<Vec<PathBuf>, String> {
    step(&format!("building {}'s tests for {}", krate.name, TRIPLE));
    let target_dir = windows_target_dir(krate);
    let mut cmd = debian_cargo(&krate.dir, home, &target_dir);
    cmd.args([
        "test",
        "--no-run",
        "--offline",
        "--locked",
        "--target",
        TRIPLE,
        "-p",
        &krate.name,
    ]);
    if opts.release {
        cmd.arg("--release");
    }
    let messages = cargo_json(cmd, "building the tests for Windows")?;
    Ok(messages
        .iter()
        .filter(|m| m.get("reason").str() == Some("compiler-artifact"))
        .filter(|m| m.get("profile").get("test") == &Json::Bool(true))
        .filter_map(|m| m.get("executable").str().map(PathBuf::from))
        .collect())
}

/// Builds the conformance driver (`wsp-e2e.exe`).
fn build_driver(
    krate: &Crate,
    driver: &Path,
    home: &Path,
    opts: &Options,
) -> Result<PathBuf, String> {
    step("building the conformance driver (the toolkit's wsp-e2e) for Windows");
    let target_dir = windows_target_dir(krate);
    let mut cmd = debian_cargo(driver, home, &target_dir);
    cmd.args(["build", "--offline", "--locked", "--target", TRIPLE]);
    if opts.release {
        cmd.arg("--release");
    }
    let messages = cargo_json(cmd, "building the conformance driver")?;
    messages
        .iter()
        .filter_map(|m| m.get("executable").str())
        .find(|e| e.ends_with("wsp-e2e.exe"))
        .map(PathBuf::from)
        .ok_or_else(|| "the driver build produced no wsp-e2e.exe".to_owned())
}

/// The crate's Wine prefix (`target/wsp/wine`), created on first use.
fn wine_prefix(krate: &Crate) -> Result<PathBuf, String> {
    let prefix = krate.cache().join("wine");
    if !prefix.join("system.reg").is_file() {
        step(&format!("creating the Wine prefix {}", prefix.display()));
        let mut cmd = Command::new("wineboot");
        wine_env(&mut cmd, &prefix);
        let out = cmd
            .arg("-i")
            .output()
            .map_err(|e| format!("wineboot -i: {}", e))?;
        if !out.status.success() {
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
            return Err(format!(
                "wineboot -i failed ({}): Wine cannot start",
                out.status
            ));
        }
        let mut wait = Command::new("wineserver");
        wine_env(&mut wait, &prefix);
        let _ = wait.arg("-w").status();
    }
    Ok(prefix)
}

/// The environment of every Wine command. `RUST_BACKTRACE=0`: Wine's `dbghelp` crashes (a page
/// fault reading address 0) on the DWARF of a Rust binary, so symbolising a backtrace would turn
/// a failing test's panic into a crash that hides its message.
fn wine_env(cmd: &mut Command, prefix: &Path) {
    cmd.env("WINEPREFIX", prefix)
        .env("RUST_BACKTRACE", "0")
        .env("WINEDEBUG", "-all")
        .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY");
}

/// `wine`, stopped after `$CARGO_WSP_TIMEOUT` seconds (default 900) so that a hung test
/// cannot stall the run (coreutils' `timeout`; the status is then 124).
fn wine_command(prefix: &Path) -> Command {
    let limit = std::env::var("CARGO_WSP_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(900);
    let mut cmd = Command::new("timeout");
    cmd.args(["--kill-after=10", &limit.to_string(), "wine"]);
    wine_env(&mut cmd, prefix);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_need_the_platform_word() {
        assert!(options(&[], "--windows").is_err());
        assert!(options(&["--windows".into()], "--windows")
            .map(|o| !o.release)
            .unwrap());
        assert!(
            options(&["--wine".into(), "--release".into()], "--wine")
                .unwrap()
                .release
        );
        assert!(options(&["--wine".into(), "--x".into()], "--wine").is_err());
    }

    #[test]
    fn a_base_manifest_becomes_standalone() {
        let manifest = "[package]\nname = \"b\"\n\n[lib]\npath = \"src/lib.rs\"\n\n\
                        [dependencies]\nwinsock-provider = { path = \"../../runtime\", version = \"0.1.0\" }\n";
        let out = standalone_manifest(manifest, Path::new("/nowhere/tk/templates/base"));
        assert!(
            out.contains(
                "winsock-provider = { path = \"/nowhere/tk/templates/base/../../runtime\", version"
            ),
            "{}",
            out
        );
        assert!(out.contains("path = \"src/lib.rs\""), "{}", out);
        assert!(out.ends_with("[workspace]\n"), "{}", out);
        let again = standalone_manifest(&out, Path::new("/elsewhere"));
        assert_eq!(again.matches("[workspace]").count(), 1, "{}", again);
    }

    #[test]
    fn trace_lines_are_looked_for_in_wines_debug_output() {
        let seen = "0124:warn:debugstr:OutputDebugStringA \"wsp: WSPStartup(version=514) -> 0 in 3.0 us\\n\"\n\
                    0124:warn:debugstr:OutputDebugStringA \"wsp: WSPCleanup() -> 0 in 1.0 us\\n\"\n";
        assert!(missing_trace_lines(seen).is_empty());
        assert_eq!(
            missing_trace_lines("wsp: WSPStartup(version=514) -> 0\n"),
            TRACE_LINES.to_vec()
        );
        assert_eq!(
            missing_trace_lines(seen.lines().next().unwrap()),
            vec!["wsp: WSPCleanup("]
        );
    }

    #[test]
    fn wine_paths_are_on_drive_z() {
        assert_eq!(windows_path(Path::new("/tmp/a/b.dll")), "Z:\\tmp\\a\\b.dll");
    }

    #[test]
    fn rust_versions_compare_by_minor() {
        assert_eq!(minor("1.63"), 63);
        assert_eq!(minor("1.71.1"), 71);
    }

    #[test]
    fn vendor_key_ignores_path_packages() {
        let lock = "version = 3\n\n[[package]]\nname = \"mine\"\nversion = \"0.1.0\"\n\n\
                    [[package]]\nname = \"syn\"\nversion = \"2.0.106\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        let found = registry_packages(lock);
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("syn"));
    }

    #[test]
    fn lockfile_hash_depends_on_the_bytes() {
        let (mut a, mut b) = (Fnv::new(), Fnv::new());
        a.write(b"version = 3");
        b.write(b"version = 4");
        assert_ne!(a.0, b.0);
    }
}
