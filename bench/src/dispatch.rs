//! The whole dispatch path: `WSPSend` through the runtime's generic thunk versus a direct call
//! of the provider's own send function.
//!
//! `<BenchProvider as Provider>::send` needs a `&Sock<BenchProvider>`, which only the runtime
//! can build, so the direct path calls [`inner_send`] — the function that trait method calls —
//! on a `BenchSocket` of its own, with a `Bufs` built once. `inner_send` is `#[inline(never)]`
//! so both paths execute the same body; the difference is the dispatch overhead: panic guard,
//! handle lookup + pin/unpin, overlapped/null checks, WSABUF validation, the trait call, error
//! mapping and the write of `*lpNumberOfBytesSent`.

use std::sync::atomic::{AtomicUsize, Ordering};
use winsock_provider::sys::{IPPROTO_TCP, LPWSPSEND, SOCKET, SOCK_STREAM, WSABUF};
use winsock_provider::{
    entry_points, Bufs, MsgFlags, Provider, Sock, SocketRequest, StartupContext, WsaError,
};
use ws2_standin::Ws2;

/// The benchmark provider: sends count bytes and succeed.
pub struct BenchProvider;

/// Per-socket state: bytes "sent".
#[derive(Default)]
pub struct BenchSocket {
    sent: AtomicUsize,
}

impl BenchSocket {
    /// Bytes sent so far.
    pub fn sent(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
    }
}

/// The provider's send: what both paths run.
#[inline(never)]
pub fn inner_send(
    sock: &BenchSocket,
    bufs: &Bufs<'_>,
    _flags: MsgFlags,
) -> Result<usize, WsaError> {
    let n = bufs.len();
    // A plain (non-locked) update: the work itself should not dominate.
    sock.sent.store(
        sock.sent.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
    Ok(n)
}

impl Provider for BenchProvider {
    type Socket = BenchSocket;

    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(BenchProvider)
    }

    fn socket(&self, _: &SocketRequest) -> Result<BenchSocket, WsaError> {
        Ok(BenchSocket::default())
    }

    fn send(&self, sock: &Sock<Self>, bufs: &Bufs<'_>, flags: MsgFlags) -> Result<usize, WsaError> {
        inner_send(sock.state(), bufs, flags)
    }
}

impl winsock_provider::Binding for BenchProvider {
    type Mode = winsock_provider::NonIfs;
    const INFO: winsock_provider::ProviderInfo = winsock_provider::ProviderInfo {
        name: "Bench",
        description: "Dispatch benchmark provider",
        guid: winsock_provider::Guid(0x5be1_7c00_3f0e_4d7a_9a21_6c2d_8e4f_b001),
        protocols: &[winsock_provider::ProtocolSpec {
            name: "Bench stream",
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
        static STATE: winsock_provider::State<BenchProvider> = winsock_provider::State::new();
        &STATE
    }
}

/// A loaded provider, one open socket and its `lpWSPSend` (from `proc_table`).
pub struct Setup {
    /// The stand-in session (keeps the provider started).
    pub ws: Ws2,
    /// The socket, created through the stand-in.
    pub socket: SOCKET,
    /// `proc_table::<BenchProvider>().lpWSPSend`.
    pub send: LPWSPSEND,
    /// The direct path's own socket state.
    pub direct: BenchSocket,
}

/// Loads the provider into a fresh stand-in and opens a socket; checks that the thunk found
/// the same table as `proc_table` gives.
pub fn setup() -> Setup {
    let ws = Ws2::new();
    ws.load(entry_points::<BenchProvider>())
        .expect("load the bench provider");
    let socket = ws.socket(2, SOCK_STREAM, IPPROTO_TCP).expect("socket");
    let send = winsock_provider::proc_table::<BenchProvider>().lpWSPSend;
    let via = ws.spi_for(socket).expect("spi").table.lpWSPSend;
    assert_eq!(
        send.map(|f| f as usize),
        via.map(|f| f as usize),
        "the stand-in's table is proc_table's"
    );
    Setup {
        ws,
        socket,
        send,
        direct: BenchSocket::default(),
    }
}

/// One `WSPSend` through the thunk; returns bytes sent.
#[inline(always)]
pub fn thunk_send(send: LPWSPSEND, s: SOCKET, buf: &WSABUF) -> u32 {
    let f = send.unwrap();
    let mut sent = 0u32;
    let mut errno = 0i32;
    // SAFETY: one valid WSABUF, a writable count and errno; no overlapped I/O.
    let r = unsafe {
        f(
            s,
            buf,
            1,
            &mut sent,
            0,
            std::ptr::null_mut(),
            None,
            std::ptr::null(),
            &mut errno,
        )
    };
    debug_assert_eq!(r, 0);
    sent.wrapping_add(r as u32)
}

/// One direct call of the provider's send function.
#[inline(always)]
pub fn direct_send(sock: &BenchSocket, bufs: &Bufs<'_>) -> u32 {
    match inner_send(sock, bufs, MsgFlags::from_bits(0)) {
        Ok(n) => n as u32,
        Err(e) => e.code() as u32,
    }
}
