//! What a pending request holds of its caller: the `WSABUF` array (copied), the socket
//! records it involves besides its own, and out-pointers written on completion.

use super::Socket;
use crate::sys;
use crate::types::buf::{wsabufs, Bufs, BufsMut};
use crate::types::error::WsaError;
use std::sync::Arc;

/// Copies a caller's `WSABUF` array (the buffers it points to must stay valid until
/// completion, by Winsock's rules; the array itself need not).
///
/// # Safety
/// `ptr` is null or points to `count` readable `WSABUF`s.
pub(crate) unsafe fn copy_wsabufs(
    ptr: *const sys::WSABUF,
    count: u32,
) -> Result<Vec<sys::WSABUF>, WsaError> {
    // SAFETY: as this function's contract; the slice is copied before returning.
    Ok(unsafe { wsabufs(ptr, count) }?.to_vec())
}

/// A caller's buffers held by a pending request.
pub(crate) struct HeldBufs(pub(crate) Vec<sys::WSABUF>);

impl HeldBufs {
    /// The buffers as the room of a receive.
    ///
    /// # Safety
    /// The buffers are still valid and not otherwise in use (the request has not completed).
    pub(crate) unsafe fn receive(&self) -> Result<BufsMut<'_>, WsaError> {
        // SAFETY: the caller's buffers, valid and unused elsewhere (this function's contract).
        unsafe { BufsMut::from_raw(self.0.as_ptr(), self.0.len() as u32) }
    }

    /// Total bytes in the buffers.
    pub(crate) fn total(&self) -> usize {
        self.0.iter().map(|b| b.len as usize).sum()
    }

    /// The buffers from byte offset `skip` on.
    fn suffix(&self, mut skip: usize) -> Vec<sys::WSABUF> {
        let mut rest = Vec::with_capacity(self.0.len());
        for b in &self.0 {
            let len = b.len as usize;
            if skip >= len {
                skip -= len;
                continue;
            }
            rest.push(sys::WSABUF {
                len: (len - skip) as u32,
                buf: b.buf.wrapping_add(skip),
            });
            skip = 0;
        }
        rest
    }

    /// Runs `f` on the buffers from offset `skip` on, as the room of a receive.
    ///
    /// # Safety
    /// As for [`HeldBufs::receive`].
    pub(crate) unsafe fn receive_from<R>(
        &self,
        skip: usize,
        f: impl FnOnce(&mut BufsMut<'_>) -> R,
    ) -> Result<R, WsaError> {
        let rest = self.suffix(skip);
        // SAFETY: each entry is a suffix of one of the caller's buffers (valid until
        // completion, by this function's contract).
        let mut bufs = unsafe { BufsMut::from_raw(rest.as_ptr(), rest.len() as u32) }?;
        Ok(f(&mut bufs))
    }

    /// Runs `f` on the bytes of the buffers from offset `skip` on, as the data of a send.
    ///
    /// # Safety
    /// As for [`HeldBufs::receive`].
    pub(crate) unsafe fn send_from<R>(
        &self,
        skip: usize,
        f: impl FnOnce(&Bufs<'_>) -> R,
    ) -> Result<R, WsaError> {
        let rest = self.suffix(skip);
        // SAFETY: each entry is a suffix of one of the caller's buffers (valid until
        // completion, by this function's contract).
        let bufs = unsafe { Bufs::from_raw(rest.as_ptr(), rest.len() as u32) }?;
        Ok(f(&bufs))
    }
}

// SAFETY: the WSABUFs point to the application's buffers, which Winsock's rules keep valid
// and untouched by the application until the request completes; only the request uses them.
unsafe impl Send for HeldBufs {}

/// A socket record held by a request (for the sockets a request involves besides its own).
pub(crate) struct Kept<S: Socket>(pub(crate) Arc<S>);

// SAFETY: a `Socket` is Send + Sync by that trait's contract (the compiler cannot see it
// through an associated type in generic code).
unsafe impl<S: Socket> Send for Kept<S> {}

impl<S: Socket> Kept<S> {
    /// The socket.
    pub(crate) fn sock(&self) -> &Arc<S> {
        &self.0
    }
}

/// A raw pointer a pending request writes through on completion.
#[derive(Copy, Clone)]
pub(crate) struct Out<T>(pub(crate) *mut T);

// SAFETY: the pointee is the application's (e.g. lpFrom/lpFromlen), valid until completion by
// Winsock's rules, and written only by the request that holds it.
unsafe impl<T> Send for Out<T> {}

impl<T> Out<T> {
    /// The pointer (a method, so closures capture the whole `Out`, which is `Send`).
    pub(crate) fn get(self) -> *mut T {
        self.0
    }
}
