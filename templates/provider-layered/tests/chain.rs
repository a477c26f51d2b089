//! The layer over a base provider, found through a catalog as ws2_32 finds it. On Linux the
//! base's and the layer's libraries are built and installed in a catalog file of this test
//! binary with their own `DllRegisterServer` (what `regsvr32` calls). On Windows (under Wine)
//! the catalog is the system's: `cargo wsp test --wine` installs both there (`regsvr32` of the
//! base, then of the layer) before it runs these tests, and removes them after. Each test then
//! opens a session over the catalog, where sockets of the layer's protocols go through the chain.

use provider_layered_template::SIO_COUNTS;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use winsock_provider::sys::{IPPROTO_TCP, SOCKET, SOCK_STREAM};
use winsock_provider::SockAddr;
use ws2_standin::scenarios::{stream, Target};
use ws2_standin::{Session, Ws2};

/// The base provider's crate folder and package (`[package.metadata.wsp] base` in Cargo.toml).
const BASE: (&str, &str) = (
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/loopback"),
    "loopback-provider",
);

/// A bindable address (port 0: the provider picks a free one).
fn address(_n: u32) -> SockAddr {
    SockAddr::Inet(SocketAddr::from(([127, 0, 0, 1], 0)))
}

const TCP: Target = Target {
    af: 2,
    ty: SOCK_STREAM,
    protocol: IPPROTO_TCP,
    addr: address,
};

/// The layer's library, found (built if needed) once per test binary: on Linux, with the base's,
/// installed in a fresh catalog file, the base first, then the layer, which chains itself over
/// the base's entries; on Windows, where `cargo wsp test --wine` installed both in the system's
/// catalog, the prebuilt DLL (`WSP_LIBRARY_DIR`).
fn install() -> PathBuf {
    static LAYER: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut layer = LAYER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = &*layer {
        return path.clone();
    }
    let base = ws2_standin::build_library(BASE.0, BASE.1).expect("building the base provider");
    let path = ws2_standin::this_library!().expect("building the layer");
    if !cfg!(windows) {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "{}-{}",
            env!("CARGO_CRATE_NAME"),
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("a folder for the catalog");
        let catalog = dir.join("catalog.reg");
        let _ = std::fs::remove_file(&catalog);
        ws2_standin::winsock_catalog::FileStore::create(&catalog, true)
            .expect("an empty catalog file");
        std::env::set_var(ws2_standin::winsock_catalog::CATALOG_ENV, &catalog);
        ws2_standin::regsvr32(&base, true).expect("regsvr32 of the base provider");
        ws2_standin::regsvr32(&path, true).expect("regsvr32 of the layer");
    }
    *layer = Some(path.clone());
    path
}

/// Runs `test` in a session over the catalog. Sessions over one catalog share its entry ids,
/// by which the scenarios count the handles they leave open, so one runs at a time.
fn run(test: impl FnOnce(&Ws2) -> Result<(), String>) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    install();
    let ws = Session::from_system_catalog().expect("a session over the catalog");
    if let Err(e) = test(&ws) {
        panic!("{}", e);
    }
}

fn counts(ws: &Ws2, s: SOCKET) -> Result<(u64, u64), String> {
    let mut out = [0u8; 16];
    let n = ws
        .wsa_ioctl(s, SIO_COUNTS, &[], &mut out)
        .map_err(|e| format!("WSAIoctl(SIO_COUNTS): {:?}", e))?;
    if n != 16 {
        return Err(format!("WSAIoctl(SIO_COUNTS) wrote {} bytes, not 16", n));
    }
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&out[i..i + 8]);
        u64::from_le_bytes(w)
    };
    Ok((word(0), word(8)))
}

#[test]
fn sockets_of_the_layers_protocols_go_through_it() {
    let layer = install();
    run(|ws| {
        let library = ws
            .library_for(TCP.af, TCP.ty, TCP.protocol)
            .map_err(|e| format!("no catalog entry for TCP: {:?}", e))?;
        let chosen = PathBuf::from(&library);
        if chosen.file_name() != layer.file_name() {
            return Err(format!(
                "socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) would load {}, not the layer {}",
                library,
                layer.display()
            ));
        }
        Ok(())
    });
}

#[test]
fn the_layer_counts_what_goes_through_it() {
    run(|ws| {
        let l = ws
            .socket(TCP.af, TCP.ty, TCP.protocol)
            .map_err(|e| format!("socket: {:?}", e))?;
        ws.bind(l, &address(0))
            .map_err(|e| format!("bind: {:?}", e))?;
        ws.listen(l, 4).map_err(|e| format!("listen: {:?}", e))?;
        let at = ws
            .getsockname(l)
            .map_err(|e| format!("getsockname: {:?}", e))?;
        let c = ws
            .socket(TCP.af, TCP.ty, TCP.protocol)
            .map_err(|e| format!("socket: {:?}", e))?;
        ws.connect(c, &at)
            .map_err(|e| format!("connect: {:?}", e))?;
        let (a, _) = ws.accept(l).map_err(|e| format!("accept: {:?}", e))?;
        ws.send(c, b"hello", 0)
            .map_err(|e| format!("send: {:?}", e))?;
        let mut buf = [0u8; 16];
        let n = ws
            .recv(a, &mut buf, 0)
            .map_err(|e| format!("recv: {:?}", e))?;
        if &buf[..n] != b"hello" {
            return Err(format!("received {:?}", &buf[..n]));
        }
        let (client, server) = (counts(ws, c)?, counts(ws, a)?);
        for s in [c, a, l] {
            ws.closesocket(s)
                .map_err(|e| format!("closesocket: {:?}", e))?;
        }
        if client != (5, 0) || server != (0, 5) {
            return Err(format!(
                "counts: client {:?}, server {:?}; expected (5, 0) and (0, 5)",
                client, server
            ));
        }
        Ok(())
    });
}

#[test]
fn echo() {
    run(|ws| stream::echo(ws, &TCP, 4, 64 << 10));
}

#[test]
fn graceful_shutdown() {
    run(|ws| stream::graceful_shutdown(ws, &TCP));
}

#[test]
fn wrong_state() {
    run(|ws| stream::wrong_state(ws, &TCP));
}
