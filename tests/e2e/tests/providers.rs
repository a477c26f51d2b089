//! Runs the `wsp-e2e` driver against the example providers built as shared libraries for the
//! host (`libloopback_provider.so` / `libpipe_provider.so` on Linux), the same way
//! `run-wine.sh` runs it against the DLLs under Wine.
//!
//! Cargo does not build other packages' cdylibs for this test, so `ws2_standin::build_library`
//! builds each with the profile, target directory and target of this test binary (a no-op when
//! it is up to date).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use winsock_catalog::Backend;

/// Where the driver binary is, and so the profile directory cargo put everything in.
fn driver() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_wsp-e2e"))
}

/// The provider library of crate `crate_name` (`loopback_provider`, ...), built once per test
/// binary with this binary's profile, target directory and target.
fn library(crate_name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = built.iter().find(|(name, _)| name == crate_name) {
        return path.clone();
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = ws2_standin::build_library(&workspace, &crate_name.replace('_', "-"))
        .unwrap_or_else(|e| panic!("{}", e));
    built.push((crate_name.to_owned(), path.clone()));
    path
}

/// Runs `wsp-e2e <library> <suite>` and fails with the driver's FAIL lines if anything failed.
fn run(crate_name: &str, suite: &str) {
    let lib = library(crate_name);
    assert!(lib.exists(), "{} was not built", lib.display());
    let mut cmd = Command::new(driver());
    cmd.arg(&lib).arg(suite);
    check_suites(cmd);
}

/// Runs the driver as `cmd` says and fails with its FAIL lines if anything failed; returns
/// its standard output.
fn check_suites(mut cmd: Command) -> String {
    let out = cmd.output().expect("cannot run wsp-e2e");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{}", stdout);
    eprint!("{}", stderr);
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.ends_with(" failed") && l.contains(" passed, "));
    let fails: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert!(
        out.status.success() && summary.is_some() && fails.is_empty(),
        "`{:?}` exited with {} ({}):\n{}",
        cmd,
        out.status,
        summary.unwrap_or("no summary line"),
        if fails.is_empty() {
            stderr.to_string()
        } else {
            fails.join("\n")
        }
    );
    stdout.into_owned()
}

#[test]
fn loopback_library() {
    run("loopback_provider", "loopback");
}

#[test]
fn pipe_library() {
    run("pipe_provider", "pipe");
}

/// Runs `wsp-e2e <library> conformance <args>`: checks it passed and returns its PASS lines.
fn conformance(crate_name: &str, args: &[&str]) -> Vec<String> {
    let mut cmd = Command::new(driver());
    cmd.arg(library(crate_name)).arg("conformance").args(args);
    check_suites(cmd)
        .lines()
        .filter(|l| l.starts_with("PASS "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn conformance_picks_scenarios_from_the_protocol_entries() {
    let passed = conformance("loopback_provider", &[]);
    for expected in [
        "PASS conformance/errors::startup_version",
        "PASS conformance/stream::echo(af=2 type=1 protocol=6)",
        "PASS conformance/errors::bad_input(af=2 type=1 protocol=6)",
        "PASS conformance/datagram::boundaries(af=2 type=2 protocol=17)",
        "PASS conformance/churn::close_races_calls(af=2 type=2 protocol=17)",
        "PASS conformance/lifecycle::cleanup_closes_everything(af=2 type=2 protocol=17)",
        "PASS conformance/notify::select_echo(af=2 type=1 protocol=6)",
        "PASS conformance/overlapped::iocp_echo(af=2 type=1 protocol=6)",
        "PASS conformance/overlapped::extensions(af=2 type=1 protocol=6)",
        "PASS conformance/datagram::notify(af=2 type=2 protocol=17)",
        "PASS conformance/datagram::overlapped(af=2 type=2 protocol=17)",
        "PASS conformance/datagram::duplicate(af=2 type=2 protocol=17)",
    ] {
        assert!(
            passed.iter().any(|l| l == expected),
            "{} not in {:?}",
            expected,
            passed
        );
    }
    assert!(!passed.iter().any(|l| l.contains("ifs::")), "{:?}", passed);
}

#[test]
fn conformance_of_an_ifs_provider_with_raw_addresses() {
    // examples/pipe: AF_UNIX names, `wsp-` then four unique bytes then the terminating NUL.
    let out = Command::new(driver())
        .arg(library("pipe_provider"))
        .args(["conformance", "--address", "raw:1:7773702dxxxxxxxx00"])
        .output()
        .expect("cannot run wsp-e2e");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{}", stdout);
    for expected in [
        "PASS conformance/stream::echo(af=1 type=1 protocol=0)",
        "PASS conformance/ifs::file_io_interleave(af=1 type=1 protocol=0)",
        "PASS conformance/duplicate::across_processes(af=1 type=1 protocol=0)",
        "PASS conformance/lifecycle::cleanup_closes_everything(af=1 type=1 protocol=0)",
        // examples/pipe signals readiness from its OS handles: every notification model.
        "PASS conformance/notify::readiness(af=1 type=1 protocol=0)",
        "PASS conformance/notify::event_select_echo(af=1 type=1 protocol=0)",
        "PASS conformance/notify::select_echo(af=1 type=1 protocol=0)",
        "PASS conformance/notify::async_select_order(af=1 type=1 protocol=0)",
        // Requests of IFS sockets complete by event or routine; ports get no packets.
        "PASS conformance/overlapped::close_with_pending(af=1 type=1 protocol=0)",
        "PASS conformance/overlapped::shutdown_with_pending(af=1 type=1 protocol=0)",
    ] {
        assert!(
            stdout.lines().any(|l| l == expected),
            "{} not in:\n{}",
            expected,
            stdout
        );
    }
    assert!(!stdout.contains("overlapped::routes"), "{}", stdout);
    let fails: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert!(fails.is_empty() && out.status.success(), "{}", stdout);
}

#[test]
fn conformance_without_an_address_for_the_family_says_so() {
    let out = Command::new(driver())
        .arg(library("pipe_provider"))
        .arg("conformance")
        .output()
        .expect("cannot run wsp-e2e");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{}", stdout);
    assert!(
        stdout.contains("FAIL conformance/entries: no address pattern for family 1"),
        "{}",
        stdout
    );
}

/// A fresh folder for one test's catalog file.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wsp-e2e-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

/// `wsp-e2e --register|--unregister <library>` (what `regsvr32 [/u]` does) against `catalog`.
fn regsvr32(catalog: &Path, crate_name: &str, install: bool) {
    let lib = library(crate_name);
    let flag = if install {
        "--register"
    } else {
        "--unregister"
    };
    let out = Command::new(driver())
        .env(winsock_catalog::CATALOG_ENV, catalog)
        .arg(flag)
        .arg(&lib)
        .output()
        .expect("cannot run wsp-e2e");
    assert!(
        out.status.success(),
        "wsp-e2e {} {} failed ({}): {}",
        flag,
        lib.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A catalog file without `Serial_Access_Num` and `Next_Catalog_Entry_ID`, the two counters
/// every change advances (as on Windows: ws2_32 reloads when the serial changes, and ids are
/// never reused), so what remains is the catalog's content.
fn without_counters(file: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(file)
        .lines()
        .filter(|l| {
            !l.starts_with("\"Serial_Access_Num\"=") && !l.starts_with("\"Next_Catalog_Entry_ID\"=")
        })
        .map(str::to_owned)
        .collect()
}

/// The providers install themselves into a catalog as `regsvr32` makes them; the stand-in then
/// finds them there as ws2_32 does, the loopback and pipe suites pass through it, and removing
/// them leaves the catalog byte-for-byte what it was, but for the two counters every change
/// advances.
#[test]
fn suites_through_the_catalog() {
    let dir = scratch("catalog");
    let file = dir.join("catalog.reg");
    winsock_catalog::FileStore::create(&file, true).expect("create an empty catalog file");
    let before = std::fs::read(&file).unwrap();

    regsvr32(&file, "loopback_provider", true);
    regsvr32(&file, "pipe_provider", true);
    let catalog = winsock_catalog::StoreCatalog::new(winsock_catalog::FileStore::open(&file));
    let entries = catalog
        .enum_protocols(winsock_catalog::Arch::native())
        .expect("read the catalog back");
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    for name in ["loopback_provider", "pipe_provider"] {
        let lib = library(name);
        assert!(
            paths.iter().any(|p| Path::new(p) == lib),
            "no entry of {} in {:?}",
            lib.display(),
            paths
        );
    }

    let mut cmd = Command::new(driver());
    cmd.env(winsock_catalog::CATALOG_ENV, &file)
        .args(["--catalog", "loopback", "pipe"]);
    check_suites(cmd);

    regsvr32(&file, "pipe_provider", false);
    regsvr32(&file, "loopback_provider", false);
    let after = std::fs::read(&file).unwrap();
    assert!(
        without_counters(&after) == without_counters(&before),
        "the catalog differs from what it was before the install:\n{}",
        String::from_utf8_lossy(&after)
    );
    assert!(
        after != before,
        "Serial_Access_Num and Next_Catalog_Entry_ID must advance (ws2_32 reloads on the serial)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The protocol entries a provider library reports through `WspEnumProviderProtocols`.
fn protocol_entries(lib: &Path) -> Vec<winsock_catalog::ProtocolInfo> {
    use winsock_provider::sys::WSAPROTOCOL_INFOW;
    let entry = ws2_standin::entry_points_of(lib).expect("load the provider library");
    let (mut len, mut errno) = (0u32, 0i32);
    // SAFETY: a null buffer asks for the needed length, written to `len`.
    unsafe {
        (entry.enum_protocols)(
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut len,
            &mut errno,
        )
    };
    let size = std::mem::size_of::<WSAPROTOCOL_INFOW>();
    let mut infos = vec![WSAPROTOCOL_INFOW::default(); len as usize / size];
    // SAFETY: `infos` has room for `len` bytes.
    let n = unsafe {
        (entry.enum_protocols)(
            std::ptr::null_mut(),
            infos.as_mut_ptr(),
            &mut len,
            &mut errno,
        )
    };
    assert_eq!(
        n as usize,
        infos.len(),
        "WspEnumProviderProtocols failed ({})",
        errno
    );
    infos
        .iter()
        .map(|info| {
            // SAFETY: WSAPROTOCOL_INFOW is plain old data of `size` bytes.
            let bytes = unsafe {
                std::slice::from_raw_parts((info as *const WSAPROTOCOL_INFOW).cast::<u8>(), size)
            };
            winsock_catalog::ProtocolInfo::from_bytes(bytes).expect("a 628-byte entry")
        })
        .collect()
}

/// An installer may list a provider's entries under a GUID of its own choosing: the provider
/// serves them, and `SO_PROTOCOL_INFOW` reports the entry as the catalog lists it.
#[test]
fn entries_under_another_guid() {
    use winsock_provider::sys::{SOL_SOCKET, SO_PROTOCOL_INFOW, WSAPROTOCOL_INFOW};
    let dir = scratch("guid");
    let file = dir.join("catalog.reg");
    winsock_catalog::FileStore::create(&file, true).expect("create an empty catalog file");
    let catalog = winsock_catalog::StoreCatalog::new(winsock_catalog::FileStore::open(&file));
    let lib = library("loopback_provider");
    let other: winsock_catalog::Guid = "{5e1d2c3b-4a59-4687-9a0b-1c2d3e4f5061}".parse().unwrap();
    catalog
        .install_provider(
            &other,
            lib.to_str().expect("a UTF-8 path"),
            &protocol_entries(&lib),
            winsock_catalog::Catalogs::Native,
        )
        .expect("install under another GUID");

    // The other tests give the catalog to their child processes explicitly, so this one may
    // name it in its own environment.
    std::env::set_var(winsock_catalog::CATALOG_ENV, &file);
    let ws = ws2_standin::Session::from_system_catalog().expect("a session over the catalog");
    let target = ws2_standin::scenarios::Target {
        af: 2,
        ty: 1,
        protocol: 6,
        addr: |_| {
            "127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into()
        },
    };
    let s = ws.socket(2, 1, 6).expect("a socket of the entry");
    let mut buf = vec![0u8; std::mem::size_of::<WSAPROTOCOL_INFOW>()];
    let n = ws
        .getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW, &mut buf)
        .expect("SO_PROTOCOL_INFOW");
    let info = winsock_catalog::ProtocolInfo::from_bytes(&buf[..n]).unwrap();
    assert_eq!(info.provider_id(), other);
    ws.closesocket(s).unwrap();
    ws2_standin::scenarios::stream::echo(&ws, &target, 2, 64 << 10).unwrap();
    drop(ws);
    let _ = std::fs::remove_dir_all(&dir);
}
