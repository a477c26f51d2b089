//! The `wsp-catalog` binary against catalog files and the built loopback provider.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use winsock_catalog::{Arch, Backend, FileStore, Store, StoreCatalog, Value};

const LOOPBACK_GUID: &str = "{6b3c4f0e-2a57-4d61-9e1f-8c0d7a5b3e21}";

fn tool() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_wsp-catalog"))
}

/// `libloopback_provider.so`, built with the same cargo, profile and target dir as this test.
fn loopback() -> PathBuf {
    example_library("loopback-provider")
}

/// `libpipe_provider.so` (an IFS provider), built like [`loopback`].
fn pipe() -> PathBuf {
    example_library("pipe-provider")
}

fn example_library(package: &'static str) -> PathBuf {
    type Built = Vec<(&'static str, Result<PathBuf, String>)>;
    static BUILT: Mutex<Built> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|(p, _)| *p == package) {
        let result = build_example(package);
        built.push((package, result));
    }
    match &built.iter().find(|(p, _)| *p == package).unwrap().1 {
        Ok(p) => p.clone(),
        Err(e) => panic!("{}", e),
    }
}

fn build_example(package: &str) -> Result<PathBuf, String> {
    let profile_dir = tool().parent().unwrap().to_path_buf();
    let profile = profile_dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let parent = profile_dir.parent().unwrap();
    let (target_dir, triple) = if parent.join("CACHEDIR.TAG").exists() {
        (parent.to_path_buf(), None)
    } else {
        (
            parent.parent().unwrap().to_path_buf(),
            Some(parent.file_name().unwrap().to_string_lossy().into_owned()),
        )
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["-p", package])
        .arg("--target-dir")
        .arg(&target_dir)
        .arg("--profile")
        .arg(if profile == "debug" {
            "dev"
        } else {
            profile.as_str()
        });
    if let Some(t) = &triple {
        cmd.arg("--target").arg(t);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo: {}", e))?;
    if !out.status.success() {
        return Err(format!(
            "{:?} failed: {}",
            cmd,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let lib = profile_dir.join(format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        package.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    ));
    if lib.exists() {
        Ok(lib)
    } else {
        Err(format!("{} was not built", lib.display()))
    }
}

/// The file of the C library this process uses: a real shared library without `WSPStartup`.
fn libc_path() -> PathBuf {
    // SAFETY: Dl_info is plain data (pointers and integers); all zeros is a valid value.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: `malloc` is a function of the loaded C library; `info` is a valid out pointer.
    let ok = unsafe { libc::dladdr(libc::malloc as *const libc::c_void, &mut info) };
    assert!(ok != 0 && !info.dli_fname.is_null(), "dladdr failed");
    // SAFETY: dladdr filled dli_fname with a NUL-terminated path.
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    PathBuf::from(name.to_string_lossy().into_owned())
}

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "wsp-catalog-cli-{}-{}-{}",
            tag,
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
    fn file(&self, n: &str) -> PathBuf {
        self.0.join(n)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(file: &Path, args: &[&str]) -> Output {
    Command::new(tool())
        .arg("--file")
        .arg(file)
        .args(args)
        .env_remove("WSP_CATALOG")
        .output()
        .unwrap()
}

fn ok(file: &Path, args: &[&str]) -> String {
    let out = run(file, args);
    assert!(
        out.status.success(),
        "wsp-catalog {:?} failed: {}{}",
        args,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must fail with `status`, saying `needle`, leaving `file` unchanged.
fn fails(file: &Path, args: &[&str], status: i32, needle: &str) {
    let before = std::fs::read(file).ok();
    let out = run(file, args);
    let err =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(status), "{:?}: {}", args, err);
    assert!(
        err.contains(needle),
        "{:?}: '{}' should mention '{}'",
        args,
        err,
        needle
    );
    assert_eq!(
        std::fs::read(file).ok(),
        before,
        "{:?} changed the catalog",
        args
    );
}

fn init(dir: &Dir) -> PathBuf {
    let f = dir.file("catalog.reg");
    ok(&f, &["init"]);
    f
}

#[test]
fn install_list_verify_remove_restore_round_trip() {
    let dir = Dir::new("flow");
    let f = init(&dir);
    let backup = dir.file("backup.reg");
    let lib = loopback();
    let lib = lib.to_str().unwrap();
    ok(&f, &["backup", backup.to_str().unwrap()]);
    let original = std::fs::read(&f).unwrap();
    assert_eq!(std::fs::read(&backup).unwrap(), original);

    let out = ok(&f, &["install", lib]);
    assert!(out.contains(LOOPBACK_GUID), "{}", out);
    for arch in ["64", "32"] {
        let list = ok(&f, &["list", "--arch", arch]);
        assert!(list.contains("Loopback TCP"), "{}", list);
        assert!(list.contains("Loopback UDP"), "{}", list);
        assert!(list.contains(LOOPBACK_GUID), "{}", list);
        assert!(list.contains(lib), "{}", list);
        assert!(
            list.contains("Catalog Entry ID:                   1001"),
            "{}",
            list
        );
        assert!(list.contains(": 2 entries"), "{}", list);
    }
    let verify = ok(&f, &["verify"]);
    assert!(verify.contains("catalog OK: 4 entries"), "{}", verify);

    // Restoring through install/remove operations (what Windows gets) empties it again...
    ok(
        &f,
        &["restore", "--by-operations", backup.to_str().unwrap()],
    );
    assert!(ok(&f, &["list"]).contains(": 0 entries"));
    // ... and brings a removed provider back.
    let with = dir.file("with.reg");
    ok(&f, &["install", lib]);
    ok(&f, &["backup", with.to_str().unwrap()]);
    ok(&f, &["remove", LOOPBACK_GUID]);
    assert!(ok(&f, &["list"]).contains(": 0 entries"));
    ok(&f, &["restore", "--by-operations", with.to_str().unwrap()]);
    let list = ok(&f, &["list", "--arch", "32"]);
    assert!(
        list.contains("Loopback UDP") && list.contains(": 2 entries"),
        "{}",
        list
    );
    ok(&f, &["remove", LOOPBACK_GUID]);
    assert!(ok(&f, &["list"]).contains(": 0 entries"));
    ok(&f, &["restore", backup.to_str().unwrap()]);
    assert_eq!(std::fs::read(&f).unwrap(), original);
}

#[test]
fn names_guids_arches_positions_and_order() {
    let dir = Dir::new("options");
    let f = init(&dir);
    let lib = loopback();
    let lib = lib.to_str().unwrap();
    ok(&f, &["install", lib, "--arch", "32", "--name", "Mine"]);
    let g2 = "{00000000-1111-2222-3333-444444444444}";
    ok(
        &f,
        &[
            "install",
            lib,
            "--guid",
            g2,
            "--position",
            "0",
            "--path",
            "%SystemRoot%\\lb.dll",
        ],
    );
    let cat = StoreCatalog::new(FileStore::open(&f));
    let x86 = cat.enum_protocols(Arch::X86).unwrap();
    let names: Vec<String> = x86.iter().map(|e| e.info.name()).collect();
    assert_eq!(
        names,
        vec![
            "Loopback TCP",
            "Loopback UDP",
            "Mine Loopback TCP",
            "Mine Loopback UDP"
        ]
    );
    assert_eq!(x86[0].path, "%SystemRoot%\\lb.dll");
    assert_eq!(x86[0].info.provider_id().to_string(), g2);
    assert_eq!(cat.enum_protocols(Arch::X64).unwrap().len(), 2);
    ok(
        &f,
        &["order", "--arch", "32", "1001", "1002", "1003", "1004"],
    );
    let ids: Vec<u32> = cat
        .enum_protocols(Arch::X86)
        .unwrap()
        .iter()
        .map(|e| e.info.catalog_entry_id())
        .collect();
    assert_eq!(ids, vec![1001, 1002, 1003, 1004]);
    fails(&f, &["order", "--arch", "32", "1001"], 1, "names 1 entries");
    fails(&f, &["order", "x"], 2, "catalog ids are numbers");
}

#[test]
fn bad_input_fails_clearly_and_changes_nothing() {
    let dir = Dir::new("bad");
    let f = init(&dir);
    let lib = loopback();
    let lib = lib.to_str().unwrap();
    ok(&f, &["install", lib]);
    fails(&f, &["install", lib], 1, "already installed");
    let libc = libc_path();
    fails(
        &f,
        &["install", libc.to_str().unwrap()],
        1,
        "does not export WSPStartup",
    );
    let junk = dir.file("junk.so");
    std::fs::write(&junk, b"not a library").unwrap();
    fails(&f, &["install", junk.to_str().unwrap()], 1, "cannot load");
    let long = format!("/{}", "a".repeat(259));
    fails(
        &f,
        &[
            "install",
            lib,
            "--guid",
            "{00000000-1111-2222-3333-555555555555}",
            "--path",
            &long,
        ],
        1,
        "at most 259",
    );
    fails(
        &f,
        &["remove", "{00000000-1111-2222-3333-444444444444}"],
        1,
        "not installed",
    );
    fails(&f, &["remove", "not-a-guid"], 2, "is not a GUID");
    fails(&f, &["frobnicate"], 2, "unknown command");
    fails(&f, &["install"], 2, "takes 1 argument");
    fails(&f, &["list", "--arch", "16"], 2, "--arch wants");
    fails(&f, &["init"], 1, "cannot create");
    let bad_backup = dir.file("bad.reg");
    std::fs::write(
        &bad_backup,
        b"Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\X]\r\n",
    )
    .unwrap();
    fails(
        &f,
        &["restore", bad_backup.to_str().unwrap()],
        1,
        "nothing restored",
    );
    fails(
        &f,
        &["restore", dir.file("missing.reg").to_str().unwrap()],
        1,
        "cannot read",
    );

    let out = Command::new(tool())
        .arg("list")
        .env_remove("WSP_CATALOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WSP_CATALOG"));
    let out = Command::new(tool())
        .arg("list")
        .env("WSP_CATALOG", &f)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Loopback TCP"));
}

#[test]
fn verify_reports_missing_libraries_libraries_without_wspstartup_and_broken_chains() {
    let dir = Dir::new("verify");
    let f = init(&dir);
    let lib = loopback();
    ok(&f, &["install", lib.to_str().unwrap()]);
    ok(
        &f,
        &[
            "install",
            lib.to_str().unwrap(),
            "--guid",
            "{00000000-1111-2222-3333-000000000001}",
            "--path",
            "%WSP_NOWHERE%/gone.so",
        ],
    );
    let libc = libc_path();
    ok(
        &f,
        &[
            "install",
            lib.to_str().unwrap(),
            "--guid",
            "{00000000-1111-2222-3333-000000000002}",
            "--path",
            libc.to_str().unwrap(),
        ],
    );
    // A chain through an id that does not exist.
    let store = FileStore::open(&f);
    let mut tree = store.read().unwrap();
    let key = "Protocol_Catalog9\\Catalog_Entries64\\000000000001";
    let mut item = tree.value(key, "PackedCatalogItem").unwrap().data.clone();
    item[260 + 40..260 + 44].copy_from_slice(&2i32.to_le_bytes());
    item[260 + 44..260 + 48].copy_from_slice(&4242u32.to_le_bytes());
    tree.set_value(key, "PackedCatalogItem", Value::binary(&item));
    std::fs::write(&f, tree.to_reg()).unwrap();
    let out = run(&f, &["verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text);
    assert!(
        text.contains("gone.so") && text.contains("does not exist"),
        "{}",
        text
    );
    assert!(text.contains("does not export WSPStartup"), "{}", text);
    assert!(
        text.contains("catalog id 4242, which does not exist"),
        "{}",
        text
    );
    // A gap in the keys.
    let mut gap = store.read().unwrap();
    let vals = gap.values(key).to_vec();
    gap.remove_tree(key);
    gap.set_values("Protocol_Catalog9\\Catalog_Entries64\\000000000009", vals);
    std::fs::write(&f, gap.to_reg()).unwrap();
    let out = run(&f, &["verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text);
    assert!(text.contains("without gaps"), "{}", text);
}

#[test]
fn racing_installer_processes_all_land_once() {
    let dir = Dir::new("race");
    let f = init(&dir);
    let lib = loopback();
    let children: Vec<_> = (0..6)
        .map(|n| {
            Command::new(tool())
                .arg("--file")
                .arg(&f)
                .args(["install", lib.to_str().unwrap(), "--guid"])
                .arg(format!("{{00000000-1111-2222-3333-00000000000{}}}", n))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let cat = StoreCatalog::new(FileStore::open(&f));
    for arch in [Arch::X64, Arch::X86] {
        let e = cat.enum_protocols(arch).unwrap();
        assert_eq!(e.len(), 12);
        let mut ids: Vec<u32> = e.iter().map(|x| x.info.catalog_entry_id()).collect();
        ids.sort_unstable();
        assert_eq!(ids, (1001..1013).collect::<Vec<u32>>());
    }
}

#[test]
fn install_layer_over_chosen_and_declared_entries_and_remove_in_order() {
    let dir = Dir::new("layer");
    let f = init(&dir);
    let lib = loopback();
    let lib = lib.to_str().unwrap();
    ok(&f, &["install", lib, "--arch", "64"]);
    // The loopback library stands in for a layer: the catalog only records what it declares.
    let layer = "5a0e9a4c-5b7d-4e18-a3c6-91d2e4f8b710";
    let out = ok(
        &f,
        &[
            "install",
            lib,
            "--layer",
            "--over",
            "1001",
            "--name",
            "Counter",
            "--guid",
            layer,
            "--arch",
            "64",
            "--category",
            "LSP_PROXY,LSP_SYSTEM",
        ],
    );
    assert!(out.contains("LSP_SYSTEM|LSP_PROXY"), "{}", out);
    // The chain's own GUID, derived from the layer's and the entry below.
    let cat = StoreCatalog::new(FileStore::open(&f));
    let entries = cat.enum_protocols(Arch::X64).unwrap();
    let layer_guid: winsock_catalog::Guid = layer.parse().unwrap();
    let below = entries
        .iter()
        .find(|e| e.info.catalog_entry_id() == 1001)
        .unwrap();
    let chain = winsock_catalog::LayerSpec::chain_guid(&layer_guid, &below.info).to_string();
    assert!(out.contains(&chain), "{}", out);
    let list = ok(&f, &["list", "--arch", "64"]);
    assert!(list.contains("Counter over [Loopback TCP]"), "{}", list);
    assert!(!list.contains("Counter over [Loopback UDP]"), "{}", list);
    assert!(
        list.contains("LSP Categories:                     LSP_SYSTEM|LSP_PROXY"),
        "{}",
        list
    );
    // The layered entry cannot go as a provider while its chain goes through it; as a layer
    // it goes with its chain.
    fails(&f, &["remove", layer, "--arch", "64"], 1, "remove --layer");
    ok(&f, &["remove", "--layer", layer, "--arch", "64"]);
    fails(
        &f,
        &["remove", "--layer", layer, "--arch", "64"],
        1,
        "not installed",
    );
    fails(
        &f,
        &["install", lib, "--layer", "--category", "LSP_BOGUS"],
        2,
        "LSP_BOGUS",
    );
    // Without --over: every entry of a declared protocol (both loopback entries).
    ok(
        &f,
        &["install", lib, "--layer", "--guid", layer, "--arch", "64"],
    );
    let list = ok(&f, &["list", "--arch", "64"]);
    assert!(list.contains("over [Loopback TCP]"), "{}", list);
    assert!(list.contains("over [Loopback UDP]"), "{}", list);
    // Applications' permitted categories.
    let out = ok(&f, &["category", "C:\\app.exe"]);
    assert!(out.contains("not categorized"), "{}", out);
    ok(&f, &["category", "C:\\app.exe", "proxy", "--args", "-x"]);
    let out = ok(&f, &["category", "C:\\app.exe", "--args", "-x"]);
    assert!(out.contains("LSP_PROXY"), "{}", out);
    fails(&f, &["category", "C:\\app.exe", "nonsense"], 2, "nonsense");
    ok(&f, &["verify"]);
}

#[test]
fn an_ifs_layer_goes_over_ifs_entries_only() {
    let dir = Dir::new("ifs-layer");
    let f = init(&dir);
    let loopback = loopback();
    let pipe = pipe();
    let (loopback, pipe) = (loopback.to_str().unwrap(), pipe.to_str().unwrap());
    ok(&f, &["install", loopback, "--arch", "64"]);
    ok(&f, &["install", pipe, "--arch", "64"]);
    // The pipe library (IFS entries) stands in for an IFS layer; the loopback entries
    // (1001, 1002) are non-IFS.
    let layer = "5a0e9a4c-5b7d-4e18-a3c6-91d2e4f8b720";
    fails(
        &f,
        &[
            "install", pipe, "--layer", "--over", "1001", "--guid", layer, "--arch", "64",
        ],
        1,
        "an IFS layer can only sit over providers with IFS handles, and entry 1001",
    );
    // Chosen among the entries of its protocols: the IFS pipe entry.
    ok(
        &f,
        &[
            "install", pipe, "--layer", "--name", "Ifs", "--guid", layer, "--arch", "64",
        ],
    );
    let list = ok(&f, &["list", "--arch", "64"]);
    assert!(list.contains("Ifs over ["), "{}", list);
    assert!(!list.contains("Ifs over [Loopback"), "{}", list);
    ok(&f, &["verify"]);
}
