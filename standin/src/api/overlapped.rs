//! Overlapped I/O as applications start it: `WSASend`, `WSARecv`, `WSASendTo`,
//! `WSARecvFrom`, `WSAGetOverlappedResult`. Every operation started here is tracked until its
//! completion is seen (a second completion of one operation fails the test; see
//! [`Ws2::outstanding_overlapped`]).

use super::Ws2;
use crate::host::{kernel, overlapped};
use crate::loader::{check_bool, check_count, check_int, parse_returned, ADDR_ROOM};
use winsock_provider::sys::*;
use winsock_provider::{SockAddr, WsaError};

pub(super) fn total_len(bufs: &[WSABUF]) -> usize {
    bufs.iter().map(|b| b.len as usize).sum()
}

/// What the provider gets for the application's completion routine: the stand-in's trampoline
/// (which counts the calls), or none.
pub(super) fn given_routine(
    ov: *mut OVERLAPPED,
    routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
) -> LPWSAOVERLAPPED_COMPLETION_ROUTINE {
    if ov.is_null() || routine.is_none() {
        None
    } else {
        Some(overlapped::routine_trampoline)
    }
}

/// Classifies the result of an overlapped-capable call for the bookkeeping, and panics on a
/// `WSA_IO_PENDING` without an `OVERLAPPED` (a call that cannot be pending).
pub(super) fn settle(
    name: &str,
    ov: *mut OVERLAPPED,
    r: Result<(), WsaError>,
) -> Result<(), WsaError> {
    match r {
        Ok(()) => Ok(()),
        Err(e) if e == WsaError::IO_PENDING => {
            if ov.is_null() {
                panic!(
                    "ws2-standin: {} returned WSA_IO_PENDING for a call without an OVERLAPPED",
                    name
                );
            }
            Err(e)
        }
        Err(e) => {
            if !ov.is_null() {
                overlapped::failed_at_once(ov, e);
            }
            Err(e)
        }
    }
}

/// An address buffer for `WSARecvFrom`, which an overlapped receive fills when it completes.
#[derive(Copy, Clone)]
pub struct AddrBuf {
    /// The bytes (`SOCKADDR_STORAGE`-sized).
    pub bytes: [u8; ADDR_ROOM],
    /// In: the room (set by [`AddrBuf::new`]); out: the address length.
    pub len: i32,
}

impl Default for AddrBuf {
    fn default() -> Self {
        AddrBuf::new()
    }
}

impl AddrBuf {
    /// An empty buffer with room for any address.
    pub fn new() -> AddrBuf {
        AddrBuf {
            bytes: [0; ADDR_ROOM],
            len: ADDR_ROOM as i32,
        }
    }

    /// The address the provider wrote (panics, naming the call, if it is malformed).
    pub fn addr(&self, call: &str) -> SockAddr {
        parse_returned(call, &self.bytes, self.len)
    }
}

impl Ws2 {
    /// Overlapped operations started through this session's calls (`wsa_send`...,
    /// `accept_ex`...) whose completion the stand-in has not seen yet: neither a
    /// `WPUCompleteOverlappedRequest`, nor a `WPUSetEvent` on the operation's event once its
    /// `Internal` holds the result (how IFS sockets' operations complete by event), nor a
    /// completion routine call, nor a final `wsa_get_overlapped_result`. 0 once every
    /// operation completed. Counted per session from its start (before its first socket, and
    /// whichever providers it loads later): other sessions' operations never count.
    pub fn outstanding_overlapped(&self) -> usize {
        overlapped::outstanding(self.inner.id)
    }

    // ---- Overlapped I/O ----

    /// Runs an overlapped-capable SPI call: records the operation, passes the trampoline for a
    /// completion routine and the calling thread's `WSATHREADID`, and checks the result.
    pub(super) fn overlapped_call(
        &self,
        name: &'static str,
        ov: *mut OVERLAPPED,
        routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
        call: impl FnOnce(LPWSAOVERLAPPED_COMPLETION_ROUTINE, *const WSATHREADID, *mut i32) -> i32,
    ) -> Result<(), WsaError> {
        let thread = kernel::current_thread();
        if !ov.is_null() {
            // SAFETY: the application's OVERLAPPED, valid until the operation is seen to
            // complete (the contract of every public call that starts one).
            unsafe { overlapped::issue(ov, self.inner.id, name, routine) };
        }
        let given = given_routine(ov, routine);
        let r = check_int(name, |errno| call(given, &thread, errno)).map(drop);
        settle(name, ov, r)
    }

    /// `WSASend(s, bufs, flags, overlapped, routine)`: bytes sent when it completed at once
    /// (an overlapped operation that completes at once is still notified through its route),
    /// or `Err(WSA_IO_PENDING)` when it will complete later.
    ///
    /// # Safety
    /// The memory `bufs` point to must stay valid until the operation completes; so must
    /// `*ov` when non-null. A completion routine runs on this thread in an alertable wait.
    pub unsafe fn wsa_send(
        &self,
        s: SOCKET,
        bufs: &[WSABUF],
        flags: u32,
        ov: *mut OVERLAPPED,
        routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    ) -> Result<u32, WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.send;
        let mut sent = 0u32;
        self.overlapped_call("WSPSend", ov, routine, |r, t, errno| {
            // SAFETY: the buffers are valid (caller's contract); `sent` is writable.
            unsafe {
                f(
                    s,
                    bufs.as_ptr(),
                    bufs.len() as u32,
                    &mut sent,
                    flags,
                    ov,
                    r,
                    t,
                    errno,
                )
            }
        })?;
        check_count("WSPSend", sent, total_len(bufs));
        Ok(sent)
    }

    /// `WSARecv(s, bufs, flags, overlapped, routine)`: (bytes, flags) when it completed at
    /// once, or `Err(WSA_IO_PENDING)`.
    ///
    /// # Safety
    /// As [`Ws2::wsa_send`]; the buffers must be writable.
    pub unsafe fn wsa_recv(
        &self,
        s: SOCKET,
        bufs: &[WSABUF],
        flags: u32,
        ov: *mut OVERLAPPED,
        routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    ) -> Result<(u32, u32), WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.recv;
        let mut got = 0u32;
        let mut flags = flags;
        self.overlapped_call("WSPRecv", ov, routine, |r, t, errno| {
            // SAFETY: the buffers are valid and writable (caller's contract).
            unsafe {
                f(
                    s,
                    bufs.as_ptr(),
                    bufs.len() as u32,
                    &mut got,
                    &mut flags,
                    ov,
                    r,
                    t,
                    errno,
                )
            }
        })?;
        check_count("WSPRecv", got, total_len(bufs));
        Ok((got, flags))
    }

    /// `WSASendTo(s, bufs, flags, to, overlapped, routine)`.
    ///
    /// # Safety
    /// As [`Ws2::wsa_send`].
    pub unsafe fn wsa_send_to(
        &self,
        s: SOCKET,
        bufs: &[WSABUF],
        flags: u32,
        to: &SockAddr,
        ov: *mut OVERLAPPED,
        routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    ) -> Result<u32, WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.send_to;
        let to = to.to_bytes();
        let mut sent = 0u32;
        self.overlapped_call("WSPSendTo", ov, routine, |r, t, errno| {
            // SAFETY: valid buffers (caller's contract) and a whole address.
            unsafe {
                f(
                    s,
                    bufs.as_ptr(),
                    bufs.len() as u32,
                    &mut sent,
                    flags,
                    to.as_ptr().cast(),
                    to.len() as i32,
                    ov,
                    r,
                    t,
                    errno,
                )
            }
        })?;
        check_count("WSPSendTo", sent, total_len(bufs));
        Ok(sent)
    }

    /// `WSARecvFrom(s, bufs, flags, from, overlapped, routine)`: (bytes, flags) when it
    /// completed at once (the sender is then in `*from`), or `Err(WSA_IO_PENDING)`.
    ///
    /// # Safety
    /// As [`Ws2::wsa_recv`]; `*from` must stay valid until the operation completes.
    pub unsafe fn wsa_recv_from(
        &self,
        s: SOCKET,
        bufs: &[WSABUF],
        flags: u32,
        from: *mut AddrBuf,
        ov: *mut OVERLAPPED,
        routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    ) -> Result<(u32, u32), WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.recv_from;
        let mut got = 0u32;
        let mut flags = flags;
        let (addr, len) = if from.is_null() {
            (core::ptr::null_mut(), core::ptr::null_mut())
        } else {
            // SAFETY: non-null, and valid until the operation completes (caller's contract).
            unsafe {
                (
                    (*from).bytes.as_mut_ptr().cast::<SOCKADDR>(),
                    core::ptr::addr_of_mut!((*from).len),
                )
            }
        };
        self.overlapped_call("WSPRecvFrom", ov, routine, |r, t, errno| {
            // SAFETY: valid writable buffers and address buffer (caller's contract).
            unsafe {
                f(
                    s,
                    bufs.as_ptr(),
                    bufs.len() as u32,
                    &mut got,
                    &mut flags,
                    addr,
                    len,
                    ov,
                    r,
                    t,
                    errno,
                )
            }
        })?;
        check_count("WSPRecvFrom", got, total_len(bufs));
        Ok((got, flags))
    }

    /// `WSAGetOverlappedResult(s, ov, wait)`: (bytes, flags) of a completed operation; the
    /// error it completed with; or `WSA_IO_INCOMPLETE` while pending and `!wait`.
    ///
    /// # Safety
    /// `ov` must point to the live `OVERLAPPED` of an operation started on `s`.
    pub unsafe fn wsa_get_overlapped_result(
        &self,
        s: SOCKET,
        ov: *const OVERLAPPED,
        wait: bool,
    ) -> Result<(u32, u32), WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.get_overlapped_result;
        let mut bytes = 0u32;
        let mut flags = 0u32;
        let r = check_bool("WSPGetOverlappedResult", |errno| {
            // SAFETY: the OVERLAPPED of an operation the caller started (this function's
            // contract); writable outputs.
            unsafe { f(s, ov, &mut bytes, wait as BOOL, &mut flags, errno) }
        });
        if r != Err(WsaError::IO_INCOMPLETE) {
            overlapped::observed(ov);
        }
        r.map(|()| (bytes, flags))
    }
}
