//! The loopback provider's own documented behaviour (beyond the shared scenarios), driven
//! through the stand-in as an application would.

mod common;

use common::session;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};
use ws2_standin::sys::{
    MSG_OOB, MSG_PEEK, MSG_WAITALL, SD_RECEIVE, SD_SEND, SOCKET, SOL_SOCKET, SOMAXCONN_WS2,
    SO_ERROR, SO_LINGER, SO_RCVBUF, SO_RCVTIMEO, SO_REUSEADDR, SO_SNDTIMEO,
};
use ws2_standin::{SockAddr, Ws2, WsaError};

const AF_INET: i32 = 2;
const SOCK_STREAM: i32 = 1;
const SOCK_DGRAM: i32 = 2;
const IPPROTO_TCP: i32 = 6;
const IPPROTO_UDP: i32 = 17;
const TCP_NODELAY: i32 = 1;
const SO_MAX_MSG_SIZE: i32 = 0x2003;

fn addr(ip: [u8; 4], port: u16) -> SockAddr {
    SockAddr::from(SocketAddrV4::new(Ipv4Addr::from(ip), port))
}

fn port(a: &SockAddr) -> u16 {
    match a {
        SockAddr::Inet(a) => a.port(),
        _ => panic!("not an IP address: {:?}", a),
    }
}

fn tcp(ws: &Ws2) -> SOCKET {
    ws.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP).unwrap()
}

fn udp(ws: &Ws2) -> SOCKET {
    ws.socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP).unwrap()
}

/// A listener on 127.0.0.1 and its address.
fn listening(ws: &Ws2, backlog: i32) -> (SOCKET, SockAddr) {
    let l = tcp(ws);
    ws.bind(l, &addr([127, 0, 0, 1], 0)).unwrap();
    ws.listen(l, backlog).unwrap();
    let a = ws.getsockname(l).unwrap();
    (l, a)
}

/// (client, server end) of a new connection.
fn pair(ws: &Ws2, l: SOCKET, a: &SockAddr) -> (SOCKET, SOCKET) {
    let c = tcp(ws);
    ws.connect(c, a).unwrap();
    let (s, peer) = ws.accept(l).unwrap();
    assert_eq!(peer, ws.getsockname(c).unwrap());
    (c, s)
}

#[test]
fn addresses_and_ports() {
    let ws = session();
    let s = tcp(&ws);
    assert_eq!(
        ws.bind(s, &addr([10, 0, 0, 1], 0)),
        Err(WsaError::ADDRNOTAVAIL)
    );
    assert_eq!(
        ws.bind(s, &addr([192, 168, 1, 1], 80)),
        Err(WsaError::ADDRNOTAVAIL)
    );
    ws.bind(s, &addr([127, 9, 8, 7], 0)).unwrap();
    let name = ws.getsockname(s).unwrap();
    assert!((49152..=65535).contains(&port(&name)), "{:?}", name);
    assert_eq!(name, addr([127, 9, 8, 7], port(&name)));
    ws.closesocket(s).unwrap();

    // Connecting to a non-loopback address, or to port 0.
    let c = tcp(&ws);
    assert_eq!(
        ws.connect(c, &addr([8, 8, 8, 8], 53)),
        Err(WsaError::NETUNREACH)
    );
    assert_eq!(
        ws.connect(c, &addr([127, 0, 0, 1], 0)),
        Err(WsaError::ADDRNOTAVAIL)
    );
    // Connecting to 0.0.0.0 reaches 127.0.0.1; the client is bound implicitly.
    let (l, a) = listening(&ws, 1);
    ws.connect(c, &addr([0, 0, 0, 0], port(&a))).unwrap();
    let local = ws.getsockname(c).unwrap();
    assert_eq!(local, addr([127, 0, 0, 1], port(&local)));
    assert_eq!(ws.getpeername(c).unwrap(), a);
    let (s, _) = ws.accept(l).unwrap();
    for h in [c, s, l] {
        ws.closesocket(h).unwrap();
    }

    // A wildcard listener is reached through any loopback address, and the accepted socket's
    // name is the address the client used.
    let l = tcp(&ws);
    ws.bind(l, &addr([0, 0, 0, 0], 0)).unwrap();
    ws.listen(l, 4).unwrap();
    let p = port(&ws.getsockname(l).unwrap());
    let c = tcp(&ws);
    ws.connect(c, &addr([127, 1, 2, 3], p)).unwrap();
    let (s, _) = ws.accept(l).unwrap();
    assert_eq!(ws.getsockname(s).unwrap(), addr([127, 1, 2, 3], p));
    // TCP and UDP have separate port spaces.
    let u = udp(&ws);
    ws.bind(u, &addr([127, 0, 0, 1], p)).unwrap();
    for h in [c, s, l, u] {
        ws.closesocket(h).unwrap();
    }
    // Closing releases the port.
    let again = tcp(&ws);
    ws.bind(again, &addr([127, 0, 0, 1], p)).unwrap();
    ws.closesocket(again).unwrap();
    ws.cleanup();
}

#[test]
fn reuse_address_needs_both_sockets() {
    let ws = session();
    let a = udp(&ws);
    ws.bind(a, &addr([127, 0, 0, 1], 0)).unwrap();
    let name = ws.getsockname(a).unwrap();
    let b = udp(&ws);
    ws.setsockopt_int(b, SOL_SOCKET, SO_REUSEADDR, 1).unwrap();
    assert_eq!(ws.bind(b, &name), Err(WsaError::ADDRINUSE));
    assert_eq!(
        ws.bind(b, &addr([0, 0, 0, 0], port(&name))),
        Err(WsaError::ADDRINUSE)
    );
    ws.bind(b, &addr([127, 0, 0, 2], port(&name))).unwrap();

    let c = udp(&ws);
    let d = udp(&ws);
    for s in [c, d] {
        ws.setsockopt_int(s, SOL_SOCKET, SO_REUSEADDR, 1).unwrap();
        assert_eq!(ws.getsockopt_int(s, SOL_SOCKET, SO_REUSEADDR).unwrap(), 1);
    }
    ws.bind(c, &addr([127, 0, 0, 3], 4000)).unwrap();
    ws.bind(d, &addr([127, 0, 0, 3], 4000)).unwrap();
    // The earliest binding receives.
    ws.sendto(a, b"to 4000", 0, &addr([127, 0, 0, 3], 4000))
        .unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = ws.recvfrom(c, &mut buf, 0).unwrap();
    assert_eq!((&buf[..n], from), (&b"to 4000"[..], name));
    for s in [a, b, c, d] {
        ws.closesocket(s).unwrap();
    }
    ws.cleanup();
}

#[test]
fn backlog_and_somaxconn() {
    let ws = session();
    let (l, a) = listening(&ws, 2);
    let clients: Vec<SOCKET> = (0..3).map(|_| tcp(&ws)).collect();
    ws.connect(clients[0], &a).unwrap();
    ws.connect(clients[1], &a).unwrap();
    assert_eq!(ws.connect(clients[2], &a), Err(WsaError::CONNREFUSED));
    // A second listen raises the backlog.
    ws.listen(l, SOMAXCONN_WS2).unwrap();
    ws.connect(clients[2], &a).unwrap();
    let more: Vec<SOCKET> = (0..100).map(|_| tcp(&ws)).collect();
    for &c in &more {
        ws.connect(c, &a).unwrap();
    }
    for _ in 0..103 {
        let (s, _) = ws.accept(l).unwrap();
        ws.closesocket(s).unwrap();
    }
    for c in clients.into_iter().chain(more) {
        ws.closesocket(c).unwrap();
    }
    // Listening needs a bound socket; a listener cannot connect; UDP cannot listen.
    let unbound = tcp(&ws);
    assert_eq!(ws.listen(unbound, 5), Err(WsaError::INVAL));
    assert_eq!(ws.connect(l, &a), Err(WsaError::INVAL));
    let u = udp(&ws);
    ws.bind(u, &addr([127, 0, 0, 1], 0)).unwrap();
    assert_eq!(ws.listen(u, 5), Err(WsaError::OPNOTSUPP));
    for s in [unbound, l, u] {
        ws.closesocket(s).unwrap();
    }
    ws.cleanup();
}

#[test]
fn close_with_unread_data_resets() {
    let ws = session();
    let (l, a) = listening(&ws, 4);
    // Graceful: the server read everything, so the client gets the rest then 0.
    let (c, s) = pair(&ws, l, &a);
    ws.send(s, b"bye", 0).unwrap();
    ws.closesocket(s).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(ws.recv(c, &mut buf, 0), Ok(3));
    assert_eq!(ws.recv(c, &mut buf, 0), Ok(0));
    assert_eq!(ws.send(c, b"x", 0), Err(WsaError::CONNRESET));
    ws.closesocket(c).unwrap();

    // The server closes with unread data: reset, what it sent is lost.
    let (c, s) = pair(&ws, l, &a);
    ws.send(c, b"unread", 0).unwrap();
    ws.send(s, b"lost", 0).unwrap();
    ws.closesocket(s).unwrap();
    assert_eq!(ws.recv(c, &mut buf, 0), Err(WsaError::CONNRESET));
    ws.closesocket(c).unwrap();

    // SO_LINGER on with a zero timeout: abortive close.
    let (c, s) = pair(&ws, l, &a);
    let linger = [1u8, 0, 0, 0];
    ws.setsockopt(s, SOL_SOCKET, SO_LINGER, &linger).unwrap();
    let mut got = [0u8; 4];
    assert_eq!(ws.getsockopt(s, SOL_SOCKET, SO_LINGER, &mut got), Ok(4));
    assert_eq!(got, linger);
    ws.send(s, b"lost", 0).unwrap();
    ws.closesocket(s).unwrap();
    assert_eq!(ws.recv(c, &mut buf, 0), Err(WsaError::CONNRESET));
    ws.closesocket(c).unwrap();

    // Closing a listener resets the connections it had not accepted.
    let c = tcp(&ws);
    ws.connect(c, &a).unwrap();
    ws.closesocket(l).unwrap();
    assert_eq!(ws.recv(c, &mut buf, 0), Err(WsaError::CONNRESET));
    ws.closesocket(c).unwrap();
    ws.cleanup();
}

#[test]
fn receive_shutdown_and_flags() {
    let ws = session();
    let (l, a) = listening(&ws, 4);
    let (c, s) = pair(&ws, l, &a);
    let mut buf = [0u8; 16];
    // MSG_OOB is not supported; MSG_PEEK with MSG_WAITALL neither.
    assert_eq!(ws.send(c, b"x", MSG_OOB), Err(WsaError::OPNOTSUPP));
    assert_eq!(ws.recv(s, &mut buf, MSG_OOB), Err(WsaError::OPNOTSUPP));
    assert_eq!(
        ws.recv(s, &mut buf, MSG_PEEK | MSG_WAITALL),
        Err(WsaError::OPNOTSUPP)
    );

    // MSG_WAITALL waits for the whole buffer.
    let sender = {
        let ws = ws.clone();
        std::thread::spawn(move || {
            for part in [&b"abc"[..], b"defg", b"hijklmnop"] {
                ws.send(c, part, 0).unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    assert_eq!(ws.recv(s, &mut buf, MSG_WAITALL), Ok(16));
    assert_eq!(&buf, b"abcdefghijklmnop");
    sender.join().unwrap();

    // SD_RECEIVE: receives fail, the peer's sends are reset.
    ws.shutdown(s, SD_RECEIVE).unwrap();
    assert_eq!(ws.recv(s, &mut buf, 0), Err(WsaError::SHUTDOWN));
    assert_eq!(ws.send(c, b"x", 0), Err(WsaError::CONNRESET));
    // The other direction still works until SD_SEND.
    ws.send(s, b"still", 0).unwrap();
    assert_eq!(ws.recv(c, &mut buf, 0), Ok(5));
    ws.shutdown(s, SD_SEND).unwrap();
    assert_eq!(ws.recv(c, &mut buf, 0), Ok(0));
    assert_eq!(ws.getsockopt_int(s, SOL_SOCKET, SO_ERROR), Ok(0));
    ws.setsockopt_int(s, 6, TCP_NODELAY, 1).unwrap();
    assert_eq!(ws.getsockopt_int(s, 6, TCP_NODELAY), Ok(1));
    for h in [c, s, l] {
        ws.closesocket(h).unwrap();
    }
    ws.cleanup();
}

#[test]
fn receive_buffer_bounds_a_connection() {
    let ws = session();
    let (l, a) = listening(&ws, 4);
    let (c, s) = pair(&ws, l, &a);
    ws.setsockopt_int(s, SOL_SOCKET, SO_RCVBUF, 1000).unwrap();
    let mut on = 1;
    ws.ioctlsocket(c, ws2_standin::sys::FIONBIO, &mut on)
        .unwrap();
    assert_eq!(ws.send(c, &[1u8; 5000], 0), Ok(1000));
    assert_eq!(ws.send(c, &[1u8; 10], 0), Err(WsaError::WOULDBLOCK));
    // Growing the buffer makes room at once.
    ws.setsockopt_int(s, SOL_SOCKET, SO_RCVBUF, 4000).unwrap();
    assert_eq!(ws.send(c, &[1u8; 5000], 0), Ok(3000));
    let mut n = 0;
    ws.ioctlsocket(s, ws2_standin::sys::FIONREAD, &mut n)
        .unwrap();
    assert_eq!(n, 4000);
    for h in [c, s, l] {
        ws.closesocket(h).unwrap();
    }
    ws.cleanup();
}

#[test]
fn timeouts() {
    let ws = session();
    let (l, a) = listening(&ws, 4);
    let (c, s) = pair(&ws, l, &a);
    ws.setsockopt_int(s, SOL_SOCKET, SO_RCVTIMEO, 30).unwrap();
    assert_eq!(ws.getsockopt_int(s, SOL_SOCKET, SO_RCVTIMEO), Ok(30));
    let start = Instant::now();
    assert_eq!(ws.recv(s, &mut [0u8; 4], 0), Err(WsaError::TIMEDOUT));
    assert!(start.elapsed() >= Duration::from_millis(30));
    ws.setsockopt_int(s, SOL_SOCKET, SO_RCVBUF, 100).unwrap();
    ws.setsockopt_int(c, SOL_SOCKET, SO_SNDTIMEO, 30).unwrap();
    // A blocking send that times out after queueing part of its data reports that part.
    assert_eq!(ws.send(c, &[0u8; 250], 0), Ok(100));
    assert_eq!(ws.send(c, &[0u8; 250], 0), Err(WsaError::TIMEDOUT));
    for h in [c, s, l] {
        ws.closesocket(h).unwrap();
    }
    ws.cleanup();
}

#[test]
fn datagram_rules() {
    let ws = session();
    let r = udp(&ws);
    let mut buf = [0u8; 64];
    // Receiving on an unbound datagram socket is invalid; sending binds implicitly.
    assert_eq!(
        ws.recvfrom(r, &mut buf, 0).map(|(n, _)| n),
        Err(WsaError::INVAL)
    );
    ws.bind(r, &addr([127, 0, 0, 1], 0)).unwrap();
    let to = ws.getsockname(r).unwrap();
    let s = udp(&ws);
    assert_eq!(ws.getsockname(s), Err(WsaError::INVAL));
    assert_eq!(ws.send(s, b"x", 0), Err(WsaError::NOTCONN));
    ws.sendto(s, b"hi", 0, &to).unwrap();
    let sender = ws.getsockname(s).unwrap();
    assert_eq!(sender, addr([0, 0, 0, 0], port(&sender)));
    let (n, from) = ws.recvfrom(r, &mut buf, 0).unwrap();
    assert_eq!((n, from), (2, addr([127, 0, 0, 1], port(&sender))));
    // Unreachable and oversized.
    assert_eq!(
        ws.sendto(s, b"x", 0, &addr([10, 1, 1, 1], 9)),
        Err(WsaError::NETUNREACH)
    );
    assert_eq!(
        ws.sendto(s, &vec![0u8; 65468], 0, &to),
        Err(WsaError::MSGSIZE)
    );
    assert_eq!(ws.getsockopt_int(s, SOL_SOCKET, SO_MAX_MSG_SIZE), Ok(65467));
    ws.sendto(s, &vec![7u8; 65467], 0, &to).unwrap();
    let mut big = vec![0u8; 70000];
    assert_eq!(ws.recvfrom(r, &mut big, 0).map(|(n, _)| n), Ok(65467));
    // Nobody bound there: dropped silently.
    ws.sendto(s, b"void", 0, &addr([127, 0, 0, 1], 9)).unwrap();

    // A connected receiver takes datagrams from its peer only.
    let other = udp(&ws);
    ws.bind(other, &addr([127, 0, 0, 1], 0)).unwrap();
    ws.connect(r, &ws.getsockname(other).unwrap()).unwrap();
    ws.sendto(s, b"filtered", 0, &to).unwrap();
    ws.send(other, b"oops", 0).unwrap_err();
    ws.connect(other, &to).unwrap();
    ws.send(other, b"from peer", 0).unwrap();
    let (n, _) = ws.recvfrom(r, &mut buf, 0).unwrap();
    assert_eq!(&buf[..n], b"from peer");
    // Connecting to 0.0.0.0:0 dissolves the association.
    ws.connect(r, &addr([0, 0, 0, 0], 0)).unwrap();
    assert_eq!(ws.getpeername(r), Err(WsaError::NOTCONN));
    ws.sendto(s, b"anyone", 0, &to).unwrap();
    let (n, _) = ws.recvfrom(r, &mut buf, 0).unwrap();
    assert_eq!(&buf[..n], b"anyone");

    // A full queue drops; shutdown(SD_SEND) stops sending.
    ws.setsockopt_int(r, SOL_SOCKET, SO_RCVBUF, 100).unwrap();
    for _ in 0..5 {
        ws.sendto(s, &[1u8; 40], 0, &to).unwrap();
    }
    let mut queued = 0;
    ws.ioctlsocket(r, ws2_standin::sys::FIONREAD, &mut queued)
        .unwrap();
    assert_eq!(queued, 80);
    ws.shutdown(s, SD_SEND).unwrap();
    assert_eq!(ws.sendto(s, b"x", 0, &to), Err(WsaError::SHUTDOWN));
    for h in [r, s, other] {
        ws.closesocket(h).unwrap();
    }
    ws.cleanup();
}

#[test]
fn sessions_share_one_namespace_per_start_up() {
    // Two stand-in sessions in one process load the same provider instance (its start-up is
    // counted), so they see each other's sockets, as two libraries of one process would.
    let a = session();
    let b = session();
    let (l, addr) = listening(&a, 1);
    let c = tcp(&b);
    b.connect(c, &addr).unwrap();
    let (s, _) = a.accept(l).unwrap();
    b.send(c, b"across", 0).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(a.recv(s, &mut buf, 0), Ok(6));
    b.closesocket(c).unwrap();
    a.closesocket(s).unwrap();
    a.closesocket(l).unwrap();
    b.cleanup();
    a.cleanup();
}
