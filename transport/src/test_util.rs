//! Buffers for the unit tests.

use winsock_provider::sys::WSABUF;
use winsock_provider::{Bufs, BufsMut, WsaError};

/// Calls `f` with `data` as one send buffer.
pub(crate) fn write_with<T>(
    data: &[u8],
    f: impl FnOnce(&Bufs<'_>) -> Result<T, WsaError>,
) -> Result<T, WsaError> {
    let w = [WSABUF {
        len: data.len() as u32,
        buf: data.as_ptr() as *mut u8,
    }];
    // SAFETY: the WSABUF describes `data`, which outlives the call and is only read.
    let bufs = unsafe { Bufs::from_raw(w.as_ptr(), 1) }?;
    f(&bufs)
}

/// Calls `f` with `out` as one receive buffer.
pub(crate) fn read_with<T>(
    out: &mut [u8],
    f: impl FnOnce(&mut BufsMut<'_>) -> Result<T, WsaError>,
) -> Result<T, WsaError> {
    let w = [WSABUF {
        len: out.len() as u32,
        buf: out.as_mut_ptr(),
    }];
    // SAFETY: the WSABUF describes `out`, borrowed mutably for the call.
    let mut bufs = unsafe { BufsMut::from_raw(w.as_ptr(), 1) }?;
    f(&mut bufs)
}
