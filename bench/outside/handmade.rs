//! What the two hand-written comparison providers (`outside-ideal`, `outside-global-lock`)
//! share: the socket record, the provider's exports (`WSPStartup`, `WspEnumProviderProtocols`,
//! `WspSetHostHooks`) and the entry points the benchmark never measures, written as raw
//! `extern "system"` functions with no toolkit code. Each crate includes this file and
//! supplies the eight entry points the benchmark calls (and where its sockets live).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use winsock_provider::sys::*;

/// A socket: its blocking mode and the bytes queued for it (always 0 here).
pub struct Sock {
    /// Set by `FIONBIO`.
    pub nonblocking: AtomicBool,
    /// What `FIONREAD` reports and a receive could return.
    pub queued: AtomicU32,
}

impl Sock {
    /// A blocking socket with nothing queued.
    pub fn new() -> Sock {
        Sock {
            nonblocking: AtomicBool::new(false),
            queued: AtomicU32::new(0),
        }
    }
}

/// The entry points a provider writes itself.
#[allow(missing_docs)]
pub struct Entries {
    pub socket: LPWSPSOCKET,
    pub close_socket: LPWSPCLOSESOCKET,
    pub recv: LPWSPRECV,
    pub send: LPWSPSEND,
    pub get_sock_opt: LPWSPGETSOCKOPT,
    pub ioctl: LPWSPIOCTL,
}

/// The upcall table ws2_32 passed to `WSPStartup`.
static UPCALLS: Mutex<Option<WSPUPCALLTABLE>> = Mutex::new(None);

/// Stores `code` in `*errno` and returns `failure`.
///
/// # Safety
/// `errno` is null or points to a writable `int` (the SPI's `lpErrno`).
#[inline(always)]
pub unsafe fn fail<T>(errno: *const i32, failure: T, code: i32) -> T {
    if !errno.is_null() {
        // SAFETY: non-null, and the caller's writable int (function contract).
        unsafe { *(errno as *mut i32) = code };
    }
    failure
}

/// `WPUCreateSocketHandle(catalog_id, context)`: the handle for a new socket.
///
/// # Safety
/// `info` is the caller's `WSAPROTOCOL_INFOW` (or null); `errno` as for [`fail`].
pub unsafe fn create_handle(
    info: *const WSAPROTOCOL_INFOW,
    context: usize,
    errno: *mut i32,
) -> SOCKET {
    if info.is_null() {
        // SAFETY: errno as the caller guarantees.
        return unsafe { fail(errno, INVALID_SOCKET, WSAEINVAL) };
    }
    let create = UPCALLS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .and_then(|t| t.lpWPUCreateSocketHandle);
    match create {
        // SAFETY: a ws2_32 upcall called with its documented arguments; `info` is non-null.
        Some(create) => unsafe { create((*info).dwCatalogEntryId, context, errno) },
        // SAFETY: errno as the caller guarantees.
        None => unsafe { fail(errno, INVALID_SOCKET, WSAEINVAL) },
    }
}

/// `WPUCloseSocketHandle(s)`: gives a closed socket's handle back to ws2_32.
///
/// # Safety
/// `s` came from [`create_handle`] and is released once; `errno` as for [`fail`].
pub unsafe fn release_handle(s: SOCKET, errno: *mut i32) -> i32 {
    let close = UPCALLS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .and_then(|t| t.lpWPUCloseSocketHandle);
    match close {
        // SAFETY: a ws2_32 upcall called with its documented arguments.
        Some(close) => unsafe { close(s, errno) },
        // SAFETY: errno as the caller guarantees.
        None => unsafe { fail(errno, SOCKET_ERROR, WSAEINVAL) },
    }
}

/// The provider's entry `$name`: its own where [`Entries`] has one, else this file's function
/// of that name.
macro_rules! entry {
    ($entries:ident, socket) => {
        $entries.socket
    };
    ($entries:ident, close_socket) => {
        $entries.close_socket
    };
    ($entries:ident, recv) => {
        $entries.recv
    };
    ($entries:ident, send) => {
        $entries.send
    };
    ($entries:ident, get_sock_opt) => {
        $entries.get_sock_opt
    };
    ($entries:ident, ioctl) => {
        $entries.ioctl
    };
    ($entries:ident, $name:ident) => {
        Some($name)
    };
}

/// The dispatch table from the SPI's one list of entries (`for_each_wsp_proc!`), each
/// entry as [`entry!`] picks it.
macro_rules! table_of {
    ([$entries:ident] $($field:ident : $type:ty => $name:ident,)*) => {
        WSPPROC_TABLE { $($field: entry!($entries, $name),)* }
    };
}

/// `WSPStartup`: negotiates 2.2 and fills the table with `entries` and the shared functions.
///
/// # Safety
/// Called as ws2_32 calls `WSPStartup`.
pub unsafe fn startup(
    version: u16,
    data: *const WSPDATA,
    upcalls: WSPUPCALLTABLE,
    table: *mut WSPPROC_TABLE,
    entries: Entries,
) -> i32 {
    if version < 0x0202 {
        return WSAVERNOTSUPPORTED;
    }
    if data.is_null() || table.is_null() {
        return WSAEFAULT;
    }
    *UPCALLS.lock().unwrap_or_else(|e| e.into_inner()) = Some(upcalls);
    // SAFETY: ws2_32 passes writable WSPDATA and WSPPROC_TABLE (the binding types `data` as
    // const, the SPI writes it).
    unsafe {
        let data = data as *mut WSPDATA;
        (*data).wVersion = 0x0202;
        (*data).wHighVersion = 0x0202;
        *table = winsock_provider::for_each_wsp_proc!(table_of, entries);
    }
    0
}

/// The one protocol entry (UDP-shaped) of provider `guid`.
pub fn protocol_info(guid: u128) -> WSAPROTOCOL_INFOW {
    let mut info = WSAPROTOCOL_INFOW {
        dwServiceFlags1: XP1_CONNECTIONLESS | XP1_MESSAGE_ORIENTED,
        dwProviderFlags: PFL_MATCHES_PROTOCOL_ZERO,
        ProviderId: GUID::from_u128(guid),
        ProtocolChain: WSAPROTOCOLCHAIN {
            ChainLen: BASE_PROTOCOL as i32,
            ChainEntries: [0; 7],
        },
        iVersion: 2,
        iAddressFamily: AF_INET as i32,
        iMaxSockAddr: 16,
        iMinSockAddr: 16,
        iSocketType: SOCK_DGRAM,
        iProtocol: IPPROTO_UDP,
        iNetworkByteOrder: BIGENDIAN as i32,
        iSecurityScheme: SECURITY_PROTOCOL_NONE as i32,
        dwMessageSize: 65467,
        ..Default::default()
    };
    for (slot, unit) in info
        .szProtocol
        .iter_mut()
        .zip("Outside bench UDP".encode_utf16())
    {
        *slot = unit;
    }
    info
}

/// `WspEnumProviderProtocols` for one entry.
///
/// # Safety
/// Called with the arguments `WspEnumProviderProtocols` documents.
pub unsafe fn enum_protocols(
    guid: u128,
    buffer: *mut WSAPROTOCOL_INFOW,
    len: *mut u32,
    errno: *mut i32,
) -> i32 {
    let size = core::mem::size_of::<WSAPROTOCOL_INFOW>() as u32;
    if len.is_null() {
        // SAFETY: errno as the caller guarantees.
        return unsafe { fail(errno, SOCKET_ERROR, WSAEFAULT) };
    }
    // SAFETY: `len` is non-null and the caller's.
    unsafe {
        if buffer.is_null() || *len < size {
            *len = size;
            return fail(errno, SOCKET_ERROR, WSAENOBUFS);
        }
        buffer.write_unaligned(protocol_info(guid));
    }
    1
}

/// Stores `value` into a caller's option buffer of `*optlen` bytes.
///
/// # Safety
/// `optval`/`optlen` are `WSPGetSockOpt`'s arguments.
#[inline(always)]
pub unsafe fn write_int_option(optval: PSTR, optlen: *mut i32, value: i32) -> Result<(), i32> {
    // SAFETY: checked non-null; the caller's int and a buffer of at least `*optlen` bytes.
    unsafe {
        if optlen.is_null() || optval.is_null() || *optlen < 4 {
            return Err(WSAEFAULT);
        }
        optval.cast::<i32>().write_unaligned(value);
        *optlen = 4;
    }
    Ok(())
}

/// The total length of `count` `WSABUF`s.
///
/// # Safety
/// `buffers` points to `count` readable `WSABUF`s (or `count` is 0).
#[inline(always)]
pub unsafe fn total_len(buffers: *const WSABUF, count: u32) -> Result<u32, i32> {
    if buffers.is_null() && count > 0 {
        return Err(WSAEFAULT);
    }
    let mut total = 0u32;
    for i in 0..count as usize {
        // SAFETY: i < count readable entries (function contract).
        total = total.wrapping_add(unsafe { (*buffers.add(i)).len });
    }
    Ok(total)
}

/// The `FIONBIO` / `FIONREAD` / other-code part of `WSPIoctl` on a found socket: the bytes
/// written to the output buffer, or an error code.
///
/// # Safety
/// The buffers are `WSPIoctl`'s arguments.
#[inline(always)]
pub unsafe fn ioctl_on(
    sock: &Sock,
    code: u32,
    input: *const core::ffi::c_void,
    input_len: u32,
    output: *mut core::ffi::c_void,
    output_len: u32,
) -> Result<u32, i32> {
    match code as i32 {
        FIONBIO => {
            if input.is_null() || input_len < 4 {
                return Err(WSAEFAULT);
            }
            // SAFETY: checked: at least 4 readable bytes.
            let on = unsafe { input.cast::<u32>().read_unaligned() } != 0;
            sock.nonblocking.store(on, Ordering::Relaxed);
            Ok(0)
        }
        FIONREAD => {
            if output.is_null() || output_len < 4 {
                return Err(WSAEFAULT);
            }
            let n = sock.queued.load(Ordering::Relaxed);
            // SAFETY: checked: at least 4 writable bytes.
            unsafe { output.cast::<u32>().write_unaligned(n) };
            Ok(4)
        }
        _ => Err(WSAEINVAL),
    }
}

/// The receive's answer on a found socket with nothing queued: would block.
#[inline(always)]
pub fn recv_on(sock: &Sock) -> Result<u32, i32> {
    if sock.queued.load(Ordering::Relaxed) == 0 {
        // A blocking socket would wait here; the benchmark only measures non-blocking ones.
        let _ = sock.nonblocking.load(Ordering::Relaxed);
        return Err(WSAEWOULDBLOCK);
    }
    Err(WSAEOPNOTSUPP)
}

unsafe extern "system" fn bind(_: SOCKET, _: *const SOCKADDR, _: i32, _: *mut i32) -> i32 {
    0
}

#[allow(clippy::too_many_arguments)]
unsafe extern "system" fn connect(
    _: SOCKET,
    _: *const SOCKADDR,
    _: i32,
    _: *const WSABUF,
    _: *mut WSABUF,
    _: *const QOS,
    _: *const QOS,
    _: *mut i32,
) -> i32 {
    0
}

unsafe extern "system" fn shutdown(_: SOCKET, _: i32, _: *mut i32) -> i32 {
    0
}

unsafe extern "system" fn cleanup(_: *mut i32) -> i32 {
    0
}

/// Entry points the benchmark never calls: each fails with `WSAEOPNOTSUPP`.
macro_rules! unsupported {
    ($($name:ident($($arg:ty),*) -> $ret:ty = $failure:expr;)*) => {$(
        #[allow(clippy::too_many_arguments)]
        unsafe extern "system" fn $name($(_: $arg,)* errno: *mut i32) -> $ret {
            // SAFETY: `errno` is the caller's lpErrno.
            unsafe { fail(errno, $failure, WSAEOPNOTSUPP) }
        }
    )*};
}

unsupported! {
    accept(SOCKET, *mut SOCKADDR, *mut i32, LPCONDITIONPROC, usize) -> SOCKET = INVALID_SOCKET;
    address_to_string(*const SOCKADDR, u32, *const WSAPROTOCOL_INFOW, PWSTR, *mut u32) -> i32 = SOCKET_ERROR;
    async_select(SOCKET, HWND, u32, i32) -> i32 = SOCKET_ERROR;
    cancel_blocking_call() -> i32 = SOCKET_ERROR;
    duplicate_socket(SOCKET, u32, *mut WSAPROTOCOL_INFOW) -> i32 = SOCKET_ERROR;
    enum_network_events(SOCKET, HANDLE, *mut WSANETWORKEVENTS) -> i32 = SOCKET_ERROR;
    event_select(SOCKET, WSAEVENT, i32) -> i32 = SOCKET_ERROR;
    get_overlapped_result(SOCKET, *const OVERLAPPED, *mut u32, BOOL, *mut u32) -> BOOL = 0;
    get_peer_name(SOCKET, *mut SOCKADDR, *mut i32) -> i32 = SOCKET_ERROR;
    get_sock_name(SOCKET, *mut SOCKADDR, *mut i32) -> i32 = SOCKET_ERROR;
    get_qos_by_name(SOCKET, *const WSABUF, *mut QOS) -> BOOL = 0;
    join_leaf(SOCKET, *const SOCKADDR, i32, *const WSABUF, *mut WSABUF, *const QOS, *const QOS, u32) -> SOCKET = INVALID_SOCKET;
    listen(SOCKET, i32) -> i32 = SOCKET_ERROR;
    recv_disconnect(SOCKET, *const WSABUF) -> i32 = SOCKET_ERROR;
    recv_from(SOCKET, *const WSABUF, u32, *mut u32, *mut u32, *mut SOCKADDR, *mut i32, *mut OVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE, *const WSATHREADID) -> i32 = SOCKET_ERROR;
    select(i32, *mut FD_SET, *mut FD_SET, *mut FD_SET, *const TIMEVAL) -> i32 = SOCKET_ERROR;
    send_disconnect(SOCKET, *const WSABUF) -> i32 = SOCKET_ERROR;
    send_to(SOCKET, *const WSABUF, u32, *mut u32, u32, *const SOCKADDR, i32, *mut OVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE, *const WSATHREADID) -> i32 = SOCKET_ERROR;
    set_sock_opt(SOCKET, i32, i32, PCSTR, i32) -> i32 = SOCKET_ERROR;
    string_to_address(PCWSTR, i32, *const WSAPROTOCOL_INFOW, *mut SOCKADDR, *mut i32) -> i32 = SOCKET_ERROR;
}

/// Defines the three exports of a hand-written provider with GUID `$guid` whose own entry
/// points are `$entries` (an [`Entries`] expression).
macro_rules! exports {
    ($guid:expr, $entries:expr) => {
        /// The provider's `WSPStartup` export.
        ///
        /// # Safety
        /// Called by ws2_32 with the arguments the SPI defines.
        #[no_mangle]
        pub unsafe extern "system" fn WSPStartup(
            version: u16,
            data: *const WSPDATA,
            _info: *const WSAPROTOCOL_INFOW,
            upcalls: WSPUPCALLTABLE,
            table: *mut WSPPROC_TABLE,
        ) -> i32 {
            // SAFETY: the caller's arguments, passed on.
            unsafe { handmade::startup(version, data, upcalls, table, $entries) }
        }

        /// The provider's protocol entry.
        ///
        /// # Safety
        /// Called with the arguments `WspEnumProviderProtocols` documents.
        #[no_mangle]
        pub unsafe extern "system" fn WspEnumProviderProtocols(
            _provider_id: *mut GUID,
            buffer: *mut WSAPROTOCOL_INFOW,
            len: *mut u32,
            errno: *mut i32,
        ) -> i32 {
            // SAFETY: the caller's arguments, passed on.
            unsafe { handmade::enum_protocols($guid, buffer, len, errno) }
        }

        /// Takes the stand-in's host hooks; this provider needs none.
        #[no_mangle]
        pub extern "system" fn WspSetHostHooks(_hooks: *const core::ffi::c_void) -> i32 {
            0
        }
    };
}
pub(crate) use exports;
