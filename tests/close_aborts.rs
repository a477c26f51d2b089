//! A pending overlapped request whose retry is under way when the application closes its
//! socket completes with `WSA_OPERATION_ABORTED`, whatever the retry then returns: here the
//! provider's receive, woken by the close, answers `WSAENOTSOCK` (as a layer's socket below
//! does once the close has taken it away).

use std::sync::{Condvar, Mutex};
use std::time::Duration;
use winsock_provider::sys::*;
use winsock_provider::{
    entry_points, Bufs, BufsMut, MsgFlags, Provider, Ready, Sock, SocketRequest, StartupContext,
    WsaError,
};
use ws2_standin::Ws2;

/// Where the one socket's receive stands.
#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
struct Stage {
    /// A send signalled data: the next receive blocks until the close.
    armed: bool,
    /// A receive is blocked in the provider.
    inside: bool,
    /// The provider's `close` ran.
    closed: bool,
}

static STAGE: Mutex<Stage> = Mutex::new(Stage {
    armed: false,
    inside: false,
    closed: false,
});
static CHANGED: Condvar = Condvar::new();

fn update(f: impl FnOnce(&mut Stage)) {
    f(&mut STAGE.lock().unwrap());
    CHANGED.notify_all();
}

fn wait_until(what: impl Fn(&Stage) -> bool) {
    let g = STAGE.lock().unwrap();
    let (_g, timeout) = CHANGED
        .wait_timeout_while(g, Duration::from_secs(10), |s| !what(s))
        .unwrap();
    assert!(!timeout.timed_out(), "the provider never got there");
}

/// A provider whose receive, once a send armed it, waits for the socket's close and then
/// fails as a socket taken away does.
struct Cut;

impl Provider for Cut {
    type Socket = ();

    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Cut)
    }

    fn socket(&self, _: &SocketRequest) -> Result<(), WsaError> {
        Ok(())
    }

    fn send(&self, sock: &Sock<Self>, bufs: &Bufs<'_>, _: MsgFlags) -> Result<usize, WsaError> {
        update(|s| s.armed = true);
        sock.ready(Ready::READ);
        Ok(bufs.len())
    }

    fn recv(
        &self,
        _: &Sock<Self>,
        _: &mut BufsMut<'_>,
        _: MsgFlags,
    ) -> Result<(usize, MsgFlags), WsaError> {
        if !STAGE.lock().unwrap().armed {
            return Err(WsaError::WOULDBLOCK);
        }
        update(|s| s.inside = true);
        wait_until(|s| s.closed);
        Err(WsaError::NOTSOCK)
    }

    fn close(&self, _: &Sock<Self>) -> Result<(), WsaError> {
        update(|s| s.closed = true);
        Ok(())
    }
}

impl winsock_provider::Binding for Cut {
    type Mode = winsock_provider::NonIfs;
    const INFO: winsock_provider::ProviderInfo = winsock_provider::ProviderInfo {
        name: "Cut",
        description: "A receive cut short by the close",
        guid: winsock_provider::Guid(0x6b0e_31c2_94d7_4a5f_8e21_c4a9_7d30_5b18),
        protocols: &[winsock_provider::ProtocolSpec {
            name: "Cut datagram",
            family: 2,
            socket_type: 2,
            protocol: 17,
            service_flags: 0x609,
            provider_flags: 8,
            max_message_size: 65467,
            min_sockaddr: 16,
            max_sockaddr: 16,
        }],
    };
    fn state() -> &'static winsock_provider::State<Self> {
        static STATE: winsock_provider::State<Cut> = winsock_provider::State::new();
        &STATE
    }
}

#[test]
fn a_retry_cut_short_by_the_close_completes_as_aborted() {
    let ws = Ws2::new();
    ws.load(entry_points::<Cut>()).expect("load");
    let s = ws.socket(2, 2, 17).expect("socket");
    let ev = ws.create_event().expect("event");
    let mut room = [0u8; 8];
    let buf = WSABUF {
        len: room.len() as u32,
        buf: room.as_mut_ptr(),
    };
    let mut ov = Box::new(OVERLAPPED::default());
    ov.hEvent = ev as _;
    let ov_ptr: *mut OVERLAPPED = &mut *ov;
    // SAFETY: the buffer and the OVERLAPPED outlive the request (awaited below).
    let pending = unsafe { ws.wsa_recv(s, &[buf], 0, ov_ptr, None) };
    assert_eq!(pending.err(), Some(WsaError::IO_PENDING), "{:?}", pending);

    // The send's READ signal retries the receive on this thread, which blocks in the
    // provider: the close must come from another one.
    std::thread::scope(|scope| {
        let sender = scope.spawn(|| ws.send(s, b"x", 0));
        wait_until(|s| s.inside);
        ws.closesocket(s).expect("closesocket");
        assert_eq!(sender.join().unwrap(), Ok(1));
    });

    assert_eq!(
        ws.wait_for_multiple_events(&[ev], false, 10_000, false),
        Ok(0),
        "the receive never completed"
    );
    // SAFETY: the request completed; a volatile read of the field the completion wrote.
    let internal = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*ov_ptr).Internal)) };
    assert_eq!(
        internal,
        WsaError::OPERATION_ABORTED.code() as usize,
        "Internal = {:#x}",
        internal
    );
    ws.close_event(ev).expect("close the event");
    ws.cleanup();
}
