//! Helpers the scenario modules share: failures that name the scenario and step, the sockets a
//! scenario opened (closed when it ends, whatever happens), listeners and connected pairs,
//! whole sends and receives, polling, and a checkable pseudo-random byte stream.

use super::Target;
use crate::sys::{FIONBIO, FIONREAD, SOCKET};
use crate::{SockAddr, Ws2, WsaError};
use std::fmt::Display;
use std::time::{Duration, Instant};

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
