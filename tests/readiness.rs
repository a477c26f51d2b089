//! The default readiness (`Provider::readiness` = the conditions signalled and not since
//! refuted by a `WSAEWOULDBLOCK`), observed through `select` as an application sees it: a
//! would-block refutes a recorded condition, a would-block with nothing recorded changes
//! nothing, and a signal after a refutation is recorded again.

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

    fn send(&self, sock: &Sock<Self>, bufs: &Bufs<'_>, _: MsgFlags) -> Result<usize, WsaError> {
        sock.0.store(true, Ordering::SeqCst);
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
