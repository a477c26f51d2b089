//! A deferred accept: `WSPAccept` whose condition function returns `CF_DEFER` fails with
//! `WSATRY_AGAIN` and leaves the connection at the top of the backlog, for the next accept
//! ("the service provider must leave the connection request on the backlog queue"); unlike any
//! other accept, it does not re-enable `FD_ACCEPT` (`WSAEventSelect`: the re-enabling function
//! is `accept`/`WSAAccept` "unless the error code returned is WSATRY_AGAIN indicating that the
//! condition function returned CF_DEFER"); the next accept that is not deferred re-enables it.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use winsock_provider::sys::*;
use winsock_provider::{
    entry_points, proc_table, Notifier, Provider, Ready, Sock, SockAddr, SocketRequest,
    StartupContext, WsaError,
};
use ws2_standin::Ws2;

/// A provider with one backlog, filled by [`arrive`].
struct Backlog;

/// Connections waiting on the listener.
static PENDING: AtomicUsize = AtomicUsize::new(0);
/// The listener's notifier, from `listen`.
static LISTENER: Mutex<Option<Notifier>> = Mutex::new(None);

/// A connection arrives at the listener.
fn arrive() {
    PENDING.fetch_add(1, Ordering::SeqCst);
    let notifier = LISTENER.lock().unwrap().clone().expect("listening");
    notifier.ready(Ready::ACCEPT);
}

fn local() -> SockAddr {
    SockAddr::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7))
}

impl Provider for Backlog {
    type Socket = ();

    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Backlog)
    }

    fn socket(&self, _: &SocketRequest) -> Result<(), WsaError> {
        Ok(())
    }

    fn bind(&self, _: &Sock<Self>, _: &SockAddr) -> Result<(), WsaError> {
        Ok(())
    }

    fn sock_name(&self, _: &Sock<Self>) -> Result<SockAddr, WsaError> {
        Ok(local())
    }

    fn listen(&self, sock: &Sock<Self>, _: i32) -> Result<(), WsaError> {
        *LISTENER.lock().unwrap() = Some(sock.notifier());
        Ok(())
    }

    fn accept(&self, _: &Sock<Self>) -> Result<((), SockAddr), WsaError> {
        let taken = PENDING.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        match taken {
            Ok(_) => Ok((
                (),
                SockAddr::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9)),
            )),
            Err(_) => Err(WsaError::WOULDBLOCK),
        }
    }
}

impl winsock_provider::Binding for Backlog {
    type Mode = winsock_provider::NonIfs;
    const INFO: winsock_provider::ProviderInfo = winsock_provider::ProviderInfo {
        name: "Backlog",
        description: "Deferred accept probe",
        guid: winsock_provider::Guid(0x5b2e_07c4_93a1_4d6f_8e20_c7b9_14d3_6a51),
        protocols: &[winsock_provider::ProtocolSpec {
            name: "Backlog stream",
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
        static STATE: winsock_provider::State<Backlog> = winsock_provider::State::new();
        &STATE
    }
}

/// A condition function that defers every connection.
unsafe extern "system" fn defer(
    _: *mut WSABUF,
    _: *mut WSABUF,
    _: *mut QOS,
    _: *mut QOS,
    _: *mut WSABUF,
    _: *mut WSABUF,
    _: *mut u32,
    _: usize,
) -> i32 {
    CF_DEFER as i32
}

#[test]
fn a_deferred_accept_does_not_reenable_fd_accept() {
    let ws = Ws2::new();
    ws.load(entry_points::<Backlog>()).expect("load");
    let s = ws.socket(2, SOCK_STREAM, IPPROTO_TCP).expect("socket");
    ws.bind(s, &local()).expect("bind");
    ws.listen(s, 5).expect("listen");
    let ev = ws.create_event().expect("WSACreateEvent");
    ws.wsa_event_select(s, ev, FD_ACCEPT)
        .expect("WSAEventSelect");
    let recorded = |ws: &Ws2| {
        ws.wsa_enum_network_events(s, ev)
            .expect("WSAEnumNetworkEvents")
            .lNetworkEvents as u32
            & FD_ACCEPT
    };

    for _ in 0..3 {
        arrive();
    }
    assert_ne!(recorded(&ws), 0, "the first arrival");
    assert_eq!(
        recorded(&ws),
        0,
        "nothing until an accept re-enables FD_ACCEPT"
    );

    let wsp_accept = proc_table::<Backlog>().lpWSPAccept.expect("WSPAccept");
    let mut errno = 0;
    // SAFETY: a listening socket of this provider, no address buffer, a condition function
    // that ignores its arguments, and a writable error slot.
    let new = unsafe {
        wsp_accept(
            s,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            Some(defer),
            0,
            &mut errno,
        )
    };
    assert_eq!((new, errno), (INVALID_SOCKET, WSATRY_AGAIN));
    assert_eq!(
        recorded(&ws),
        0,
        "a deferred accept leaves FD_ACCEPT disabled although connections wait"
    );

    let (accepted, _) = ws.accept(s).expect("accept");
    assert_ne!(
        recorded(&ws),
        0,
        "an accept that is not deferred re-enables FD_ACCEPT (a connection still waits)"
    );

    ws.closesocket(accepted).expect("close the accepted socket");
    ws.closesocket(s).expect("close the listener");
    ws.close_event(ev).expect("WSACloseEvent");
    ws.cleanup();
}

/// A provider whose connections are numbered in arrival order (a connection's peer port is its
/// number), whose listeners are ready exactly while connections wait in its backlog, and which
/// records the connections it closes.
struct Numbered;

/// Connections waiting in the provider's backlog.
static WAITING: Mutex<VecDeque<u16>> = Mutex::new(VecDeque::new());
/// The connections the provider closed.
static CLOSED: Mutex<Vec<u16>> = Mutex::new(Vec::new());
/// The listener's notifier.
static NUMBERED_LISTENER: Mutex<Option<Notifier>> = Mutex::new(None);
/// The connections the condition function was asked about (their numbers).
static ASKED: Mutex<Vec<u16>> = Mutex::new(Vec::new());
/// The connections `AcceptEx` moved into an accept socket.
static ADOPTED: Mutex<Vec<u16>> = Mutex::new(Vec::new());

fn peer(n: u16) -> SockAddr {
    SockAddr::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, n))
}

/// Connection `n` arrives at the listener.
fn arrive_numbered(n: u16) {
    WAITING.lock().unwrap().push_back(n);
    let notifier = NUMBERED_LISTENER
        .lock()
        .unwrap()
        .clone()
        .expect("listening");
    notifier.ready(Ready::ACCEPT);
}

impl Provider for Numbered {
    /// `Some(n)` for connection `n`.
    type Socket = Option<u16>;

    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Numbered)
    }

    fn socket(&self, _: &SocketRequest) -> Result<Option<u16>, WsaError> {
        Ok(None)
    }

    fn close(&self, sock: &Sock<Self>) -> Result<(), WsaError> {
        if let Some(n) = *sock.state() {
            CLOSED.lock().unwrap().push(n);
        }
        Ok(())
    }

    fn bind(&self, _: &Sock<Self>, _: &SockAddr) -> Result<(), WsaError> {
        Ok(())
    }

    fn sock_name(&self, _: &Sock<Self>) -> Result<SockAddr, WsaError> {
        Ok(local())
    }

    fn listen(&self, sock: &Sock<Self>, _: i32) -> Result<(), WsaError> {
        *NUMBERED_LISTENER.lock().unwrap() = Some(sock.notifier());
        Ok(())
    }

    fn readiness(&self, sock: &Sock<Self>) -> Ready {
        if sock.state().is_none() && !WAITING.lock().unwrap().is_empty() {
            Ready::ACCEPT
        } else {
            Ready::NONE
        }
    }

    fn accept(&self, _: &Sock<Self>) -> Result<(Option<u16>, SockAddr), WsaError> {
        match WAITING.lock().unwrap().pop_front() {
            Some(n) => Ok((Some(n), peer(n))),
            None => Err(WsaError::WOULDBLOCK),
        }
    }

    fn adopt(&self, _: &Sock<Self>, accepted: Option<u16>) -> Result<(), WsaError> {
        ADOPTED.lock().unwrap().extend(accepted);
        Ok(())
    }
}

impl winsock_provider::Binding for Numbered {
    type Mode = winsock_provider::NonIfs;
    const INFO: winsock_provider::ProviderInfo = winsock_provider::ProviderInfo {
        name: "Numbered",
        description: "Deferred accept backlog probe",
        guid: winsock_provider::Guid(0x5b2e_07c4_93a1_4d6f_8e20_c7b9_14d3_6a52),
        protocols: Backlog::INFO.protocols,
    };
    fn state() -> &'static winsock_provider::State<Self> {
        static STATE: winsock_provider::State<Numbered> = winsock_provider::State::new();
        &STATE
    }
}

/// A condition function that notes the connection it is asked about and defers it.
unsafe extern "system" fn note_and_defer(
    caller: *mut WSABUF,
    _: *mut WSABUF,
    _: *mut QOS,
    _: *mut QOS,
    _: *mut WSABUF,
    _: *mut WSABUF,
    _: *mut u32,
    _: usize,
) -> i32 {
    // SAFETY: the caller's address as WSPAccept passes it: a sockaddr_in of `len` bytes.
    let port = unsafe {
        let caller = &*caller;
        assert!(caller.len >= 4, "the caller's address");
        u16::from_be_bytes([*caller.buf.add(2), *caller.buf.add(3)])
    };
    ASKED.lock().unwrap().push(port);
    CF_DEFER as i32
}

/// `WSPAccept(s)` with [`note_and_defer`]: the error it fails with.
fn deferred_accept(s: SOCKET) -> i32 {
    let wsp_accept = proc_table::<Numbered>().lpWSPAccept.expect("WSPAccept");
    let mut errno = 0;
    // SAFETY: a listening socket of this provider, no address buffer, a condition function
    // that reads the caller's address, and a writable error slot.
    let new = unsafe {
        wsp_accept(
            s,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            Some(note_and_defer),
            0,
            &mut errno,
        )
    };
    assert_eq!(new, INVALID_SOCKET, "a deferred accept makes no socket");
    errno
}

#[test]
fn a_deferred_connection_stays_at_the_top_of_the_backlog() {
    let ws = Ws2::new();
    ws.load(entry_points::<Numbered>()).expect("load");
    let s = ws.socket(2, SOCK_STREAM, IPPROTO_TCP).expect("socket");
    ws.bind(s, &local()).expect("bind");
    ws.listen(s, 5).expect("listen");
    let readable = |ws: &Ws2| {
        let mut read = vec![s];
        ws.select(
            &mut read,
            &mut Vec::new(),
            &mut Vec::new(),
            Some(std::time::Duration::ZERO),
        )
        .expect("select")
    };

    arrive_numbered(1);
    assert_eq!(deferred_accept(s), WSATRY_AGAIN);
    assert_eq!(deferred_accept(s), WSATRY_AGAIN);
    assert_eq!(
        *ASKED.lock().unwrap(),
        vec![1, 1],
        "a deferred connection is the one the next accept asks about"
    );
    assert!(
        CLOSED.lock().unwrap().is_empty(),
        "a deferred connection is kept open"
    );
    assert_eq!(
        readable(&ws),
        1,
        "the listener is readable while a deferred connection waits"
    );

    arrive_numbered(2);
    let (first, from) = ws.accept(s).expect("accept the deferred connection");
    assert_eq!(from, peer(1), "the deferred connection comes first");
    let (second, from) = ws.accept(s).expect("accept the next one");
    assert_eq!(from, peer(2));
    assert_eq!(readable(&ws), 0, "the backlog is empty");

    arrive_numbered(3);
    assert_eq!(deferred_accept(s), WSATRY_AGAIN);
    let target = ws
        .socket(2, SOCK_STREAM, IPPROTO_TCP)
        .expect("accept socket");
    let ev = ws.create_event().expect("WSACreateEvent");
    let mut ov = Box::new(OVERLAPPED::default());
    ov.hEvent = ev as _;
    let mut out = [0u8; 64];
    // SAFETY: `out` and `ov` outlive the request, which completes at once (a connection
    // waits) or is cancelled by the listener's close below.
    let started = unsafe { ws.accept_ex(s, target, &mut out, 0, 32, &mut *ov) };
    assert!(
        matches!(started, Ok(0) | Err(WsaError::IO_PENDING)),
        "AcceptEx: {:?}",
        started
    );
    // SAFETY: the listener's request on `ov`, which is still live.
    let done = unsafe { ws.wsa_get_overlapped_result(s, &*ov, false) };
    assert_eq!(
        done.map(|(n, _)| n),
        Ok(0),
        "AcceptEx takes the deferred connection at once"
    );
    assert_eq!(*ADOPTED.lock().unwrap(), vec![3]);
    let (_, remote) = ws
        .get_accept_ex_sockaddrs(s, &out, 0, 32)
        .expect("GetAcceptExSockaddrs");
    assert_eq!(remote, peer(3));

    arrive_numbered(4);
    assert_eq!(deferred_accept(s), WSATRY_AGAIN);
    assert!(CLOSED.lock().unwrap().is_empty());
    ws.closesocket(s).expect("close the listener");
    assert_eq!(
        *CLOSED.lock().unwrap(),
        vec![4],
        "closing the listener closes the connection it kept"
    );
    for (sock, what) in [(first, "first"), (second, "second"), (target, "AcceptEx's")] {
        ws.closesocket(sock)
            .unwrap_or_else(|e| panic!("closing the {} connection: {}", what, e));
    }
    ws.close_event(ev).expect("WSACloseEvent");
    ws.cleanup();
}
