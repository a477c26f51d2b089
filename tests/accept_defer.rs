//! `FD_ACCEPT` and a deferred accept: `WSPAccept` whose condition function returns `CF_DEFER`
//! fails with `WSATRY_AGAIN` and, unlike any other accept, does not re-enable `FD_ACCEPT`
//! (`WSAEventSelect`: the re-enabling function is `accept`/`WSAAccept` "unless the error code
//! returned is WSATRY_AGAIN indicating that the condition function returned CF_DEFER"); the
//! next accept that is not deferred re-enables it.

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
