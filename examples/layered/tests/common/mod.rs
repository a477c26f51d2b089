//! Shared by the test binaries: a catalog file per binary holding a base provider and the
//! counting layer over it (or two of them), installed the way `regsvr32` and
//! `WSCInstallProviderAndChains` install them, and sessions that find their providers in it as
//! ws2_32 finds chains.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};
use winsock_catalog::{Backend, Catalogs, Guid, LayerSpec};
use ws2_standin::scenarios::Target;
use ws2_standin::{SockAddr, Ws2};

/// What a test binary's catalog holds.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Chain {
    /// The layer over the loopback provider (TCP and UDP).
    OverLoopback,
    /// A second copy of the layer (its own library file and GUIDs) over the first one's
    /// chains, over the loopback provider.
    Stacked,
    /// The layer over the IFS pipe provider (`AF_UNIX` streams).
    OverPipe,
    /// The IFS build of the layer (`layered-ifs-provider`) over the IFS pipe provider: the
    /// application gets the pipe provider's handles.
    IfsOverPipe,
}

/// `127.0.0.<n + 1>:0`: listeners and receivers use several loopback addresses.
fn loopback(n: u32) -> SockAddr {
    SockAddr::from(SocketAddrV4::new(
        Ipv4Addr::new(127, 0, 0, (n % 200) as u8 + 1),
        0,
    ))
}

/// TCP (the layer's chain over the loopback provider's entry).
pub const TCP: Target = Target {
    af: 2,
    ty: 1,
    protocol: 6,
    addr: loopback,
};

/// UDP.
pub const UDP: Target = Target {
    af: 2,
    ty: 2,
    protocol: 17,
    addr: loopback,
};

/// An empty pipe name: bind picks a fresh one.
fn pipe_name(_: u32) -> SockAddr {
    SockAddr::Raw {
        family: 1,
        data: Vec::new(),
    }
}

/// The pipe provider's `AF_UNIX` streams.
pub const PIPE: Target = Target {
    af: 1,
    ty: 1,
    protocol: 0,
    addr: pipe_name,
};

/// The GUID of the second layer's layered entry in [`Chain::Stacked`].
pub const SECOND_LAYER: u128 = 0x2f0e9a4c_5b7d_4e18_a3c6_91d2e4f8b706;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The layer's library, built if needed.
pub fn layer_library() -> PathBuf {
    ws2_standin::this_library!().expect("building the layer")
}

/// The loopback provider's library, built if needed.
pub fn loopback_library() -> PathBuf {
    ws2_standin::build_library(manifest().join("../loopback"), "loopback-provider")
        .expect("building the loopback provider")
}

/// The IFS build of the layer (`examples/layered-ifs`), built if needed.
pub fn ifs_layer_library() -> PathBuf {
    ws2_standin::build_library(manifest().join("../layered-ifs"), "layered-ifs-provider")
        .expect("building the IFS layer")
}

/// The pipe provider's library, built if needed.
pub fn pipe_library() -> PathBuf {
    ws2_standin::build_library(manifest().join("../pipe"), "pipe-provider")
        .expect("building the pipe provider")
}

/// A directory of this test process's own, under the target directory's `tmp` (so runs leave
/// nothing behind outside the build).
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "layered-{}-{}",
        name,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a scratch directory");
    dir
}

/// A fresh catalog file in `dir`, named by `WSP_CATALOG` from now on.
pub fn fresh_catalog(dir: &Path) -> PathBuf {
    let file = dir.join("catalog.reg");
    winsock_catalog::FileStore::create(&file, true).expect("creating an empty catalog file");
    std::env::set_var(winsock_catalog::CATALOG_ENV, &file);
    file
}

/// The catalog `WSP_CATALOG` names.
pub fn catalog() -> Box<dyn Backend> {
    winsock_catalog::system().expect("the catalog")
}

pub fn guid(v: u128) -> Guid {
    let g = ws2_standin::Guid(v).to_sys();
    Guid::from_fields(g.data1, g.data2, g.data3, g.data4)
}

/// Installs a copy of the layer (library `path`, layered entry `id`) over the entries `over`.
pub fn install_layer_copy(path: &Path, id: u128, name: &str, over: Vec<u32>) {
    let spec = LayerSpec {
        layer_id: guid(id),
        path: path.to_string_lossy().into_owned(),
        name: name.to_owned(),
        over,
        ifs: false,
        categories: 0,
    };
    catalog()
        .install_provider_and_chains(&spec, Catalogs::Native)
        .expect("installing the layer copy");
}

static SETUP: Once = Once::new();

/// The layer's redirect rule in these tests: connects to `127.0.0.99:99` go to the listener
/// at `127.0.0.1:4242`.
pub const REDIRECT: &str = "127.0.0.99:99=127.0.0.1:4242";

/// Builds the libraries and installs them (once per test binary): the base provider through
/// its `DllRegisterServer`, then the layer through its own (which chains it over the base
/// entries of its protocols, at the front of the catalog), then for [`Chain::Stacked`] a copy
/// of the layer over those chains.
pub fn install(chain: Chain) {
    SETUP.call_once(|| {
        let layer = match chain {
            Chain::IfsOverPipe => ifs_layer_library(),
            _ => layer_library(),
        };
        let base = match chain {
            Chain::OverPipe | Chain::IfsOverPipe => pipe_library(),
            _ => loopback_library(),
        };
        std::env::set_var(layered_provider::REDIRECT_ENV, REDIRECT);
        let dir = scratch(env!("CARGO_CRATE_NAME"));
        fresh_catalog(&dir);
        ws2_standin::regsvr32(&base, true).expect("regsvr32 of the base provider");
        ws2_standin::regsvr32(&layer, true).expect("regsvr32 of the layer");
        if chain == Chain::Stacked {
            let copy = dir.join(layer.file_name().unwrap());
            std::fs::copy(&layer, &copy).expect("copying the layer");
            let chains: Vec<u32> = catalog()
                .enum_protocols(winsock_catalog::Arch::native())
                .unwrap()
                .iter()
                .filter(|e| e.info.chain_len() == 2)
                .map(|e| e.info.catalog_entry_id())
                .collect();
            install_layer_copy(&copy, SECOND_LAYER, "Second counting layer", chains);
        }
    });
}

/// A session over this binary's catalog (installed first if needed).
pub fn session(chain: Chain) -> ws2_standin::Session {
    install(chain);
    ws2_standin::Session::from_system_catalog().expect("a session over the catalog")
}

/// Runs a scenario in a session over the catalog, panicking with its description on failure;
/// the session's drop checks that the scenario closed what it opened and runs the clean-up.
///
/// Sessions over one catalog share its entry ids, by which scenarios count their live
/// handles, so the scenarios run one at a time.
pub fn run(chain: Chain, scenario: impl FnOnce(&Ws2) -> Result<(), String>) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let ws = session(chain);
    if let Err(e) = scenario(&ws) {
        panic!("{}", e);
    }
}

/// The whole shared scenario suite over TCP and UDP through chain `$chain`, one test each.
#[macro_export]
macro_rules! ip_suite {
    ($chain:expr) => {
        use common::{run, TCP, UDP};
        use ws2_standin::scenarios::{
            churn, datagram, duplicate, errors, notify, overlapped, stream,
        };

        #[test]
        fn stream_echo() {
            run($chain, |ws| stream::echo(ws, &TCP, 8, 1 << 20));
        }

        #[test]
        fn stream_graceful_shutdown() {
            run($chain, |ws| stream::graceful_shutdown(ws, &TCP));
        }

        #[test]
        fn stream_refused() {
            run($chain, |ws| stream::refused(ws, &TCP));
        }

        #[test]
        fn stream_wrong_state() {
            run($chain, |ws| stream::wrong_state(ws, &TCP));
        }

        #[test]
        fn stream_nonblocking() {
            run($chain, |ws| stream::nonblocking(ws, &TCP));
        }

        #[test]
        fn stream_options() {
            run($chain, |ws| stream::options(ws, &TCP));
        }

        #[test]
        fn datagram_boundaries() {
            run($chain, |ws| datagram::boundaries(ws, &UDP));
        }

        #[test]
        fn errors_bad_input_tcp() {
            run($chain, |ws| errors::bad_input(ws, &TCP));
        }

        #[test]
        fn errors_bad_input_udp() {
            run($chain, |ws| errors::bad_input(ws, &UDP));
        }

        #[test]
        fn churn_create_close_tcp() {
            run($chain, |ws| churn::create_close(ws, &TCP, 2_000));
        }

        #[test]
        fn churn_create_close_udp() {
            run($chain, |ws| churn::create_close(ws, &UDP, 1_000));
        }

        #[test]
        fn churn_close_races_calls_tcp() {
            run($chain, |ws| churn::close_races_calls(ws, &TCP, 20));
        }

        #[test]
        fn churn_close_races_calls_udp() {
            run($chain, |ws| churn::close_races_calls(ws, &UDP, 20));
        }

        #[test]
        fn duplicate_same_process() {
            run($chain, |ws| duplicate::same_process(ws, &TCP));
        }

        #[test]
        fn overlapped_routes() {
            run($chain, |ws| overlapped::routes(ws, &TCP));
        }

        #[test]
        fn overlapped_close_with_pending() {
            run($chain, |ws| overlapped::close_with_pending(ws, &TCP));
        }

        #[test]
        fn overlapped_shutdown_with_pending() {
            run($chain, |ws| overlapped::shutdown_with_pending(ws, &TCP));
        }

        #[test]
        fn overlapped_extensions() {
            run($chain, |ws| overlapped::extensions(ws, &TCP, &UDP));
        }

        #[test]
        fn overlapped_iocp_echo() {
            run($chain, |ws| {
                overlapped::iocp_echo(ws, &TCP, 4, 16, 256 << 10)
            });
        }

        #[test]
        fn notify_event_select_echo() {
            run($chain, |ws| {
                notify::event_select_echo(ws, &TCP, 8, 128 << 10)
            });
        }

        #[test]
        fn notify_select_echo() {
            run($chain, |ws| notify::select_echo(ws, &TCP, 8, 128 << 10));
        }

        #[test]
        fn notify_async_select_order() {
            run($chain, |ws| notify::async_select_order(ws, &TCP));
        }
    };
}

/// What `WSAIoctl(code)` answers as a handle (`SIO_BASE_HANDLE`).
pub fn base_handle(ws: &Ws2, s: ws2_standin::sys::SOCKET, code: u32) -> ws2_standin::sys::SOCKET {
    let mut out = [0u8; core::mem::size_of::<ws2_standin::sys::SOCKET>()];
    let n = ws
        .wsa_ioctl(s, code, &[], &mut out)
        .expect("the handle ioctl");
    assert_eq!(n as usize, out.len());
    let base = ws2_standin::sys::SOCKET::from_ne_bytes(out);
    // A handle the base provider made with WPUCreateSocketHandle, live.
    ws.query_context(base)
        .expect("the base handle is a live ws2_32 handle");
    base
}

/// `getsockopt(SO_PROTOCOL_INFOW)`.
pub fn protocol_info(ws: &Ws2, s: ws2_standin::sys::SOCKET) -> ws2_standin::sys::WSAPROTOCOL_INFOW {
    use ws2_standin::sys;
    let mut buf = vec![0u8; core::mem::size_of::<sys::WSAPROTOCOL_INFOW>()];
    ws.getsockopt(s, sys::SOL_SOCKET, sys::SO_PROTOCOL_INFOW, &mut buf)
        .expect("SO_PROTOCOL_INFOW");
    // SAFETY: the buffer holds a whole WSAPROTOCOL_INFOW; any bit pattern is valid.
    unsafe {
        buf.as_ptr()
            .cast::<sys::WSAPROTOCOL_INFOW>()
            .read_unaligned()
    }
}
