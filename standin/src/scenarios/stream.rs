//! Stream (connection-oriented) scenarios: bulk echo through many concurrent connections,
//! graceful shutdown, refused connections, non-blocking mode and the socket options every
//! stream provider answers.
//!
//! The [`Target`] must name a stream protocol entry. Addresses come from `t.addr(n)`; the
//! address peers connect to is what `getsockname` reports after `bind`, so a provider of any
//! address family can run these.
//!
//! This module also holds the small helpers the other scenario modules share.

use super::Target;
use crate::sys::{
    FIONBIO, FIONREAD, SD_BOTH, SD_SEND, SOCKET, SOL_SOCKET, SOMAXCONN_WS2, SO_ACCEPTCONN,
    SO_PROTOCOL_INFOW, SO_RCVBUF, SO_SNDBUF, SO_TYPE, WSAPROTOCOL_INFOW,
};
use crate::{SockAddr, Ws2, WsaError};
use std::fmt::Display;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Helpers shared by the scenario modules.

/// Attaches "scenario: step" to a Winsock failure.
pub(crate) trait At<T> {
    /// `Err("<scenario>: <step>: <WSA code>")` on failure.
    fn at(self, scenario: &str, step: impl Display) -> Result<T, String>;
}

impl<T> At<T> for Result<T, WsaError> {
    fn at(self, scenario: &str, step: impl Display) -> Result<T, String> {
        self.map_err(|e| format!("{}: {}: failed with {}", scenario, step, e))
    }
}

/// Checks that a call failed with `want`.
pub(crate) fn expect_err<T: std::fmt::Debug>(
    r: Result<T, WsaError>,
    want: WsaError,
    scenario: &str,
    step: impl Display,
) -> Result<(), String> {
    match r {
        Err(e) if e == want => Ok(()),
        Err(e) => Err(format!(
            "{}: {}: expected {:?}, got {:?}",
            scenario, step, want, e
        )),
        Ok(v) => Err(format!(
            "{}: {}: expected {:?}, but it succeeded ({:?})",
            scenario, step, want, v
        )),
    }
}

/// Checks a condition, describing the failure.
pub(crate) fn ensure(ok: bool, scenario: &str, what: impl Display) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("{}: {}", scenario, what))
    }
}

/// What a scenario must give back: the handles registered and the thread handles providers
/// opened (`WPUOpenCurrentThread`) when it started.
pub(crate) struct Baseline {
    handles: usize,
    threads: usize,
}

impl Baseline {
    pub(crate) fn take(ws: &Ws2) -> Baseline {
        Baseline {
            handles: ws.live_handles(),
            threads: ws.open_thread_handles(),
        }
    }

    /// Fails unless every socket handle and every provider thread handle is released again.
    pub(crate) fn check(&self, ws: &Ws2, scenario: &str) -> Result<(), String> {
        ensure(
            ws.live_handles() == self.handles,
            scenario,
            format_args!(
                "live handles {} after the run, {} before",
                ws.live_handles(),
                self.handles
            ),
        )?;
        ensure(
            ws.open_thread_handles() == self.threads,
            scenario,
            format_args!(
                "{} thread handles from WPUOpenCurrentThread were never closed",
                ws.open_thread_handles().saturating_sub(self.threads)
            ),
        )
    }
}

/// Sockets a scenario opened: closed (ignoring errors) when dropped, so a failing scenario
/// does not leave them behind.
pub(crate) struct Open<'a> {
    ws: &'a Ws2,
    sockets: Vec<SOCKET>,
}

impl<'a> Open<'a> {
    /// No sockets yet.
    pub(crate) fn new(ws: &'a Ws2) -> Open<'a> {
        Open {
            ws,
            sockets: Vec::new(),
        }
    }

    /// Creates a socket of the target's entry.
    pub(crate) fn socket(
        &mut self,
        t: &Target,
        scenario: &str,
        what: &str,
    ) -> Result<SOCKET, String> {
        let s = self
            .ws
            .socket(t.af, t.ty, t.protocol)
            .at(scenario, format_args!("socket ({})", what))?;
        self.sockets.push(s);
        Ok(s)
    }

    /// Takes ownership of a socket opened elsewhere (e.g. by `accept`).
    pub(crate) fn adopt(&mut self, s: SOCKET) -> SOCKET {
        self.sockets.push(s);
        s
    }

    /// Closes `s` now, checking that the close succeeds.
    pub(crate) fn close(&mut self, s: SOCKET, scenario: &str, what: &str) -> Result<(), String> {
        self.sockets.retain(|&x| x != s);
        self.ws
            .closesocket(s)
            .at(scenario, format_args!("closesocket ({})", what))
    }

    /// Forgets `s` without closing it (it was closed some other way).
    pub(crate) fn forget(&mut self, s: SOCKET) {
        self.sockets.retain(|&x| x != s);
    }

    /// Closes every remaining socket, checking each close.
    pub(crate) fn close_all(&mut self, scenario: &str) -> Result<(), String> {
        let all = std::mem::take(&mut self.sockets);
        let mut first = Ok(());
        for s in all {
            let r = self
                .ws
                .closesocket(s)
                .at(scenario, format_args!("closesocket({:#x})", s));
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        for s in std::mem::take(&mut self.sockets) {
            let _ = self.ws.closesocket(s);
        }
    }
}

/// A listening socket bound to `t.addr(n)`: the socket and the address to connect to.
pub(crate) fn listener(
    ws: &Ws2,
    open: &mut Open<'_>,
    t: &Target,
    n: u32,
    backlog: i32,
    scenario: &str,
) -> Result<(SOCKET, SockAddr), String> {
    let l = open.socket(t, scenario, "listener")?;
    ws.bind(l, &(t.addr)(n)).at(scenario, "bind (listener)")?;
    ws.listen(l, backlog).at(scenario, "listen")?;
    let name = ws.getsockname(l).at(scenario, "getsockname (listener)")?;
    Ok((l, name))
}

/// A connected pair: (listener, client end, server end) and the listener's address.
pub(crate) fn connected(
    ws: &Ws2,
    open: &mut Open<'_>,
    t: &Target,
    n: u32,
    scenario: &str,
) -> Result<(SOCKET, SOCKET, SOCKET, SockAddr), String> {
    let (l, addr) = listener(ws, open, t, n, 8, scenario)?;
    let c = open.socket(t, scenario, "client")?;
    ws.connect(c, &addr).at(scenario, "connect")?;
    let (s, _) = ws.accept(l).at(scenario, "accept")?;
    open.adopt(s);
    Ok((l, c, s, addr))
}

/// Sends all of `data`, looping over partial sends.
pub(crate) fn send_all(ws: &Ws2, s: SOCKET, mut data: &[u8]) -> Result<(), WsaError> {
    while !data.is_empty() {
        let n = ws.send(s, data, 0)?;
        if n == 0 {
            // A blocking send that moves nothing would loop forever: report it as a reset.
            return Err(WsaError::CONNRESET);
        }
        data = &data[n..];
    }
    Ok(())
}

/// Receives exactly `buf.len()` bytes (fewer only at end of stream); returns the count.
pub(crate) fn recv_exact(ws: &Ws2, s: SOCKET, buf: &mut [u8]) -> Result<usize, WsaError> {
    let mut got = 0;
    while got < buf.len() {
        let n = ws.recv(s, &mut buf[got..], 0)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}

/// Sets or clears non-blocking mode (`FIONBIO`).
pub(crate) fn set_nonblocking(ws: &Ws2, s: SOCKET, on: bool) -> Result<(), WsaError> {
    let mut arg = u32::from(on);
    ws.ioctlsocket(s, FIONBIO, &mut arg)
}

/// `FIONREAD`.
pub(crate) fn readable(ws: &Ws2, s: SOCKET) -> Result<u32, WsaError> {
    let mut n = 0;
    ws.ioctlsocket(s, FIONREAD, &mut n)?;
    Ok(n)
}

/// Polls `f` until it returns `Ok(Some(_))`, fails, or `limit` passes (providers may deliver
/// asynchronously; the loopback provider never needs a second try).
pub(crate) fn poll<T>(
    limit: Duration,
    mut f: impl FnMut() -> Result<Option<T>, String>,
) -> Result<Option<T>, String> {
    let start = Instant::now();
    loop {
        if let Some(v) = f()? {
            return Ok(Some(v));
        }
        if start.elapsed() > limit {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A reproducible byte stream: the byte at position `p` of stream `seed` depends only on
/// `(seed, p)`, so a sender and a receiver can cut it differently and still agree.
#[derive(Copy, Clone)]
pub(crate) struct Pattern {
    seed: u64,
}

impl Pattern {
    /// Stream number `seed`.
    pub(crate) fn new(seed: u64) -> Pattern {
        Pattern {
            seed: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03,
        }
    }

    fn word(&self, index: u64) -> [u8; 8] {
        // splitmix64 of (seed, index).
        let mut z = self
            .seed
            .wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)).to_le_bytes()
    }

    /// Fills `out` with the bytes at positions `offset..offset + out.len()`.
    pub(crate) fn fill(&self, offset: u64, out: &mut [u8]) {
        let mut pos = offset;
        let mut rest = out;
        let head = ((8 - pos % 8) % 8) as usize;
        if head > 0 {
            let n = head.min(rest.len());
            let w = self.word(pos / 8);
            let start = (pos % 8) as usize;
            rest[..n].copy_from_slice(&w[start..start + n]);
            rest = &mut rest[n..];
            pos += n as u64;
        }
        let mut chunks = rest.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.word(pos / 8));
            pos += 8;
        }
        let tail = chunks.into_remainder();
        if !tail.is_empty() {
            let n = tail.len();
            tail.copy_from_slice(&self.word(pos / 8)[..n]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

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

/// Refused connections: to an address bound but not listening, to a closed listener's
/// address, and beyond a full backlog (with backlog 1 and nothing accepted, the first
/// connection succeeds and at least one of the next 16 is refused).
pub fn refused(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "stream::refused";
    let mut open = Open::new(ws);
    let bound = open.socket(t, S, "bound, not listening")?;
    ws.bind(bound, &(t.addr)(0)).at(S, "bind")?;
    let addr = ws.getsockname(bound).at(S, "getsockname")?;
    let c = open.socket(t, S, "client")?;
    expect_err(
        ws.connect(c, &addr),
        WsaError::CONNREFUSED,
        S,
        "connect to a socket that is not listening",
    )?;
    open.close(bound, S, "bound socket")?;
    open.close(c, S, "client")?;

    let (l, addr) = listener(ws, &mut open, t, 1, 1, S)?;
    open.close(l, S, "listener")?;
    let c = open.socket(t, S, "client")?;
    expect_err(
        ws.connect(c, &addr),
        WsaError::CONNREFUSED,
        S,
        "connect to a closed listener",
    )?;
    open.close(c, S, "client")?;

    let (l, addr) = listener(ws, &mut open, t, 2, 1, S)?;
    let first = open.socket(t, S, "first client")?;
    ws.connect(first, &addr)
        .at(S, "connect (first client, backlog 1)")?;
    let mut refused = 0;
    for i in 0..16 {
        let c = open.socket(t, S, "extra client")?;
        match ws.connect(c, &addr) {
            Ok(()) => {}
            Err(WsaError::CONNREFUSED) => refused += 1,
            Err(e) => {
                return Err(format!(
                    "{}: connect #{} beyond the backlog: expected WSAECONNREFUSED, got {:?}",
                    S, i, e
                ))
            }
        }
    }
    ensure(
        refused > 0,
        S,
        "16 connections beyond a backlog of 1 were all accepted into the queue",
    )?;
    let (a, _) = ws.accept(l).at(S, "accept (from the full backlog)")?;
    open.adopt(a);
    open.close_all(S)
}

/// Calls in the wrong state: `recv`/`send` on an unconnected socket (`WSAENOTCONN`),
/// `accept` on a socket not listening (`WSAEINVAL`), `connect` twice (`WSAEISCONN`),
/// `getpeername` unconnected (`WSAENOTCONN`), `getsockname` unbound (`WSAEINVAL`), `bind`
/// twice (`WSAEINVAL`), `shutdown` unconnected (`WSAENOTCONN`).
pub fn wrong_state(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "stream::wrong_state";
    let mut open = Open::new(ws);
    let fresh = open.socket(t, S, "fresh")?;
    let mut buf = [0u8; 8];
    expect_err(
        ws.recv(fresh, &mut buf, 0),
        WsaError::NOTCONN,
        S,
        "recv on an unconnected socket",
    )?;
    expect_err(
        ws.send(fresh, b"x", 0),
        WsaError::NOTCONN,
        S,
        "send on an unconnected socket",
    )?;
    expect_err(
        ws.getpeername(fresh),
        WsaError::NOTCONN,
        S,
        "getpeername on an unconnected socket",
    )?;
    expect_err(
        ws.getsockname(fresh),
        WsaError::INVAL,
        S,
        "getsockname on an unbound socket",
    )?;
    expect_err(
        ws.shutdown(fresh, SD_SEND),
        WsaError::NOTCONN,
        S,
        "shutdown on an unconnected socket",
    )?;
    ws.bind(fresh, &(t.addr)(0)).at(S, "bind")?;
    expect_err(
        ws.bind(fresh, &(t.addr)(1)),
        WsaError::INVAL,
        S,
        "bind of a bound socket",
    )?;
    expect_err(
        ws.accept(fresh),
        WsaError::INVAL,
        S,
        "accept on a socket that is not listening",
    )?;
    let (_, c, _, addr) = connected(ws, &mut open, t, 2, S)?;
    expect_err(
        ws.connect(c, &addr),
        WsaError::ISCONN,
        S,
        "connect of a connected socket",
    )?;
    open.close_all(S)
}

/// Non-blocking mode: `recv` and `accept` fail with `WSAEWOULDBLOCK` when nothing is there;
/// `FIONREAD` counts queued bytes (and `MSG_PEEK` leaves them); an accepted socket inherits
/// the listener's mode; a non-blocking sender eventually gets `WSAEWOULDBLOCK` when the peer
/// does not read, and everything it sent arrives intact.
pub fn nonblocking(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "stream::nonblocking";
    let limit = Duration::from_secs(5);
    let mut open = Open::new(ws);
    let (l, c, s, addr) = connected(ws, &mut open, t, 0, S)?;
    set_nonblocking(ws, s, true).at(S, "ioctlsocket(FIONBIO, 1)")?;
    let mut buf = vec![0u8; 4096];
    expect_err(
        ws.recv(s, &mut buf, 0),
        WsaError::WOULDBLOCK,
        S,
        "non-blocking recv with nothing queued",
    )?;
    ensure(
        readable(ws, s).at(S, "FIONREAD")? == 0,
        S,
        "FIONREAD is not 0 with nothing queued",
    )?;

    let data: Vec<u8> = (0..1000u32).map(|i| (i * 13) as u8).collect();
    send_all(ws, c, &data).at(S, "send 1000 bytes")?;
    let queued = poll(limit, || {
        Ok(Some(readable(ws, s).at(S, "FIONREAD")?).filter(|&n| n >= 1000))
    })?;
    ensure(
        queued == Some(1000),
        S,
        format_args!("FIONREAD after 1000 bytes were sent: {:?}", queued),
    )?;
    let n = ws
        .recv(s, &mut buf[..100], crate::sys::MSG_PEEK)
        .at(S, "recv(MSG_PEEK)")?;
    ensure(
        n == 100 && buf[..100] == data[..100],
        S,
        "MSG_PEEK returned the wrong bytes",
    )?;
    let after_peek = readable(ws, s).at(S, "FIONREAD after MSG_PEEK")?;
    ensure(
        after_peek == 1000,
        S,
        format_args!("FIONREAD after MSG_PEEK is {}, expected 1000", after_peek),
    )?;
    let n = ws.recv(s, &mut buf[..600], 0).at(S, "recv 600")?;
    ensure(
        n == 600 && buf[..600] == data[..600],
        S,
        "recv returned the wrong bytes",
    )?;
    let left = readable(ws, s).at(S, "FIONREAD after recv")?;
    ensure(
        left == 400,
        S,
        format_args!("FIONREAD after reading 600 of 1000 is {}", left),
    )?;
    let n = ws.recv(s, &mut buf, 0).at(S, "recv the rest")?;
    ensure(
        n == 400 && buf[..400] == data[600..],
        S,
        "the rest arrived wrong",
    )?;
    expect_err(
        ws.recv(s, &mut buf, 0),
        WsaError::WOULDBLOCK,
        S,
        "recv after draining",
    )?;

    // Accept: would block, then inherits non-blocking mode.
    set_nonblocking(ws, l, true).at(S, "ioctlsocket(FIONBIO) on the listener")?;
    expect_err(
        ws.accept(l),
        WsaError::WOULDBLOCK,
        S,
        "non-blocking accept with no connection",
    )?;
    let c2 = open.socket(t, S, "second client")?;
    ws.connect(c2, &addr).at(S, "connect (second client)")?;
    let accepted = poll(limit, || match ws.accept(l) {
        Ok((a, _)) => Ok(Some(a)),
        Err(WsaError::WOULDBLOCK) => Ok(None),
        Err(e) => Err(format!("{}: non-blocking accept: {:?}", S, e)),
    })?;
    let a = accepted.ok_or_else(|| format!("{}: the second connection was never accepted", S))?;
    open.adopt(a);
    expect_err(
        ws.recv(a, &mut buf, 0),
        WsaError::WOULDBLOCK,
        S,
        "recv on a socket accepted from a non-blocking listener",
    )?;

    // A non-blocking sender fills the connection, then would block.
    set_nonblocking(ws, c, true).at(S, "ioctlsocket(FIONBIO) on the client")?;
    let chunk = vec![0x5Au8; 64 * 1024];
    let mut sent = 0usize;
    let mut blocked = false;
    for _ in 0..16 * 1024 {
        match ws.send(c, &chunk, 0) {
            Ok(n) => sent += n,
            Err(WsaError::WOULDBLOCK) => {
                blocked = true;
                break;
            }
            Err(e) => {
                return Err(format!(
                    "{}: non-blocking send after {} bytes: {:?}",
                    S, sent, e
                ))
            }
        }
    }
    ensure(
        blocked,
        S,
        format_args!("a non-blocking send never blocked ({} bytes queued)", sent),
    )?;
    set_nonblocking(ws, s, false).at(S, "ioctlsocket(FIONBIO, 0)")?;
    let mut drained = 0usize;
    while drained < sent {
        let want = buf.len().min(sent - drained);
        let n = ws
            .recv(s, &mut buf[..want], 0)
            .at(S, "blocking recv of the queued data")?;
        ensure(n > 0, S, "end of stream while draining")?;
        ensure(
            buf[..n].iter().all(|&b| b == 0x5A),
            S,
            "drained data is corrupt",
        )?;
        drained += n;
    }
    let n = poll(limit, || match ws.send(c, b"more", 0) {
        Ok(n) => Ok(Some(n)),
        Err(WsaError::WOULDBLOCK) => Ok(None),
        Err(e) => Err(format!("{}: non-blocking send after draining: {:?}", S, e)),
    })?;
    ensure(
        n.is_some(),
        S,
        "a non-blocking send still would block after the peer drained",
    )?;
    open.close_all(S)
}

/// Socket options and names: `SO_TYPE`, `SO_PROTOCOL_INFOW` (the entry's family, type,
/// protocol and catalog id), `SO_RCVBUF`/`SO_SNDBUF` round trips, `SO_ACCEPTCONN`,
/// `getsockname`/`getpeername` on both ends of a connection, and `WSAEADDRINUSE` for a
/// second bind to a listener's address.
pub fn options(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "stream::options";
    let mut open = Open::new(ws);
    let (l, c, s, addr) = connected(ws, &mut open, t, 0, S)?;
    let ty = ws
        .getsockopt_int(c, SOL_SOCKET, SO_TYPE)
        .at(S, "getsockopt(SO_TYPE)")?;
    ensure(
        ty == t.ty,
        S,
        format_args!("SO_TYPE is {}, expected {}", ty, t.ty),
    )?;

    let mut raw = vec![0u8; std::mem::size_of::<WSAPROTOCOL_INFOW>()];
    let n = ws
        .getsockopt(c, SOL_SOCKET, SO_PROTOCOL_INFOW, &mut raw)
        .at(S, "getsockopt(SO_PROTOCOL_INFOW)")?;
    ensure(
        n == raw.len(),
        S,
        format_args!("SO_PROTOCOL_INFOW is {} bytes, expected {}", n, raw.len()),
    )?;
    // SAFETY: `raw` holds a whole WSAPROTOCOL_INFOW (plain data); read unaligned.
    let info: WSAPROTOCOL_INFOW =
        unsafe { raw.as_ptr().cast::<WSAPROTOCOL_INFOW>().read_unaligned() };
    let entry = ws.spi_for(c).at(S, "spi_for")?.info;
    ensure(
        (info.iAddressFamily, info.iSocketType, info.iProtocol) == (t.af, t.ty, t.protocol),
        S,
        format_args!(
            "SO_PROTOCOL_INFOW says ({}, {}, {}), expected ({}, {}, {})",
            info.iAddressFamily, info.iSocketType, info.iProtocol, t.af, t.ty, t.protocol
        ),
    )?;
    ensure(
        info.dwCatalogEntryId == entry.dwCatalogEntryId,
        S,
        format_args!(
            "SO_PROTOCOL_INFOW has catalog id {}, the socket's entry is {}",
            info.dwCatalogEntryId, entry.dwCatalogEntryId
        ),
    )?;

    for (name, label) in [(SO_RCVBUF, "SO_RCVBUF"), (SO_SNDBUF, "SO_SNDBUF")] {
        ws.setsockopt_int(c, SOL_SOCKET, name, 32 * 1024)
            .at(S, format_args!("setsockopt({})", label))?;
        let v = ws
            .getsockopt_int(c, SOL_SOCKET, name)
            .at(S, format_args!("getsockopt({})", label))?;
        ensure(
            v == 32 * 1024,
            S,
            format_args!("{} set to 32768 reads back as {}", label, v),
        )?;
    }
    let listening = ws
        .getsockopt_int(l, SOL_SOCKET, SO_ACCEPTCONN)
        .at(S, "getsockopt(SO_ACCEPTCONN)")?;
    ensure(
        listening != 0,
        S,
        "SO_ACCEPTCONN is false on a listening socket",
    )?;
    let client_listening = ws
        .getsockopt_int(c, SOL_SOCKET, SO_ACCEPTCONN)
        .at(S, "getsockopt(SO_ACCEPTCONN)")?;
    ensure(
        client_listening == 0,
        S,
        "SO_ACCEPTCONN is true on a connected socket",
    )?;

    let client_name = ws.getsockname(c).at(S, "getsockname (client)")?;
    let server_peer = ws.getpeername(s).at(S, "getpeername (server end)")?;
    let client_peer = ws.getpeername(c).at(S, "getpeername (client)")?;
    let server_name = ws.getsockname(s).at(S, "getsockname (server end)")?;
    ensure(
        client_name.family() == t.af as u16,
        S,
        "getsockname returned another address family",
    )?;
    if let (SockAddr::Inet(cn), SockAddr::Inet(sp)) = (&client_name, &server_peer) {
        ensure(cn.port() != 0, S, "the client's implicit bind left port 0")?;
        ensure(
            cn == sp,
            S,
            format_args!("client getsockname {} != server getpeername {}", cn, sp),
        )?;
    }
    if let (SockAddr::Inet(cp), SockAddr::Inet(sn), SockAddr::Inet(a)) =
        (&client_peer, &server_name, &addr)
    {
        ensure(
            cp == sn,
            S,
            format_args!("client getpeername {} != server getsockname {}", cp, sn),
        )?;
        ensure(
            cp.port() == a.port(),
            S,
            format_args!("client getpeername {} is not the listener's {}", cp, a),
        )?;
    }

    let other = open.socket(t, S, "second socket")?;
    expect_err(
        ws.bind(other, &addr),
        WsaError::ADDRINUSE,
        S,
        "bind to the listener's address",
    )?;
    open.close_all(S)
}
