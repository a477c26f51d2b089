//! Entry points that move data: receives, sends and the disconnects.
//!
//! A call without `lpOverlapped` runs the provider's method once, through
//! [`sock_io::call`] (which keeps the network-event record right); with one, the call becomes
//! an overlapped request ([`attempts::submit`]) that finishes at once or waits for readiness.

use super::args::{self, no_disconnect_data, read_addr, same_family, sock};
use super::attempts::{self, Overlapped};
use super::trace::{args, Site};
use super::trampoline::{entry, Errno, Status};
use crate::io::bufs::{copy_wsabufs, HeldBufs, Out};
use crate::io::queue::Dir;
use crate::io::sock_io;
use crate::registry::provider::Sock;
use crate::registry::state::{Binding, Pinned};
use crate::sys::*;
use crate::types::addr::check_room;
use crate::types::buf::{Bufs, BufsMut};
use crate::types::error::WsaError;
use crate::types::flags::MsgFlags;

/// `WSPRecv`.
pub(crate) unsafe extern "system" fn recv<P: Binding>(
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
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract; the table's type
    // for this entry says `const`, the function writes it all the same).
    let errno = unsafe { Errno::new(errno as *mut i32) };
    entry!(
        Status,
        Site::recv,
        errno,
        args!(s, buffers, count, flags, overlapped),
        move || {
            let sock = sock::<P>(s)?;
            if flags.is_null() || (received.is_null() && overlapped.is_null()) {
                return Err(WsaError::FAULT);
            }
            // SAFETY: non-null; the caller's flags (SPI contract).
            let in_flags = MsgFlags::from_bits(unsafe { *flags });
            let (n, out) = if overlapped.is_null() {
                // SAFETY: the caller's buffers, writable for the call (SPI contract).
                let mut bufs = unsafe { BufsMut::from_raw(buffers, count) }?;
                let result = sock_io::call(&*sock, FD_READ, || {
                    sock.shared.provider.recv(&sock, &mut bufs, in_flags)
                });
                let (n, out) = result?;
                (n as u32, out.bits())
            } else {
                let call = Overlapped {
                    ov: overlapped,
                    routine,
                    thread,
                };
                // SAFETY: the caller's buffers and overlapped arguments (SPI contract).
                unsafe { overlapped_recv(&sock, s, buffers, count, in_flags, call) }?
            };
            // SAFETY: the caller's out-pointers (SPI contract); `flags` is non-null.
            unsafe {
                args::put(received, n);
                flags.write(out);
            }
            Ok(())
        }
    )
}

/// `WSPRecvFrom`.
pub(crate) unsafe extern "system" fn recv_from<P: Binding>(
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
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::recv_from,
        errno,
        args!(s, buffers, count, flags, from, fromlen, overlapped),
        move || {
            let sock = sock::<P>(s)?;
            if flags.is_null() || (received.is_null() && overlapped.is_null()) {
                return Err(WsaError::FAULT);
            }
            if !from.is_null() {
                // Check before receiving so that a bad address buffer never loses a message.
                let min = sock.spec().min_sockaddr.max(2) as usize;
                // SAFETY: the caller's address buffer and length (SPI contract).
                unsafe { check_room(from, fromlen, min) }?;
            }
            // SAFETY: non-null; the caller's flags (SPI contract).
            let in_flags = MsgFlags::from_bits(unsafe { *flags });
            let (n, out) = if overlapped.is_null() {
                // SAFETY: the caller's buffers, writable for the call (SPI contract).
                let mut bufs = unsafe { BufsMut::from_raw(buffers, count) }?;
                let result = sock_io::call(&*sock, FD_READ, || {
                    sock.shared.provider.recv_from(&sock, &mut bufs, in_flags)
                });
                let (n, out, addr) = result?;
                if !from.is_null() {
                    // SAFETY: room checked above (SPI contract).
                    unsafe { addr.write_raw(from, fromlen) }?;
                }
                (n as u32, out.bits())
            } else {
                // SAFETY: the caller's WSABUF array (SPI contract), copied here.
                let bufs = HeldBufs(unsafe { copy_wsabufs(buffers, count) }?);
                let (from, fromlen) = (Out(from), Out(fromlen));
                let attempt = attempts::recv_from_attempt::<P>(bufs, in_flags, from, fromlen);
                let call = Overlapped {
                    ov: overlapped,
                    routine,
                    thread,
                };
                // SAFETY: the caller's overlapped arguments (SPI contract).
                unsafe { attempts::submit(&sock, s, call, Dir::In, FD_READ, attempt) }?
            };
            // SAFETY: the caller's out-pointers (SPI contract); `flags` is non-null.
            unsafe {
                args::put(received, n);
                flags.write(out);
            }
            Ok(())
        }
    )
}

/// An overlapped `WSPRecv` (out of line, so that it weighs nothing on the calls that are
/// not): `(bytes, flags)` when it finished at once, `WSA_IO_PENDING` when it waits.
///
/// # Safety
/// The caller's arguments, as `WSPRecv` defines them.
#[inline(never)]
unsafe fn overlapped_recv<P: Binding>(
    sock: &Pinned<P>,
    s: SOCKET,
    buffers: *const WSABUF,
    count: u32,
    flags: MsgFlags,
    call: Overlapped,
) -> Result<(u32, u32), WsaError> {
    // SAFETY: the caller's WSABUF array (this function's contract), copied here.
    let bufs = HeldBufs(unsafe { copy_wsabufs(buffers, count) }?);
    let attempt = attempts::recv_attempt::<P>(bufs, flags);
    // SAFETY: the caller's overlapped arguments (this function's contract).
    unsafe { attempts::submit(sock, s, call, Dir::In, FD_READ, attempt) }
}

/// An overlapped send (out of line, as [`overlapped_recv`]): the bytes sent when it finished
/// at once, `WSA_IO_PENDING` when it waits.
///
/// # Safety
/// The caller's arguments, as `WSPSend` defines them.
#[inline(never)]
unsafe fn overlapped_send<P: Binding>(
    sock: &Pinned<P>,
    s: SOCKET,
    buffers: *const WSABUF,
    count: u32,
    call: Overlapped,
    send: impl Fn(&Sock<P>, &Bufs<'_>) -> Result<usize, WsaError> + Send + 'static,
) -> Result<u32, WsaError> {
    // SAFETY: the caller's WSABUF array (this function's contract), copied here.
    let bufs = HeldBufs(unsafe { copy_wsabufs(buffers, count) }?);
    let attempt = attempts::send_all(bufs, send);
    // SAFETY: the caller's overlapped arguments (this function's contract).
    let (n, _) = unsafe { attempts::submit(sock, s, call, Dir::Out, FD_WRITE, attempt) }?;
    Ok(n)
}

/// A send of the buffers `(buffers, count)`: once, or as an overlapped request; the bytes
/// sent go to `sent`. `send` is one call of the provider.
///
/// # Safety
/// The arguments are the caller's, as `WSPSend` defines them.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn send_call<P: Binding>(
    s: SOCKET,
    buffers: *const WSABUF,
    count: u32,
    sent: *mut u32,
    call: Overlapped,
    sock: &Pinned<P>,
    send: impl Fn(&Sock<P>, &Bufs<'_>) -> Result<usize, WsaError> + Send + 'static,
) -> Result<(), WsaError> {
    if call.ov.is_null() {
        if sent.is_null() {
            return Err(WsaError::FAULT);
        }
        // SAFETY: the caller's buffers, readable for the call (this function's contract).
        let bufs = unsafe { Bufs::from_raw(buffers, count) }?;
        let n = sock_io::call(&**sock, FD_WRITE, || send(sock, &bufs))?;
        // SAFETY: non-null; the caller's out-pointer (this function's contract).
        unsafe { sent.write(n as u32) };
    } else {
        // SAFETY: the caller's buffers and overlapped arguments (this function's contract).
        let n = unsafe { overlapped_send(sock, s, buffers, count, call, send) }?;
        // SAFETY: null or the caller's out-pointer (this function's contract).
        unsafe { args::put(sent, n) };
    }
    Ok(())
}

/// `WSPSend`.
pub(crate) unsafe extern "system" fn send<P: Binding>(
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
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::send,
        errno,
        args!(s, buffers, count, flags, overlapped),
        move || {
            let sock = sock::<P>(s)?;
            let flags = MsgFlags::from_bits(flags);
            let call = Overlapped {
                ov: overlapped,
                routine,
                thread,
            };
            let send =
                move |sock: &Sock<P>, view: &Bufs<'_>| sock.shared.provider.send(sock, view, flags);
            // SAFETY: the caller's arguments (SPI contract).
            unsafe { send_call(s, buffers, count, sent, call, &sock, send) }
        }
    )
}

/// `WSPSendTo` (a null `lpTo` sends to the connected peer).
pub(crate) unsafe extern "system" fn send_to<P: Binding>(
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
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::send_to,
        errno,
        args!(s, buffers, count, flags, to, tolen, overlapped),
        move || {
            let sock = sock::<P>(s)?;
            let flags = MsgFlags::from_bits(flags);
            let addr = if to.is_null() {
                None
            } else {
                // SAFETY: `tolen` readable bytes at `to` (SPI contract).
                let addr = unsafe { read_addr(&sock, to, tolen) }?;
                same_family(&sock, &addr, WsaError::AFNOSUPPORT)?;
                Some(addr)
            };
            let call = Overlapped {
                ov: overlapped,
                routine,
                thread,
            };
            let send = move |sock: &Sock<P>, bufs: &Bufs<'_>| match &addr {
                None => sock.shared.provider.send(sock, bufs, flags),
                Some(addr) => sock.shared.provider.send_to(sock, bufs, flags, addr),
            };
            // SAFETY: the caller's arguments (SPI contract).
            unsafe { send_call(s, buffers, count, sent, call, &sock, send) }
        }
    )
}

/// `WSPRecvDisconnect` (disconnect data is not supported).
pub(crate) unsafe extern "system" fn recv_disconnect<P: Binding>(
    s: SOCKET,
    data: *const WSABUF,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::recv_disconnect,
        errno,
        args!(s, data),
        move || {
            let sock = sock::<P>(s)?;
            // SAFETY: null or the caller's WSABUF (SPI contract).
            unsafe { no_disconnect_data(data) }?;
            sock.shared.provider.recv_disconnect(&sock)
        }
    )
}

/// `WSPSendDisconnect` (disconnect data is not supported).
pub(crate) unsafe extern "system" fn send_disconnect<P: Binding>(
    s: SOCKET,
    data: *const WSABUF,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::send_disconnect,
        errno,
        args!(s, data),
        move || {
            let sock = sock::<P>(s)?;
            // SAFETY: null or the caller's WSABUF (SPI contract).
            unsafe { no_disconnect_data(data) }?;
            sock.shared.provider.send_disconnect(&sock)
        }
    )
}
