//! What the counting layer adds, checked through a catalog session: exact per-socket counters,
//! connects redirected by its rule, `SIO_BASE_HANDLE` answered by the provider below, and
//! `SO_PROTOCOL_INFOW` answering the chain entry.

mod common;

use layered_provider::{SIO_LAYERED_COUNTS, SIO_LAYERED_TOTALS};
use std::net::SocketAddr;
use ws2_standin::sys::{self, SOCKET};
use ws2_standin::{SockAddr, Ws2};

const AF_INET: i32 = 2;
const SOCK_STREAM: i32 = 1;
const IPPROTO_TCP: i32 = 6;

fn addr(text: &str) -> SockAddr {
    SockAddr::from(text.parse::<SocketAddr>().unwrap())
}

fn counts(ws: &Ws2, s: SOCKET, code: u32) -> (u64, u64) {
    let mut out = [0u8; 16];
    let n = ws
        .wsa_ioctl(s, code, &[], &mut out)
        .expect("the counters ioctl");
    assert_eq!(n, 16);
    let word = |i: usize| u64::from_le_bytes(out[i..i + 8].try_into().unwrap());
    (word(0), word(8))
}

/// A listener, a client connected to `to`, and the accepted connection.
fn connection(ws: &Ws2, listen_at: &str, to: &str) -> (SOCKET, SOCKET, SOCKET) {
    let listener = ws.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP).unwrap();
    ws.bind(listener, &addr(listen_at)).unwrap();
    ws.listen(listener, 4).unwrap();
    let target = if to.is_empty() {
        ws.getsockname(listener).unwrap()
    } else {
        addr(to)
    };
    let client = ws.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP).unwrap();
    ws.connect(client, &target).unwrap();
    let (server, _) = ws.accept(listener).unwrap();
    (listener, client, server)
}

fn send_all(ws: &Ws2, s: SOCKET, data: &[u8]) {
    let mut done = 0;
    while done < data.len() {
        done += ws.send(s, &data[done..], 0).unwrap();
    }
}

fn recv_exact(ws: &Ws2, s: SOCKET, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    let mut done = 0;
    while done < n {
        let got = ws.recv(s, &mut out[done..], 0).unwrap();
        assert!(
            got > 0,
            "the connection closed after {} of {} bytes",
            done,
            n
        );
        done += got;
    }
    out
}

#[test]
fn counters_match_the_bytes_moved() {
    let ws = common::session(common::Chain::OverLoopback);
    let (listener, client, server) = connection(&ws, "127.0.0.1:0", "");
    let (before_sent, before_received) = counts(&ws, client, SIO_LAYERED_TOTALS);
    // Larger than the loopback provider's buffers: blocking sends wait in the layer for room.
    let up: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let down = vec![7u8; 12_345];
    let writer = {
        let ws = ws.ws2().clone();
        let up = up.clone();
        std::thread::spawn(move || send_all(&ws, client, &up))
    };
    assert_eq!(recv_exact(&ws, server, up.len()), up);
    writer.join().unwrap();
    send_all(&ws, server, &down);
    assert_eq!(recv_exact(&ws, client, down.len()), down);
    assert_eq!(
        counts(&ws, client, SIO_LAYERED_COUNTS),
        (up.len() as u64, down.len() as u64)
    );
    assert_eq!(
        counts(&ws, server, SIO_LAYERED_COUNTS),
        (down.len() as u64, up.len() as u64)
    );
    let (after_sent, after_received) = counts(&ws, client, SIO_LAYERED_TOTALS);
    let moved = (up.len() + down.len()) as u64;
    assert!(after_sent - before_sent >= moved);
    assert!(after_received - before_received >= moved);
    for s in [client, server, listener] {
        ws.closesocket(s).unwrap();
    }
}

#[test]
fn connects_are_redirected_by_the_rule_table() {
    let ws = common::session(common::Chain::OverLoopback);
    let (listener, client, server) = connection(&ws, "127.0.0.1:4242", "127.0.0.99:99");
    assert_eq!(ws.getpeername(client).unwrap(), addr("127.0.0.1:4242"));
    send_all(&ws, client, b"hello");
    assert_eq!(recv_exact(&ws, server, 5), b"hello");
    for s in [client, server, listener] {
        ws.closesocket(s).unwrap();
    }
}

#[test]
fn base_handle_is_the_base_providers() {
    let ws = common::session(common::Chain::OverLoopback);
    let s = ws.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP).unwrap();
    let base = common::base_handle(&ws, s, sys::SIO_BASE_HANDLE);
    assert_ne!(base, s, "the layer answered its own handle");
    ws.closesocket(s).unwrap();
}

#[test]
fn protocol_info_is_the_chain_entry() {
    let ws = common::session(common::Chain::OverLoopback);
    let s = ws.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP).unwrap();
    let info = common::protocol_info(&ws, s);
    assert_eq!(info.ProtocolChain.ChainLen, 2);
    // The chain entry's own GUID, derived from the layer's and the base entry's.
    let layer = common::guid(0x2f0e9a4c_5b7d_4e18_a3c6_91d2e4f8b705);
    let entries = common::catalog()
        .enum_protocols(winsock_catalog::Arch::native())
        .unwrap();
    let base = entries
        .iter()
        .find(|e| e.info.catalog_entry_id() == info.ProtocolChain.ChainEntries[1])
        .expect("the chain's base entry");
    let expected = winsock_catalog::LayerSpec::chain_guid(&layer, &base.info);
    let g = &info.ProviderId;
    let got = winsock_catalog::Guid::from_fields(g.data1, g.data2, g.data3, g.data4);
    assert_eq!(got, expected);
    assert_ne!(got, layer);
    ws.closesocket(s).unwrap();
}
