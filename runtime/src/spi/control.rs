//! Entry points that read and change a socket's settings: options, control codes, QOS.

use super::args::{self, need, sock};
use super::sockets::entry_info;
use super::trace::{args, Site};
use super::trampoline::{entry, Errno, Flag, Status};
use crate::io::completion::Requester;
use crate::registry::provider::IoctlRequest;
use crate::registry::provider::Sock;
use crate::registry::state::{Binding, Pinned};
use crate::sys::*;
use crate::types::buf::Bufs;
use crate::types::error::WsaError;
use crate::types::flags::{OptInput, SockOpt};
use core::ffi::c_void;

/// `WSPGetSockOpt`: `SO_TYPE` and `SO_PROTOCOL_INFOW` answered by the runtime, the rest by the
/// provider.
pub(crate) unsafe extern "system" fn get_sock_opt<P: Binding>(
    s: SOCKET,
    level: i32,
    name: i32,
    optval: PSTR,
    optlen: *mut i32,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::get_sock_opt,
        errno,
        args!(s, level, name, optval, optlen),
        move || {
            let sock = sock::<P>(s)?;
            // SAFETY: optlen, when non-null, is readable (caller's contract).
            if optlen.is_null() || optval.is_null() || unsafe { *optlen } < 0 {
                return Err(WsaError::FAULT);
            }
            // SAFETY: `optval` has `*optlen` writable bytes and `optlen` is writable (caller's
            // contract; both checked non-null).
            unsafe {
                match (level, name) {
                    (SOL_SOCKET, SO_TYPE) => {
                        write_option(&sock.spec().socket_type.to_ne_bytes(), optval, optlen)
                    }
                    (SOL_SOCKET, SO_PROTOCOL_INFOW) => {
                        protocol_info_option::<P>(&sock, optval, optlen)
                    }
                    _ => provider_option::<P>(&sock, SockOpt { level, name }, optval, optlen),
                }
            }
        }
    )
}

/// An option the provider answers (out of line, so that the provider's `get_option`, inlined,
/// does not weigh on the options the runtime answers).
///
/// # Safety
/// `optval` has `*optlen` writable bytes; `optlen` is non-null and writable.
#[inline(never)]
unsafe fn provider_option<P: Binding>(
    sock: &Sock<P>,
    opt: SockOpt,
    optval: PSTR,
    optlen: *mut i32,
) -> Result<(), WsaError> {
    let value = sock.shared.provider.get_option(sock, opt)?;
    // An `int` or `BOOL` is laid out here: no allocation.
    let mut int = [0u8; 4];
    // SAFETY: as this function's contract.
    unsafe { write_option(value.bytes(&mut int), optval, optlen) }
}

/// `SO_PROTOCOL_INFOW`: the socket's protocol entry (out of line: the entry is large, and
/// building it on the stack would weigh on every other option's call).
///
/// # Safety
/// As for [`provider_option`].
#[inline(never)]
unsafe fn protocol_info_option<P: Binding>(
    sock: &Sock<P>,
    optval: PSTR,
    optlen: *mut i32,
) -> Result<(), WsaError> {
    let info = entry_info(sock);
    // SAFETY: WSAPROTOCOL_INFOW is plain old data; viewing it as bytes is sound.
    let bytes = unsafe {
        core::slice::from_raw_parts(
            (&info as *const WSAPROTOCOL_INFOW).cast::<u8>(),
            core::mem::size_of::<WSAPROTOCOL_INFOW>(),
        )
    };
    // SAFETY: as this function's contract.
    unsafe { write_option(bytes, optval, optlen) }
}

/// Copies an option's value to the caller's `optval` of `*optlen` bytes and stores its
/// length; `WSAEFAULT` if it does not fit.
///
/// # Safety
/// As for [`provider_option`].
#[inline(always)]
unsafe fn write_option(bytes: &[u8], optval: PSTR, optlen: *mut i32) -> Result<(), WsaError> {
    // SAFETY: optlen is non-null and readable (this function's contract).
    let room = unsafe { *optlen };
    if optval.is_null() || room < 0 || (room as usize) < bytes.len() {
        return Err(WsaError::FAULT);
    }
    // SAFETY: optval has `room >= bytes.len()` writable bytes, optlen is writable (this
    // function's contract).
    unsafe {
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), optval, bytes.len());
        *optlen = bytes.len() as i32;
    }
    Ok(())
}

/// `WSPSetSockOpt`.
pub(crate) unsafe extern "system" fn set_sock_opt<P: Binding>(
    s: SOCKET,
    level: i32,
    name: i32,
    optval: PCSTR,
    optlen: i32,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::set_sock_opt,
        errno,
        args!(s, level, name, optval, optlen),
        move || {
            let sock = sock::<P>(s)?;
            if optlen < 0 || (optval.is_null() && optlen > 0) {
                return Err(WsaError::FAULT);
            }
            let value: &[u8] = if optlen == 0 {
                &[]
            } else {
                // SAFETY: the caller passes `optlen` readable bytes at `optval`.
                unsafe { core::slice::from_raw_parts(optval, optlen as usize) }
            };
            match (level, name) {
                (SOL_SOCKET, SO_TYPE) | (SOL_SOCKET, SO_PROTOCOL_INFOW) => {
                    Err(WsaError::NOPROTOOPT)
                }
                _ => {
                    sock.shared
                        .provider
                        .set_option(&sock, SockOpt { level, name }, OptInput(value))
                }
            }
        }
    )
}

/// `WSPGetQOSByName`.
pub(crate) unsafe extern "system" fn get_qos_by_name<P: Binding>(
    s: SOCKET,
    name: *const WSABUF,
    qos: *mut QOS,
    errno: *mut i32,
) -> BOOL {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Flag,
        Site::get_qos_by_name,
        errno,
        args!(s, name, qos),
        move || {
            let sock = sock::<P>(s)?;
            if name.is_null() || qos.is_null() {
                return Err(WsaError::FAULT);
            }
            // SAFETY: non-null; the caller passes a readable WSABUF.
            let name = unsafe { Bufs::from_raw(name, 1) }?.to_vec();
            let value = sock.shared.provider.get_qos_by_name(&sock, &name)?;
            // SAFETY: non-null; the caller passes a writable QOS.
            unsafe { qos.write_unaligned(value) };
            Ok(())
        }
    )
}

/// The buffers of a control code.
#[derive(Copy, Clone)]
struct Io {
    input: *const c_void,
    input_len: u32,
    output: *mut c_void,
    output_len: u32,
}

/// `WSPIoctl`: `FIONBIO`, `SIO_GET_EXTENSION_FUNCTION_POINTER` and `SIO_BASE_HANDLE` answered by
/// the runtime, `FIONREAD` and `SIOCATMARK` through their trait methods, the rest by
/// `Provider::ioctl`. Every code finishes at once; with `lpOverlapped`, the completion is
/// delivered as well.
pub(crate) unsafe extern "system" fn ioctl<P: Binding>(
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
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::ioctl,
        errno,
        args!(s, code, input, input_len, output, output_len, overlapped),
        move || {
            let sock = sock::<P>(s)?;
            if returned.is_null() && overlapped.is_null() {
                return Err(WsaError::FAULT);
            }
            let io = Io {
                input,
                input_len,
                output,
                output_len,
            };
            // SAFETY: the caller's buffers of the lengths it gives (SPI contract).
            let written = unsafe { control(&sock, s, code, io) }?;
            // SAFETY: null or the caller's writable DWORD (SPI contract).
            unsafe { args::put(returned, written) };
            if !overlapped.is_null() {
                // SAFETY: the caller's WSAOVERLAPPED and ws2_32's thread id (SPI contract).
                let done = unsafe {
                    args::completion(&sock, s, overlapped, routine, Requester::Given(thread))
                }?;
                done.complete(Ok((written, 0)));
            }
            Ok(())
        }
    )
}

/// Carries out control code `code` on `sock`: the bytes written to the output.
///
/// # Safety
/// `io.input` has `io.input_len` readable bytes and `io.output` `io.output_len` writable ones
/// (each checked for null and length here before use).
#[inline(always)]
unsafe fn control<P: Binding>(
    sock: &Pinned<P>,
    s: SOCKET,
    code: u32,
    io: Io,
) -> Result<u32, WsaError> {
    let provider = &sock.shared.provider;
    let Io {
        input,
        input_len,
        output,
        output_len,
    } = io;
    match code as i32 {
        FIONBIO => {
            need(input, input_len, 4)?;
            // SAFETY: checked: at least 4 readable bytes (unaligned callers are allowed).
            let on = unsafe { core::ptr::read_unaligned(input.cast::<u32>()) } != 0;
            if !on && crate::io::sock_io::selecting(&**sock) {
                // Documented: WSAEventSelect/WSAAsyncSelect keep the socket non-blocking.
                return Err(WsaError::INVAL);
            }
            sock.io.set_nonblocking(on);
            Ok(0)
        }
        FIONREAD => {
            need(output, output_len, 4)?;
            let n = provider.bytes_readable(sock)?.min(u32::MAX as usize) as u32;
            // SAFETY: checked: at least 4 writable bytes.
            unsafe { core::ptr::write_unaligned(output.cast::<u32>(), n) };
            Ok(4)
        }
        SIOCATMARK => {
            need(output, output_len, 4)?;
            let mark = provider.at_mark(sock)? as u32;
            // SAFETY: checked: at least 4 writable bytes.
            unsafe { core::ptr::write_unaligned(output.cast::<u32>(), mark) };
            Ok(4)
        }
        _ if code == SIO_GET_EXTENSION_FUNCTION_POINTER => {
            need(input, input_len, core::mem::size_of::<GUID>() as u32)?;
            need(output, output_len, core::mem::size_of::<usize>() as u32)?;
            // SAFETY: checked: a readable GUID.
            let guid = unsafe { core::ptr::read_unaligned(input.cast::<GUID>()) };
            let f = super::ext::function::<P>(&guid).ok_or(WsaError::INVAL)?;
            // SAFETY: checked: room for a pointer.
            unsafe { core::ptr::write_unaligned(output.cast::<usize>(), f) };
            Ok(core::mem::size_of::<usize>() as u32)
        }
        _ if code == SIO_BASE_HANDLE => {
            // Both modes: the socket's own handle (a base provider has no layer below;
            // see docs/overlapped.md).
            need(output, output_len, core::mem::size_of::<SOCKET>() as u32)?;
            // SAFETY: checked: room for a SOCKET.
            unsafe { core::ptr::write_unaligned(output.cast::<SOCKET>(), s) };
            Ok(core::mem::size_of::<SOCKET>() as u32)
        }
        _ => {
            let input: &[u8] = if input.is_null() || input_len == 0 {
                &[]
            } else {
                // SAFETY: the caller passes `input_len` readable bytes.
                unsafe { core::slice::from_raw_parts(input.cast::<u8>(), input_len as usize) }
            };
            let output: &mut [u8] = if output.is_null() || output_len == 0 {
                &mut []
            } else {
                // SAFETY: the caller passes `output_len` writable bytes.
                unsafe { core::slice::from_raw_parts_mut(output.cast::<u8>(), output_len as usize) }
            };
            let room = output.len();
            let request = IoctlRequest {
                code,
                input,
                output,
            };
            let n = provider.ioctl(sock, request)?;
            Ok(n.min(room) as u32)
        }
    }
}
