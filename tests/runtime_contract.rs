//! The runtime's side of the SPI contract, driven through the ws2_32 stand-in with a small
//! probe provider: version negotiation, start-up/clean-up balance, panics at the boundary,
//! descriptor allocation, argument validation and the trait's defaults.
//!
//! The provider's state is process-wide, so the tests of this file run one at a time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;
use winsock_provider::sys::*;
use winsock_provider::{
    entry_points, Bufs, BufsMut, MsgFlags, OptValue, Provider, Sock, SockAddr, SockOpt,
    SocketRequest, StartupContext, WsaError,
};
use ws2_standin::{check_bool, check_int, check_socket, Ws2};

static SERIAL: Mutex<()> = Mutex::new(());
static CLOSED: AtomicUsize = AtomicUsize::new(0);
static DROPPED: AtomicUsize = AtomicUsize::new(0);

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Per-socket state: a flag that a blocked `recv` waits on until `close` sets it.
#[derive(Default)]
struct ProbeSocket {
    closed: Mutex<bool>,
    wake: Condvar,
}

impl Drop for ProbeSocket {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

struct Probe;

impl Provider for Probe {
    type Socket = ProbeSocket;

    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Probe)
    }

    fn socket(&self, _: &SocketRequest) -> Result<ProbeSocket, WsaError> {
        Ok(ProbeSocket::default())
    }

    fn close(&self, sock: &Sock<Self>) -> Result<(), WsaError> {
        CLOSED.fetch_add(1, Ordering::SeqCst);
        *sock.closed.lock().unwrap() = true;
        sock.wake.notify_all();
        Ok(())
    }

    fn bind(&self, _: &Sock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        match addr.inet()?.port() {
            666 => panic!("the probe provider panics on port 666"),
            _ => Ok(()),
        }
    }

    fn send(&self, _: &Sock<Self>, bufs: &Bufs<'_>, _: MsgFlags) -> Result<usize, WsaError> {
        Ok(bufs.len())
    }

    /// Blocks until the socket is closed, then fails as Winsock does for a closed socket.
    fn recv(
        &self,
        sock: &Sock<Self>,
        _: &mut BufsMut<'_>,
        _: MsgFlags,
    ) -> Result<(usize, MsgFlags), WsaError> {
        let mut closed = sock.closed.lock().unwrap();
        while !*closed {
            closed = sock.wake.wait(closed).unwrap();
        }
        Err(WsaError::INTR)
    }

    fn get_option(&self, _: &Sock<Self>, opt: SockOpt) -> Result<OptValue, WsaError> {
        match (opt.level, opt.name) {
            (SOL_SOCKET, SO_RCVBUF) => Ok(OptValue::Int(8192)),
            _ => Err(WsaError::NOPROTOOPT),
        }
    }
}

impl winsock_provider::Binding for Probe {
    type Mode = winsock_provider::NonIfs;
    const INFO: winsock_provider::ProviderInfo = winsock_provider::ProviderInfo {
        name: "Probe",
        description: "Runtime contract probe",
        guid: winsock_provider::Guid(0x9d2c_41f0_5a7e_4b13_8c6d_2e1f_0a9b_8c7d),
        protocols: &[winsock_provider::ProtocolSpec {
            name: "Probe stream",
            family: 2,
            socket_type: 1,
            protocol: 6,
            service_flags: 0x26,
            provider_flags: 8,
            max_message_size: 0,
            min_sockaddr: 16,
            max_sockaddr: 16,
        }],
    };
    fn state() -> &'static winsock_provider::State<Self> {
        static STATE: winsock_provider::State<Probe> = winsock_provider::State::new();
        &STATE
    }
}

fn loaded() -> Ws2 {
    let ws = Ws2::new();
    ws.load(entry_points::<Probe>())
        .expect("load the probe provider");
    ws
}

fn stream(ws: &Ws2) -> SOCKET {
    ws.socket(2, SOCK_STREAM, IPPROTO_TCP).expect("socket")
}

fn v4(text: &str) -> SockAddr {
    SockAddr::Inet(text.parse().unwrap())
}

/// Calls WSPStartup directly with `version`; balances a success with WSPCleanup.
fn startup_with(version: u16) -> (i32, u16) {
    let ep = entry_points::<Probe>();
    let mut data = WSPDATA::default();
    let mut table = WSPPROC_TABLE::default();
    let info = WSAPROTOCOL_INFOW {
        dwCatalogEntryId: 1,
        ..Default::default()
    };
    let up = WSPUPCALLTABLE {
        lpWPUCreateSocketHandle: Some(fake_create),
        lpWPUCloseSocketHandle: Some(fake_close),
        ..Default::default()
    };
    // SAFETY: WSPStartup with valid out-structures and the two upcalls a non-IFS provider needs.
    let r = unsafe { (ep.startup)(version, &mut data, &info, up, &mut table) };
    if r == 0 {
        let mut errno = 0;
        // SAFETY: balances the successful start-up above.
        assert_eq!(unsafe { table.lpWSPCleanup.unwrap()(&mut errno) }, 0);
    }
    (r, data.wVersion)
}

unsafe extern "system" fn fake_create(_: u32, _: usize, errno: *mut i32) -> SOCKET {
    *errno = WSAENOBUFS;
    INVALID_SOCKET
}

unsafe extern "system" fn fake_close(_: SOCKET, _: *mut i32) -> i32 {
    0
}

#[test]
fn version_negotiation() {
    let _serial = serial();
    assert_eq!(startup_with(0x0202), (0, 0x0202));
    assert_eq!(startup_with(0x0303), (0, 0x0202), "newer requests get 2.2");
    assert_eq!(startup_with(0x0002).0, WSAVERNOTSUPPORTED, "2.0 is refused");
    assert_eq!(startup_with(0x0101).0, WSAVERNOTSUPPORTED, "1.1 is refused");
}

#[test]
fn startup_and_cleanup_are_counted() {
    let _serial = serial();
    let first = loaded();
    let second = loaded();
    let spi = first.spi(2, SOCK_STREAM, IPPROTO_TCP).unwrap();
    let s = stream(&second);
    first.cleanup();
    // One start-up is still outstanding: the provider keeps working.
    second.bind(s, &v4("127.0.0.1:1")).unwrap();
    let before = CLOSED.load(Ordering::SeqCst);
    // The last clean-up closes the socket left open (the stand-in checks its handle was
    // released) and makes every later call fail with WSANOTINITIALISED.
    second.cleanup();
    assert_eq!(CLOSED.load(Ordering::SeqCst), before + 1);
    let f = spi.table.lpWSPSocket.unwrap();
    let r = check_socket("WSPSocket", |errno| {
        // SAFETY: a WSPSocket call through a table kept from before the clean-up.
        unsafe { f(2, SOCK_STREAM, IPPROTO_TCP, &spi.info, 0, 0, errno) }
    });
    assert_eq!(r, Err(WsaError::NOTINITIALISED));
    let close = spi.table.lpWSPCloseSocket.unwrap();
    // SAFETY: plain arguments; the handle is stale.
    let r = check_int("WSPCloseSocket", |errno| unsafe { close(s, errno) });
    assert_eq!(r, Err(WsaError::NOTINITIALISED));
    let cleanup = spi.table.lpWSPCleanup.unwrap();
    // SAFETY: an unbalanced extra clean-up must be refused, not crash.
    let r = check_int("WSPCleanup", |errno| unsafe { cleanup(errno) });
    assert_eq!(r, Err(WsaError::NOTINITIALISED));
}

#[test]
fn a_panic_becomes_wsaenetdown_and_the_provider_keeps_working() {
    let _serial = serial();
    let ws = loaded();
    let s = stream(&ws);
    assert_eq!(ws.bind(s, &v4("127.0.0.1:666")), Err(WsaError::NETDOWN));
    ws.bind(s, &v4("127.0.0.1:80")).unwrap();
    ws.closesocket(s).unwrap();
    ws.cleanup();
}

#[test]
fn non_ifs_handles_carry_the_socket_record_as_context() {
    let _serial = serial();
    let ws = loaded();
    let s = stream(&ws);
    assert_eq!(s % 4, 0);
    let context = ws.query_context(s).unwrap();
    assert_ne!(context, 0);
    ws.closesocket(s).unwrap();
    assert_eq!(ws.query_context(s), Err(WsaError::NOTSOCK));
    ws.cleanup();
}

#[test]
fn closed_and_reused_values_are_not_sockets() {
    let _serial = serial();
    let ws = loaded();
    let s = stream(&ws);
    let spi = ws.spi_for(s).unwrap();
    ws.closesocket(s).unwrap();
    assert_eq!(ws.closesocket(s), Err(WsaError::NOTSOCK));
    // The value comes back at once for an unrelated object; the provider must not take it
    // for its old socket.
    let other = ws.reserve_unrelated_handle();
    assert_eq!(other, s, "the stand-in reuses a closed value at once");
    let listen = spi.table.lpWSPListen.unwrap();
    // SAFETY: plain arguments, called on the provider directly as a confused ws2_32 might.
    let r = check_int("WSPListen", |errno| unsafe { listen(other, 5, errno) });
    assert_eq!(r, Err(WsaError::NOTSOCK));
    ws.release_unrelated_handle(other);
    ws.cleanup();
}

#[test]
fn close_racing_with_a_blocked_call_frees_nothing_under_it() {
    let _serial = serial();
    let ws = loaded();
    let s = stream(&ws);
    let dropped = DROPPED.load(Ordering::SeqCst);
    let reader = {
        let ws = ws.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 16];
            ws.recv(s, &mut buf, 0)
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    ws.closesocket(s).unwrap();
    // The blocked call was woken by the provider's close and returns an error; only then is
    // the state dropped.
    assert_eq!(reader.join().unwrap(), Err(WsaError::INTR));
    assert_eq!(DROPPED.load(Ordering::SeqCst), dropped + 1);
    assert_eq!(ws.recv(s, &mut [0u8; 4], 0), Err(WsaError::NOTSOCK));
    ws.cleanup();
}

#[test]
fn concurrent_closes_release_the_handle_exactly_once() {
    let _serial = serial();
    let ws = loaded();
    for _ in 0..200 {
        let s = stream(&ws);
        let spi = ws.spi_for(s).unwrap();
        let close = spi.table.lpWSPCloseSocket.unwrap();
        let results: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(move || {
                    // SAFETY: plain arguments; racing closes of one handle.
                    check_int("WSPCloseSocket", |errno| unsafe { close(s, errno) })
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{:?}",
            results
        );
        assert!(results
            .iter()
            .all(|r| r.is_ok() || *r == Err(WsaError::NOTSOCK)));
    }
    ws.cleanup();
}

#[test]
fn bad_pointers_get_wsaefault() {
    let _serial = serial();
    let ws = loaded();
    let s = stream(&ws);
    let t = ws.spi_for(s).unwrap().table;
    let mut sent = 0u32;

    let r = check_int("WSPSend", |e| unsafe {
        t.lpWSPSend.unwrap()(
            s,
            std::ptr::null(),
            1,
            &mut sent,
            0,
            std::ptr::null_mut(),
            None,
            std::ptr::null(),
            e,
        )
    });
    assert_eq!(r, Err(WsaError::FAULT));
    let buf = WSABUF {
        len: 4,
        buf: std::ptr::null_mut(),
    };
    // SAFETY: valid or deliberately bad pointers, which the runtime checks before use.
    let r = check_int("WSPSend", |e| unsafe {
        t.lpWSPSend.unwrap()(
            s,
            &buf,
            1,
            &mut sent,
            0,
            std::ptr::null_mut(),
            None,
            std::ptr::null(),
            e,
        )
    });
    assert_eq!(r, Err(WsaError::FAULT));
    let short = v4("127.0.0.1:5").to_bytes();
    // SAFETY: valid or deliberately bad pointers, which the runtime checks before use.
    let r = check_int("WSPBind", |e| unsafe {
        t.lpWSPBind.unwrap()(s, short.as_ptr().cast(), 15, e)
    });
    assert_eq!(r, Err(WsaError::FAULT));
    // SAFETY: valid or deliberately bad pointers, which the runtime checks before use.
    let r = check_int("WSPBind", |e| unsafe {
        t.lpWSPBind.unwrap()(s, std::ptr::null(), 16, e)
    });
    assert_eq!(r, Err(WsaError::FAULT));
    let mut optval = [0u8; 2];
    let mut optlen = 2;
    // SAFETY: valid or deliberately bad pointers, which the runtime checks before use.
    let r = check_int("WSPGetSockOpt", |e| unsafe {
        t.lpWSPGetSockOpt.unwrap()(s, SOL_SOCKET, SO_TYPE, optval.as_mut_ptr(), &mut optlen, e)
    });
    assert_eq!(r, Err(WsaError::FAULT));
    // SAFETY: valid or deliberately bad pointers, which the runtime checks before use.
    let r = check_int("WSPShutdown", |e| unsafe {
        t.lpWSPShutdown.unwrap()(s, 7, e)
    });
    assert_eq!(r, Err(WsaError::INVAL));
    // A null lpErrno cannot be reported through, but must not crash either.
    // SAFETY: deliberately null lpErrno.
    let r = unsafe { t.lpWSPListen.unwrap()(0x7fff_0000, 1, std::ptr::null_mut()) };
    assert_eq!(r, SOCKET_ERROR);
    ws.closesocket(s).unwrap();
    ws.cleanup();
}

#[test]
fn runtime_answers_and_defaults() {
    let _serial = serial();
    let ws = loaded();
    let s = stream(&ws);
    assert_eq!(ws.getsockopt_int(s, SOL_SOCKET, SO_TYPE), Ok(SOCK_STREAM));
    assert_eq!(ws.getsockopt_int(s, SOL_SOCKET, SO_RCVBUF), Ok(8192));
    assert_eq!(
        ws.getsockopt_int(s, SOL_SOCKET, SO_KEEPALIVE),
        Err(WsaError::NOPROTOOPT)
    );
    let mut info = [0u8; std::mem::size_of::<WSAPROTOCOL_INFOW>()];
    assert_eq!(
        ws.getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW, &mut info),
        Ok(info.len())
    );
    // SAFETY: the buffer holds a whole WSAPROTOCOL_INFOW written by the provider.
    let info: WSAPROTOCOL_INFOW = unsafe { std::ptr::read_unaligned(info.as_ptr().cast()) };
    assert_eq!(
        info.dwCatalogEntryId,
        ws.spi_for(s).unwrap().info.dwCatalogEntryId
    );
    assert_eq!(info.iSocketType, SOCK_STREAM);
    assert_eq!(info.dwServiceFlags1 & XP1_IFS_HANDLES, 0);
    assert_eq!(ws.connect(s, &v4("127.0.0.1:7")), Err(WsaError::OPNOTSUPP));
    assert_eq!(ws.getsockname(s), Err(WsaError::INVAL));
    assert_eq!(ws.getpeername(s), Err(WsaError::NOTCONN));
    assert_eq!(ws.send(s, b"abc", 0), Ok(3));
    let mut arg = 1;
    ws.ioctlsocket(s, FIONBIO, &mut arg).unwrap();
    assert_eq!(ws.ioctlsocket(s, 0x1234, &mut arg), Err(WsaError::INVAL));
    assert_eq!(
        ws.socket(2, SOCK_DGRAM, IPPROTO_UDP),
        Err(WsaError::SOCKTNOSUPPORT)
    );
    assert_eq!(ws.socket(23, SOCK_STREAM, 0), Err(WsaError::AFNOSUPPORT));
    ws.closesocket(s).unwrap();
    ws.cleanup();
}

#[test]
fn notification_and_extension_entries_have_documented_defaults() {
    let _serial = serial();
    let ws = loaded();
    let s = stream(&ws);
    let t = ws.spi_for(s).unwrap().table;
    let null: *mut FD_SET = std::ptr::null_mut();

    let r = check_int("WSPSelect", |e| unsafe {
        t.lpWSPSelect.unwrap()(0, null, null, null, std::ptr::null(), e)
    });
    assert_eq!(r, Err(WsaError::INVAL), "select with no set");
    let mut set = FD_SET {
        fd_count: 1,
        ..Default::default()
    };
    set.fd_array[0] = s;
    // The runtime serves select from readiness; this provider never signals any, so a
    // zero timeout finds nothing.
    let poll = TIMEVAL {
        tv_sec: 0,
        tv_usec: 0,
    };
    // SAFETY: valid or deliberately bad pointers, which the runtime checks before use.
    let r = check_int("WSPSelect", |e| unsafe {
        t.lpWSPSelect.unwrap()(0, &mut set, null, null, &poll, e)
    });
    assert_eq!((r, set.fd_count), (Ok(0), 0));
    // Selecting events needs an event object / a window.
    // SAFETY: valid or deliberately bad pointers, which the runtime checks before use.
    let r = check_int("WSPEventSelect", |e| unsafe {
        t.lpWSPEventSelect.unwrap()(s, 0, 1, e)
    });
    assert_eq!(r, Err(WsaError::INVAL));
    // SAFETY: valid or deliberately bad pointers, which the runtime checks before use.
    let r = check_int("WSPAsyncSelect", |e| unsafe {
        t.lpWSPAsyncSelect.unwrap()(s, std::ptr::null_mut(), 1, 1, e)
    });
    assert_eq!(r, Err(WsaError::INVAL));
    // SAFETY: valid or deliberately bad pointers, which the runtime checks before use.
    let r = check_int("WSPEnumNetworkEvents", |e| unsafe {
        t.lpWSPEnumNetworkEvents.unwrap()(s, std::ptr::null_mut(), std::ptr::null_mut(), e)
    });
    assert_eq!(r, Err(WsaError::FAULT));
    let mut info = WSAPROTOCOL_INFOW::default();
    // SAFETY: valid or deliberately bad pointers, which the runtime checks before use.
    let r = check_int("WSPDuplicateSocket", |e| unsafe {
        t.lpWSPDuplicateSocket.unwrap()(s, 1, &mut info, e)
    });
    assert_eq!(r, Err(WsaError::OPNOTSUPP));
    // A pending request (Internal == WSS_OPERATION_IN_PROGRESS) is incomplete without fWait.
    let overlapped = OVERLAPPED {
        Internal: 0x103,
        ..OVERLAPPED::default()
    };
    let (mut n, mut flags) = (0u32, 0u32);
    // SAFETY: valid or deliberately bad pointers, which the runtime checks before use.
    let r = check_bool("WSPGetOverlappedResult", |e| unsafe {
        t.lpWSPGetOverlappedResult.unwrap()(s, &overlapped, &mut n, 0, &mut flags, e)
    });
    assert_eq!(r, Err(WsaError::IO_INCOMPLETE));
    // SAFETY: valid or deliberately bad pointers, which the runtime checks before use.
    let r = check_bool("WSPGetOverlappedResult", |e| unsafe {
        t.lpWSPGetOverlappedResult.unwrap()(s, std::ptr::null(), &mut n, 0, &mut flags, e)
    });
    assert_eq!(r, Err(WsaError::FAULT));
    let mut name = *b"G711";
    let wsabuf = WSABUF {
        len: 4,
        buf: name.as_mut_ptr(),
    };
    let mut qos = QOS::default();
    // SAFETY: valid or deliberately bad pointers, which the runtime checks before use.
    let r = check_bool("WSPGetQOSByName", |e| unsafe {
        t.lpWSPGetQOSByName.unwrap()(s, &wsabuf, &mut qos, e)
    });
    assert_eq!(r, Err(WsaError::INVAL));
    // SAFETY: valid or deliberately bad pointers, which the runtime checks before use.
    let r = check_int("WSPCancelBlockingCall", |e| unsafe {
        t.lpWSPCancelBlockingCall.unwrap()(e)
    });
    assert_eq!(r, Err(WsaError::INVAL));
    // SAFETY: valid or deliberately bad pointers, which the runtime checks before use.
    let r = check_int("WSPRecvDisconnect", |e| unsafe {
        t.lpWSPRecvDisconnect.unwrap()(s, std::ptr::null(), e)
    });
    assert_eq!(
        r,
        Err(WsaError::OPNOTSUPP),
        "default recv_disconnect is a receive shutdown"
    );
    // SAFETY: valid or deliberately bad pointers, which the runtime checks before use.
    let r = check_socket("WSPJoinLeaf", |e| unsafe {
        let addr = v4("127.0.0.1:1").to_bytes();
        t.lpWSPJoinLeaf.unwrap()(
            s,
            addr.as_ptr().cast(),
            16,
            std::ptr::null(),
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
            0,
            e,
        )
    });
    assert_eq!(r, Err(WsaError::OPNOTSUPP));
    ws.closesocket(s).unwrap();
    ws.cleanup();
}

#[test]
fn address_strings_use_the_default_conversions() {
    let _serial = serial();
    let ws = loaded();
    let t = ws.spi(2, SOCK_STREAM, 0).unwrap().table;
    let addr = v4("127.0.0.1:8080").to_bytes();
    let mut text = [0u16; 64];
    let mut len = 64u32;
    // SAFETY: valid address and output buffers.
    check_int("WSPAddressToString", |e| unsafe {
        t.lpWSPAddressToString.unwrap()(
            addr.as_ptr().cast(),
            16,
            std::ptr::null(),
            text.as_mut_ptr(),
            &mut len,
            e,
        )
    })
    .unwrap();
    assert_eq!(
        String::from_utf16_lossy(&text[..len as usize - 1]),
        "127.0.0.1:8080"
    );
    let mut short = 3u32;
    // SAFETY: as above, with a length too small for the text.
    let r = check_int("WSPAddressToString", |e| unsafe {
        t.lpWSPAddressToString.unwrap()(
            addr.as_ptr().cast(),
            16,
            std::ptr::null(),
            text.as_mut_ptr(),
            &mut short,
            e,
        )
    });
    assert_eq!((r, short), (Err(WsaError::FAULT), 15));
    let wide: Vec<u16> = "10.1.2.3:99".encode_utf16().chain(Some(0)).collect();
    let mut out = [0u8; 16];
    let mut out_len = 16;
    // SAFETY: NUL-terminated input and a 16-byte output buffer.
    check_int("WSPStringToAddress", |e| unsafe {
        t.lpWSPStringToAddress.unwrap()(
            wide.as_ptr(),
            2,
            std::ptr::null(),
            out.as_mut_ptr().cast(),
            &mut out_len,
            e,
        )
    })
    .unwrap();
    assert_eq!(SockAddr::from_bytes(&out).unwrap(), v4("10.1.2.3:99"));
    ws.cleanup();
}

/// Issue 15: a provider that signals readiness while holding its own lock, and panics on
/// demand in the methods the runtime calls outside a plain entry point.
mod latch {
    use super::serial;
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::{Duration, Instant};
    use winsock_provider::sys::*;
    use winsock_provider::{
        entry_points, Bufs, BufsMut, MsgFlags, Notifier, OptValue, Provider, Ready, Shutdown, Sock,
        SockAddr, SockOpt, SocketRequest, StartupContext, WsaError,
    };
    use ws2_standin::{check_int, Ws2};

    /// Which methods panic (bits below).
    static PANIC_IN: AtomicU32 = AtomicU32::new(0);
    const RECV: u32 = 1;
    const ADOPT: u32 = 2;
    const ATTACHED: u32 = 4;
    const READINESS: u32 = 8;
    const CLEANUP: u32 = 16;
    /// `send` waits, after signalling, until its data has been received.
    static SEND_WAITS: AtomicBool = AtomicBool::new(false);
    /// `accept` waits until the socket is closed, even when it must not block.
    static ACCEPT_BLOCKS: AtomicBool = AtomicBool::new(false);
    /// Calls of the methods that fill a caller's buffer (the runtime must check it first).
    static FILLERS: AtomicUsize = AtomicUsize::new(0);
    /// The state and notifier of the last socket attached, for a thread of "the transport".
    static LAST: Mutex<Option<(Arc<Shared>, Notifier)>> = Mutex::new(None);

    fn panics(bit: u32) -> bool {
        PANIC_IN.load(Ordering::SeqCst) & bit != 0
    }

    #[derive(Default)]
    struct State {
        data: Vec<u8>,
        shut: bool,
        pending_connections: usize,
        notifier: Notifier,
    }

    #[derive(Default)]
    struct Shared {
        state: Mutex<State>,
        changed: Condvar,
    }

    impl Shared {
        fn lock(&self) -> std::sync::MutexGuard<'_, State> {
            self.state.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    #[derive(Default)]
    struct LatchSocket(Arc<Shared>);

    /// Sends loop back to the sending socket; every signal is sent under the socket's lock.
    struct Latch;

    impl Provider for Latch {
        type Socket = LatchSocket;

        fn startup(_: &StartupContext) -> Result<Self, WsaError> {
            Ok(Latch)
        }

        fn cleanup(&self) {
            if panics(CLEANUP) {
                panic!("the latch provider panics in cleanup");
            }
        }

        fn socket(&self, _: &SocketRequest) -> Result<LatchSocket, WsaError> {
            Ok(LatchSocket::default())
        }

        fn close(&self, sock: &Sock<Self>) -> Result<(), WsaError> {
            sock.0.lock().shut = true;
            sock.0.changed.notify_all();
            Ok(())
        }

        fn attached(&self, sock: &Sock<Self>) {
            if panics(ATTACHED) {
                panic!("the latch provider panics in attached");
            }
            sock.0.lock().notifier = sock.notifier();
            *LAST.lock().unwrap() = Some((sock.0.clone(), sock.notifier()));
        }

        fn readiness(&self, sock: &Sock<Self>) -> Ready {
            if panics(READINESS) {
                panic!("the latch provider panics in readiness");
            }
            let st = sock.0.lock();
            let mut ready = Ready::WRITE;
            if !st.data.is_empty() || st.shut {
                ready |= Ready::READ;
            }
            if st.pending_connections > 0 {
                ready |= Ready::ACCEPT;
            }
            ready
        }

        fn listen(&self, sock: &Sock<Self>, _: i32) -> Result<(), WsaError> {
            let mut st = sock.0.lock();
            st.pending_connections += 2;
            st.notifier.ready(Ready::ACCEPT);
            Ok(())
        }

        fn accept(&self, sock: &Sock<Self>) -> Result<(LatchSocket, SockAddr), WsaError> {
            let mut st = sock.0.lock();
            if ACCEPT_BLOCKS.load(Ordering::SeqCst) {
                while !st.shut {
                    st = sock.0.changed.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                return Err(WsaError::INTR);
            }
            if st.pending_connections == 0 {
                return Err(WsaError::WOULDBLOCK);
            }
            st.pending_connections -= 1;
            Ok((LatchSocket::default(), super::v4("127.0.0.1:9")))
        }

        fn adopt(&self, _: &Sock<Self>, _: LatchSocket) -> Result<(), WsaError> {
            if panics(ADOPT) {
                panic!("the latch provider panics in adopt");
            }
            Ok(())
        }

        fn shutdown(&self, sock: &Sock<Self>, _: Shutdown) -> Result<(), WsaError> {
            let mut st = sock.0.lock();
            st.shut = true;
            st.notifier.ready(Ready::READ | Ready::CLOSE);
            sock.0.changed.notify_all();
            Ok(())
        }

        fn send(&self, sock: &Sock<Self>, bufs: &Bufs<'_>, _: MsgFlags) -> Result<usize, WsaError> {
            let mut st = sock.0.lock();
            st.data.extend(bufs.to_vec());
            st.notifier.ready(Ready::READ);
            sock.0.changed.notify_all();
            if SEND_WAITS.load(Ordering::SeqCst) && !sock.nonblocking() {
                while !st.data.is_empty() {
                    st = sock.0.changed.wait(st).unwrap_or_else(|e| e.into_inner());
                }
            }
            Ok(bufs.len())
        }

        fn recv(
            &self,
            sock: &Sock<Self>,
            bufs: &mut BufsMut<'_>,
            _: MsgFlags,
        ) -> Result<(usize, MsgFlags), WsaError> {
            if panics(RECV) {
                panic!("the latch provider panics in recv");
            }
            let mut st = sock.0.lock();
            loop {
                if !st.data.is_empty() {
                    let n = bufs.copy_from(&st.data);
                    st.data.drain(..n);
                    sock.0.changed.notify_all();
                    return Ok((n, MsgFlags::NONE));
                }
                if st.shut {
                    return Ok((0, MsgFlags::NONE));
                }
                if sock.nonblocking() {
                    return Err(WsaError::WOULDBLOCK);
                }
                st = sock.0.changed.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        }

        fn sock_name(&self, _: &Sock<Self>) -> Result<SockAddr, WsaError> {
            FILLERS.fetch_add(1, Ordering::SeqCst);
            Ok(super::v4("127.0.0.1:9"))
        }

        fn peer_name(&self, _: &Sock<Self>) -> Result<SockAddr, WsaError> {
            FILLERS.fetch_add(1, Ordering::SeqCst);
            Ok(super::v4("127.0.0.1:10"))
        }

        fn get_option(&self, _: &Sock<Self>, _: SockOpt) -> Result<OptValue, WsaError> {
            FILLERS.fetch_add(1, Ordering::SeqCst);
            Ok(OptValue::Int(1))
        }

        fn address_to_string(&self, _: &SockAddr) -> Result<String, WsaError> {
            FILLERS.fetch_add(1, Ordering::SeqCst);
            Ok("latch".to_owned())
        }

        fn string_to_address(&self, _: &str, _: i32) -> Result<SockAddr, WsaError> {
            FILLERS.fetch_add(1, Ordering::SeqCst);
            Ok(super::v4("127.0.0.1:9"))
        }
    }

    impl winsock_provider::Binding for Latch {
        type Mode = winsock_provider::NonIfs;
        const INFO: winsock_provider::ProviderInfo = winsock_provider::ProviderInfo {
            name: "Latch",
            description: "Signals under its own lock",
            guid: winsock_provider::Guid(0x4c61_7463_6800_4b13_8c6d_2e1f_0a9b_8c7e),
            protocols: &[winsock_provider::ProtocolSpec {
                name: "Latch stream",
                family: 2,
                socket_type: 1,
                protocol: 6,
                service_flags: 0x26,
                provider_flags: 8,
                max_message_size: 0,
                min_sockaddr: 16,
                max_sockaddr: 16,
            }],
        };
        fn state() -> &'static winsock_provider::State<Self> {
            static STATE: winsock_provider::State<Latch> = winsock_provider::State::new();
            &STATE
        }
    }

    /// A fresh session with only the latch provider, and no panics armed.
    fn session() -> Ws2 {
        PANIC_IN.store(0, Ordering::SeqCst);
        SEND_WAITS.store(false, Ordering::SeqCst);
        ACCEPT_BLOCKS.store(false, Ordering::SeqCst);
        let ws = Ws2::new();
        ws.load(entry_points::<Latch>())
            .expect("load the latch provider");
        ws
    }

    fn socket(ws: &Ws2) -> SOCKET {
        ws.socket(2, SOCK_STREAM, IPPROTO_TCP).expect("socket")
    }

    /// Runs `f` on a thread of its own; a call that has not returned within 10 s is a hang,
    /// after which nothing can be cleaned up: it is reported and the process exits.
    fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(r) => r,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "{} did not return within 10 s: a hang; exiting",
                    what
                );
                std::process::exit(1)
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("{} panicked", what),
        }
    }

    /// Memory a pending request may write until it completes: freed when dropped, unless a
    /// panic (a failing test) drops it, which may leave a request pending: then it is leaked.
    struct Owned<T>(core::mem::ManuallyDrop<Box<T>>);

    impl<T> Owned<T> {
        fn new(value: T) -> Owned<T> {
            Owned(core::mem::ManuallyDrop::new(Box::new(value)))
        }

        fn ptr(&mut self) -> *mut T {
            &mut **self.0
        }
    }

    impl<T> core::ops::Deref for Owned<T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.0
        }
    }

    impl<T> Drop for Owned<T> {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                // SAFETY: dropped once, here; the test has seen every request complete.
                unsafe { core::mem::ManuallyDrop::drop(&mut self.0) };
            }
        }
    }

    /// An overlapped receive with its own event, buffer and OVERLAPPED.
    struct Pending {
        ov: Owned<OVERLAPPED>,
        buf: Owned<[u8; 16]>,
        event: WSAEVENT,
    }

    impl Pending {
        fn new(ws: &Ws2) -> Pending {
            let event = ws.create_event().unwrap();
            Pending {
                ov: Owned::new(OVERLAPPED {
                    hEvent: event as _,
                    ..OVERLAPPED::default()
                }),
                buf: Owned::new([0u8; 16]),
                event,
            }
        }

        /// `WSARecv` with this OVERLAPPED.
        fn recv(&mut self, ws: &Ws2, s: SOCKET) -> Result<(u32, u32), WsaError> {
            let b = [WSABUF {
                len: 16,
                buf: self.buf.ptr().cast(),
            }];
            // SAFETY: the buffer and OVERLAPPED live in `self` until the test has seen the
            // request complete (`Owned`).
            unsafe { ws.wsa_recv(s, &b, 0, self.ov.ptr(), None) }
        }

        /// Whether the completion was delivered within `ms`.
        fn completes_within(&self, ws: &Ws2, ms: u32) -> bool {
            ws.wait_for_multiple_events(&[self.event], false, ms, false) == Ok(0)
        }

        /// `Internal` (the error; `WSS_OPERATION_IN_PROGRESS` while pending).
        fn internal(&self) -> usize {
            // SAFETY: a live OVERLAPPED a provider thread may write: read it volatile.
            unsafe { core::ptr::read_volatile(&self.ov.Internal) }
        }
    }

    fn pending(p: &mut Pending, ws: &Ws2, s: SOCKET) {
        assert_eq!(p.recv(ws, s), Err(WsaError::IO_PENDING));
    }

    #[test]
    fn a_provider_may_signal_under_its_own_lock() {
        let _serial = serial();
        let ws = session();
        // SD_RECEIVE, SD_SEND, SD_BOTH with a receive pending: the shutdown signals under the
        // socket's lock; the receive completes (end of stream) once it has returned.
        for how in [SD_RECEIVE, SD_SEND, SD_BOTH] {
            let s = socket(&ws);
            let mut p = Pending::new(&ws);
            pending(&mut p, &ws, s);
            let w = ws.clone();
            within("WSPShutdown", move || w.shutdown(s, how)).unwrap();
            assert!(
                p.completes_within(&ws, 5000),
                "shutdown({}): no completion",
                how
            );
            assert_eq!(p.internal(), 0);
            // A later receive (blocking) returns: end of stream.
            let w = ws.clone();
            let got = within("WSPRecv", move || w.recv(s, &mut [0u8; 4], 0));
            assert_eq!(got, Ok(0));
            ws.closesocket(s).unwrap();
        }
        // Data sent from another thread completes a pending receive promptly.
        let s = socket(&ws);
        let mut p = Pending::new(&ws);
        pending(&mut p, &ws, s);
        let w = ws.clone();
        let sent = Instant::now();
        within("WSPSend", move || w.send(s, b"abc", 0)).unwrap();
        assert!(p.completes_within(&ws, 5000));
        assert!(sent.elapsed() < Duration::from_secs(1));
        assert_eq!(&p.buf[..3], b"abc");
        // A signal from the provider's own thread, under its lock, outside any call.
        let mut q = Pending::new(&ws);
        pending(&mut q, &ws, s);
        let (shared, notifier) = LAST.lock().unwrap().clone().unwrap();
        let transport = std::thread::spawn(move || {
            let mut st = shared.lock();
            st.data.extend_from_slice(b"transport");
            notifier.ready(Ready::READ);
            std::thread::sleep(Duration::from_millis(20));
        });
        transport.join().unwrap();
        assert!(q.completes_within(&ws, 5000));
        assert_eq!(&q.buf[..9], b"transport");
        // A method that blocks after signalling, until a pending receive has taken its data.
        let mut r = Pending::new(&ws);
        pending(&mut r, &ws, s);
        SEND_WAITS.store(true, Ordering::SeqCst);
        let w = ws.clone();
        within("blocking WSPSend", move || w.send(s, b"xyz", 0)).unwrap();
        SEND_WAITS.store(false, Ordering::SeqCst);
        assert!(r.completes_within(&ws, 5000));
        assert_eq!(&r.buf[..3], b"xyz");
        // WSPCleanup with a receive pending returns and completes it.
        let mut last = Pending::new(&ws);
        pending(&mut last, &ws, s);
        within("WSPCleanup", move || ws.cleanup());
        assert_eq!(last.internal(), WsaError::OPERATION_ABORTED.code() as usize);
    }

    #[test]
    fn a_panicking_attempt_fails_once_and_leaves_nothing_stuck() {
        let _serial = serial();
        let ws = session();
        let s = socket(&ws);
        ws.send(s, b"abc", 0).unwrap();
        // Fails at once: WSAENETDOWN, and never completes (the stand-in reports a completion
        // of a request that failed at once on the next call).
        PANIC_IN.store(RECV, Ordering::SeqCst);
        let mut p = Pending::new(&ws);
        assert_eq!(p.recv(&ws, s), Err(WsaError::NETDOWN));
        assert!(!p.completes_within(&ws, 50), "a failed request completed");
        PANIC_IN.store(0, Ordering::SeqCst);
        // Later overlapped receives complete.
        let mut q = Pending::new(&ws);
        assert_eq!(q.recv(&ws, s), Ok((3, 0)));
        // A panic in an attempt made after a signal completes that request with the error.
        let mut r = Pending::new(&ws);
        pending(&mut r, &ws, s);
        PANIC_IN.store(RECV, Ordering::SeqCst);
        ws.send(s, b"def", 0).unwrap();
        assert!(r.completes_within(&ws, 5000));
        assert_eq!(r.internal(), WsaError::NETDOWN.code() as usize);
        PANIC_IN.store(0, Ordering::SeqCst);
        let mut t = Pending::new(&ws);
        assert_eq!(t.recv(&ws, s), Ok((3, 0)));
        // A blocking receive on this thread blocks (the attempt's "don't block" mark is gone).
        let w = ws.clone();
        let feeder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            w.send(s, b"late", 0).unwrap();
        });
        let started = Instant::now();
        let mut buf = [0u8; 8];
        assert_eq!(ws.recv(s, &mut buf, 0), Ok(4));
        assert!(started.elapsed() >= Duration::from_millis(80));
        feeder.join().unwrap();
        // Close and clean-up return.
        let mut u = Pending::new(&ws);
        pending(&mut u, &ws, s);
        let w = ws.clone();
        within("WSPCloseSocket", move || w.closesocket(s)).unwrap();
        assert!(u.completes_within(&ws, 5000));
        within("WSPCleanup", move || ws.cleanup());
    }

    #[test]
    fn accept_ex_survives_a_panicking_adopt_and_a_closed_listener() {
        let _serial = serial();
        let ws = session();
        let l = socket(&ws);
        ws.listen(l, 5).unwrap();
        let a = socket(&ws);
        let ev = ws.create_event().unwrap();
        let mut out = Owned::new([0u8; 300]);
        let mut ov = Owned::new(OVERLAPPED {
            hEvent: ev as _,
            ..OVERLAPPED::default()
        });
        PANIC_IN.store(ADOPT, Ordering::SeqCst);
        // SAFETY: the buffer and OVERLAPPED live until the end of the test (`Owned`).
        let r = unsafe { ws.accept_ex(l, a, &mut *out.ptr(), 0, 144, ov.ptr()) };
        PANIC_IN.store(0, Ordering::SeqCst);
        match r {
            // Failed at once: must never complete (the stand-in checks).
            Err(e) if e != WsaError::IO_PENDING => {
                assert_eq!(e, WsaError::NETDOWN);
                assert_ne!(ws.wait_for_multiple_events(&[ev], false, 50, false), Ok(0));
            }
            // Pending: completes once, with the panic's error.
            _ => {
                assert_eq!(
                    ws.wait_for_multiple_events(&[ev], false, 5000, false),
                    Ok(0)
                );
                assert_eq!(ov.Internal, WsaError::NETDOWN.code() as usize);
            }
        }
        // With a data area, the request waits for the first data on the accepted socket;
        // closing the listener completes it before the listener's handle is released (the
        // stand-in reports a completion naming a released handle).
        let b = socket(&ws);
        let ev2 = ws.create_event().unwrap();
        let mut out2 = Owned::new([0u8; 300]);
        let mut ov2 = Owned::new(OVERLAPPED {
            hEvent: ev2 as _,
            ..OVERLAPPED::default()
        });
        // SAFETY: as above.
        let r = unsafe { ws.accept_ex(l, b, &mut *out2.ptr(), 8, 144, ov2.ptr()) };
        assert_eq!(r, Err(WsaError::IO_PENDING));
        ws.closesocket(l).unwrap();
        assert_eq!(
            ws.wait_for_multiple_events(&[ev2], false, 5000, false),
            Ok(0)
        );
        assert_eq!(ov2.Internal, WsaError::OPERATION_ABORTED.code() as usize);
        ws.send(b, b"late", 0).unwrap();
        ws.closesocket(b).unwrap();
        ws.closesocket(a).unwrap();
        within("WSPCleanup", move || ws.cleanup());
    }

    #[test]
    fn closing_a_listener_wakes_an_attempt_blocked_in_the_provider() {
        let _serial = serial();
        let ws = session();
        let l = socket(&ws);
        ws.listen(l, 5).unwrap();
        let a = socket(&ws);
        ACCEPT_BLOCKS.store(true, Ordering::SeqCst);
        let mut out = Owned::new([0u8; 300]);
        let mut ov = Owned::new(OVERLAPPED::default());
        let (out_at, ov_at) = (out.ptr() as usize, ov.ptr() as usize);
        let w = ws.clone();
        let acceptor = std::thread::spawn(move || {
            // SAFETY: the buffer and OVERLAPPED live until the end of the test (`Owned`).
            unsafe {
                let out = &mut *(out_at as *mut [u8; 300]);
                w.accept_ex(l, a, out, 0, 144, ov_at as *mut OVERLAPPED)
            }
        });
        std::thread::sleep(Duration::from_millis(100));
        // The attempt blocks in the provider's accept (a provider bug); the close lets the
        // provider's close wake it instead of waiting for it first.
        let w = ws.clone();
        within("WSPCloseSocket", move || w.closesocket(l)).unwrap();
        let r = within("AcceptEx", move || acceptor.join().unwrap());
        ACCEPT_BLOCKS.store(false, Ordering::SeqCst);
        assert_eq!(r, Err(WsaError::INTR));
        ws.closesocket(a).unwrap();
        ws.cleanup();
    }

    #[test]
    fn select_counts_a_handle_listed_twice_once() {
        let _serial = serial();
        let ws = session();
        let (a, b) = (socket(&ws), socket(&ws));
        ws.send(a, b"1", 0).unwrap();
        ws.send(b, b"2", 0).unwrap();
        let (mut read, mut write, mut except) = (vec![a, a, b], vec![a, a], vec![]);
        let n = ws.select(&mut read, &mut write, &mut except, Some(Duration::ZERO));
        assert_eq!(n, Ok(3));
        assert_eq!(read, vec![a, b]);
        assert_eq!(write, vec![a]);
        ws.cleanup();
    }

    #[test]
    fn null_buffers_fail_before_the_provider_runs() {
        let _serial = serial();
        let ws = session();
        let s = socket(&ws);
        let t = ws.spi_for(s).unwrap().table;
        let before = FILLERS.load(Ordering::SeqCst);
        let mut len = 16;
        let mut short = 8;
        let mut addr = [0u8; 16];
        // SAFETY: valid or deliberately null/short pointers, which the runtime checks first.
        unsafe {
            for f in [t.lpWSPGetSockName.unwrap(), t.lpWSPGetPeerName.unwrap()] {
                let r = check_int("WSPGetSockName", |e| {
                    f(s, core::ptr::null_mut(), &mut len, e)
                });
                assert_eq!(r, Err(WsaError::FAULT));
                let r = check_int("WSPGetSockName", |e| {
                    f(s, addr.as_mut_ptr().cast(), core::ptr::null_mut(), e)
                });
                assert_eq!(r, Err(WsaError::FAULT));
                let r = check_int("WSPGetSockName", |e| {
                    f(s, addr.as_mut_ptr().cast(), &mut short, e)
                });
                assert_eq!(r, Err(WsaError::FAULT));
            }
            let r = check_int("WSPGetSockOpt", |e| {
                t.lpWSPGetSockOpt.unwrap()(
                    s,
                    SOL_SOCKET,
                    SO_RCVBUF,
                    core::ptr::null_mut(),
                    &mut len,
                    e,
                )
            });
            assert_eq!(r, Err(WsaError::FAULT));
            let sa = super::v4("127.0.0.1:9").to_bytes();
            let mut text = [0u16; 32];
            let r = check_int("WSPAddressToString", |e| {
                t.lpWSPAddressToString.unwrap()(
                    sa.as_ptr().cast(),
                    16,
                    core::ptr::null(),
                    text.as_mut_ptr(),
                    core::ptr::null_mut(),
                    e,
                )
            });
            assert_eq!(r, Err(WsaError::FAULT));
            let wide: Vec<u16> = "127.0.0.1:9\0".encode_utf16().collect();
            let r = check_int("WSPStringToAddress", |e| {
                t.lpWSPStringToAddress.unwrap()(
                    wide.as_ptr(),
                    2,
                    core::ptr::null(),
                    core::ptr::null_mut(),
                    &mut len,
                    e,
                )
            });
            assert_eq!(r, Err(WsaError::FAULT));
        }
        assert_eq!(FILLERS.load(Ordering::SeqCst), before, "provider code ran");
        // With room, they reach the provider.
        assert_eq!(ws.getsockname(s), Ok(super::v4("127.0.0.1:9")));
        assert_eq!(FILLERS.load(Ordering::SeqCst), before + 1);
        ws.cleanup();
    }

    #[test]
    fn panics_in_attached_and_readiness_fail_calls_with_wsaenetdown() {
        let _serial = serial();
        let ws = session();
        // `attached` panics: the socket fails every call but close.
        PANIC_IN.store(ATTACHED, Ordering::SeqCst);
        let s = socket(&ws);
        assert_eq!(ws.send(s, b"x", 0), Err(WsaError::NETDOWN));
        PANIC_IN.store(0, Ordering::SeqCst);
        assert_eq!(ws.send(s, b"x", 0), Err(WsaError::NETDOWN));
        let (mut r, mut w, mut x) = (vec![s], vec![], vec![]);
        assert_eq!(
            ws.select(&mut r, &mut w, &mut x, Some(Duration::ZERO)),
            Err(WsaError::NETDOWN)
        );
        ws.closesocket(s).unwrap();
        // `readiness` panics: select fails instead of waiting; the socket stays usable.
        let s = socket(&ws);
        ws.send(s, b"x", 0).unwrap();
        PANIC_IN.store(READINESS, Ordering::SeqCst);
        let (mut r, mut w, mut x) = (vec![s], vec![], vec![]);
        assert_eq!(
            ws.select(&mut r, &mut w, &mut x, None),
            Err(WsaError::NETDOWN)
        );
        PANIC_IN.store(0, Ordering::SeqCst);
        let (mut r, mut w, mut x) = (vec![s], vec![], vec![]);
        assert_eq!(ws.select(&mut r, &mut w, &mut x, None), Ok(1));
        assert_eq!(ws.recv(s, &mut [0u8; 4], 0), Ok(1));
        ws.closesocket(s).unwrap();
        ws.cleanup();
    }

    unsafe extern "system" fn create_handle(_: u32, context: usize, _: *mut i32) -> SOCKET {
        context & !3
    }

    unsafe extern "system" fn close_handle(_: SOCKET, _: *mut i32) -> i32 {
        0
    }

    #[test]
    fn a_panic_in_cleanup_fails_the_last_cleanup_after_releasing_everything() {
        let _serial = serial();
        let ep = entry_points::<Latch>();
        let mut data = WSPDATA::default();
        let mut table = WSPPROC_TABLE::default();
        let info = WSAPROTOCOL_INFOW {
            dwCatalogEntryId: 1,
            ..Default::default()
        };
        let up = WSPUPCALLTABLE {
            lpWPUCreateSocketHandle: Some(create_handle),
            lpWPUCloseSocketHandle: Some(close_handle),
            ..Default::default()
        };
        // SAFETY: WSPStartup with valid out-structures and the two upcalls a non-IFS provider
        // needs.
        assert_eq!(
            unsafe { (ep.startup)(0x0202, &mut data, &info, up, &mut table) },
            0
        );
        PANIC_IN.store(CLEANUP, Ordering::SeqCst);
        let cleanup = table.lpWSPCleanup.unwrap();
        // SAFETY: balances the start-up above.
        let r = check_int("WSPCleanup", |e| unsafe { cleanup(e) });
        PANIC_IN.store(0, Ordering::SeqCst);
        assert_eq!(r, Err(WsaError::NETDOWN));
        // The clean-up happened all the same: the provider is not started any more.
        // SAFETY: an extra clean-up must be refused, not crash.
        let r = check_int("WSPCleanup", |e| unsafe { cleanup(e) });
        assert_eq!(r, Err(WsaError::NOTINITIALISED));
    }
}
