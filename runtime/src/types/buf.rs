//! Scatter/gather buffers (`WSABUF` arrays) as safe slices.

use super::error::WsaError;
use crate::sys::WSABUF;

/// Validates a caller's `(lpBuffers, dwBufferCount)` pair: a null array (with a non-zero
/// count) or a null buffer with a non-zero length is `WSAEFAULT`. The one check of `WSABUF`
/// arrays, for sends, receives and the copies overlapped requests hold.
///
/// # Safety
/// If `ptr` is not null it must point to `count` readable `WSABUF`s that stay valid for `'a`.
#[inline]
pub(crate) unsafe fn wsabufs<'a>(ptr: *const WSABUF, count: u32) -> Result<&'a [WSABUF], WsaError> {
    if count == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(WsaError::FAULT);
    }
    // SAFETY: non-null, and the caller guarantees `count` WSABUFs valid for 'a.
    let bufs = unsafe { core::slice::from_raw_parts(ptr, count as usize) };
    // Written as a loop that tests at the bottom (there is at least one buffer): the common
    // single buffer costs two compares.
    let mut i = 0;
    loop {
        let b = &bufs[i];
        if b.buf.is_null() && b.len != 0 {
            return Err(WsaError::FAULT);
        }
        i += 1;
        if i == bufs.len() {
            return Ok(bufs);
        }
    }
}

/// The data of a send: the caller's `WSABUF`s, in order.
pub struct Bufs<'a> {
    bufs: &'a [WSABUF],
}

impl<'a> Bufs<'a> {
    /// Wraps a caller's `(lpBuffers, dwBufferCount)`: a null array or a null buffer with a
    /// non-zero length is `WSAEFAULT`.
    ///
    /// # Safety
    /// Every `WSABUF` must describe `len` readable bytes that stay valid and unchanged for `'a`.
    #[inline]
    pub unsafe fn from_raw(ptr: *const WSABUF, count: u32) -> Result<Bufs<'a>, WsaError> {
        Ok(Bufs {
            // SAFETY: as this function's contract.
            bufs: unsafe { wsabufs(ptr, count) }?,
        })
    }

    /// The buffers as byte slices.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.bufs.iter().map(|b| {
            if b.len == 0 {
                &[][..]
            } else {
                // SAFETY: validated non-null in from_raw; from_raw's caller guarantees `len`
                // readable bytes valid for 'a.
                unsafe { core::slice::from_raw_parts(b.buf as *const u8, b.len as usize) }
            }
        })
    }

    /// Total number of bytes in all buffers.
    #[inline]
    pub fn len(&self) -> usize {
        self.bufs.iter().map(|b| b.len as usize).sum()
    }

    /// The caller's `WSABUF`s themselves (validated), for passing the data on unchanged.
    #[inline]
    pub(crate) fn as_wsabufs(&self) -> &'a [WSABUF] {
        self.bufs
    }

    /// Whether there are no bytes to send.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All bytes, concatenated (for providers that need one contiguous message).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        for part in self.iter() {
            out.extend_from_slice(part);
        }
        out
    }
}

/// The room for a receive: the caller's `WSABUF`s, filled in order.
pub struct BufsMut<'a> {
    bufs: &'a [WSABUF],
}

impl<'a> BufsMut<'a> {
    /// Wraps a caller's `(lpBuffers, dwBufferCount)`: a null array or a null buffer with a
    /// non-zero length is `WSAEFAULT`.
    ///
    /// # Safety
    /// Every `WSABUF` must describe `len` writable bytes, not aliased elsewhere, valid for `'a`.
    #[inline]
    pub unsafe fn from_raw(ptr: *const WSABUF, count: u32) -> Result<BufsMut<'a>, WsaError> {
        Ok(BufsMut {
            // SAFETY: as this function's contract.
            bufs: unsafe { wsabufs(ptr, count) }?,
        })
    }

    /// Total room in all buffers.
    pub fn capacity(&self) -> usize {
        self.bufs.iter().map(|b| b.len as usize).sum()
    }

    /// The caller's `WSABUF`s themselves (validated), for handing the room on to a receive
    /// below: `&mut self` keeps every other view of the buffers out while the result is used.
    #[inline]
    pub(crate) fn as_wsabufs_mut(&mut self) -> &[WSABUF] {
        self.bufs
    }

    /// The buffers as mutable byte slices.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut [u8]> + '_ {
        self.bufs.iter().map(|b| {
            if b.len == 0 {
                &mut [][..]
            } else {
                // SAFETY: validated non-null in from_raw; from_raw's caller guarantees `len`
                // writable, unaliased bytes; `&mut self` makes this the only live view.
                unsafe { core::slice::from_raw_parts_mut(b.buf, b.len as usize) }
            }
        })
    }

    /// Copies `src` into the buffers in order, from the start of the first buffer; returns how
    /// many bytes fit (the rest of `src` is not copied). Each call starts again at the
    /// beginning: a second call overwrites what the first wrote rather than appending, so
    /// gather a message into one slice first (or copy it whole with one call).
    pub fn copy_from(&mut self, mut src: &[u8]) -> usize {
        let mut done = 0;
        for buf in self.iter_mut() {
            if src.is_empty() {
                break;
            }
            let n = buf.len().min(src.len());
            buf[..n].copy_from_slice(&src[..n]);
            src = &src[n..];
            done += n;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wsabuf(data: &mut [u8]) -> WSABUF {
        WSABUF {
            len: data.len() as u32,
            buf: data.as_mut_ptr(),
        }
    }

    #[test]
    fn gather_and_scatter() {
        let (mut a, mut b) = (*b"hello ", *b"world");
        let bufs = [wsabuf(&mut a), wsabuf(&mut b)];
        // SAFETY: both WSABUFs describe live arrays that outlive `send`.
        let send = unsafe { Bufs::from_raw(bufs.as_ptr(), 2) }.unwrap();
        assert_eq!(send.len(), 11);
        assert_eq!(send.to_vec(), b"hello world");

        let (mut x, mut y) = ([0u8; 4], [0u8; 16]);
        let out = [wsabuf(&mut x), wsabuf(&mut y)];
        // SAFETY: both WSABUFs describe live, unaliased arrays.
        let mut recv = unsafe { BufsMut::from_raw(out.as_ptr(), 2) }.unwrap();
        assert_eq!(recv.capacity(), 20);
        assert_eq!(recv.copy_from(b"hello world"), 11);
        assert_eq!(&x, b"hell");
        assert_eq!(&y[..7], b"o world");
    }

    #[test]
    fn null_buffers_are_faults() {
        // SAFETY: a null array is rejected before it is read.
        let null = unsafe { Bufs::from_raw(core::ptr::null(), 1) };
        assert!(matches!(null, Err(WsaError::FAULT)));
        let bad = [WSABUF {
            len: 3,
            buf: core::ptr::null_mut(),
        }];
        // SAFETY: the array is live; its null entry is rejected before use.
        let bad = unsafe { BufsMut::from_raw(bad.as_ptr(), 1) };
        assert!(matches!(bad, Err(WsaError::FAULT)));
        // A bad entry after good ones, and an empty null entry (allowed) before it.
        let mut room = [0u8; 4];
        let later = [
            wsabuf(&mut room),
            WSABUF {
                len: 0,
                buf: core::ptr::null_mut(),
            },
            WSABUF {
                len: 1,
                buf: core::ptr::null_mut(),
            },
        ];
        // SAFETY: the array is live; its null entries are rejected or never read.
        let first_two = unsafe { BufsMut::from_raw(later.as_ptr(), 2) };
        assert_eq!(first_two.unwrap().capacity(), 4);
        // SAFETY: as above.
        let all = unsafe { BufsMut::from_raw(later.as_ptr(), 3) };
        assert!(matches!(all, Err(WsaError::FAULT)));
        // SAFETY: zero buffers are never read.
        let empty = unsafe { Bufs::from_raw(core::ptr::null(), 0) };
        assert!(empty.unwrap().is_empty());
    }
}
