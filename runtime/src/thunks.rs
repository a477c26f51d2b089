//! The 30 `extern "system"` entry points, written once as generic functions.
//!
//! Each one validates the caller's pointers, finds the socket, calls the provider's trait
//! method under the panic guard and maps the result to the SPI's return convention: success
//! leaves `*lpErrno` alone; failure returns `SOCKET_ERROR` / `INVALID_SOCKET` / `FALSE` and
//! stores a WSA code in `*lpErrno`.

use crate::addr::{check_room, SockAddr};
use crate::buf::{Bufs, BufsMut};
use crate::deferred::Entry;
use crate::error::WsaError;
use crate::flags::{MsgFlags, OptInput, Shutdown, SockOpt, SocketFlags};
use crate::info::{write_wide, Guid};
use crate::io;
use crate::notify::Target;
use crate::overlapped::{self, Attempt, Completion, Dir, HeldBufs, Out, Submitted};
use crate::panic::catch;
use crate::provider::{IoctlRequest, Provider, SocketRequest, StartupContext};
use crate::socket::Sock;
use crate::state::{keep, Descriptor, Mode, Pinned};
use crate::sys::{self, *};
use core::ffi::c_void;

/// Stores `e` in `*errno` (when the caller gave one) and returns the failure value.
#[inline]
unsafe fn fail<T>(errno: *const i32, failure: T, e: WsaError) -> T {
    if !errno.is_null() {
        // SAFETY: lpErrno points to an int the caller owns (SPI contract); checked non-null.
        *(errno as *mut i32) = e.code();
    }
    failure
}

/// Runs an `int`-returning entry point: `0` or `SOCKET_ERROR`.
#[inline(always)]
unsafe fn int_call(errno: *const i32, f: impl FnOnce() -> Result<(), WsaError>) -> i32 {
    let _entry = Entry::enter();
    match catch(f) {
        Ok(()) => 0,
        Err(e) => fail(errno, SOCKET_ERROR, e),
    }
}

/// Runs a `SOCKET`-returning entry point: the handle or `INVALID_SOCKET`.
#[inline(always)]
unsafe fn socket_call(errno: *const i32, f: impl FnOnce() -> Result<SOCKET, WsaError>) -> SOCKET {
    let _entry = Entry::enter();
    match catch(f) {
        Ok(s) => s,
        Err(e) => fail(errno, INVALID_SOCKET, e),
    }
}

/// Runs a `BOOL`-returning entry point: `TRUE` or `FALSE`.
#[inline(always)]
unsafe fn bool_call(errno: *const i32, f: impl FnOnce() -> Result<(), WsaError>) -> BOOL {
    let _entry = Entry::enter();
    match catch(f) {
        Ok(()) => 1,
        Err(e) => fail(errno, 0, e),
    }
}

/// Finds an open socket; the first call that reaches a socket attaches it (see
/// `Provider::attached`; a socket whose `attached` panicked is `WSAENETDOWN`).
#[inline(always)]
pub(crate) fn sock<P: Descriptor>(s: SOCKET) -> Result<Pinned<P>, WsaError> {
    let pinned = P::state().lookup(s)?;
    if !pinned.io.is_attached() {
        io::attach(&keep(&pinned));
    }
    pinned.io.usable()?;
    Ok(pinned)
}

/// Starts an overlapped request (`lpOverlapped` non-null): `Ok` when it finished at once
/// (after `at_once(bytes, flags)` stored the results), `WSA_IO_PENDING` when it waits.
#[allow(clippy::too_many_arguments)]
unsafe fn overlapped_call<P: Descriptor>(
    sock: &Pinned<P>,
    s: SOCKET,
    dir: Dir,
    bit: u32,
    attempt: Attempt<P>,
    ov: *mut OVERLAPPED,
    routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    thread: *const WSATHREADID,
    at_once: impl FnOnce(u32, u32),
) -> Result<(), WsaError> {
    let kept = keep(sock);
    // SAFETY: `ov` is the caller's WSAOVERLAPPED (valid until completion, by Winsock's rules),
    // `thread` ws2_32's thread id, the table ws2_32's.
    let done = Completion::start(
        ov,
        routine,
        thread,
        s,
        crate::ext::host_route::<P>(),
        sock.shared.upcalls,
    )?;
    match overlapped::submit(&kept, dir, bit, attempt, done)? {
        Submitted::Done(bytes, flags) => {
            at_once(bytes, flags);
            Ok(())
        }
        Submitted::Pending => Err(WsaError::IO_PENDING),
    }
}

/// The catalog entry a socket was created for, as `SO_PROTOCOL_INFOW` and
/// `WSPDuplicateSocket` report it: under the GUID the catalog gave, not necessarily the
/// attribute's.
fn entry_info<P: Descriptor>(sock: &Sock<P>) -> WSAPROTOCOL_INFOW {
    let mut info = P::INFO.protocol_info(sock.index, sock.catalog_id());
    info.ProviderId = sock.provider_id().to_sys();
    info
}

/// `WSAEFAULT` unless `(ptr, len)` is a non-null buffer of at least `needed` bytes.
fn need(ptr: *const c_void, len: u32, needed: u32) -> Result<(), WsaError> {
    if ptr.is_null() || len < needed {
        Err(WsaError::FAULT)
    } else {
        Ok(())
    }
}

/// Checks that an address given to `bind` is of the socket's family.
fn same_family<P: Provider>(
    sock: &Sock<P>,
    addr: &SockAddr,
    mismatch: WsaError,
) -> Result<(), WsaError> {
    let family = sock.spec().family;
    if family != i32::from(AF_UNSPEC) && family != i32::from(addr.family()) {
        return Err(mismatch);
    }
    Ok(())
}

/// Reads a caller's address, at least as long as the protocol's minimum.
unsafe fn read_addr<P: Provider>(
    sock: &Sock<P>,
    name: *const SOCKADDR,
    len: i32,
) -> Result<SockAddr, WsaError> {
    if len < sock.spec().min_sockaddr {
        return Err(WsaError::FAULT);
    }
    // SAFETY: the caller passes `len` readable bytes at `name` (SPI contract).
    SockAddr::from_raw(name, len)
}

/// `WSAENOPROTOOPT` unless disconnect data is absent or empty (the trait takes none).
unsafe fn no_disconnect_data(data: *const WSABUF) -> Result<(), WsaError> {
    // SAFETY: if non-null, the caller passes a readable WSABUF (SPI contract).
    if data.is_null() || (*data).len == 0 {
        Ok(())
    } else {
        Err(WsaError::NOPROTOOPT)
    }
}

pub(crate) unsafe extern "system" fn accept<P: Descriptor>(
    s: SOCKET,
    addr: *mut SOCKADDR,
    addrlen: *mut i32,
    condition: LPCONDITIONPROC,
    callback_data: usize,
    errno: *mut i32,
) -> SOCKET {
    socket_call(errno, || {
        let listener = sock::<P>(s)?;
        let min = listener.spec().min_sockaddr.max(2) as usize;
        if !addr.is_null() {
            // Check the caller's room before taking a connection off the queue, so a bad
            // buffer never costs a connection.
            check_room(addr, addrlen, min)?;
        }
        let provider = &listener.shared.provider;
        let accepted = io::call(&listener, FD_ACCEPT, || provider.accept(&listener));
        let (inner, peer) = accepted?;
        let new = listener.sibling(inner);
        if let Some(condition) = condition {
            let verdict = ask_condition(provider, &listener, &peer, condition, callback_data);
            if verdict != CF_ACCEPT as i32 {
                let _ = provider.close(&new);
                return Err(if verdict == CF_DEFER as i32 {
                    WsaError::TRY_AGAIN
                } else {
                    WsaError::CONNREFUSED
                });
            }
        }
        let handle = P::state().create::<P::Mode>(new)?;
        if !addr.is_null() {
            if let Err(e) = peer.write_raw(addr, addrlen) {
                let _ = P::state().close::<P::Mode>(handle);
                return Err(e);
            }
        }
        // The accepted socket inherits the listener's event selection.
        let (target, mask) = io::selection_of(&listener);
        if mask != 0 {
            if let Ok(new) = sock::<P>(handle) {
                io::select_events(&new, target, mask);
            }
        }
        Ok(handle)
    })
}

/// Calls an accept condition function with the caller's and our addresses.
unsafe fn ask_condition<P: Provider>(
    provider: &P,
    listener: &Sock<P>,
    peer: &SockAddr,
    condition: unsafe extern "system" fn(
        *mut WSABUF,
        *mut WSABUF,
        *mut QOS,
        *mut QOS,
        *mut WSABUF,
        *mut WSABUF,
        *mut u32,
        usize,
    ) -> i32,
    callback_data: usize,
) -> i32 {
    let mut caller = peer.to_bytes();
    let mut local = provider
        .sock_name(listener)
        .map(|a| a.to_bytes())
        .unwrap_or_default();
    let mut caller_id = WSABUF {
        len: caller.len() as u32,
        buf: caller.as_mut_ptr(),
    };
    let mut callee_id = WSABUF {
        len: local.len() as u32,
        buf: local.as_mut_ptr(),
    };
    let mut group = 0u32;
    // SAFETY: the application's condition function, given live buffers for the duration of
    // the call; data and QOS are absent (null), as the function's contract allows.
    condition(
        &mut caller_id,
        core::ptr::null_mut(),
        core::ptr::null_mut(),
        core::ptr::null_mut(),
        &mut callee_id,
        core::ptr::null_mut(),
        &mut group,
        callback_data,
    )
}

pub(crate) unsafe extern "system" fn address_to_string<P: Descriptor>(
    address: *const SOCKADDR,
    address_len: u32,
    _info: *const WSAPROTOCOL_INFOW,
    out: PWSTR,
    out_len: *mut u32,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let shared = P::state().active()?;
        let addr = SockAddr::from_raw(address, address_len.min(i32::MAX as u32) as i32)?;
        if out_len.is_null() {
            return Err(WsaError::FAULT);
        }
        // A null or short `out` still learns the length it needs (Winsock's contract), which
        // takes the provider's text.
        let text = shared.provider.address_to_string(&addr)?;
        let wide: Vec<u16> = text.encode_utf16().chain(Some(0)).collect();
        // SAFETY: non-null; the caller passes a readable and writable length.
        let room = *out_len as usize;
        *out_len = wide.len() as u32;
        if out.is_null() || room < wide.len() {
            return Err(WsaError::FAULT);
        }
        // SAFETY: `out` has `room >= wide.len()` writable UTF-16 units (caller's contract).
        core::ptr::copy_nonoverlapping(wide.as_ptr(), out, wide.len());
        Ok(())
    })
}

pub(crate) unsafe extern "system" fn async_select<P: Descriptor>(
    s: SOCKET,
    hwnd: HWND,
    msg: u32,
    events: i32,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        if events != 0 && hwnd.is_null() {
            return Err(WsaError::INVAL);
        }
        io::select_events(&sock, Target::Window(hwnd, msg), events as u32);
        Ok(())
    })
}

pub(crate) unsafe extern "system" fn bind<P: Descriptor>(
    s: SOCKET,
    name: *const SOCKADDR,
    namelen: i32,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        let addr = read_addr(&sock, name, namelen)?;
        same_family(&sock, &addr, WsaError::FAULT)?;
        sock.shared.provider.bind(&sock, &addr)
    })
}

pub(crate) unsafe extern "system" fn cancel_blocking_call<P: Descriptor>(errno: *mut i32) -> i32 {
    int_call(errno, || {
        P::state().active()?.provider.cancel_blocking_call()
    })
}

pub(crate) unsafe extern "system" fn cleanup<P: Descriptor>(errno: *mut i32) -> i32 {
    int_call(errno, || {
        let counted = P::state().cleanup::<P::Mode>();
        if counted != Err(WsaError::NOTINITIALISED) && P::state().active().is_err() {
            // The last clean-up closed every socket: abort what they still had pending.
            overlapped::abort_provider::<P>();
            crate::deferred::quiesce();
        }
        counted
    })
}

pub(crate) unsafe extern "system" fn close_socket<P: Descriptor>(
    s: SOCKET,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        if let Ok(sock) = P::state().lookup(s) {
            // Before the handle is released: completions still name it.
            io::forget_selection(&sock);
            overlapped::abort_all(&sock);
        }
        P::state().close::<P::Mode>(s)
    })
}

pub(crate) unsafe extern "system" fn connect<P: Descriptor>(
    s: SOCKET,
    name: *const SOCKADDR,
    namelen: i32,
    _caller_data: *const WSABUF,
    _callee_data: *mut WSABUF,
    _sqos: *const QOS,
    _gqos: *const QOS,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        let addr = read_addr(&sock, name, namelen)?;
        same_family(&sock, &addr, WsaError::AFNOSUPPORT)?;
        sock.shared.provider.connect(&sock, &addr)?;
        if sock.spec().socket_type != SOCK_DGRAM {
            // A connection completed inside the call: FD_CONNECT and FD_WRITE, as for one
            // signalled later. (Connecting a datagram socket only sets its peer.)
            io::connected(&sock);
        }
        Ok(())
    })
}

pub(crate) unsafe extern "system" fn duplicate_socket<P: Descriptor>(
    s: SOCKET,
    process_id: u32,
    info: *mut WSAPROTOCOL_INFOW,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        if info.is_null() {
            return Err(WsaError::FAULT);
        }
        let mut out = entry_info(&sock);
        let reserved = sock.shared.provider.duplicate_socket(&sock, process_id)?;
        out.dwProviderReserved = reserved.get();
        // SAFETY: non-null; the caller passes a writable WSAPROTOCOL_INFOW.
        info.write_unaligned(out);
        Ok(())
    })
}

pub(crate) unsafe extern "system" fn enum_network_events<P: Descriptor>(
    s: SOCKET,
    event: HANDLE,
    events: *mut WSANETWORKEVENTS,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        if events.is_null() {
            return Err(WsaError::FAULT);
        }
        let record = io::enum_events(&sock, event);
        // SAFETY: non-null; the caller passes a writable WSANETWORKEVENTS.
        events.write_unaligned(record);
        Ok(())
    })
}

pub(crate) unsafe extern "system" fn event_select<P: Descriptor>(
    s: SOCKET,
    event: WSAEVENT,
    events: i32,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        if events != 0 && event == 0 {
            return Err(WsaError::INVAL);
        }
        io::select_events(&sock, Target::Event(event), events as u32);
        Ok(())
    })
}

pub(crate) unsafe extern "system" fn get_overlapped_result<P: Descriptor>(
    s: SOCKET,
    overlapped: *const OVERLAPPED,
    transferred: *mut u32,
    wait: BOOL,
    flags: *mut u32,
    errno: *mut i32,
) -> BOOL {
    bool_call(errno, || {
        let sock = sock::<P>(s)?;
        if overlapped.is_null() || transferred.is_null() || flags.is_null() {
            return Err(WsaError::FAULT);
        }
        drop(sock);
        // SAFETY: non-null; the caller passes the OVERLAPPED of a request it started.
        let (n, out, error) = overlapped::result(overlapped, wait != 0);
        if error == Some(WsaError::IO_INCOMPLETE) {
            return Err(WsaError::IO_INCOMPLETE);
        }
        // SAFETY: both non-null and writable (caller's contract).
        *transferred = n;
        *flags = out;
        match error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })
}

pub(crate) unsafe extern "system" fn get_peer_name<P: Descriptor>(
    s: SOCKET,
    name: *mut SOCKADDR,
    namelen: *mut i32,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        check_room(name, namelen, sock.spec().min_sockaddr.max(0) as usize)?;
        sock.shared
            .provider
            .peer_name(&sock)?
            .write_raw(name, namelen)
    })
}

pub(crate) unsafe extern "system" fn get_sock_name<P: Descriptor>(
    s: SOCKET,
    name: *mut SOCKADDR,
    namelen: *mut i32,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        check_room(name, namelen, sock.spec().min_sockaddr.max(0) as usize)?;
        sock.shared
            .provider
            .sock_name(&sock)?
            .write_raw(name, namelen)
    })
}

pub(crate) unsafe extern "system" fn get_sock_opt<P: Descriptor>(
    s: SOCKET,
    level: i32,
    name: i32,
    optval: PSTR,
    optlen: *mut i32,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        // SAFETY: optlen, when non-null, is readable (caller's contract).
        if optlen.is_null() || optval.is_null() || *optlen < 0 {
            return Err(WsaError::FAULT);
        }
        // The value is laid out in one of these (no allocation for the runtime's own answers).
        let mut int = [0u8; 4];
        let info;
        let value;
        let bytes: &[u8] = match (level, name) {
            (SOL_SOCKET, SO_TYPE) => {
                int = sock.spec().socket_type.to_ne_bytes();
                &int
            }
            (SOL_SOCKET, SO_PROTOCOL_INFOW) => {
                info = entry_info(&sock);
                // SAFETY: WSAPROTOCOL_INFOW is plain old data; viewing it as bytes is sound.
                core::slice::from_raw_parts(
                    (&info as *const WSAPROTOCOL_INFOW).cast::<u8>(),
                    core::mem::size_of::<WSAPROTOCOL_INFOW>(),
                )
            }
            _ => {
                value = sock
                    .shared
                    .provider
                    .get_option(&sock, SockOpt { level, name })?;
                value.bytes(&mut int)
            }
        };
        // SAFETY: optlen is non-null and readable (caller's contract).
        let room = *optlen;
        if optval.is_null() || room < 0 || (room as usize) < bytes.len() {
            return Err(WsaError::FAULT);
        }
        // SAFETY: optval has `room >= bytes.len()` writable bytes (caller's contract).
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), optval, bytes.len());
        *optlen = bytes.len() as i32;
        Ok(())
    })
}

pub(crate) unsafe extern "system" fn get_qos_by_name<P: Descriptor>(
    s: SOCKET,
    name: *const WSABUF,
    qos: *mut QOS,
    errno: *mut i32,
) -> BOOL {
    bool_call(errno, || {
        let sock = sock::<P>(s)?;
        if name.is_null() || qos.is_null() {
            return Err(WsaError::FAULT);
        }
        // SAFETY: non-null; the caller passes a readable WSABUF.
        let name = Bufs::from_raw(name, 1)?.to_vec();
        let value = sock.shared.provider.get_qos_by_name(&sock, &name)?;
        // SAFETY: non-null; the caller passes a writable QOS.
        qos.write_unaligned(value);
        Ok(())
    })
}

pub(crate) unsafe extern "system" fn ioctl<P: Descriptor>(
    s: SOCKET,
    code: u32,
    input: *const c_void,
    input_len: u32,
    output: *mut c_void,
    output_len: u32,
    returned: *mut u32,
    overlapped: *mut OVERLAPPED,
    routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    thread: *const WSATHREADID,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        if returned.is_null() && overlapped.is_null() {
            return Err(WsaError::FAULT);
        }
        let provider = &sock.shared.provider;
        let written = match code as i32 {
            FIONBIO => {
                need(input, input_len, 4)?;
                // SAFETY: checked: at least 4 readable bytes (unaligned callers are allowed).
                let on = core::ptr::read_unaligned(input.cast::<u32>()) != 0;
                if !on && io::selecting(&sock) {
                    // Documented: WSAEventSelect/WSAAsyncSelect keep the socket non-blocking.
                    return Err(WsaError::INVAL);
                }
                sock.set_nonblocking(on);
                0
            }
            FIONREAD => {
                need(output, output_len, 4)?;
                let n = provider.bytes_readable(&sock)?.min(u32::MAX as usize) as u32;
                // SAFETY: checked: at least 4 writable bytes.
                core::ptr::write_unaligned(output.cast::<u32>(), n);
                4
            }
            SIOCATMARK => {
                need(output, output_len, 4)?;
                let mark = provider.at_mark(&sock)? as u32;
                // SAFETY: checked: at least 4 writable bytes.
                core::ptr::write_unaligned(output.cast::<u32>(), mark);
                4
            }
            _ if code == SIO_GET_EXTENSION_FUNCTION_POINTER => {
                need(input, input_len, core::mem::size_of::<GUID>() as u32)?;
                need(output, output_len, core::mem::size_of::<usize>() as u32)?;
                // SAFETY: checked: a readable GUID.
                let guid = core::ptr::read_unaligned(input.cast::<GUID>());
                let f = crate::ext::function::<P>(&guid).ok_or(WsaError::INVAL)?;
                // SAFETY: checked: room for a pointer.
                core::ptr::write_unaligned(output.cast::<usize>(), f);
                core::mem::size_of::<usize>() as u32
            }
            _ if code == SIO_BASE_HANDLE => {
                // Both modes: the socket's own handle (a base provider has no layer below;
                // see docs/overlapped.md).
                need(output, output_len, core::mem::size_of::<SOCKET>() as u32)?;
                // SAFETY: checked: room for a SOCKET.
                core::ptr::write_unaligned(output.cast::<SOCKET>(), s);
                core::mem::size_of::<SOCKET>() as u32
            }
            _ => {
                let input: &[u8] = if input.is_null() || input_len == 0 {
                    &[]
                } else {
                    // SAFETY: the caller passes `input_len` readable bytes.
                    core::slice::from_raw_parts(input.cast::<u8>(), input_len as usize)
                };
                let output: &mut [u8] = if output.is_null() || output_len == 0 {
                    &mut []
                } else {
                    // SAFETY: the caller passes `output_len` writable bytes.
                    core::slice::from_raw_parts_mut(output.cast::<u8>(), output_len as usize)
                };
                let room = output.len();
                let n = provider.ioctl(
                    &sock,
                    IoctlRequest {
                        code,
                        input,
                        output,
                    },
                )?;
                n.min(room) as u32
            }
        };
        if !returned.is_null() {
            *returned = written;
        }
        if !overlapped.is_null() {
            // Every control code finishes at once; the completion is delivered all the same.
            let host_route = matches!(<P::Mode as Mode<P>>::KIND, crate::DescriptorMode::NonIfs);
            // SAFETY: the caller's WSAOVERLAPPED and ws2_32's thread id and table.
            let done = Completion::start(
                overlapped,
                routine,
                thread,
                s,
                host_route,
                sock.shared.upcalls,
            )?;
            done.complete(Ok((written, 0)));
        }
        Ok(())
    })
}

pub(crate) unsafe extern "system" fn join_leaf<P: Descriptor>(
    s: SOCKET,
    name: *const SOCKADDR,
    namelen: i32,
    _caller_data: *const WSABUF,
    _callee_data: *mut WSABUF,
    _sqos: *const QOS,
    _gqos: *const QOS,
    flags: u32,
    errno: *mut i32,
) -> SOCKET {
    socket_call(errno, || {
        let sock = sock::<P>(s)?;
        let addr = read_addr(&sock, name, namelen)?;
        match sock.shared.provider.join_leaf(&sock, &addr, flags)? {
            None => Ok(s),
            Some(inner) => P::state().create::<P::Mode>(sock.sibling(inner)),
        }
    })
}

pub(crate) unsafe extern "system" fn listen<P: Descriptor>(
    s: SOCKET,
    backlog: i32,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        sock.shared.provider.listen(&sock, backlog.max(1))
    })
}

pub(crate) unsafe extern "system" fn recv<P: Descriptor>(
    s: SOCKET,
    buffers: *const WSABUF,
    count: u32,
    received: *mut u32,
    flags: *mut u32,
    overlapped: *mut OVERLAPPED,
    routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    thread: *const WSATHREADID,
    errno: *const i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        if flags.is_null() || (received.is_null() && overlapped.is_null()) {
            return Err(WsaError::FAULT);
        }
        // SAFETY: flags is non-null and readable (caller's contract).
        let in_flags = MsgFlags::from_bits(*flags);
        if !overlapped.is_null() {
            let bufs = HeldBufs(overlapped::copy_wsabufs(buffers, count)?);
            let attempt = overlapped::recv_attempt::<P>(bufs, in_flags);
            return overlapped_call(
                &sock,
                s,
                Dir::In,
                FD_READ,
                attempt,
                overlapped,
                routine,
                thread,
                |n, out| {
                    if !received.is_null() {
                        *received = n;
                    }
                    *flags = out;
                },
            );
        }
        let mut bufs = BufsMut::from_raw(buffers, count)?;
        let result = io::call(&sock, FD_READ, || {
            sock.shared.provider.recv(&sock, &mut bufs, in_flags)
        });
        let (n, out) = result?;
        *received = n as u32;
        *flags = out.bits();
        Ok(())
    })
}

pub(crate) unsafe extern "system" fn recv_disconnect<P: Descriptor>(
    s: SOCKET,
    data: *const WSABUF,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        no_disconnect_data(data)?;
        sock.shared.provider.recv_disconnect(&sock)
    })
}

pub(crate) unsafe extern "system" fn recv_from<P: Descriptor>(
    s: SOCKET,
    buffers: *const WSABUF,
    count: u32,
    received: *mut u32,
    flags: *mut u32,
    from: *mut SOCKADDR,
    fromlen: *mut i32,
    overlapped: *mut OVERLAPPED,
    routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    thread: *const WSATHREADID,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        if flags.is_null() || (received.is_null() && overlapped.is_null()) {
            return Err(WsaError::FAULT);
        }
        if !from.is_null() {
            // Check before receiving so that a bad address buffer never loses a message.
            check_room(from, fromlen, sock.spec().min_sockaddr.max(2) as usize)?;
        }
        // SAFETY: flags is non-null and readable (caller's contract).
        let in_flags = MsgFlags::from_bits(*flags);
        if !overlapped.is_null() {
            let bufs = HeldBufs(overlapped::copy_wsabufs(buffers, count)?);
            let (from, fromlen) = (Out(from), Out(fromlen));
            let attempt = overlapped::recv_from_attempt::<P>(bufs, in_flags, from, fromlen);
            return overlapped_call(
                &sock,
                s,
                Dir::In,
                FD_READ,
                attempt,
                overlapped,
                routine,
                thread,
                |n, out| {
                    if !received.is_null() {
                        *received = n;
                    }
                    *flags = out;
                },
            );
        }
        let mut bufs = BufsMut::from_raw(buffers, count)?;
        let result = io::call(&sock, FD_READ, || {
            sock.shared.provider.recv_from(&sock, &mut bufs, in_flags)
        });
        let (n, out, addr) = result?;
        if !from.is_null() {
            addr.write_raw(from, fromlen)?;
        }
        *received = n as u32;
        *flags = out.bits();
        Ok(())
    })
}

pub(crate) unsafe extern "system" fn select<P: Descriptor>(
    _nfds: i32,
    read: *mut FD_SET,
    write: *mut FD_SET,
    except: *mut FD_SET,
    timeout: *const TIMEVAL,
    errno: *mut i32,
) -> i32 {
    let _entry = Entry::enter();
    let result = catch(|| {
        let shared = P::state().active()?;
        if read.is_null() && write.is_null() && except.is_null() {
            return Err(WsaError::INVAL);
        }
        let timeout = if timeout.is_null() {
            None
        } else {
            // SAFETY: non-null; the caller passes a readable TIMEVAL.
            let t = &*timeout;
            if t.tv_sec < 0 || t.tv_usec < 0 {
                return Err(WsaError::INVAL);
            }
            Some(
                std::time::Duration::from_secs(t.tv_sec as u64)
                    + std::time::Duration::from_micros(t.tv_usec as u64),
            )
        };
        // SAFETY: each set, when non-null, is a writable FD_SET the caller owns; the three are
        // distinct objects by the select contract.
        let (r, w, e) = (read.as_mut(), write.as_mut(), except.as_mut());
        for set in [&r, &w, &e].iter().filter_map(|s| s.as_ref()) {
            if set.fd_count as usize > set.fd_array.len() {
                return Err(WsaError::INVAL);
            }
        }
        let n = crate::select::select::<P>(&shared.upcalls, [r, w, e], timeout)?;
        Ok(n.min(i32::MAX as usize) as i32)
    });
    match result {
        Ok(n) => n,
        Err(e) => fail(errno, SOCKET_ERROR, e),
    }
}

pub(crate) unsafe extern "system" fn send<P: Descriptor>(
    s: SOCKET,
    buffers: *const WSABUF,
    count: u32,
    sent: *mut u32,
    flags: u32,
    overlapped: *mut OVERLAPPED,
    routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    thread: *const WSATHREADID,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        let flags = MsgFlags::from_bits(flags);
        if !overlapped.is_null() {
            let bufs = HeldBufs(overlapped::copy_wsabufs(buffers, count)?);
            let attempt = overlapped::send_all(bufs, move |sock: &Sock<P>, view: &Bufs<'_>| {
                sock.shared.provider.send(sock, view, flags)
            });
            return overlapped_call(
                &sock,
                s,
                Dir::Out,
                FD_WRITE,
                attempt,
                overlapped,
                routine,
                thread,
                |n, _| {
                    if !sent.is_null() {
                        *sent = n;
                    }
                },
            );
        }
        if sent.is_null() {
            return Err(WsaError::FAULT);
        }
        let bufs = Bufs::from_raw(buffers, count)?;
        let result = io::call(&sock, FD_WRITE, || {
            sock.shared.provider.send(&sock, &bufs, flags)
        });
        *sent = result? as u32;
        Ok(())
    })
}

pub(crate) unsafe extern "system" fn send_disconnect<P: Descriptor>(
    s: SOCKET,
    data: *const WSABUF,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        no_disconnect_data(data)?;
        sock.shared.provider.send_disconnect(&sock)
    })
}

pub(crate) unsafe extern "system" fn send_to<P: Descriptor>(
    s: SOCKET,
    buffers: *const WSABUF,
    count: u32,
    sent: *mut u32,
    flags: u32,
    to: *const SOCKADDR,
    tolen: i32,
    overlapped: *mut OVERLAPPED,
    routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    thread: *const WSATHREADID,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        let flags = MsgFlags::from_bits(flags);
        let addr = if to.is_null() {
            None
        } else {
            let addr = read_addr(&sock, to, tolen)?;
            same_family(&sock, &addr, WsaError::AFNOSUPPORT)?;
            Some(addr)
        };
        let send = move |sock: &Sock<P>, bufs: &Bufs<'_>| match &addr {
            None => sock.shared.provider.send(sock, bufs, flags),
            Some(addr) => sock.shared.provider.send_to(sock, bufs, flags, addr),
        };
        if !overlapped.is_null() {
            let bufs = HeldBufs(overlapped::copy_wsabufs(buffers, count)?);
            let attempt = overlapped::send_all(bufs, send);
            return overlapped_call(
                &sock,
                s,
                Dir::Out,
                FD_WRITE,
                attempt,
                overlapped,
                routine,
                thread,
                |n, _| {
                    if !sent.is_null() {
                        *sent = n;
                    }
                },
            );
        }
        if sent.is_null() {
            return Err(WsaError::FAULT);
        }
        let bufs = Bufs::from_raw(buffers, count)?;
        let result = io::call(&sock, FD_WRITE, || send(&sock, &bufs));
        *sent = result? as u32;
        Ok(())
    })
}

pub(crate) unsafe extern "system" fn set_sock_opt<P: Descriptor>(
    s: SOCKET,
    level: i32,
    name: i32,
    optval: PCSTR,
    optlen: i32,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        if optlen < 0 || (optval.is_null() && optlen > 0) {
            return Err(WsaError::FAULT);
        }
        let value: &[u8] = if optlen == 0 {
            &[]
        } else {
            // SAFETY: the caller passes `optlen` readable bytes at `optval`.
            core::slice::from_raw_parts(optval, optlen as usize)
        };
        match (level, name) {
            (SOL_SOCKET, SO_TYPE) | (SOL_SOCKET, SO_PROTOCOL_INFOW) => Err(WsaError::NOPROTOOPT),
            _ => sock
                .shared
                .provider
                .set_option(&sock, SockOpt { level, name }, OptInput(value)),
        }
    })
}

pub(crate) unsafe extern "system" fn shutdown<P: Descriptor>(
    s: SOCKET,
    how: i32,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let sock = sock::<P>(s)?;
        let how = Shutdown::from_raw(how).ok_or(WsaError::INVAL)?;
        sock.shared.provider.shutdown(&sock, how)
    })
}

pub(crate) unsafe extern "system" fn socket<P: Descriptor>(
    af: i32,
    ty: i32,
    protocol: i32,
    info: *const WSAPROTOCOL_INFOW,
    group: u32,
    flags: u32,
    errno: *mut i32,
) -> SOCKET {
    socket_call(errno, || {
        let shared = P::state().active()?;
        if info.is_null() {
            return Err(WsaError::FAULT);
        }
        // SAFETY: non-null; ws2_32 passes the catalog entry it chose.
        let info = &*info;
        let index = P::INFO.find(info).ok_or(WsaError::PROTONOSUPPORT)?;
        let spec = &P::INFO.protocols[index];
        let given = |v: i32| v != FROM_PROTOCOL_INFO && v != 0;
        if given(af) && af != spec.family {
            return Err(WsaError::AFNOSUPPORT);
        }
        if given(ty) && ty != spec.socket_type {
            return Err(WsaError::PROTOTYPE);
        }
        if given(protocol) && protocol != spec.protocol {
            return Err(WsaError::PROTONOSUPPORT);
        }
        let request = SocketRequest {
            spec,
            index,
            catalog_id: info.dwCatalogEntryId,
            flags: SocketFlags::from_bits(flags),
            group,
        };
        // Catalog entries carry 0 in dwProviderReserved; anything else is a structure
        // filled by WSPDuplicateSocket (see Provider::duplicate_socket).
        let inner = match core::num::NonZeroU32::new(info.dwProviderReserved) {
            None => shared.provider.socket(&request)?,
            Some(reserved) => shared.provider.socket_from_duplicate(&request, reserved)?,
        };
        let sock = Sock::new(
            inner,
            shared,
            spec,
            index,
            info.dwCatalogEntryId,
            Guid::from_sys(&info.ProviderId),
        );
        P::state().create::<P::Mode>(sock)
    })
}

pub(crate) unsafe extern "system" fn string_to_address<P: Descriptor>(
    text: PCWSTR,
    family: i32,
    _info: *const WSAPROTOCOL_INFOW,
    address: *mut SOCKADDR,
    address_len: *mut i32,
    errno: *mut i32,
) -> i32 {
    int_call(errno, || {
        let shared = P::state().active()?;
        if text.is_null() || address.is_null() || address_len.is_null() {
            return Err(WsaError::FAULT);
        }
        let mut len = 0;
        // SAFETY: the caller passes a NUL-terminated UTF-16 string.
        while *text.add(len) != 0 {
            len += 1;
        }
        // SAFETY: `len` units before the terminator are readable.
        let text = String::from_utf16(core::slice::from_raw_parts(text, len))
            .map_err(|_| WsaError::INVAL)?;
        let addr = shared.provider.string_to_address(&text, family)?;
        let needed = addr.to_bytes().len() as i32;
        if *address_len < needed {
            // Documented: too small a buffer is WSAEFAULT with the required length stored.
            *address_len = needed;
            return Err(WsaError::FAULT);
        }
        addr.write_raw(address, address_len)
    })
}

/// `WSPStartup`: negotiates the version, fills `WSPDATA` and the dispatch table, and counts
/// the start-up. Returns the error code itself (0 on success), as the SPI defines.
///
/// # Safety
/// Called by ws2_32 with the arguments the SPI defines.
pub unsafe extern "system" fn startup<P: Descriptor>(
    version: u16,
    data: *const WSPDATA,
    info: *const WSAPROTOCOL_INFOW,
    upcalls: WSPUPCALLTABLE,
    table: *mut WSPPROC_TABLE,
) -> i32 {
    let result = catch(|| {
        let (major, minor) = (version & 0xff, version >> 8);
        if (major, minor) < (2, 2) {
            return Err(WsaError::VERNOTSUPPORTED);
        }
        if data.is_null() || table.is_null() || info.is_null() {
            return Err(WsaError::FAULT);
        }
        let needed = match <P::Mode as Mode<P>>::KIND {
            crate::DescriptorMode::NonIfs => {
                upcalls.lpWPUCreateSocketHandle.is_some()
                    && upcalls.lpWPUCloseSocketHandle.is_some()
            }
            crate::DescriptorMode::Ifs => upcalls.lpWPUModifyIFSHandle.is_some(),
        };
        if !needed {
            return Err(WsaError::INVAL);
        }
        // SAFETY: non-null; ws2_32 passes the catalog entry it loads the provider for.
        let catalog_id = (*info).dwCatalogEntryId;
        let ctx = StartupContext {
            version: WINSOCK_VERSION_2_2,
            catalog_id,
        };
        P::state().startup(&ctx, upcalls)?;
        // SAFETY: non-null; ws2_32 passes writable WSPDATA and WSPPROC_TABLE structures.
        let data = &mut *(data as *mut WSPDATA);
        data.wVersion = WINSOCK_VERSION_2_2;
        data.wHighVersion = WINSOCK_VERSION_2_2;
        write_wide(&mut data.szDescription, P::INFO.description);
        *table = proc_table::<P>();
        Ok(())
    });
    match result {
        Ok(()) => 0,
        Err(e) => e.code(),
    }
}

/// The dispatch table of provider `P`: every entry set.
pub fn proc_table<P: Descriptor>() -> WSPPROC_TABLE {
    WSPPROC_TABLE {
        lpWSPAccept: Some(accept::<P>),
        lpWSPAddressToString: Some(address_to_string::<P>),
        lpWSPAsyncSelect: Some(async_select::<P>),
        lpWSPBind: Some(bind::<P>),
        lpWSPCancelBlockingCall: Some(cancel_blocking_call::<P>),
        lpWSPCleanup: Some(cleanup::<P>),
        lpWSPCloseSocket: Some(close_socket::<P>),
        lpWSPConnect: Some(connect::<P>),
        lpWSPDuplicateSocket: Some(duplicate_socket::<P>),
        lpWSPEnumNetworkEvents: Some(enum_network_events::<P>),
        lpWSPEventSelect: Some(event_select::<P>),
        lpWSPGetOverlappedResult: Some(get_overlapped_result::<P>),
        lpWSPGetPeerName: Some(get_peer_name::<P>),
        lpWSPGetSockName: Some(get_sock_name::<P>),
        lpWSPGetSockOpt: Some(get_sock_opt::<P>),
        lpWSPGetQOSByName: Some(get_qos_by_name::<P>),
        lpWSPIoctl: Some(ioctl::<P>),
        lpWSPJoinLeaf: Some(join_leaf::<P>),
        lpWSPListen: Some(listen::<P>),
        lpWSPRecv: Some(recv::<P>),
        lpWSPRecvDisconnect: Some(recv_disconnect::<P>),
        lpWSPRecvFrom: Some(recv_from::<P>),
        lpWSPSelect: Some(select::<P>),
        lpWSPSend: Some(send::<P>),
        lpWSPSendDisconnect: Some(send_disconnect::<P>),
        lpWSPSendTo: Some(send_to::<P>),
        lpWSPSetSockOpt: Some(set_sock_opt::<P>),
        lpWSPShutdown: Some(shutdown::<P>),
        lpWSPSocket: Some(socket::<P>),
        lpWSPStringToAddress: Some(string_to_address::<P>),
    }
}

/// `WspEnumProviderProtocols`: the provider's GUID and protocol entries, for installers and
/// the ws2_32 stand-in. Mirrors `WSCEnumProtocols`: returns the number of entries, or
/// `SOCKET_ERROR` with `WSAENOBUFS` and the required byte count in `*buffer_len` when the
/// buffer is too small (or null). Catalog entry ids are left 0 for the installer to assign.
///
/// # Safety
/// Pointers that are not null must be valid for the accesses described above.
pub unsafe extern "system" fn enum_protocols<P: Descriptor>(
    provider_id: *mut GUID,
    buffer: *mut WSAPROTOCOL_INFOW,
    buffer_len: *mut u32,
    errno: *mut i32,
) -> i32 {
    let result = catch(|| {
        if buffer_len.is_null() {
            return Err(WsaError::FAULT);
        }
        let count = P::INFO.protocols.len();
        let needed = (count * core::mem::size_of::<WSAPROTOCOL_INFOW>()) as u32;
        // SAFETY: non-null; the caller passes a readable and writable length.
        let room = *buffer_len;
        *buffer_len = needed;
        if buffer.is_null() || room < needed {
            return Err(WsaError::NOBUFS);
        }
        if !provider_id.is_null() {
            // SAFETY: non-null; the caller passes a writable GUID.
            *provider_id = P::INFO.guid.to_sys();
        }
        for i in 0..count {
            // SAFETY: the buffer holds `room >= needed` bytes, room for `count` entries.
            buffer.add(i).write_unaligned(P::INFO.protocol_info(i, 0));
        }
        Ok(count as i32)
    });
    match result {
        Ok(n) => n,
        Err(e) => fail(errno, sys::SOCKET_ERROR, e),
    }
}

/// `WspSetHostHooks`: the host's `WPUCompleteOverlappedRequest` and `WSASetLastError` (see
/// [`crate::HostHooks`]). Hooks are process-wide; `P` only ties the export to its provider.
/// Returns 0 or a WSA error code.
///
/// # Safety
/// `hooks` is null or points to a `HostHooks` of at least `(*hooks).size` readable bytes.
pub unsafe extern "system" fn set_host_hooks<P: Descriptor>(hooks: *const crate::HostHooks) -> i32 {
    crate::hooks::set_host_hooks(hooks)
}
