//! Overlapped I/O scenarios: an IOCP echo server (overlapped `AcceptEx`, `WSARecv`, `WSASend`,
//! worker threads on one completion port), the three completion routes of operations that
//! finish at once, and closing sockets with operations pending.
//!
//! The [`Target`] must name a stream protocol entry of a non-IFS provider (completion ports see
//! its operations through `WPUCompleteOverlappedRequest`) that serves overlapped requests and
//! the `AcceptEx` extension function.

use super::stream::echo_client;
use super::support::{ensure, expect_err, listener, At, Baseline, Open};
use super::Target;
use crate::sys::{
    LPWSAOVERLAPPED_COMPLETION_ROUTINE, OVERLAPPED, SOCKET, SOMAXCONN_WS2, WSABUF, WSAEVENT,
};
use crate::{
    CompletionPort, Ws2, WsaError, WSA_WAIT_EVENT_0, WSA_WAIT_IO_COMPLETION, WSA_WAIT_TIMEOUT,
    WSS_OPERATION_IN_PROGRESS,
};
use std::io::Write;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

mod extensions;
mod iocp;
mod pending;
mod routes;

pub use extensions::extensions;
pub use iocp::iocp_echo;
pub use pending::{close_with_pending, shutdown_with_pending};
pub use routes::routes;

/// Room for one address in an `AcceptEx` output buffer: 16 more than the largest address.
const ADDR_SLOT: u32 = 128 + 16;
/// Completion key of the listening socket.
const LISTENER_KEY: usize = usize::MAX - 1;
/// Completion key of the packets that stop the worker threads.
const QUIT_KEY: usize = usize::MAX;
/// How long a worker waits for a packet before declaring the server stuck.
const STUCK_MS: u32 = 60_000;

/// Reads `Internal` of an OVERLAPPED that another thread may complete.
fn internal(ov: *const OVERLAPPED) -> usize {
    // SAFETY: `ov` points to a live OVERLAPPED the scenario owns; a volatile read of the
    // provider-written field, as applications poll `HasOverlappedIoCompleted`.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*ov).Internal)) }
}

/// `WSAGetOverlappedResult(s, ov, FALSE)`.
fn wsa_result(
    ws: &Ws2,
    s: SOCKET,
    ov: *const OVERLAPPED,
    wait: bool,
) -> Result<(u32, u32), WsaError> {
    // SAFETY: every caller passes the live OVERLAPPED of an operation it started on `s`.
    unsafe { ws.wsa_get_overlapped_result(s, ov, wait) }
}

/// A `WSABUF` over `buf` (which must outlive every operation given the result).
pub fn wsabuf(buf: &mut [u8]) -> WSABUF {
    WSABUF {
        len: buf.len() as u32,
        buf: buf.as_mut_ptr(),
    }
}

/// Completion routine calls seen by [`record_routine`]: (OVERLAPPED address, error, bytes).
static ROUTINE_CALLS: Mutex<Vec<(usize, u32, u32)>> = Mutex::new(Vec::new());

unsafe extern "system" fn record_routine(error: u32, bytes: u32, ov: *mut OVERLAPPED, _: u32) {
    ROUTINE_CALLS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((ov as usize, error, bytes));
}

/// A completion routine for `WSARecv`/`WSASend` and the other overlapped calls that records
/// each call it gets, by `OVERLAPPED` address: read them with [`routine_calls`] (after an
/// alertable wait ran them), and call [`forget_routine_calls`] before starting an operation
/// on an `OVERLAPPED` whose address an earlier test may have used.
pub const ROUTINE: LPWSAOVERLAPPED_COMPLETION_ROUTINE = Some(record_routine);

/// The calls [`ROUTINE`] recorded for `ov`: (error, bytes transferred), oldest first.
pub fn routine_calls(ov: *const OVERLAPPED) -> Vec<(u32, u32)> {
    ROUTINE_CALLS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|c| c.0 == ov as usize)
        .map(|c| (c.1, c.2))
        .collect()
}

/// Drops the calls [`ROUTINE`] recorded for `ov`.
pub fn forget_routine_calls(ov: *const OVERLAPPED) {
    ROUTINE_CALLS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|c| c.0 != ov as usize);
}

/// Runs alertable sleeps until `done` or 5 s pass.
fn alertable_until(ws: &Ws2, mut done: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while !done() {
        if start.elapsed() > std::time::Duration::from_secs(5) {
            return false;
        }
        ws.sleep_ex(100, true);
    }
    true
}

fn wait_event(ws: &Ws2, ev: WSAEVENT, ms: u32, scenario: &str, what: &str) -> Result<(), String> {
    let r = ws.wait_for_multiple_events(&[ev], false, ms, false).at(
        scenario,
        format_args!("WSAWaitForMultipleEvents ({})", what),
    )?;
    ensure(
        r == WSA_WAIT_EVENT_0,
        scenario,
        format_args!("{}: the event was not set (wait returned {:#x})", what, r),
    )
}

/// Completes an overlapped call on the event route: whether it finished at once or is
/// pending, its event is set (once) and `WSAGetOverlappedResult` gives the bytes.
fn finish(
    ws: &Ws2,
    s: SOCKET,
    r: Result<Option<u32>, WsaError>,
    ov: *mut OVERLAPPED,
    ev: WSAEVENT,
    what: &str,
) -> Result<u32, String> {
    const S: &str = "overlapped::extensions";
    match r {
        Ok(_) => {}
        Err(e) if e == WsaError::IO_PENDING => {}
        Err(e) => return Err(format!("{}: {}: failed with {}", S, what, e)),
    }
    wait_event(ws, ev, 5000, S, what)?;
    ws.reset_event(ev).at(S, "WSAResetEvent")?;
    let (n, _) =
        wsa_result(ws, s, ov, false).at(S, format_args!("{}: WSAGetOverlappedResult", what))?;
    if let Ok(Some(at_once)) = r {
        ensure(
            at_once == n,
            S,
            format_args!(
                "{}: {} bytes at once but {} in the result",
                what, at_once, n
            ),
        )?;
    }
    Ok(n)
}
