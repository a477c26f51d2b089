//! Extension functions handed out by `SIO_GET_EXTENSION_FUNCTION_POINTER`: `AcceptEx`,
//! `ConnectEx`, `DisconnectEx`, `GetAcceptExSockaddrs`, `WSARecvMsg`, `WSASendMsg` and
//! `TransmitFile`, built on the provider's trait methods, one instance per provider type.
//!
//! The application calls them directly (not through ws2_32), with its socket handles; they
//! report failures with `WSASetLastError` (the host hook) and return `FALSE` (or
//! `SOCKET_ERROR`). Requests that wait return `FALSE` with `WSA_IO_PENDING` (which is
//! `ERROR_IO_PENDING`) and complete through the `WSAOVERLAPPED` like any overlapped request.

use super::args::{self, read_addr, sock};
use super::attempts;
use super::trace::{args, Site};
use super::trampoline::{entry, Errno, ExtFlag, ExtStatus};
use crate::host::{catch, lock};
use crate::io::bufs::{copy_wsabufs, HeldBufs, Kept, Out};
use crate::io::completion::{Completion, Requester};
use crate::io::ops::{self, Submitted};
use crate::io::queue::{Attempt, Dir, Held};
use crate::io::sock_io;
use crate::registry::provider::Provider;
use crate::registry::provider::Sock;
use crate::registry::state::{keep, Binding, Pinned};
use crate::sys::{self, *};
use crate::types::addr::{check_room, SockAddr};
use crate::types::buf::{Bufs, BufsMut};
use crate::types::error::WsaError;
use crate::types::flags::MsgFlags;
use core::ffi::c_void;
use std::sync::{Arc, Mutex};

/// The runtime function for extension `guid` of provider `P`, as an address.
pub(crate) fn function<P: Binding>(guid: &GUID) -> Option<usize> {
    let same = |g: &GUID| {
        g.data1 == guid.data1
            && g.data2 == guid.data2
            && g.data3 == guid.data3
            && g.data4 == guid.data4
    };
    let f = if same(&WSAID_ACCEPTEX) {
        accept_ex::<P> as *const () as usize
    } else if same(&WSAID_CONNECTEX) {
        connect_ex::<P> as *const () as usize
    } else if same(&WSAID_DISCONNECTEX) {
        disconnect_ex::<P> as *const () as usize
    } else if same(&WSAID_GETACCEPTEXSOCKADDRS) {
        get_accept_ex_sockaddrs as *const () as usize
    } else if same(&WSAID_WSARECVMSG) {
        recv_msg::<P> as *const () as usize
    } else if same(&WSAID_WSASENDMSG) {
        send_msg::<P> as *const () as usize
    } else if same(&WSAID_TRANSMITFILE) {
        transmit_file::<P> as *const () as usize
    } else {
        return None;
    };
    Some(f)
}

/// Runs an extension function's request: at once on the calling thread when `done` is `None`
/// (no `lpOverlapped`), else as an overlapped request completed through `done`'s route. The
/// byte count of a request that finished at once goes to `count`, when given.
///
/// # Safety
/// `count` is null or writable.
unsafe fn ext_request<P: Binding>(
    pinned: &Pinned<P>,
    dir: Dir,
    bit: u32,
    mut attempt: Attempt<Sock<P>>,
    done: Option<Completion>,
    count: *mut u32,
) -> Result<(), WsaError> {
    let n = match done {
        None => sock_io::call(&**pinned, bit, || attempt(pinned))?.0,
        Some(done) => match ops::submit(&keep(pinned), dir, bit, attempt, done)? {
            Submitted::Done(n, _) => n,
            Submitted::Pending => return Err(WsaError::IO_PENDING),
        },
    };
    // SAFETY: null or writable (this function's contract).
    unsafe { args::put(count, n) };
    Ok(())
}

/// The completion of an extension function's request: `None` without `lpOverlapped` (then a
/// function that reports a byte count, `count: Some(..)`, needs somewhere to put it: null is
/// `WSAEFAULT`), else the route the application chose.
///
/// # Safety
/// `ov` is null or the application's WSAOVERLAPPED, valid until completion.
unsafe fn direct_completion<P: Binding>(
    pinned: &Pinned<P>,
    s: SOCKET,
    ov: *mut OVERLAPPED,
    routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    count: Option<*mut u32>,
) -> Result<Option<Completion>, WsaError> {
    if ov.is_null() {
        return match count {
            Some(c) if c.is_null() => Err(WsaError::FAULT),
            _ => Ok(None),
        };
    }
    // SAFETY: the application's WSAOVERLAPPED (this function's contract), made on this thread.
    unsafe { args::completion(pinned, s, ov, routine, Requester::Current) }.map(Some)
}

/// Bytes an `AcceptEx` address area needs for `sock`'s addresses (its length prefix and the
/// largest address, at least `sizeof(sockaddr) + 16` as documented).
fn address_area<P: Provider>(sock: &Sock<P>) -> u32 {
    let max = sock.spec().max_sockaddr.max(16) as u32;
    (max + 16).max(core::mem::size_of::<i32>() as u32 + max)
}

/// Writes `addr` into an `AcceptEx` address area of `room` bytes at `at`: a 4-byte length,
/// then the `sockaddr` (the layout `GetAcceptExSockaddrs` reads).
///
/// # Safety
/// `at` points to `room` writable bytes.
unsafe fn write_area(at: *mut u8, room: u32, addr: &SockAddr) {
    let bytes = addr.to_bytes();
    let fits = (room as usize).saturating_sub(4).min(bytes.len());
    // SAFETY: `4 + fits <= room` writable bytes at `at` (this function's contract).
    unsafe {
        core::ptr::write_unaligned(at.cast::<i32>(), fits as i32);
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), at.add(4), fits);
    }
}

/// `AcceptEx(sListenSocket, sAcceptSocket, lpOutputBuffer, dwReceiveDataLength,
/// dwLocalAddressLength, dwRemoteAddressLength, lpdwBytesReceived, lpOverlapped)`.
///
/// Accepts the next connection into `sAcceptSocket` (through [`Provider::adopt`]), writes
/// the local and remote addresses after the data area and, when `dwReceiveDataLength > 0`,
/// completes only once the first data (or the end of the stream) has been received into it.
/// Completes through the listening socket's `WSAOVERLAPPED` route.
#[allow(clippy::too_many_arguments)]
unsafe extern "system" fn accept_ex<P: Binding>(
    listen: SOCKET,
    accept: SOCKET,
    output: *mut c_void,
    receive_len: u32,
    local_len: u32,
    remote_len: u32,
    received: *mut u32,
    ov: *mut OVERLAPPED,
) -> BOOL {
    entry!(
        ExtFlag,
        Site::accept_ex,
        Errno::NONE,
        args!(
            listen,
            accept,
            output,
            receive_len,
            local_len,
            remote_len,
            ov
        ),
        move || {
            let listener = sock::<P>(listen)?;
            let target = Kept(keep(&sock::<P>(accept)?));
            if ov.is_null() {
                return Err(WsaError::INVAL);
            }
            if output.is_null() {
                return Err(WsaError::FAULT);
            }
            let area = address_area(&listener);
            if local_len < area || remote_len < area {
                return Err(WsaError::INVAL);
            }
            // SAFETY: the application's WSAOVERLAPPED, valid until completion.
            let done =
                unsafe { args::completion(&listener, listen, ov, None, Requester::Current) }?;
            let real = Arc::new(Mutex::new(Some(done)));
            let held = real.clone();
            let out = Out(output.cast::<u8>());
            let lengths = (receive_len, local_len, remote_len);
            let attempt = accept_attempt::<P>(held, target, out, lengths);
            let listener = keep(&listener);
            match ops::submit(
                &listener,
                Dir::In,
                FD_ACCEPT,
                attempt,
                Completion::detached(),
            ) {
                Ok(_) => {
                    // SAFETY: null or the application's writable DWORD.
                    unsafe { args::put(received, 0) };
                    Err(WsaError::IO_PENDING)
                }
                Err(e) => {
                    if let Some(done) = lock(&real).take() {
                        done.cancel(e);
                    }
                    Err(e)
                }
            }
        }
    )
}

/// The attempt of an `AcceptEx` on the listener: accept, move the connection into the
/// accept socket, write both addresses, then complete `real` (or, with a data area, hand it to
/// a first receive on the accept socket). The attempt itself completes a detached stage.
fn accept_attempt<P: Binding>(
    held: Arc<Mutex<Option<Completion>>>,
    target: Kept<Sock<P>>,
    out: Out<u8>,
    (receive_len, local_len, remote_len): (u32, u32, u32),
) -> Attempt<Sock<P>> {
    Box::new(move |l: &Sock<P>| {
        let provider = &l.shared.provider;
        // A connection an accept deferred is at the top of the backlog.
        let (inner, peer, again) = match sock_io::take_kept(l) {
            Some((inner, peer)) => (inner, peer, true),
            None => provider
                .accept(l)
                .map(|(inner, peer)| (inner, peer, false))?,
        };
        let done = match lock(&held).take() {
            Some(done) => done,
            None => {
                // The request is over (its accept socket closed): the connection stays at
                // the top of the backlog for the next accept.
                sock_io::keep(l, inner, peer, again);
                return Ok((0, 0));
            }
        };
        let target = target.sock();
        // From here on the request is the application's: a panic must complete it, not
        // unwind past it (the attempt would then fail and the request complete as well).
        if let Err(e) = catch(|| provider.adopt(target, inner)) {
            done.complete(Err(e));
            return Ok((0, 0));
        }
        let local = catch(|| provider.sock_name(target)).ok();
        let base = out.get();
        // SAFETY: the output buffer holds the data area then both address areas (validated
        // lengths), valid until completion (AcceptEx's contract).
        unsafe {
            if let Some(local) = &local {
                write_area(base.add(receive_len as usize), local_len, local);
            }
            write_area(
                base.add(receive_len as usize + local_len as usize),
                remote_len,
                &peer,
            );
        }
        if receive_len == 0 {
            done.complete(Ok((0, 0)));
            return Ok((0, 0));
        }
        let data = HeldBufs(vec![WSABUF {
            len: receive_len,
            buf: base,
        }]);
        let held = Arc::new(Mutex::new(Some(done)));
        if !ops::hold_stage(l, &held) {
            ops::complete_held(&held, Err(WsaError::OPERATION_ABORTED));
            return Ok((0, 0));
        }
        let stage = data_stage::<P>(StageGuard(held), data);
        ops::submit_stage(target, Dir::In, FD_READ, stage, Completion::detached());
        Ok((0, 0))
    })
}

/// `AcceptEx`'s request while its data stage waits: completed aborted if the stage is
/// dropped without completing it (the accepted socket closed).
struct StageGuard(Arc<Held>);

impl Drop for StageGuard {
    fn drop(&mut self) {
        ops::complete_held(&self.0, Err(WsaError::OPERATION_ABORTED));
    }
}

/// The first receive of an `AcceptEx` with a data area, on the accepted socket: completes the
/// request (held with the listener, whose close also completes it).
fn data_stage<P: Binding>(guard: StageGuard, data: HeldBufs) -> Attempt<Sock<P>> {
    let mut first = attempts::recv_attempt::<P>(data, MsgFlags::NONE);
    Box::new(move |sock: &Sock<P>| match catch(|| first(sock)) {
        Err(e) if e == WsaError::WOULDBLOCK => Err(e),
        result => {
            ops::complete_held(&guard.0, result);
            Ok((0, 0))
        }
    })
}

/// The attempt of a `WSARecvMsg`: `recv_from` into the message's buffers, then its address
/// and flags.
fn recv_msg_attempt<P: Binding>(
    bufs: HeldBufs,
    flags: MsgFlags,
    msg: Out<WSAMSG>,
) -> Attempt<Sock<P>> {
    Box::new(move |sock: &Sock<P>| {
        // SAFETY: the buffers stay valid until completion (Winsock's rules).
        let mut view: BufsMut<'_> = unsafe { bufs.receive() }?;
        let (n, out, from) = sock.shared.provider.recv_from(sock, &mut view, flags)?;
        // SAFETY: the WSAMSG stays valid until completion (Winsock's rules).
        unsafe {
            let m = &mut *msg.get();
            if !m.name.is_null() {
                from.write_raw(m.name, &mut m.namelen)?;
            }
            m.dwFlags = out.bits();
        }
        Ok((n as u32, out.bits()))
    })
}

/// `GetAcceptExSockaddrs`: points into the address areas `AcceptEx` wrote.
#[allow(clippy::too_many_arguments)]
unsafe extern "system" fn get_accept_ex_sockaddrs(
    output: *const c_void,
    receive_len: u32,
    local_len: u32,
    _remote_len: u32,
    local: *mut *mut SOCKADDR,
    local_size: *mut i32,
    remote: *mut *mut SOCKADDR,
    remote_size: *mut i32,
) {
    if output.is_null() {
        return;
    }
    let base = output.cast::<u8>() as *mut u8;
    let parts = [
        (receive_len as usize, local, local_size),
        (
            receive_len as usize + local_len as usize,
            remote,
            remote_size,
        ),
    ];
    for (offset, addr, size) in parts {
        // SAFETY: the buffer AcceptEx filled, with the lengths the application gave it: the
        // area at `offset` starts with its 4-byte length, then the address; `addr` and `size`
        // are null or the application's out-pointers.
        unsafe {
            let at = base.add(offset);
            args::put(addr, at.add(4).cast::<SOCKADDR>());
            args::put(size, core::ptr::read_unaligned(at.cast::<i32>()));
        }
    }
}

/// `ConnectEx(s, name, namelen, lpSendBuffer, dwSendDataLength, lpdwBytesSent,
/// lpOverlapped)`: connects a bound socket, then sends the optional data.
#[allow(clippy::too_many_arguments)]
unsafe extern "system" fn connect_ex<P: Binding>(
    s: SOCKET,
    name: *const SOCKADDR,
    namelen: i32,
    data: *const c_void,
    data_len: u32,
    sent: *mut u32,
    ov: *mut OVERLAPPED,
) -> BOOL {
    entry!(
        ExtFlag,
        Site::connect_ex,
        Errno::NONE,
        args!(s, name, namelen, data, data_len, ov),
        move || {
            let pinned = sock::<P>(s)?;
            if ov.is_null() {
                return Err(WsaError::INVAL);
            }
            // SAFETY: the application passes `namelen` readable bytes.
            let addr = unsafe { read_addr(&pinned, name, namelen) }?;
            let provider = &pinned.shared.provider;
            if provider.sock_name(&pinned).is_err() {
                // Documented: ConnectEx needs a bound socket.
                return Err(WsaError::INVAL);
            }
            if data.is_null() && data_len > 0 {
                return Err(WsaError::FAULT);
            }
            let bufs = HeldBufs(if data_len == 0 {
                Vec::new()
            } else {
                vec![WSABUF {
                    len: data_len,
                    buf: data as *mut u8,
                }]
            });
            let mut connected = false;
            let mut started = false;
            let mut send = attempts::send_all(bufs, |sock: &Sock<P>, view: &Bufs<'_>| {
                sock.shared.provider.send(sock, view, MsgFlags::NONE)
            });
            let attempt: Attempt<Sock<P>> = Box::new(move |sock: &Sock<P>| {
                if !connected {
                    match sock.shared.provider.connect(sock, &addr) {
                        Ok(()) => {}
                        Err(e) if started && e == WsaError::ISCONN => {}
                        Err(e)
                            if e == WsaError::WOULDBLOCK
                                || e == WsaError::ALREADY
                                || e == WsaError::INPROGRESS =>
                        {
                            started = true;
                            return Err(WsaError::WOULDBLOCK);
                        }
                        Err(e) => return Err(e),
                    }
                    connected = true;
                    sock_io::connected(sock);
                }
                if data_len == 0 {
                    return Ok((0, 0));
                }
                send(sock)
            });
            let call = attempts::Overlapped {
                ov,
                routine: None,
                thread: core::ptr::null(),
            };
            // SAFETY: the application's WSAOVERLAPPED, valid until completion.
            let (n, _) = unsafe { attempts::submit(&pinned, s, call, Dir::Out, 0, attempt) }?;
            // SAFETY: null or the application's writable DWORD.
            unsafe { args::put(sent, n) };
            Ok(())
        }
    )
}

/// `DisconnectEx(s, lpOverlapped, dwFlags, dwReserved)`: a graceful disconnect (the
/// provider's `send_disconnect`). Finishes at once; with an overlapped structure the
/// completion is delivered too. `TF_REUSE_SOCKET` is accepted, but the socket cannot be
/// connected again.
unsafe extern "system" fn disconnect_ex<P: Binding>(
    s: SOCKET,
    ov: *mut OVERLAPPED,
    flags: u32,
    reserved: u32,
) -> BOOL {
    entry!(
        ExtFlag,
        Site::disconnect_ex,
        Errno::NONE,
        args!(s, ov, flags, reserved),
        move || {
            let pinned = sock::<P>(s)?;
            if reserved != 0 || flags & !TF_REUSE_SOCKET != 0 {
                return Err(WsaError::INVAL);
            }
            pinned.shared.provider.send_disconnect(&pinned)?;
            if !ov.is_null() {
                // SAFETY: the application's WSAOVERLAPPED, valid until completion.
                let done = unsafe { args::completion(&pinned, s, ov, None, Requester::Current) }?;
                done.complete(Ok((0, 0)));
            }
            Ok(())
        },
    )
}

/// `WSARecvMsg(s, lpMsg, lpdwNumberOfBytesRecvd, lpOverlapped, lpCompletionRoutine)`:
/// `WSARecvFrom` with the buffers, address and flags of a `WSAMSG` (no control data:
/// `Control.len` becomes 0).
unsafe extern "system" fn recv_msg<P: Binding>(
    s: SOCKET,
    msg: *mut WSAMSG,
    received: *mut u32,
    ov: *mut OVERLAPPED,
    routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
) -> i32 {
    entry!(
        ExtStatus,
        Site::recv_msg,
        Errno::NONE,
        args!(s, msg, received, ov, routine),
        move || {
            let pinned = sock::<P>(s)?;
            if msg.is_null() {
                return Err(WsaError::FAULT);
            }
            // SAFETY: non-null; the application's WSAMSG, valid until completion.
            let m = unsafe { &mut *msg };
            // SAFETY: the message's WSABUF array (the application's), copied here.
            let bufs = HeldBufs(unsafe { copy_wsabufs(m.lpBuffers, m.dwBufferCount) }?);
            let in_flags = MsgFlags::from_bits(m.dwFlags);
            if !m.name.is_null() {
                let min = pinned.spec().min_sockaddr.max(2) as usize;
                // SAFETY: the message's address buffer and length (the application's).
                unsafe { check_room(m.name, &mut m.namelen, min) }?;
            }
            m.Control.len = 0;
            let msg_out = Out(msg);
            let attempt = recv_msg_attempt::<P>(bufs, in_flags, msg_out);
            // SAFETY: null or the application's WSAOVERLAPPED, valid until completion.
            let done = unsafe { direct_completion::<P>(&pinned, s, ov, routine, Some(received)) }?;
            // SAFETY: null or the application's writable DWORD.
            unsafe { ext_request(&pinned, Dir::In, FD_READ, attempt, done, received) }
        }
    )
}

/// `WSASendMsg(s, lpMsg, dwFlags, lpNumberOfBytesSent, lpOverlapped, lpCompletionRoutine)`:
/// `WSASendTo` with the buffers and address of a `WSAMSG` (control data is not supported:
/// a non-empty `Control` is `WSAEINVAL`).
unsafe extern "system" fn send_msg<P: Binding>(
    s: SOCKET,
    msg: *const WSAMSG,
    flags: u32,
    sent: *mut u32,
    ov: *mut OVERLAPPED,
    routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
) -> i32 {
    entry!(
        ExtStatus,
        Site::send_msg,
        Errno::NONE,
        args!(s, msg, flags, sent, ov, routine),
        move || {
            let pinned = sock::<P>(s)?;
            if msg.is_null() {
                return Err(WsaError::FAULT);
            }
            // SAFETY: non-null; the application's WSAMSG.
            let m = unsafe { &*msg };
            if m.Control.len != 0 {
                return Err(WsaError::INVAL);
            }
            let to = if m.name.is_null() {
                None
            } else {
                // SAFETY: the application passes `namelen` readable bytes at `name`.
                Some(unsafe { read_addr(&pinned, m.name, m.namelen) }?)
            };
            let flags = MsgFlags::from_bits(flags);
            // SAFETY: the message's WSABUF array (the application's), copied here.
            let bufs = HeldBufs(unsafe { copy_wsabufs(m.lpBuffers, m.dwBufferCount) }?);
            let attempt =
                attempts::send_all(bufs, move |sock: &Sock<P>, view: &Bufs<'_>| match &to {
                    None => sock.shared.provider.send(sock, view, flags),
                    Some(to) => sock.shared.provider.send_to(sock, view, flags, to),
                });
            // SAFETY: null or the application's WSAOVERLAPPED, valid until completion.
            let done = unsafe { direct_completion::<P>(&pinned, s, ov, routine, Some(sent)) }?;
            // SAFETY: null or the application's writable DWORD.
            unsafe { ext_request(&pinned, Dir::Out, FD_WRITE, attempt, done, sent) }
        }
    )
}

/// `TransmitFile(hSocket, hFile, nNumberOfBytesToWrite, nNumberOfBytesPerSend,
/// lpOverlapped, lpTransmitBuffers, dwReserved)`: sends the head buffer, then up to
/// `nNumberOfBytesToWrite` bytes (0: all) of the file from its current position, then the
/// tail buffer, as one send. The data is read when the call is made. `TF_DISCONNECT`
/// disconnects gracefully afterwards.
#[allow(clippy::too_many_arguments)]
unsafe extern "system" fn transmit_file<P: Binding>(
    s: SOCKET,
    file: HANDLE,
    to_write: u32,
    _per_send: u32,
    ov: *mut OVERLAPPED,
    buffers: *const TRANSMIT_FILE_BUFFERS,
    flags: u32,
) -> BOOL {
    entry!(
        ExtFlag,
        Site::transmit_file,
        Errno::NONE,
        args!(s, file, to_write, ov, buffers, flags),
        move || {
            let pinned = sock::<P>(s)?;
            let mut data = Vec::new();
            let part = |ptr: *mut c_void, len: u32| -> Result<&[u8], WsaError> {
                if len == 0 {
                    Ok(&[])
                } else if ptr.is_null() {
                    Err(WsaError::FAULT)
                } else {
                    // SAFETY: the application passes `len` readable bytes.
                    Ok(unsafe { core::slice::from_raw_parts(ptr.cast::<u8>(), len as usize) })
                }
            };
            let tf = if buffers.is_null() {
                TRANSMIT_FILE_BUFFERS::default()
            } else {
                // SAFETY: non-null; the application's TRANSMIT_FILE_BUFFERS.
                unsafe { *buffers }
            };
            data.extend_from_slice(part(tf.Head, tf.HeadLength)?);
            if !file.is_null() {
                // SAFETY: the application's open file handle.
                unsafe { read_file(file, to_write, &mut data) }?;
            }
            data.extend_from_slice(part(tf.Tail, tf.TailLength)?);
            let owned = Arc::new(data);
            let keep_data = owned.clone();
            let bufs = HeldBufs(vec![WSABUF {
                len: owned.len() as u32,
                buf: owned.as_ptr() as *mut u8,
            }]);
            let disconnect = flags & TF_DISCONNECT != 0;
            let mut send = attempts::send_all(bufs, move |sock: &Sock<P>, view: &Bufs<'_>| {
                let _held = &keep_data;
                sock.shared.provider.send(sock, view, MsgFlags::NONE)
            });
            let attempt: Attempt<Sock<P>> = Box::new(move |sock: &Sock<P>| {
                let r = send(sock)?;
                if disconnect {
                    sock.shared.provider.send_disconnect(sock)?;
                }
                Ok(r)
            });
            // SAFETY: null or the application's WSAOVERLAPPED, valid until completion.
            let done = unsafe { direct_completion::<P>(&pinned, s, ov, None, None) }?;
            let nowhere = core::ptr::null_mut();
            // SAFETY: no byte count is written (null).
            unsafe { ext_request(&pinned, Dir::Out, FD_WRITE, attempt, done, nowhere) }
        }
    )
}

/// Appends up to `limit` bytes (0: all) of an open file, from its current position.
///
/// # Safety
/// `file` is an open file handle (a file descriptor off Windows) the caller owns.
unsafe fn read_file(file: HANDLE, limit: u32, out: &mut Vec<u8>) -> Result<(), WsaError> {
    use std::io::Read;
    #[cfg(windows)]
    // SAFETY: the application's open file handle; ManuallyDrop never closes it.
    let f = core::mem::ManuallyDrop::new(unsafe {
        <std::fs::File as std::os::windows::io::FromRawHandle>::from_raw_handle(file)
    });
    #[cfg(unix)]
    // SAFETY: the application's open file descriptor; ManuallyDrop never closes it.
    let f = core::mem::ManuallyDrop::new(unsafe {
        <std::fs::File as std::os::unix::io::FromRawFd>::from_raw_fd(file as usize as i32)
    });
    let mut reader: &std::fs::File = &f;
    let r = if limit == 0 {
        reader.read_to_end(out).map(|_| ())
    } else {
        reader.take(u64::from(limit)).read_to_end(out).map(|_| ())
    };
    r.map_err(|_| WsaError::from_code(sys::WSAEINVAL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_areas_round_trip() {
        let addr = SockAddr::Inet("127.0.0.1:8080".parse().unwrap());
        let mut buf = vec![0u8; 10 + 32 + 32];
        // SAFETY: both areas lie inside `buf`.
        unsafe {
            write_area(buf.as_mut_ptr().add(10), 32, &addr);
            write_area(buf.as_mut_ptr().add(42), 32, &addr);
        }
        let (mut l, mut r) = (core::ptr::null_mut(), core::ptr::null_mut());
        let (mut ll, mut rl) = (0, 0);
        // SAFETY: `buf` as AcceptEx filled it, with the same lengths.
        unsafe {
            get_accept_ex_sockaddrs(
                buf.as_ptr().cast(),
                10,
                32,
                32,
                &mut l,
                &mut ll,
                &mut r,
                &mut rl,
            );
        }
        assert_eq!(ll, 16);
        assert_eq!(rl, 16);
        // SAFETY: `l` points into `buf`, at the 16-byte address.
        let parsed = unsafe { SockAddr::from_raw(l, ll) }.unwrap();
        assert_eq!(parsed, addr);
        assert_eq!(r as usize - buf.as_ptr() as usize, 46);
    }
}
