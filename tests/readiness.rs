//! The default readiness (`Provider::readiness` = the conditions signalled and not since
//! refuted by a `WSAEWOULDBLOCK`), observed through `select` as an application sees it: a
//! would-block refutes a recorded condition, a would-block with nothing recorded changes
//! nothing, and a signal after a refutation is recorded again; and through `WSAEventSelect`,
//! a receive that fails with `WSAEWOULDBLOCK` re-enables `FD_READ` as a successful one does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use winsock_provider::sys::*;
use winsock_provider::{
    entry_points, Bufs, BufsMut, MsgFlags, Provider, Ready, Sock, SocketRequest, StartupContext,
    WsaError,
};
use ws2_standin::Ws2;

/// A provider whose sends make data available on the sending socket itself.
struct Echo;

/// Whether a byte is waiting.
#[derive(Default)]
struct Slot(AtomicBool);

impl Provider for Echo {
    type Socket = Slot;

    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Echo)
    }

    fn socket(&self, _: &SocketRequest) -> Result<Slot, WsaError> {
        Ok(Slot::default())
    }

    /// `MSG_OOB` signals `READ` without making data available (a stale signal).
    fn send(&self, sock: &Sock<Self>, bufs: &Bufs<'_>, flags: MsgFlags) -> Result<usize, WsaError> {
        if !flags.contains(MsgFlags::OOB) {
            sock.0.store(true, Ordering::SeqCst);
        }
        sock.ready(Ready::READ);
        Ok(bufs.len())
    }

    fn recv(
        &self,
        sock: &Sock<Self>,
        bufs: &mut BufsMut<'_>,
        _: MsgFlags,
    ) -> Result<(usize, MsgFlags), WsaError> {
        if sock.0.swap(false, Ordering::SeqCst) {
            Ok((bufs.copy_from(&[7]), MsgFlags::NONE))
        } else {
            Err(WsaError::WOULDBLOCK)
        }
    }
}

impl winsock_provider::Binding for Echo {
    type Mode = winsock_provider::NonIfs;
    const INFO: winsock_provider::ProviderInfo = winsock_provider::ProviderInfo {
        name: "Echo",
        description: "Default readiness probe",
        guid: winsock_provider::Guid(0x3c1d_52a0_7b6e_4f24_9d7e_3f20_1b0c_9d8e),
        protocols: &[winsock_provider::ProtocolSpec {
            name: "Echo datagram",
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
        static STATE: winsock_provider::State<Echo> = winsock_provider::State::new();
        &STATE
    }
}

fn readable(ws: &Ws2, s: SOCKET) -> bool {
    let mut read = vec![s];
    let n = ws
        .select(
            &mut read,
            &mut Vec::new(),
            &mut Vec::new(),
            Some(Duration::ZERO),
        )
        .expect("select");
    n == 1 && read == [s]
}

fn recv(ws: &Ws2, s: SOCKET) -> Result<usize, WsaError> {
    ws.recv(s, &mut [0u8; 4], 0)
}

#[test]
fn would_block_refutes_what_was_signalled_and_only_that() {
    let ws = Ws2::new();
    ws.load(entry_points::<Echo>()).expect("load");
    let s = ws.socket(2, SOCK_DGRAM, IPPROTO_UDP).expect("socket");
    let mut on = 1;
    ws.ioctlsocket(s, FIONBIO, &mut on).expect("FIONBIO");

    assert!(!readable(&ws, s), "nothing signalled yet");
    assert_eq!(recv(&ws, s), Err(WsaError::WOULDBLOCK));
    assert!(!readable(&ws, s), "a would-block with nothing recorded");

    for round in 0..3 {
        assert_eq!(ws.send(s, &[1], 0), Ok(1));
        assert!(readable(&ws, s), "round {}: signalled", round);
        assert_eq!(recv(&ws, s), Ok(1));
        // A successful receive refutes nothing: the condition stands until a would-block.
        assert!(readable(&ws, s), "round {}: after a receive", round);
        assert_eq!(recv(&ws, s), Err(WsaError::WOULDBLOCK));
        assert!(
            !readable(&ws, s),
            "round {}: refuted by the would-block",
            round
        );
        assert_eq!(recv(&ws, s), Err(WsaError::WOULDBLOCK));
        assert!(!readable(&ws, s), "round {}: a second would-block", round);
    }
    ws.closesocket(s).expect("close");
    ws.cleanup();
}

/// "Any call to the reenabling routine, even one that fails, results in reenabling of
/// recording and signaling" (`WSAEventSelect`): after a stale `FD_READ`, a receive that would
/// block re-enables the event, so the next data is recorded.
#[test]
fn a_would_block_receive_reenables_fd_read() {
    let ws = Ws2::new();
    ws.load(entry_points::<Echo>()).expect("load");
    let s = ws.socket(2, SOCK_DGRAM, IPPROTO_UDP).expect("socket");
    let ev = ws.create_event().expect("WSACreateEvent");
    ws.wsa_event_select(s, ev, FD_READ).expect("WSAEventSelect");
    let recorded = |ws: &Ws2| {
        ws.wsa_enum_network_events(s, ev)
            .expect("WSAEnumNetworkEvents")
            .lNetworkEvents as u32
            & FD_READ
    };
    for round in 0..3 {
        // A signal with nothing to read: recorded, then the event waits for its re-enabling.
        assert_eq!(ws.send(s, &[1], MSG_OOB), Ok(1));
        assert_ne!(recorded(&ws), 0, "round {}: the stale signal", round);
        assert_eq!(recv(&ws, s), Err(WsaError::WOULDBLOCK));
        // Data now: the would-block above re-enabled FD_READ.
        assert_eq!(ws.send(s, &[1], 0), Ok(1));
        assert_ne!(
            recorded(&ws),
            0,
            "round {}: FD_READ after a would-block receive",
            round
        );
        assert_eq!(recv(&ws, s), Ok(1));
        assert_eq!(recv(&ws, s), Err(WsaError::WOULDBLOCK));
    }
    ws.closesocket(s).expect("close");
    ws.close_event(ev).expect("WSACloseEvent");
    ws.cleanup();
}
