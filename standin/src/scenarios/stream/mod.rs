//! Stream (connection-oriented) scenarios: bulk echo through many concurrent connections,
//! graceful shutdown, refused connections, non-blocking mode and the socket options every
//! stream provider answers.
//!
//! The [`Target`] must name a stream protocol entry. Addresses come from `t.addr(n)`; the
//! address peers connect to is what `getsockname` reports after `bind`, so a provider of any
//! address family can run these.

use super::support::{
    connected, ensure, expect_err, listener, poll, readable, recv_exact, send_all, set_nonblocking,
    At, Open, Pattern,
};
use super::Target;
use crate::sys::{
    SD_BOTH, SD_SEND, SOCKET, SOL_SOCKET, SOMAXCONN_WS2, SO_ACCEPTCONN, SO_PROTOCOL_INFOW,
    SO_RCVBUF, SO_SNDBUF, SO_TYPE, WSAPROTOCOL_INFOW,
};
use crate::{SockAddr, Ws2, WsaError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

mod modes;
mod states;

pub use modes::{nonblocking, options};
pub use states::{refused, wrong_state};

/// One echo server (an accept loop with a thread per connection) and `clients` concurrent
/// clients, each sending `bytes_each` bytes of its own pseudo-random stream (in chunks of
/// varying size, from a second thread) while reading the echo back; every byte is checked,
/// then each client shuts down sending and expects end of stream.
pub fn echo(ws: &Ws2, t: &Target, clients: usize, bytes_each: usize) -> Result<(), String> {
    const S: &str = "stream::echo";
    let mut open = Open::new(ws);
    let (l, addr) = listener(ws, &mut open, t, 0, SOMAXCONN_WS2, S)?;
    let connected = AtomicUsize::new(0);
    let mut problems: Vec<String> = Vec::new();
    std::thread::scope(|scope| {
        let server = scope.spawn(|| echo_server(ws, l, clients));
        let workers: Vec<_> = (0..clients)
            .map(|id| {
                let (addr, connected) = (&addr, &connected);
                scope.spawn(move || echo_client(ws, t, addr, id, bytes_each, connected))
            })
            .collect();
        for (id, w) in workers.into_iter().enumerate() {
            match w.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => problems.push(e),
                Err(_) => problems.push(format!("{}: client {} panicked", S, id)),
            }
        }
        // Clients that never connected leave the accept loop waiting: connect stand-ins.
        for _ in connected.load(Ordering::SeqCst)..clients {
            if let Ok(s) = ws.socket(t.af, t.ty, t.protocol) {
                let _ = ws.connect(s, &addr);
                let _ = ws.closesocket(s);
            }
        }
        match server.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => problems.push(e),
            Err(_) => problems.push(format!("{}: the server panicked", S)),
        }
    });
    if let Some(first) = problems.first() {
        return Err(if problems.len() > 1 {
            format!("{} (and {} more failures)", first, problems.len() - 1)
        } else {
            first.clone()
        });
    }
    open.close_all(S)
}

fn echo_server(ws: &Ws2, l: SOCKET, clients: usize) -> Result<(), String> {
    const S: &str = "stream::echo (server)";
    std::thread::scope(|scope| {
        let mut conns = Vec::new();
        for i in 0..clients {
            let (c, _) = ws.accept(l).at(S, format_args!("accept #{}", i))?;
            conns.push(scope.spawn(move || echo_connection(ws, c)));
        }
        let mut result = Ok(());
        for c in conns {
            let r = c
                .join()
                .unwrap_or_else(|_| Err(format!("{}: a connection thread panicked", S)));
            if result.is_ok() {
                result = r;
            }
        }
        result
    })
}

fn echo_connection(ws: &Ws2, c: SOCKET) -> Result<(), String> {
    const S: &str = "stream::echo (server connection)";
    let mut buf = vec![0u8; 64 * 1024];
    let result = (|| loop {
        let n = ws.recv(c, &mut buf, 0).at(S, "recv")?;
        if n == 0 {
            return Ok(());
        }
        send_all(ws, c, &buf[..n]).at(S, "send")?;
    })();
    let closed = ws.closesocket(c).at(S, "closesocket");
    result.and(closed)
}

pub(crate) fn echo_client(
    ws: &Ws2,
    t: &Target,
    addr: &SockAddr,
    id: usize,
    bytes: usize,
    connected: &AtomicUsize,
) -> Result<(), String> {
    let scenario = format!("stream::echo (client {})", id);
    let s_ = scenario.as_str();
    let mut open = Open::new(ws);
    let s = open.socket(t, s_, "client")?;
    ws.connect(s, addr).at(s_, "connect")?;
    connected.fetch_add(1, Ordering::SeqCst);
    let pattern = Pattern::new(id as u64 + 1);
    std::thread::scope(|scope| {
        let sender = scope.spawn(|| -> Result<(), String> {
            let mut chunk = vec![0u8; 128 * 1024];
            let mut sent = 0usize;
            let mut step = id as u64 + 7;
            while sent < bytes {
                step = step
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let n = (1 + (step >> 40) as usize % chunk.len()).min(bytes - sent);
                pattern.fill(sent as u64, &mut chunk[..n]);
                send_all(ws, s, &chunk[..n]).at(s_, format_args!("send at offset {}", sent))?;
                sent += n;
            }
            ws.shutdown(s, SD_SEND).at(s_, "shutdown(SD_SEND)")
        });
        let received = (|| -> Result<(), String> {
            let mut buf = vec![0u8; 64 * 1024];
            let mut expected = vec![0u8; 64 * 1024];
            let mut got = 0usize;
            while got < bytes {
                let n = ws
                    .recv(s, &mut buf, 0)
                    .at(s_, format_args!("recv at offset {}", got))?;
                if n == 0 {
                    return Err(format!(
                        "{}: end of stream after {} of {} bytes",
                        s_, got, bytes
                    ));
                }
                if got + n > bytes {
                    return Err(format!(
                        "{}: received {} bytes, more than the {} sent",
                        s_,
                        got + n,
                        bytes
                    ));
                }
                pattern.fill(got as u64, &mut expected[..n]);
                if buf[..n] != expected[..n] {
                    let at = (0..n).find(|&i| buf[i] != expected[i]).unwrap_or(0);
                    return Err(format!(
                        "{}: byte {} of the echo is {:#04x}, expected {:#04x}",
                        s_,
                        got + at,
                        buf[at],
                        expected[at]
                    ));
                }
                got += n;
            }
            let n = ws
                .recv(s, &mut buf, 0)
                .at(s_, "recv after the whole echo")?;
            ensure(
                n == 0,
                s_,
                format_args!(
                    "expected end of stream after the echo, got {} more bytes",
                    n
                ),
            )
        })();
        if received.is_err() {
            // The sender may be blocked on a connection nobody drains any more: closing the
            // socket wakes it (the handle is not used again).
            open.forget(s);
            let _ = ws.closesocket(s);
        }
        let sent = sender
            .join()
            .unwrap_or_else(|_| Err(format!("{}: the sending thread panicked", s_)));
        received.and(sent)
    })?;
    open.close_all(s_)
}

/// Half-close and close: data sent before `shutdown(SD_SEND)` arrives and is followed by end
/// of stream (repeatedly); sending after it fails with `WSAESHUTDOWN`; the other direction
/// still works; closing the other end gives end of stream too; a client that closes without
/// shutting down first is also seen as end of stream after its data.
pub fn graceful_shutdown(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "stream::graceful_shutdown";
    let mut open = Open::new(ws);
    let (l, c, s, addr) = connected(ws, &mut open, t, 0, S)?;
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    send_all(ws, c, &data).at(S, "send (client)")?;
    ws.shutdown(c, SD_SEND)
        .at(S, "shutdown(SD_SEND) (client)")?;
    expect_err(
        ws.send(c, b"late", 0),
        WsaError::SHUTDOWN,
        S,
        "send after shutdown(SD_SEND)",
    )?;
    let mut got = vec![0u8; data.len() + 10];
    let n = recv_exact(ws, s, &mut got).at(S, "recv (server)")?;
    ensure(
        n == data.len(),
        S,
        format_args!("server received {} bytes, expected {}", n, data.len()),
    )?;
    ensure(
        got[..n] == data[..],
        S,
        "server received different bytes than the client sent",
    )?;
    for i in 0..2 {
        let n = ws.recv(s, &mut got, 0).at(S, "recv at end of stream")?;
        ensure(
            n == 0,
            S,
            format_args!(
                "recv #{} at end of stream returned {} bytes, expected 0",
                i, n
            ),
        )?;
    }
    // Half-closed: the server can still answer.
    send_all(ws, s, b"answer").at(S, "send (server, after the client's SD_SEND)")?;
    let mut answer = [0u8; 6];
    let n = recv_exact(ws, c, &mut answer).at(S, "recv (client)")?;
    ensure(
        &answer[..n] == b"answer",
        S,
        "the client did not receive the server's answer",
    )?;
    open.close(s, S, "server end")?;
    let n = ws
        .recv(c, &mut got, 0)
        .at(S, "recv (client) after the server closed")?;
    ensure(
        n == 0,
        S,
        format_args!("client got {} bytes after the server closed, expected 0", n),
    )?;
    open.close(c, S, "client")?;

    // Close without shutdown: the data, then end of stream.
    let c2 = open.socket(t, S, "second client")?;
    ws.connect(c2, &addr).at(S, "connect (second client)")?;
    let (s2, _) = ws.accept(l).at(S, "accept (second)")?;
    open.adopt(s2);
    send_all(ws, c2, b"last words").at(S, "send (second client)")?;
    open.close(c2, S, "second client")?;
    let mut buf = [0u8; 32];
    let n = recv_exact(ws, s2, &mut buf).at(S, "recv after the peer closed")?;
    ensure(
        &buf[..n] == b"last words",
        S,
        "data sent before close was not delivered",
    )?;

    // shutdown(SD_BOTH) is accepted on a connected socket.
    ws.shutdown(s2, SD_BOTH).at(S, "shutdown(SD_BOTH)")?;
    open.close_all(S)
}
