//! The stand-in must catch every broken SPI convention with a clear message. These tests drive
//! a deliberately broken provider written directly against the raw SPI (no runtime), one
//! fault per test; the fault is thread-local because the stand-in calls the provider on the
//! test's own thread.

use std::cell::Cell;
use std::sync::{Mutex, MutexGuard};
use winsock_provider::sys::*;
use winsock_provider::{EntryPoints, Guid, WsaError};
use ws2_standin::{LoadError, SockAddr, Ws2};

#[derive(Copy, Clone, PartialEq)]
enum Fault {
    None,
    NoErrno,
    ErrnoOnSuccess,
    NotAWsaCode,
    LeakOnClose,
    DoubleClose,
    NullEntry,
    ForgedHandle,
    LeakAtCleanup,
    BadVersion,
}

thread_local! {
    static FAULT: Cell<Fault> = const { Cell::new(Fault::None) };
    static UPCALLS: Cell<WSPUPCALLTABLE> = Cell::new(WSPUPCALLTABLE::default());
}

fn fault() -> Fault {
    FAULT.with(|f| f.get())
}

fn upcalls() -> WSPUPCALLTABLE {
    UPCALLS.with(|u| u.get())
}

const GUID_VALUE: u128 = 0x3c5e_1d2a_7b4f_4e8d_9a61_0f2b_3c4d_5e6f;

unsafe extern "system" fn enum_protocols(
    id: *mut GUID,
    buf: *mut WSAPROTOCOL_INFOW,
    len: *mut u32,
    errno: *mut i32,
) -> i32 {
    let size = std::mem::size_of::<WSAPROTOCOL_INFOW>() as u32;
    if buf.is_null() || *len < size {
        *len = size;
        *errno = WSAENOBUFS;
        return SOCKET_ERROR;
    }
    *id = GUID::from_u128(GUID_VALUE);
    *buf = WSAPROTOCOL_INFOW {
        ProviderId: GUID::from_u128(GUID_VALUE),
        iAddressFamily: 2,
        iSocketType: SOCK_DGRAM,
        iProtocol: IPPROTO_UDP,
        iMinSockAddr: 16,
        iMaxSockAddr: 16,
        ..Default::default()
    };
    1
}

unsafe extern "system" fn startup(
    _version: u16,
    data: *const WSPDATA,
    _info: *const WSAPROTOCOL_INFOW,
    up: WSPUPCALLTABLE,
    table: *mut WSPPROC_TABLE,
) -> i32 {
    UPCALLS.with(|u| u.set(up));
    let data = &mut *(data as *mut WSPDATA);
    data.wVersion = if fault() == Fault::BadVersion {
        0x0102
    } else {
        0x0202
    };
    data.wHighVersion = 0x0202;
    // Every entry points somewhere; the ones this test provider serves are replaced below.
    let mut t = all_entries();
    if fault() == Fault::NullEntry {
        t.lpWSPSelect = None;
    }
    *table = t;
    0
}

fn all_entries() -> WSPPROC_TABLE {
    // The real runtime's table for an unrelated provider supplies the unused entries; the
    // entries under test are this file's own functions.
    let mut t = winsock_provider_tests_support::unused_table();
    t.lpWSPSocket = Some(socket);
    t.lpWSPCloseSocket = Some(close_socket);
    t.lpWSPBind = Some(bind);
    t.lpWSPCleanup = Some(cleanup);
    t
}

unsafe extern "system" fn socket(
    _af: i32,
    _ty: i32,
    _protocol: i32,
    info: *const WSAPROTOCOL_INFOW,
    _g: u32,
    _flags: u32,
    errno: *mut i32,
) -> SOCKET {
    if fault() == Fault::ForgedHandle {
        return 0x1234;
    }
    let create = upcalls().lpWPUCreateSocketHandle.unwrap();
    create((*info).dwCatalogEntryId, 7, errno)
}

unsafe extern "system" fn close_socket(s: SOCKET, errno: *mut i32) -> i32 {
    let close = upcalls().lpWPUCloseSocketHandle.unwrap();
    match fault() {
        Fault::LeakOnClose => 0,
        Fault::DoubleClose => {
            close(s, errno);
            close(s, errno);
            0
        }
        _ => close(s, errno),
    }
}

unsafe extern "system" fn bind(
    _s: SOCKET,
    _name: *const SOCKADDR,
    _len: i32,
    errno: *mut i32,
) -> i32 {
    match fault() {
        Fault::NoErrno => SOCKET_ERROR,
        Fault::NotAWsaCode => {
            *errno = 5;
            SOCKET_ERROR
        }
        Fault::ErrnoOnSuccess => {
            *errno = WSAEINVAL;
            0
        }
        _ => 0,
    }
}

unsafe extern "system" fn cleanup(_errno: *mut i32) -> i32 {
    0
}

/// A helper module so the unused entries come from a real (well-behaved) table.
mod winsock_provider_tests_support {
    use winsock_provider::sys::*;
    use winsock_provider::{Provider, SocketRequest, StartupContext, WsaError};

    pub struct Unused;
    impl Provider for Unused {
        type Socket = ();
        fn startup(_: &StartupContext) -> Result<Self, WsaError> {
            Ok(Unused)
        }
        fn socket(&self, _: &SocketRequest) -> Result<(), WsaError> {
            Ok(())
        }
    }
    impl winsock_provider::Binding for Unused {
        type Mode = winsock_provider::NonIfs;
        const INFO: winsock_provider::ProviderInfo = winsock_provider::ProviderInfo {
            name: "unused",
            description: "unused",
            guid: winsock_provider::Guid(1),
            protocols: &[],
        };
        fn state() -> &'static winsock_provider::State<Self> {
            static STATE: winsock_provider::State<Unused> = winsock_provider::State::new();
            &STATE
        }
    }

    pub fn unused_table() -> WSPPROC_TABLE {
        winsock_provider::proc_table::<Unused>()
    }
}

/// Tests of this file run one at a time, so that each clean-up is the provider's last one and
/// sees only its own test's handles.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn broken(f: Fault) -> Result<Ws2, LoadError> {
    FAULT.with(|c| c.set(f));
    let ws = Ws2::new();
    ws.load(EntryPoints {
        startup,
        enum_protocols,
        set_host_hooks,
    })?;
    Ok(ws)
}

/// `WspSetHostHooks` of the broken provider: accepts the hooks and ignores them.
unsafe extern "system" fn set_host_hooks(_: *const winsock_provider::HostHooks) -> i32 {
    0
}

fn udp_socket(ws: &Ws2) -> SOCKET {
    ws.socket(2, SOCK_DGRAM, IPPROTO_UDP).expect("socket")
}

fn any_addr() -> SockAddr {
    SockAddr::Inet("127.0.0.1:9".parse().unwrap())
}

#[test]
fn a_well_behaved_provider_passes() {
    let _serial = serial();
    let ws = broken(Fault::None).unwrap();
    let s = udp_socket(&ws);
    assert_eq!(s % 4, 0);
    assert_eq!(ws.query_context(s), Ok(7));
    ws.bind(s, &any_addr()).unwrap();
    ws.closesocket(s).unwrap();
    assert_eq!(ws.closesocket(s), Err(WsaError::NOTSOCK));
    ws.cleanup();
}

#[test]
fn closed_values_are_reused_at_once() {
    let _serial = serial();
    let ws = broken(Fault::None).unwrap();
    let a = udp_socket(&ws);
    ws.closesocket(a).unwrap();
    let b = udp_socket(&ws);
    assert_eq!(a, b, "a closed handle value comes back on the next create");
    ws.closesocket(b).unwrap();
    ws.cleanup();
}

#[test]
#[should_panic(expected = "WSPBind returned SOCKET_ERROR but did not set *lpErrno")]
fn failure_without_errno_is_caught() {
    let _serial = serial();
    let ws = broken(Fault::NoErrno).unwrap();
    let s = udp_socket(&ws);
    let _ = ws.bind(s, &any_addr());
}

#[test]
#[should_panic(expected = "which is not a WSA error code")]
fn failure_with_a_non_wsa_code_is_caught() {
    let _serial = serial();
    let ws = broken(Fault::NotAWsaCode).unwrap();
    let s = udp_socket(&ws);
    let _ = ws.bind(s, &any_addr());
}

#[test]
#[should_panic(expected = "WSPBind succeeded (returned 0) but wrote 10022 to *lpErrno")]
fn success_that_writes_errno_is_caught() {
    let _serial = serial();
    let ws = broken(Fault::ErrnoOnSuccess).unwrap();
    let s = udp_socket(&ws);
    let _ = ws.bind(s, &any_addr());
}

#[test]
#[should_panic(expected = "never released the handle with WPUCloseSocketHandle (leaked handle)")]
fn a_leaked_handle_on_close_is_caught() {
    let _serial = serial();
    let ws = broken(Fault::LeakOnClose).unwrap();
    let s = udp_socket(&ws);
    let _ = ws.closesocket(s);
}

#[test]
#[should_panic(expected = "closed twice, or never created")]
fn a_double_close_is_caught() {
    let _serial = serial();
    let ws = broken(Fault::DoubleClose).unwrap();
    let s = udp_socket(&ws);
    let _ = ws.closesocket(s);
}

#[test]
fn a_null_table_entry_is_caught() {
    let _serial = serial();
    match broken(Fault::NullEntry) {
        Err(LoadError::Convention(text)) => assert!(text.contains("lpWSPSelect"), "{}", text),
        other => panic!("expected a convention error, got {:?}", other.err()),
    }
}

#[test]
fn a_wrong_version_is_caught() {
    let _serial = serial();
    match broken(Fault::BadVersion) {
        Err(LoadError::Convention(text)) => assert!(text.contains("not 2.2"), "{}", text),
        other => panic!("expected a convention error, got {:?}", other.err()),
    }
}

#[test]
#[should_panic(expected = "which ws2_32 never issued")]
fn a_forged_handle_is_caught() {
    let _serial = serial();
    let ws = broken(Fault::ForgedHandle).unwrap();
    let _ = ws.socket(2, SOCK_DGRAM, IPPROTO_UDP);
}

#[test]
#[should_panic(expected = "leaked handles still open after its last WSPCleanup")]
fn handles_left_at_the_last_cleanup_are_caught() {
    let _serial = serial();
    let ws = broken(Fault::LeakAtCleanup).unwrap();
    let _s = udp_socket(&ws);
    // This provider's WSPCleanup closes nothing: the stand-in must notice.
    ws.cleanup();
}

#[test]
fn unknown_handles_never_reach_a_provider() {
    let _serial = serial();
    let ws = broken(Fault::None).unwrap();
    assert_eq!(ws.bind(0x7777_0000, &any_addr()), Err(WsaError::NOTSOCK));
    let unrelated = ws.reserve_unrelated_handle();
    assert_eq!(ws.closesocket(unrelated), Err(WsaError::NOTSOCK));
    ws.release_unrelated_handle(unrelated);
    assert_eq!(
        Guid(GUID_VALUE),
        Guid::from_sys(&GUID::from_u128(GUID_VALUE))
    );
    ws.cleanup();
}
