//! The Winsock-shaped application API beyond blocking calls: events
//! (`WSACreateEvent`...`WSAWaitForMultipleEvents`), alertable sleeps, window messages, I/O
//! completion ports, overlapped `WSASend`/`WSARecv`/`WSASendTo`/`WSARecvFrom`/`WSAIoctl`,
//! `WSAGetOverlappedResult`, the extension functions (`AcceptEx`...), `select`,
//! `WSAEventSelect`/`WSAEnumNetworkEvents` and `WSAAsyncSelect`.
//!
//! Every call checks the provider's return conventions as the blocking calls do, and every
//! overlapped operation started here is tracked until its completion is seen (a second
//! completion of one operation fails the test; see [`Ws2::outstanding_overlapped`]).

use crate::kernel::{self, Completion};
use crate::messages::{self, Message, Window};
use crate::registry::{self, Kind};
use crate::{check_bool, check_count, check_int, overlapped, parse_returned, Ws2, ADDR_ROOM};
use core::ffi::c_void;
use std::time::Duration;
use winsock_provider::sys::*;
use winsock_provider::{SockAddr, WsaError};

/// `FD_SETSIZE`: at most this many sockets in each set given to `select`.
pub const FD_SETSIZE: usize = 64;

/// An I/O completion port made by [`Ws2::create_io_completion_port`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct CompletionPort(pub isize);

/// The extension functions applications get through `SIO_GET_EXTENSION_FUNCTION_POINTER`
/// (mswsock.h): their GUIDs, signatures and structures.
pub mod ext {
    use core::ffi::c_void;
    use winsock_provider::sys::{
        BOOL, HANDLE, LPWSAOVERLAPPED_COMPLETION_ROUTINE, OVERLAPPED, SOCKADDR, SOCKET,
    };
    pub use winsock_provider::sys::{
        TF_DISCONNECT, TF_REUSE_SOCKET, TRANSMIT_FILE_BUFFERS, WSAID_ACCEPTEX, WSAID_CONNECTEX,
        WSAID_DISCONNECTEX, WSAID_GETACCEPTEXSOCKADDRS, WSAID_TRANSMITFILE, WSAID_WSARECVMSG,
        WSAID_WSASENDMSG, WSAMSG,
    };

    /// `SO_UPDATE_ACCEPT_CONTEXT`.
    pub const SO_UPDATE_ACCEPT_CONTEXT: i32 = 0x700B;
    /// `SO_UPDATE_CONNECT_CONTEXT`.
    pub const SO_UPDATE_CONNECT_CONTEXT: i32 = 0x7010;

    /// `AcceptEx`.
    pub type AcceptExFn = unsafe extern "system" fn(
        SOCKET,
        SOCKET,
        *mut c_void,
        u32,
        u32,
        u32,
        *mut u32,
        *mut OVERLAPPED,
    ) -> BOOL;
    /// `ConnectEx`.
    pub type ConnectExFn = unsafe extern "system" fn(
        SOCKET,
        *const SOCKADDR,
        i32,
        *const c_void,
        u32,
        *mut u32,
        *mut OVERLAPPED,
    ) -> BOOL;
    /// `DisconnectEx`.
    pub type DisconnectExFn = unsafe extern "system" fn(SOCKET, *mut OVERLAPPED, u32, u32) -> BOOL;
    /// `GetAcceptExSockaddrs`.
    pub type GetAcceptExSockaddrsFn = unsafe extern "system" fn(
        *const c_void,
        u32,
        u32,
        u32,
        *mut *mut SOCKADDR,
        *mut i32,
        *mut *mut SOCKADDR,
        *mut i32,
    );
    /// `WSARecvMsg`.
    pub type WsaRecvMsgFn = unsafe extern "system" fn(
        SOCKET,
        *mut WSAMSG,
        *mut u32,
        *mut OVERLAPPED,
        LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    ) -> i32;
    /// `WSASendMsg`.
    pub type WsaSendMsgFn = unsafe extern "system" fn(
        SOCKET,
        *mut WSAMSG,
        u32,
        *mut u32,
        *mut OVERLAPPED,
        LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    ) -> i32;
    /// `TransmitFile`.
    pub type TransmitFileFn = unsafe extern "system" fn(
        SOCKET,
        HANDLE,
        u32,
        u32,
        *mut OVERLAPPED,
        *const TRANSMIT_FILE_BUFFERS,
        u32,
    ) -> BOOL;
}

/// The value the last error holds before an extension-function call, to tell "set" from
/// "left alone".
const LAST_ERROR_SENTINEL: i32 = 0x5EED_0BAE;

/// Catalog entry id of a socket ws2_32 knows (0 otherwise).
fn catalog_of(s: SOCKET) -> u32 {
    match registry::lock().get(s) {
        Some(e) if e.kind != Kind::Unrelated => e.catalog_id,
        _ => 0,
    }
}

fn total_len(bufs: &[WSABUF]) -> usize {
    bufs.iter().map(|b| b.len as usize).sum()
}

/// What the provider gets for the application's completion routine: the stand-in's trampoline
/// (which counts the calls), or none.
fn given_routine(
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
fn settle(name: &str, ov: *mut OVERLAPPED, r: Result<(), WsaError>) -> Result<(), WsaError> {
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
    /// The catalog entry ids of the providers this session loaded.
    pub(crate) fn catalog_ids(&self) -> Vec<u32> {
        let providers = self
            .inner
            .providers
            .read()
            .unwrap_or_else(|e| e.into_inner());
        providers
            .iter()
            .flat_map(|p| p.entries.iter().map(|i| i.dwCatalogEntryId))
            .collect()
    }

    // ---- Events (WSACreateEvent ... WSAWaitForMultipleEvents) and alertable sleeps ----

    /// `WSACreateEvent`: a manual-reset event, not signalled.
    pub fn create_event(&self) -> Result<WSAEVENT, WsaError> {
        kernel::create_event()
    }

    /// `WSASetEvent`.
    pub fn set_event(&self, event: WSAEVENT) -> Result<(), WsaError> {
        kernel::set_event(event)
    }

    /// `WSAResetEvent`.
    pub fn reset_event(&self, event: WSAEVENT) -> Result<(), WsaError> {
        kernel::reset_event(event)
    }

    /// `WSACloseEvent`.
    pub fn close_event(&self, event: WSAEVENT) -> Result<(), WsaError> {
        kernel::close_event(event)
    }

    /// `WSAWaitForMultipleEvents(events, wait_all, timeout_ms, alertable)`:
    /// `WSA_WAIT_EVENT_0 + i` (the lowest signalled index; 0 when `wait_all` and all are),
    /// `WSA_WAIT_TIMEOUT`, or `WSA_WAIT_IO_COMPLETION` when `alertable` and queued APCs (e.g.
    /// completion routines) ran. Events stay signalled (manual reset). More than
    /// `WSA_MAXIMUM_WAIT_EVENTS` or none is `WSA_INVALID_PARAMETER`; a handle that is not an
    /// event is `WSA_INVALID_HANDLE`. `timeout_ms` may be `WSA_INFINITE`.
    pub fn wait_for_multiple_events(
        &self,
        events: &[WSAEVENT],
        wait_all: bool,
        timeout_ms: u32,
        alertable: bool,
    ) -> Result<u32, WsaError> {
        kernel::wait(events, wait_all, timeout_ms, alertable)
    }

    /// `SleepEx(ms, alertable)`: 0 after `ms`, or `WSA_WAIT_IO_COMPLETION` as soon as APCs
    /// queued to this thread ran (alertable only).
    pub fn sleep_ex(&self, ms: u32, alertable: bool) -> u32 {
        kernel::sleep_ex(ms, alertable)
    }

    /// `WSAGetLastError` of the calling thread, as extension functions (`AcceptEx`...) set it
    /// through the `set_last_error` host hook.
    pub fn last_error(&self) -> i32 {
        overlapped::last_error()
    }

    /// `WSASetLastError(code)` for the calling thread: an application that calls an extension
    /// function directly presets it to tell "set by the provider" from "left alone".
    pub fn set_last_error(&self, code: i32) {
        overlapped::preset_last_error(code)
    }

    // ---- Windows and messages (WSAAsyncSelect) ----

    /// A window with an empty message queue, for `WSAAsyncSelect`.
    pub fn create_window(&self) -> Window {
        messages::create_window()
    }

    /// Destroys a window (`WSA_INVALID_HANDLE` if it does not exist).
    pub fn destroy_window(&self, w: Window) -> Result<(), WsaError> {
        if messages::destroy_window(w) {
            Ok(())
        } else {
            Err(WsaError::INVALID_HANDLE)
        }
    }

    /// The oldest message posted to `w`, waiting up to `timeout` (`None` = forever);
    /// `Ok(None)` on time-out.
    pub fn get_message(
        &self,
        w: Window,
        timeout: Option<Duration>,
    ) -> Result<Option<Message>, WsaError> {
        messages::get(w, timeout).map_err(|()| WsaError::INVALID_HANDLE)
    }

    // ---- Completion ports ----

    /// `CreateIoCompletionPort(socket, existing, key, 0)`: with `existing` `None`, a new port
    /// (associated with `socket` if given); with `existing`, associates `socket` with it. A
    /// socket is associated at most once (`WSA_INVALID_PARAMETER`); an unknown socket is
    /// `WSAENOTSOCK`, an unknown port `WSA_INVALID_HANDLE`.
    pub fn create_io_completion_port(
        &self,
        existing: Option<CompletionPort>,
        socket: Option<SOCKET>,
        key: usize,
    ) -> Result<CompletionPort, WsaError> {
        if let Some(s) = socket {
            self.route(s)?;
        }
        let port = match existing {
            Some(p) => {
                if !overlapped::is_port(p.0) {
                    return Err(WsaError::INVALID_HANDLE);
                }
                if socket.is_none() {
                    return Err(WsaError::INVALID_PARAMETER);
                }
                p
            }
            None => {
                let p = CompletionPort(kernel::create_port()?);
                overlapped::port_created(p.0);
                p
            }
        };
        if let Some(s) = socket {
            if let Err(e) = overlapped::associate(s, port.0, key) {
                if existing.is_none() {
                    let _ = self.close_completion_port(port);
                }
                return Err(e);
            }
        }
        Ok(port)
    }

    /// `PostQueuedCompletionStatus(port, bytes, key, overlapped)`.
    pub fn post_queued_completion_status(
        &self,
        port: CompletionPort,
        bytes: u32,
        key: usize,
        overlapped: *mut OVERLAPPED,
    ) -> Result<(), WsaError> {
        kernel::post(port.0, bytes, key, overlapped, 0)
    }

    /// `GetQueuedCompletionStatus(port, timeout_ms)`: the oldest packet (bytes, key,
    /// `OVERLAPPED`, and the operation's error: 0 or the WSA code it completed with), or
    /// `Ok(None)` on time-out. Any number of threads may wait on one port.
    pub fn get_queued_completion_status(
        &self,
        port: CompletionPort,
        timeout_ms: u32,
    ) -> Result<Option<Completion>, WsaError> {
        kernel::get_queued(port.0, timeout_ms)
    }

    /// `CloseHandle(port)`: threads waiting on it fail with `ERROR_ABANDONED_WAIT_0`; later
    /// completions of its sockets' operations go nowhere (their events, if any, are set).
    pub fn close_completion_port(&self, port: CompletionPort) -> Result<(), WsaError> {
        if !overlapped::port_closed(port.0) {
            return Err(WsaError::INVALID_HANDLE);
        }
        kernel::close_port(port.0)
    }

    /// Overlapped operations started through this session's calls (`wsa_send`...,
    /// `accept_ex`...) whose completion the stand-in has not seen yet: neither a
    /// `WPUCompleteOverlappedRequest`, nor a completion routine call, nor a final
    /// `wsa_get_overlapped_result`. 0 once every operation completed.
    pub fn outstanding_overlapped(&self) -> usize {
        overlapped::outstanding(&self.catalog_ids())
    }

    // ---- Overlapped I/O ----

    /// Runs an overlapped-capable SPI call: records the operation, passes the trampoline for a
    /// completion routine and the calling thread's `WSATHREADID`, and checks the result.
    fn overlapped_call(
        &self,
        name: &'static str,
        s: SOCKET,
        ov: *mut OVERLAPPED,
        routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
        call: impl FnOnce(LPWSAOVERLAPPED_COMPLETION_ROUTINE, *const WSATHREADID, *mut i32) -> i32,
    ) -> Result<(), WsaError> {
        let thread = kernel::current_thread();
        if !ov.is_null() {
            overlapped::issue(ov, catalog_of(s), name, routine);
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
        let (spi, _) = self.route(s)?;
        let f = spi.table.lpWSPSend.expect("checked non-null at load");
        let mut sent = 0u32;
        self.overlapped_call("WSPSend", s, ov, routine, |r, t, errno| {
            // SAFETY: the buffers are valid (caller's contract); `sent` is writable.
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
        let (spi, _) = self.route(s)?;
        let f = spi.table.lpWSPRecv.expect("checked non-null at load");
        let mut got = 0u32;
        let mut flags = flags;
        self.overlapped_call("WSPRecv", s, ov, routine, |r, t, errno| {
            // SAFETY: the buffers are valid and writable (caller's contract).
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
        let (spi, _) = self.route(s)?;
        let f = spi.table.lpWSPSendTo.expect("checked non-null at load");
        let to = to.to_bytes();
        let mut sent = 0u32;
        self.overlapped_call("WSPSendTo", s, ov, routine, |r, t, errno| {
            // SAFETY: valid buffers (caller's contract) and a whole address.
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
        let (spi, _) = self.route(s)?;
        let f = spi.table.lpWSPRecvFrom.expect("checked non-null at load");
        let mut got = 0u32;
        let mut flags = flags;
        let (addr, len) = if from.is_null() {
            (core::ptr::null_mut(), core::ptr::null_mut())
        } else {
            (
                (*from).bytes.as_mut_ptr().cast::<SOCKADDR>(),
                core::ptr::addr_of_mut!((*from).len),
            )
        };
        self.overlapped_call("WSPRecvFrom", s, ov, routine, |r, t, errno| {
            // SAFETY: valid writable buffers and address buffer (caller's contract).
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
        let (spi, _) = self.route(s)?;
        let f = spi
            .table
            .lpWSPGetOverlappedResult
            .expect("checked non-null at load");
        let mut bytes = 0u32;
        let mut flags = 0u32;
        // The OVERLAPPED of an operation the caller started (this function's contract);
        // writable outputs.
        let r = check_bool("WSPGetOverlappedResult", |errno| {
            f(s, ov, &mut bytes, wait as BOOL, &mut flags, errno)
        });
        if r != Err(WsaError::IO_INCOMPLETE) {
            overlapped::observed(ov);
        }
        r.map(|()| (bytes, flags))
    }

    /// `WSAIoctl(s, code, input, output)` without overlapped I/O: the bytes returned.
    pub fn wsa_ioctl(
        &self,
        s: SOCKET,
        code: u32,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<u32, WsaError> {
        // SAFETY: both buffers are valid for the whole (synchronous) call.
        unsafe {
            self.wsa_ioctl_overlapped(
                s,
                code,
                input.as_ptr().cast(),
                input.len() as u32,
                output.as_mut_ptr().cast(),
                output.len() as u32,
                core::ptr::null_mut(),
                None,
            )
        }
    }

    /// `WSAIoctl` with raw buffers, an optional `OVERLAPPED` and completion routine.
    ///
    /// # Safety
    /// `input`/`output` must be valid for their lengths (until completion when overlapped),
    /// and `*ov` too when non-null.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn wsa_ioctl_overlapped(
        &self,
        s: SOCKET,
        code: u32,
        input: *const c_void,
        input_len: u32,
        output: *mut c_void,
        output_len: u32,
        ov: *mut OVERLAPPED,
        routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    ) -> Result<u32, WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi.table.lpWSPIoctl.expect("checked non-null at load");
        let mut returned = 0u32;
        self.overlapped_call("WSPIoctl", s, ov, routine, |r, t, errno| {
            // SAFETY: buffers valid for their lengths (caller's contract).
            f(
                s,
                code,
                input,
                input_len,
                output,
                output_len,
                &mut returned,
                ov,
                r,
                t,
                errno,
            )
        })?;
        if returned > output_len {
            panic!(
                "ws2-standin: WSPIoctl({:#x}) reported {} bytes written to a {}-byte buffer",
                code, returned, output_len
            );
        }
        Ok(returned)
    }

    // ---- Extension functions ----

    /// `WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, ...)`: the provider's function
    /// for `guid`, as the pointer type `F` (one of the [`ext`] types). Unknown GUIDs fail as
    /// the provider says (`WSAEINVAL`). Panics if `F` is not pointer-sized, or if the provider
    /// returned a null pointer or a length other than a pointer's.
    pub fn get_extension_function<F: Copy>(&self, s: SOCKET, guid: GUID) -> Result<F, WsaError> {
        assert_eq!(
            core::mem::size_of::<F>(),
            core::mem::size_of::<usize>(),
            "get_extension_function: F must be a function pointer type"
        );
        let mut out = [0u8; core::mem::size_of::<usize>()];
        // SAFETY: GUID is 16 bytes of plain data.
        let input = unsafe { core::slice::from_raw_parts((&guid as *const GUID).cast::<u8>(), 16) };
        let n = self.wsa_ioctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, input, &mut out)?;
        let p = usize::from_ne_bytes(out);
        if n as usize != out.len() || p == 0 {
            panic!(
                "ws2-standin: SIO_GET_EXTENSION_FUNCTION_POINTER succeeded with {} bytes and \
                 pointer {:#x}; expected a non-null {}-byte pointer",
                n,
                p,
                out.len()
            );
        }
        // SAFETY: `F` is pointer-sized (asserted) and the provider handed out a function of
        // this GUID's signature.
        Ok(unsafe { core::mem::transmute_copy::<usize, F>(&p) })
    }

    /// Calls an extension function the way applications do (directly, not through ws2_32),
    /// tracking its operation, and reads its error from the thread's last error.
    fn ext_call(
        &self,
        name: &'static str,
        s: SOCKET,
        ov: *mut OVERLAPPED,
        routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
        call: impl FnOnce(LPWSAOVERLAPPED_COMPLETION_ROUTINE) -> bool,
    ) -> Result<(), WsaError> {
        self.not_cleaned()?;
        if !ov.is_null() {
            overlapped::issue(ov, catalog_of(s), name, routine);
        }
        overlapped::preset_last_error(LAST_ERROR_SENTINEL);
        let ok = call(given_routine(ov, routine));
        crate::report_violations();
        let r = if ok {
            Ok(())
        } else {
            let code = overlapped::last_error();
            if code == LAST_ERROR_SENTINEL {
                panic!(
                    "ws2-standin: {} failed without setting the last error (WSASetLastError)",
                    name
                );
            }
            let e = WsaError::from_code(code);
            if !e.is_valid_failure() {
                panic!(
                    "ws2-standin: {} failed with last error {}, which is not a WSA error code",
                    name, code
                );
            }
            Err(e)
        };
        settle(name, ov, r)
    }

    /// `AcceptEx(listen, accept, output, receive_len, addr_len, addr_len, &bytes, ov)`: bytes
    /// received with the connection when it completed at once, or `Err(WSA_IO_PENDING)`.
    /// `output` holds `receive_len` bytes of data, then the local and the remote address
    /// (`addr_len` each; at least 16 more than the largest address); see
    /// [`Ws2::get_accept_ex_sockaddrs`].
    ///
    /// # Safety
    /// `output` and `*ov` must stay valid until the operation completes.
    pub unsafe fn accept_ex(
        &self,
        listen: SOCKET,
        accept: SOCKET,
        output: &mut [u8],
        receive_len: u32,
        addr_len: u32,
        ov: *mut OVERLAPPED,
    ) -> Result<u32, WsaError> {
        assert!(
            output.len() >= receive_len as usize + 2 * addr_len as usize,
            "accept_ex: output buffer too small for the lengths given"
        );
        let f: ext::AcceptExFn = self.get_extension_function(listen, ext::WSAID_ACCEPTEX)?;
        let mut bytes = 0u32;
        self.ext_call("AcceptEx", listen, ov, None, |_| {
            // SAFETY: as the caller guarantees; lengths fit in `output` (asserted).
            f(
                listen,
                accept,
                output.as_mut_ptr().cast(),
                receive_len,
                addr_len,
                addr_len,
                &mut bytes,
                ov,
            ) != 0
        })?;
        check_count("AcceptEx", bytes, receive_len as usize);
        Ok(bytes)
    }

    /// `GetAcceptExSockaddrs` (looked up through socket `s` of the same provider): the local and
    /// remote addresses an `AcceptEx` wrote into `output`. Panics if the provider returned
    /// pointers outside `output` or malformed addresses.
    pub fn get_accept_ex_sockaddrs(
        &self,
        s: SOCKET,
        output: &[u8],
        receive_len: u32,
        addr_len: u32,
    ) -> Result<(SockAddr, SockAddr), WsaError> {
        let f: ext::GetAcceptExSockaddrsFn =
            self.get_extension_function(s, ext::WSAID_GETACCEPTEXSOCKADDRS)?;
        let (mut local, mut remote) = (core::ptr::null_mut(), core::ptr::null_mut());
        let (mut local_len, mut remote_len) = (0i32, 0i32);
        // SAFETY: `output` is readable for the lengths given (checked by the provider's
        // contract: it only reads inside them); the out-pointers are writable.
        unsafe {
            f(
                output.as_ptr().cast(),
                receive_len,
                addr_len,
                addr_len,
                &mut local,
                &mut local_len,
                &mut remote,
                &mut remote_len,
            )
        };
        let parse = |p: *mut SOCKADDR, len: i32, which: &str| -> SockAddr {
            let start = output.as_ptr() as usize;
            let at = p as usize;
            if p.is_null() || at < start || len < 0 || at + len as usize > start + output.len() {
                panic!(
                    "ws2-standin: GetAcceptExSockaddrs returned a {} address pointer {:p} \
                     (length {}) outside the {}-byte output buffer",
                    which,
                    p,
                    len,
                    output.len()
                );
            }
            let offset = at - start;
            parse_returned(
                "GetAcceptExSockaddrs",
                &output[offset..offset + len as usize],
                len,
            )
        };
        Ok((
            parse(local, local_len, "local"),
            parse(remote, remote_len, "remote"),
        ))
    }

    /// `ConnectEx(s, to, send, &bytes, ov)` on a bound socket: bytes of `send` sent when it
    /// completed at once, or `Err(WSA_IO_PENDING)`.
    ///
    /// # Safety
    /// `send` and `*ov` must stay valid until the operation completes.
    pub unsafe fn connect_ex(
        &self,
        s: SOCKET,
        to: &SockAddr,
        send: &[u8],
        ov: *mut OVERLAPPED,
    ) -> Result<u32, WsaError> {
        let f: ext::ConnectExFn = self.get_extension_function(s, ext::WSAID_CONNECTEX)?;
        let to = to.to_bytes();
        let mut bytes = 0u32;
        self.ext_call("ConnectEx", s, ov, None, |_| {
            // SAFETY: a whole address; `send` valid (caller's contract).
            f(
                s,
                to.as_ptr().cast(),
                to.len() as i32,
                if send.is_empty() {
                    core::ptr::null()
                } else {
                    send.as_ptr().cast()
                },
                send.len() as u32,
                &mut bytes,
                ov,
            ) != 0
        })?;
        check_count("ConnectEx", bytes, send.len());
        Ok(bytes)
    }

    /// `DisconnectEx(s, ov, flags, 0)`.
    ///
    /// # Safety
    /// `*ov` must stay valid until the operation completes.
    pub unsafe fn disconnect_ex(
        &self,
        s: SOCKET,
        ov: *mut OVERLAPPED,
        flags: u32,
    ) -> Result<(), WsaError> {
        let f: ext::DisconnectExFn = self.get_extension_function(s, ext::WSAID_DISCONNECTEX)?;
        // SAFETY: as the caller guarantees.
        self.ext_call("DisconnectEx", s, ov, None, |_| f(s, ov, flags, 0) != 0)
    }

    /// `WSARecvMsg(s, msg, &bytes, ov, routine)`: bytes received when it completed at once.
    ///
    /// # Safety
    /// `*msg`, the buffers it names, and `*ov` must stay valid until the operation completes.
    pub unsafe fn wsa_recv_msg(
        &self,
        s: SOCKET,
        msg: *mut ext::WSAMSG,
        ov: *mut OVERLAPPED,
        routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    ) -> Result<u32, WsaError> {
        let f: ext::WsaRecvMsgFn = self.get_extension_function(s, ext::WSAID_WSARECVMSG)?;
        let mut bytes = 0u32;
        self.ext_call("WSARecvMsg", s, ov, routine, |r| {
            // SAFETY: as the caller guarantees.
            f(s, msg, &mut bytes, ov, r) == 0
        })?;
        Ok(bytes)
    }

    /// `WSASendMsg(s, msg, flags, &bytes, ov, routine)`: bytes sent when it completed at once.
    ///
    /// # Safety
    /// As [`Ws2::wsa_recv_msg`].
    pub unsafe fn wsa_send_msg(
        &self,
        s: SOCKET,
        msg: *mut ext::WSAMSG,
        flags: u32,
        ov: *mut OVERLAPPED,
        routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    ) -> Result<u32, WsaError> {
        let f: ext::WsaSendMsgFn = self.get_extension_function(s, ext::WSAID_WSASENDMSG)?;
        let mut bytes = 0u32;
        self.ext_call("WSASendMsg", s, ov, routine, |r| {
            // SAFETY: as the caller guarantees.
            f(s, msg, flags, &mut bytes, ov, r) == 0
        })?;
        Ok(bytes)
    }

    /// `TransmitFile(s, file, bytes_to_write, bytes_per_send, ov, buffers, flags)`.
    ///
    /// # Safety
    /// `file` must be a file handle (or null), `*buffers` and what it names and `*ov` valid
    /// until the operation completes.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn transmit_file(
        &self,
        s: SOCKET,
        file: HANDLE,
        bytes_to_write: u32,
        bytes_per_send: u32,
        ov: *mut OVERLAPPED,
        buffers: *const ext::TRANSMIT_FILE_BUFFERS,
        flags: u32,
    ) -> Result<(), WsaError> {
        let f: ext::TransmitFileFn = self.get_extension_function(s, ext::WSAID_TRANSMITFILE)?;
        self.ext_call("TransmitFile", s, ov, None, |_| {
            // SAFETY: as the caller guarantees.
            f(s, file, bytes_to_write, bytes_per_send, ov, buffers, flags) != 0
        })
    }

    // ---- select and network events ----

    /// `select(0, read, write, except, timeout)` over sockets of one provider (ws2_32 hands
    /// `WSPSelect` the sets of one provider only: mixing providers is `WSAEINVAL`, as are three
    /// empty sets and a set larger than `FD_SETSIZE`). `timeout` `None` waits forever. On
    /// return each vector holds the sockets that are ready; the result is their total. Panics
    /// if the provider reported a count that does not match the sets, or a socket it was not
    /// given.
    pub fn select(
        &self,
        read: &mut Vec<SOCKET>,
        write: &mut Vec<SOCKET>,
        except: &mut Vec<SOCKET>,
        timeout: Option<Duration>,
    ) -> Result<usize, WsaError> {
        self.not_cleaned()?;
        let all: Vec<SOCKET> = read
            .iter()
            .chain(write.iter())
            .chain(except.iter())
            .copied()
            .collect();
        if all.is_empty()
            || [&*read, &*write, &*except]
                .iter()
                .any(|v| v.len() > FD_SETSIZE)
        {
            return Err(WsaError::INVAL);
        }
        let mut table = None;
        for &s in &all {
            let (spi, _) = self.route(s)?;
            let key = spi.table.lpWSPSelect.map(|f| f as usize);
            match table {
                None => table = Some((key, spi)),
                Some((k, _)) if k != key => return Err(WsaError::INVAL),
                Some(_) => {}
            }
        }
        let (_, spi) = table.expect("at least one socket");
        let f = spi.table.lpWSPSelect.expect("checked non-null at load");
        let to_set = |v: &Vec<SOCKET>| {
            let mut set = FD_SET::default();
            set.fd_array[..v.len()].copy_from_slice(v);
            set.fd_count = v.len() as u32;
            set
        };
        let (mut r, mut w, mut e) = (to_set(read), to_set(write), to_set(except));
        let ptr = |v: &Vec<SOCKET>, set: &mut FD_SET| -> *mut FD_SET {
            if v.is_empty() {
                core::ptr::null_mut()
            } else {
                set
            }
        };
        let (rp, wp, ep) = (ptr(read, &mut r), ptr(write, &mut w), ptr(except, &mut e));
        let tv = timeout.map(|t| TIMEVAL {
            tv_sec: t.as_secs().min(i32::MAX as u64) as i32,
            tv_usec: t.subsec_micros() as i32,
        });
        let tvp = tv
            .as_ref()
            .map_or(core::ptr::null(), |t| t as *const TIMEVAL);
        // SAFETY: each non-null set is a valid FD_SET we own; the timeout is readable.
        let n = check_int("WSPSelect", |errno| unsafe { f(0, rp, wp, ep, tvp, errno) })?;
        let mut total = 0usize;
        for (name, v, set, given) in [
            ("read", &mut *read, &r, !rp.is_null()),
            ("write", &mut *write, &w, !wp.is_null()),
            ("except", &mut *except, &e, !ep.is_null()),
        ] {
            if !given {
                continue;
            }
            let count = set.fd_count as usize;
            if count > v.len() {
                panic!(
                    "ws2-standin: WSPSelect left {} sockets in the {} set, which held {}",
                    count,
                    name,
                    v.len()
                );
            }
            let ready: Vec<SOCKET> = set.fd_array[..count].to_vec();
            if let Some(stranger) = ready.iter().find(|s| !v.contains(s)) {
                panic!(
                    "ws2-standin: WSPSelect returned socket {:#x} in the {} set, which was not \
                     given there",
                    stranger, name
                );
            }
            total += count;
            *v = ready;
        }
        if n < 0 || n as usize != total {
            panic!(
                "ws2-standin: WSPSelect returned {} but left {} sockets in the sets",
                n, total
            );
        }
        Ok(total)
    }

    /// `WSAEventSelect(s, event, events)` (`event` 0 with `events` 0 cancels).
    pub fn wsa_event_select(
        &self,
        s: SOCKET,
        event: WSAEVENT,
        events: u32,
    ) -> Result<(), WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi
            .table
            .lpWSPEventSelect
            .expect("checked non-null at load");
        // SAFETY: plain arguments.
        check_int("WSPEventSelect", |errno| unsafe {
            f(s, event, events as i32, errno)
        })
        .map(drop)
    }

    /// `WSAEnumNetworkEvents(s, event)`: the network events recorded since the last call (and
    /// their error codes), resetting `event` when it is not 0.
    pub fn wsa_enum_network_events(
        &self,
        s: SOCKET,
        event: WSAEVENT,
    ) -> Result<WSANETWORKEVENTS, WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi
            .table
            .lpWSPEnumNetworkEvents
            .expect("checked non-null at load");
        let mut out = WSANETWORKEVENTS::default();
        // SAFETY: a writable WSANETWORKEVENTS.
        check_int("WSPEnumNetworkEvents", |errno| unsafe {
            f(s, event as HANDLE, &mut out, errno)
        })?;
        Ok(out)
    }

    /// `WSAAsyncSelect(s, window, msg, events)`: network events are posted to `window` as
    /// messages `msg` with wParam = `s` and lParam = `WSAMAKESELECTREPLY(event, error)`
    /// (`events` 0 cancels).
    pub fn wsa_async_select(
        &self,
        s: SOCKET,
        window: Window,
        msg: u32,
        events: u32,
    ) -> Result<(), WsaError> {
        let (spi, _) = self.route(s)?;
        let f = spi
            .table
            .lpWSPAsyncSelect
            .expect("checked non-null at load");
        // SAFETY: plain arguments.
        check_int("WSPAsyncSelect", |errno| unsafe {
            f(s, window.hwnd(), msg, events as i32, errno)
        })
        .map(drop)
    }

    /// Thread handles providers opened with `WPUOpenCurrentThread` and have not closed with
    /// `WPUCloseThread` (process-wide, like ws2_32's handle table): back to its earlier value
    /// once every operation that needed one completed.
    pub fn open_thread_handles(&self) -> usize {
        kernel::opened_thread_handles()
    }

    /// The `WSATHREADID` the stand-in passes to providers for calls made on this thread (the
    /// thread's standing handle), for raw SPI calls that take `lpThreadId`.
    pub fn current_thread_id(&self) -> WSATHREADID {
        kernel::current_thread()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "system" fn bump(ctx: usize) {
        // The test passes the address of an AtomicUsize that outlives the APC.
        let n = &*(ctx as *const std::sync::atomic::AtomicUsize);
        n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    #[test]
    fn events_wait_any_all_timeout() {
        let ws = Ws2::new();
        let a = ws.create_event().unwrap();
        let b = ws.create_event().unwrap();
        assert_eq!(
            ws.wait_for_multiple_events(&[a, b], false, 10, false),
            Ok(crate::WSA_WAIT_TIMEOUT)
        );
        ws.set_event(b).unwrap();
        assert_eq!(ws.wait_for_multiple_events(&[a, b], false, 0, false), Ok(1));
        assert_eq!(
            ws.wait_for_multiple_events(&[a, b], true, 0, false),
            Ok(crate::WSA_WAIT_TIMEOUT)
        );
        ws.set_event(a).unwrap();
        assert_eq!(ws.wait_for_multiple_events(&[a, b], true, 0, false), Ok(0));
        // Manual reset: still signalled.
        assert_eq!(ws.wait_for_multiple_events(&[a], false, 0, false), Ok(0));
        ws.reset_event(a).unwrap();
        assert_eq!(
            ws.wait_for_multiple_events(&[a], false, 0, false),
            Ok(crate::WSA_WAIT_TIMEOUT)
        );
        let waiter = {
            let ws = ws.clone();
            std::thread::spawn(move || {
                ws.wait_for_multiple_events(&[a], false, crate::WSA_INFINITE, false)
            })
        };
        ws.set_event(a).unwrap();
        assert_eq!(waiter.join().unwrap(), Ok(0));
        ws.close_event(a).unwrap();
        ws.close_event(b).unwrap();
        assert_eq!(ws.close_event(a), Err(WsaError::INVALID_HANDLE));
        assert_eq!(ws.set_event(b), Err(WsaError::INVALID_HANDLE));
        assert_eq!(
            ws.wait_for_multiple_events(&[], false, 0, false),
            Err(WsaError::INVALID_PARAMETER)
        );
    }

    #[test]
    fn apcs_run_only_in_alertable_waits_on_their_thread() {
        let ws = Ws2::new();
        let count = std::sync::atomic::AtomicUsize::new(0);
        let me = kernel::current_thread();
        kernel::queue_apc(&me, bump, &count as *const _ as usize).unwrap();
        kernel::queue_apc(&me, bump, &count as *const _ as usize).unwrap();
        assert_eq!(ws.sleep_ex(0, false), 0);
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 0);
        let ev = ws.create_event().unwrap();
        assert_eq!(
            ws.wait_for_multiple_events(&[ev], false, 0, false),
            Ok(crate::WSA_WAIT_TIMEOUT)
        );
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(
            ws.wait_for_multiple_events(&[ev], false, 1000, true),
            Ok(crate::WSA_WAIT_IO_COMPLETION)
        );
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);
        // Queued from another thread, run here.
        let addr = &count as *const _ as usize;
        let (handle, reserved) = (me.ThreadHandle as usize, me.Reserved);
        std::thread::spawn(move || {
            let me = WSATHREADID {
                ThreadHandle: handle as HANDLE,
                Reserved: reserved,
            };
            kernel::queue_apc(&me, bump, addr).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(
            ws.sleep_ex(crate::WSA_INFINITE, true),
            crate::WSA_WAIT_IO_COMPLETION
        );
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(ws.sleep_ex(1, true), 0);
        // An opened handle names the same thread, and closes once.
        let opened = kernel::open_current_thread().unwrap();
        kernel::queue_apc(&opened, bump, addr).unwrap();
        assert_eq!(ws.sleep_ex(0, true), crate::WSA_WAIT_IO_COMPLETION);
        kernel::close_thread(&opened).unwrap();
        assert_eq!(kernel::close_thread(&opened), Err(WsaError::INVALID_HANDLE));
        assert!(kernel::queue_apc(&opened, bump, addr).is_err());
        ws.close_event(ev).unwrap();
    }

    #[test]
    fn completion_port_fifo_many_waiters_and_close() {
        let ws = Ws2::new();
        let port = ws.create_io_completion_port(None, None, 0).unwrap();
        assert!(ws.get_queued_completion_status(port, 0).unwrap().is_none());
        for i in 0..3 {
            ws.post_queued_completion_status(port, i, 100 + i as usize, core::ptr::null_mut())
                .unwrap();
        }
        for i in 0..3 {
            let c = ws.get_queued_completion_status(port, 0).unwrap().unwrap();
            assert_eq!((c.bytes, c.key, c.error), (i, 100 + i as usize, 0));
            assert!(c.overlapped.is_null());
        }
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let ws = ws.clone();
                std::thread::spawn(move || {
                    ws.get_queued_completion_status(port, crate::WSA_INFINITE)
                        .map(|c| c.map(|c| c.key))
                })
            })
            .collect();
        for k in 0..4 {
            ws.post_queued_completion_status(port, 0, k, core::ptr::null_mut())
                .unwrap();
        }
        let mut keys: Vec<usize> = workers
            .into_iter()
            .map(|w| w.join().unwrap().unwrap().unwrap())
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, vec![0, 1, 2, 3]);
        let waiter = {
            let ws = ws.clone();
            std::thread::spawn(move || {
                ws.get_queued_completion_status(port, crate::WSA_INFINITE)
                    .map(|c| c.is_some())
            })
        };
        // The waiter may or may not be waiting yet: either way it must not get a packet.
        ws.close_completion_port(port).unwrap();
        let r = waiter.join().unwrap();
        assert!(r.is_err(), "{:?}", r);
        assert_eq!(
            ws.close_completion_port(port),
            Err(WsaError::INVALID_HANDLE)
        );
    }

    #[test]
    fn messages_fifo() {
        let ws = Ws2::new();
        let w = ws.create_window();
        assert_eq!(ws.get_message(w, Some(Duration::from_millis(1))), Ok(None));
        for i in 0..3usize {
            // SAFETY: our own upcall table entry, called as a provider would.
            let posted = unsafe {
                (crate::registry::upcall_table().lpWPUPostMessage.unwrap())(
                    w.hwnd(),
                    0x400,
                    i,
                    (i << 16) as isize | 8,
                )
            };
            assert_eq!(posted, 1);
        }
        for i in 0..3usize {
            let m = ws.get_message(w, None).unwrap().unwrap();
            assert_eq!(
                (m.msg, m.wparam, m.select_event(), m.select_error()),
                (0x400, i, 8, i as u32)
            );
        }
        ws.destroy_window(w).unwrap();
        assert_eq!(ws.get_message(w, None), Err(WsaError::INVALID_HANDLE));
    }
}
