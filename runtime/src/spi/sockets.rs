//! Entry points that create, connect, name and close sockets.

use super::args::{self, read_addr, same_family, sock};
use super::trace::{args, Site};
use super::trampoline::{entry, Errno, Flag, Handle, Status};
use crate::io::events::Target;
use crate::io::sock_io;
use crate::registry::provider::Sock;
use crate::registry::provider::{Provider, SocketRequest};
use crate::registry::state::Binding;
use crate::sys::*;
use crate::types::addr::{check_room, SockAddr};
use crate::types::error::WsaError;
use crate::types::flags::SocketFlags;
use crate::types::info::Guid;

/// The catalog entry a socket was created for, as `SO_PROTOCOL_INFOW` and
/// `WSPDuplicateSocket` report it: under the GUID the catalog gave, not necessarily the
/// attribute's.
pub(crate) fn entry_info<P: Binding>(sock: &Sock<P>) -> WSAPROTOCOL_INFOW {
    let mut info = crate::registry::state::protocol_info::<P>(sock.index, sock.catalog_id());
    info.ProviderId = sock.provider_id().to_sys();
    info
}

/// `WSPSocket`.
pub(crate) unsafe extern "system" fn socket<P: Binding>(
    af: i32,
    ty: i32,
    protocol: i32,
    info: *const WSAPROTOCOL_INFOW,
    group: u32,
    flags: u32,
    errno: *mut i32,
) -> SOCKET {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Handle,
        Site::socket,
        errno,
        args!(af, ty, protocol, info, group, flags),
        move || {
            let shared = P::state().active()?;
            if info.is_null() {
                return Err(WsaError::FAULT);
            }
            // SAFETY: non-null; ws2_32 passes the catalog entry it chose.
            let info = unsafe { &*info };
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
        },
    )
}

/// `WSPAccept`.
pub(crate) unsafe extern "system" fn accept<P: Binding>(
    s: SOCKET,
    addr: *mut SOCKADDR,
    addrlen: *mut i32,
    condition: LPCONDITIONPROC,
    callback_data: usize,
    errno: *mut i32,
) -> SOCKET {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Handle,
        Site::accept,
        errno,
        args!(s, addr, addrlen, condition),
        move || {
            let listener = sock::<P>(s)?;
            let min = listener.spec().min_sockaddr.max(2) as usize;
            if !addr.is_null() {
                // Check the caller's room before taking a connection off the queue, so a bad
                // buffer never costs a connection.
                // SAFETY: the caller's address buffer and its length (SPI contract).
                unsafe { check_room(addr, addrlen, min) }?;
            }
            let provider = &listener.shared.provider;
            // The top of the backlog: a connection an earlier accept deferred, else the
            // provider's next (`true`: it was deferred before).
            let next = || match sock_io::take_kept(&*listener) {
                Some((inner, peer)) => Ok((inner, peer, true)),
                None => provider
                    .accept(&listener)
                    .map(|(inner, peer)| (inner, peer, false)),
            };
            let (new, peer) = match condition {
                None => {
                    let (inner, peer, _) = sock_io::call(&*listener, FD_ACCEPT, next)?;
                    (listener.sibling(inner), peer)
                }
                // The condition function's verdict is part of the call: a deferral
                // (`WSATRY_AGAIN`) is the one result that does not re-enable `FD_ACCEPT`. A
                // deferred connection stays at the top of the backlog, for the next accept.
                Some(condition) => sock_io::call(&*listener, FD_ACCEPT, || {
                    let (inner, peer, again) = next()?;
                    // SAFETY: the application's condition function (SPI contract).
                    let verdict = unsafe {
                        ask_condition(provider, &listener, &peer, condition, callback_data)
                    };
                    if verdict == CF_ACCEPT as i32 {
                        return Ok((listener.sibling(inner), peer));
                    }
                    if verdict == CF_DEFER as i32 {
                        sock_io::keep(&*listener, inner, peer, again);
                        return Err(WsaError::TRY_AGAIN);
                    }
                    let _ = provider.close(&listener.sibling(inner));
                    Err(WsaError::CONNREFUSED)
                })
                .map_err(|e| {
                    if e == WsaError::TRY_AGAIN {
                        // A pending `AcceptEx` takes the connection kept meanwhile.
                        crate::io::ops::drive(&*listener);
                    }
                    e
                })?,
            };
            let handle = P::state().create::<P::Mode>(new)?;
            if !addr.is_null() {
                // SAFETY: room checked above; the caller's buffer (SPI contract).
                if let Err(e) = unsafe { peer.write_raw(addr, addrlen) } {
                    let _ = P::state().close::<P::Mode>(handle);
                    return Err(e);
                }
            }
            // The accepted socket inherits the listener's event selection.
            let (target, mask) = sock_io::selection_of(&*listener);
            if mask != 0 {
                if let Ok(new) = sock::<P>(handle) {
                    sock_io::select_events(&*new, target, mask);
                }
            }
            Ok(handle)
        },
    )
}

/// Calls an accept condition function with the caller's and our addresses.
///
/// # Safety
/// `condition` is the application's condition function.
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
    unsafe {
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
}

/// `WSPBind`.
pub(crate) unsafe extern "system" fn bind<P: Binding>(
    s: SOCKET,
    name: *const SOCKADDR,
    namelen: i32,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::bind,
        errno,
        args!(s, name, namelen),
        move || {
            let sock = sock::<P>(s)?;
            // SAFETY: `namelen` readable bytes at `name` (SPI contract).
            let addr = unsafe { read_addr(&sock, name, namelen) }?;
            same_family(&sock, &addr, WsaError::FAULT)?;
            sock.shared.provider.bind(&sock, &addr)
        }
    )
}

/// `WSPListen`.
pub(crate) unsafe extern "system" fn listen<P: Binding>(
    s: SOCKET,
    backlog: i32,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(Status, Site::listen, errno, args!(s, backlog), move || {
        let sock = sock::<P>(s)?;
        sock.shared.provider.listen(&sock, backlog.max(1))
    })
}

/// `WSPConnect` (caller and callee data and QOS are not supported, and ignored).
pub(crate) unsafe extern "system" fn connect<P: Binding>(
    s: SOCKET,
    name: *const SOCKADDR,
    namelen: i32,
    _caller_data: *const WSABUF,
    _callee_data: *mut WSABUF,
    _sqos: *const QOS,
    _gqos: *const QOS,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::connect,
        errno,
        args!(s, name, namelen),
        move || {
            let sock = sock::<P>(s)?;
            // SAFETY: `namelen` readable bytes at `name` (SPI contract).
            let addr = unsafe { read_addr(&sock, name, namelen) }?;
            same_family(&sock, &addr, WsaError::AFNOSUPPORT)?;
            sock.shared.provider.connect(&sock, &addr)?;
            if sock.spec().socket_type != SOCK_DGRAM {
                // A connection completed inside the call: FD_CONNECT and FD_WRITE, as for one
                // signalled later. (Connecting a datagram socket only sets its peer.)
                sock_io::connected(&*sock);
            }
            Ok(())
        }
    )
}

/// `WSPJoinLeaf` (data and QOS are not supported, and ignored).
pub(crate) unsafe extern "system" fn join_leaf<P: Binding>(
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
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Handle,
        Site::join_leaf,
        errno,
        args!(s, name, namelen, flags),
        move || {
            let sock = sock::<P>(s)?;
            // SAFETY: `namelen` readable bytes at `name` (SPI contract).
            let addr = unsafe { read_addr(&sock, name, namelen) }?;
            match sock.shared.provider.join_leaf(&sock, &addr, flags)? {
                None => Ok(s),
                Some(inner) => P::state().create::<P::Mode>(sock.sibling(inner)),
            }
        },
    )
}

/// `WSPCloseSocket`.
pub(crate) unsafe extern "system" fn close_socket<P: Binding>(s: SOCKET, errno: *mut i32) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(Status, Site::close_socket, errno, args!(s), move || {
        if let Ok(sock) = P::state().lookup(s) {
            // Before the handle is released: completions still name it.
            sock_io::forget_selection(&*sock);
            crate::io::ops::abort_all(&*sock);
        }
        P::state().close::<P::Mode>(s)
    })
}

/// `WSPShutdown`.
pub(crate) unsafe extern "system" fn shutdown<P: Binding>(
    s: SOCKET,
    how: i32,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(Status, Site::shutdown, errno, args!(s, how), move || {
        let sock = sock::<P>(s)?;
        let how = crate::types::flags::Shutdown::from_raw(how).ok_or(WsaError::INVAL)?;
        sock.shared.provider.shutdown(&sock, how)
    })
}

/// `WSPDuplicateSocket`.
pub(crate) unsafe extern "system" fn duplicate_socket<P: Binding>(
    s: SOCKET,
    process_id: u32,
    info: *mut WSAPROTOCOL_INFOW,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::duplicate_socket,
        errno,
        args!(s, process_id, info),
        move || {
            let sock = sock::<P>(s)?;
            if info.is_null() {
                return Err(WsaError::FAULT);
            }
            let mut out = entry_info(&sock);
            let reserved = sock.shared.provider.duplicate_socket(&sock, process_id)?;
            out.dwProviderReserved = reserved.get();
            // SAFETY: non-null; the caller passes a writable WSAPROTOCOL_INFOW.
            unsafe { info.write_unaligned(out) };
            Ok(())
        },
    )
}

/// `WSPGetPeerName`.
pub(crate) unsafe extern "system" fn get_peer_name<P: Binding>(
    s: SOCKET,
    name: *mut SOCKADDR,
    namelen: *mut i32,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::get_peer_name,
        errno,
        args!(s, name, namelen),
        move || {
            let sock = sock::<P>(s)?;
            let min = sock.spec().min_sockaddr.max(0) as usize;
            // SAFETY: the caller's buffer and length (SPI contract); checked before writing.
            unsafe {
                check_room(name, namelen, min)?;
                sock.shared
                    .provider
                    .peer_name(&sock)?
                    .write_raw(name, namelen)
            }
        },
    )
}

/// `WSPGetSockName`.
pub(crate) unsafe extern "system" fn get_sock_name<P: Binding>(
    s: SOCKET,
    name: *mut SOCKADDR,
    namelen: *mut i32,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::get_sock_name,
        errno,
        args!(s, name, namelen),
        move || {
            let sock = sock::<P>(s)?;
            let min = sock.spec().min_sockaddr.max(0) as usize;
            // SAFETY: the caller's buffer and length (SPI contract); checked before writing.
            unsafe {
                check_room(name, namelen, min)?;
                sock.shared
                    .provider
                    .sock_name(&sock)?
                    .write_raw(name, namelen)
            }
        },
    )
}

/// `WSPAsyncSelect`.
pub(crate) unsafe extern "system" fn async_select<P: Binding>(
    s: SOCKET,
    hwnd: HWND,
    msg: u32,
    events: i32,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::async_select,
        errno,
        args!(s, hwnd, msg, events),
        move || {
            let sock = sock::<P>(s)?;
            if events != 0 && hwnd.is_null() {
                return Err(WsaError::INVAL);
            }
            sock_io::select_events(&*sock, Target::Window(hwnd, msg), events as u32);
            Ok(())
        },
    )
}

/// `WSPEventSelect`.
pub(crate) unsafe extern "system" fn event_select<P: Binding>(
    s: SOCKET,
    event: WSAEVENT,
    events: i32,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::event_select,
        errno,
        args!(s, event, events),
        move || {
            let sock = sock::<P>(s)?;
            if events != 0 && event == 0 {
                return Err(WsaError::INVAL);
            }
            sock_io::select_events(&*sock, Target::Event(event), events as u32);
            Ok(())
        },
    )
}

/// `WSPEnumNetworkEvents`.
pub(crate) unsafe extern "system" fn enum_network_events<P: Binding>(
    s: SOCKET,
    event: HANDLE,
    events: *mut WSANETWORKEVENTS,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::enum_network_events,
        errno,
        args!(s, event, events),
        move || {
            let sock = sock::<P>(s)?;
            if events.is_null() {
                return Err(WsaError::FAULT);
            }
            let record = sock_io::enum_events(&*sock, event);
            // SAFETY: non-null; the caller passes a writable WSANETWORKEVENTS.
            unsafe { events.write_unaligned(record) };
            Ok(())
        },
    )
}

/// `WSPGetOverlappedResult`.
pub(crate) unsafe extern "system" fn get_overlapped_result<P: Binding>(
    s: SOCKET,
    overlapped: *const OVERLAPPED,
    transferred: *mut u32,
    wait: BOOL,
    flags: *mut u32,
    errno: *mut i32,
) -> BOOL {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Flag,
        Site::get_overlapped_result,
        errno,
        args!(s, overlapped, wait),
        move || {
            drop(sock::<P>(s)?);
            if overlapped.is_null() || transferred.is_null() || flags.is_null() {
                return Err(WsaError::FAULT);
            }
            // SAFETY: non-null; the caller passes the OVERLAPPED of a request it started.
            let (n, out, error) = unsafe { crate::io::completion::result(overlapped, wait != 0) };
            if error == Some(WsaError::IO_INCOMPLETE) {
                return Err(WsaError::IO_INCOMPLETE);
            }
            // SAFETY: both non-null and writable (caller's contract).
            unsafe {
                args::put(transferred, n);
                args::put(flags, out);
            }
            match error {
                Some(e) => Err(e),
                None => Ok(()),
            }
        },
    )
}
