//! Overlapped requests of the provider's calls: how each kind is attempted (receives,
//! sends resumed until every byte is queued), and the one way an entry point submits one.

use super::args;
use crate::io::bufs::{HeldBufs, Out};
use crate::io::completion::Requester;
use crate::io::ops::{self, Submitted};
use crate::io::queue::{Attempt, Dir};
use crate::registry::provider::Sock;
use crate::registry::state::{keep, Binding, Pinned};
use crate::sys::{self, LPWSAOVERLAPPED_COMPLETION_ROUTINE, OVERLAPPED, SOCKET, WSATHREADID};
use crate::types::buf::Bufs;
use crate::types::error::WsaError;
use crate::types::flags::MsgFlags;

/// The caller's overlapped arguments (`lpOverlapped`, `lpCompletionRoutine`, `lpThreadId`).
#[derive(Copy, Clone)]
pub(crate) struct Overlapped {
    pub(crate) ov: *mut OVERLAPPED,
    pub(crate) routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    pub(crate) thread: *const WSATHREADID,
}

/// Starts an overlapped request (`lpOverlapped` non-null) on `sock`, handle `s`: `Ok` with
/// `(bytes, flags)` when it finished at once (its completion delivered too), `WSA_IO_PENDING`
/// when it waits.
///
/// # Safety
/// `call.ov` is the caller's `WSAOVERLAPPED` (valid until completion, by Winsock's rules),
/// `call.thread` ws2_32's thread id for the caller (or null without a routine).
pub(crate) unsafe fn submit<P: Binding>(
    sock: &Pinned<P>,
    s: SOCKET,
    call: Overlapped,
    dir: Dir,
    bit: u32,
    attempt: Attempt<Sock<P>>,
) -> Result<(u32, u32), WsaError> {
    // SAFETY: as this function's contract.
    let done = unsafe {
        args::completion(
            sock,
            s,
            call.ov,
            call.routine,
            Requester::Given(call.thread),
        )
    }?;
    match ops::submit(&keep(sock), dir, bit, attempt, done)? {
        Submitted::Done(bytes, flags) => Ok((bytes, flags)),
        Submitted::Pending => Err(WsaError::IO_PENDING),
    }
}

/// The attempt of an overlapped `WSPRecv` into the caller's buffers. With `MSG_WAITALL`
/// (and no `MSG_PEEK`) it completes only when the buffers are full, the stream ended or an
/// error occurred, resuming where the last attempt stopped.
pub(crate) fn recv_attempt<P: Binding>(bufs: HeldBufs, flags: MsgFlags) -> Attempt<Sock<P>> {
    let wait_all = flags.contains(MsgFlags::WAITALL) && !flags.contains(MsgFlags::PEEK);
    let total = bufs.total();
    let mut done = 0usize;
    Box::new(move |sock: &Sock<P>| {
        if !wait_all {
            // SAFETY: the caller's buffers stay valid until completion (Winsock's rules).
            let mut view = unsafe { bufs.receive() }?;
            let (n, out) = sock.shared.provider.recv(sock, &mut view, flags)?;
            return Ok((n as u32, out.bits()));
        }
        loop {
            // SAFETY: as above.
            let got = unsafe {
                bufs.receive_from(done, |view| sock.shared.provider.recv(sock, view, flags))
            }?;
            match got {
                Ok((n, out)) => {
                    done += n;
                    if done >= total || n == 0 {
                        return Ok((done as u32, out.bits()));
                    }
                }
                Err(e) if e == WsaError::WOULDBLOCK => return Err(e),
                // Bytes already received are the caller's: report them, not the error.
                Err(_) if done > 0 => return Ok((done as u32, 0)),
                Err(e) => return Err(e),
            }
        }
    })
}

/// The attempt of an overlapped `WSPRecvFrom`: also writes the sender to `from`/`fromlen`
/// (null `from`: not wanted), whose room was checked when the request started.
pub(crate) fn recv_from_attempt<P: Binding>(
    bufs: HeldBufs,
    flags: MsgFlags,
    from: Out<sys::SOCKADDR>,
    fromlen: Out<i32>,
) -> Attempt<Sock<P>> {
    Box::new(move |sock: &Sock<P>| {
        // SAFETY: the caller's buffers stay valid until completion (Winsock's rules).
        let mut view = unsafe { bufs.receive() }?;
        let (n, out, addr) = sock.shared.provider.recv_from(sock, &mut view, flags)?;
        if !from.get().is_null() {
            // SAFETY: lpFrom and lpFromlen stay valid until completion (Winsock's rules).
            unsafe { addr.write_raw(from.get(), fromlen.get()) }?;
        }
        Ok((n as u32, out.bits()))
    })
}

/// The attempt of an overlapped send: a stream send completes only once every byte is
/// queued (as Windows completes overlapped sends), resuming after `WSAEWOULDBLOCK` where the
/// last attempt stopped; `send` is one non-blocking call of the provider.
pub(crate) fn send_all<P: Binding>(
    bufs: HeldBufs,
    send: impl Fn(&Sock<P>, &Bufs<'_>) -> Result<usize, WsaError> + Send + 'static,
) -> Attempt<Sock<P>> {
    let total = bufs.total();
    let mut done = 0usize;
    Box::new(move |sock: &Sock<P>| loop {
        // SAFETY: the caller's buffers stay valid until completion (Winsock's rules).
        let n = unsafe { bufs.send_from(done, |view| send(sock, view)) }??;
        done += n;
        if done >= total || n == 0 {
            return Ok((done as u32, 0));
        }
    })
}
