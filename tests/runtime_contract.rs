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

impl winsock_provider::Descriptor for Probe {
    type Mode = winsock_provider::NonIfs;
    const INFO: winsock_provider::ProviderInfo = winsock_provider::ProviderInfo {
        name: "Probe",
        description: "Runtime contract probe",
        guid: winsock_provider::Guid(0x9d2c_41f0_5a7e_4b13_8c6d_2e1f_0a9b_8c7d),
        mode: winsock_provider::DescriptorMode::NonIfs,
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
