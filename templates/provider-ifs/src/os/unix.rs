//! Unix: every handle is a Unix-domain stream socket. A connection is a `socketpair`; the
//! connecting socket's descriptor becomes one end of it (`dup2` keeps its number, which is the
//! socket's value) and the accepted socket gets the other.

use libc::c_int;
use winsock_provider::sys::SOCKET;
use winsock_provider::WsaError;

/// `send` without `SIGPIPE` when the peer is gone.
#[cfg(any(target_os = "linux", target_os = "android"))]
const NOSIGNAL: c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const NOSIGNAL: c_int = 0;

fn last_error() -> WsaError {
    match std::io::Error::last_os_error().raw_os_error().unwrap_or(0) {
        libc::EPIPE | libc::ECONNRESET | libc::ENOTCONN => WsaError::CONNRESET,
        libc::EMFILE | libc::ENFILE => WsaError::MFILE,
        libc::ENOBUFS | libc::ENOMEM => WsaError::NOBUFS,
        _ => WsaError::NETDOWN,
    }
}

fn would_block() -> bool {
    let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    e == libc::EAGAIN || e == libc::EWOULDBLOCK || e == libc::EINTR
}

/// One end of a byte stream: an open file descriptor, closed on drop.
pub struct OsEnd(c_int);

impl OsEnd {
    /// A handle not yet connected.
    pub fn unconnected() -> Result<OsEnd, WsaError> {
        // SAFETY: creates a socket; no pointers involved.
        let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
        if fd < 0 {
            return Err(last_error());
        }
        Ok(OsEnd(fd))
    }

    /// The value the socket has (its descriptor).
    pub fn handle(&self) -> SOCKET {
        self.0 as SOCKET
    }

    /// Connects this handle (its value unchanged) and returns the other end of the connection.
    pub fn connect(&self) -> Result<OsEnd, WsaError> {
        let mut fds: [c_int; 2] = [-1, -1];
        // SAFETY: `fds` has room for the two descriptors socketpair writes.
        if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) } < 0 {
            return Err(last_error());
        }
        let (mine, other) = (OsEnd(fds[0]), OsEnd(fds[1]));
        // SAFETY: both descriptors are open and owned here; dup2 replaces what `self.0` refers
        // to atomically, keeping the number.
        if unsafe { libc::dup2(mine.0, self.0) } < 0 {
            return Err(last_error());
        }
        Ok(other)
    }

    /// Reads (or with `peek` copies) what is there without waiting: `None` when nothing is,
    /// `Some(0)` at the end of the stream.
    pub fn try_read(&self, buf: &mut [u8], peek: bool) -> Result<Option<usize>, WsaError> {
        let flags = libc::MSG_DONTWAIT | if peek { libc::MSG_PEEK } else { 0 };
        // SAFETY: reads into a live, writable slice and its length.
        let n = unsafe { libc::recv(self.0, buf.as_mut_ptr().cast(), buf.len(), flags) };
        if n >= 0 {
            Ok(Some(n as usize))
        } else if would_block() {
            Ok(None)
        } else {
            Err(last_error())
        }
    }

    /// Writes what fits now without waiting (0 when nothing does).
    pub fn try_write(&self, data: &[u8], _peer: &OsEnd) -> Result<usize, WsaError> {
        // SAFETY: writes from a live slice and its length.
        let n = unsafe {
            libc::send(
                self.0,
                data.as_ptr().cast(),
                data.len(),
                libc::MSG_DONTWAIT | NOSIGNAL,
            )
        };
        if n >= 0 {
            Ok(n as usize)
        } else if would_block() {
            Ok(0)
        } else {
            Err(last_error())
        }
    }

    /// Bytes waiting to be read.
    pub fn available(&self) -> usize {
        let mut n: c_int = 0;
        // SAFETY: FIONREAD writes one int to `n`.
        if unsafe { libc::ioctl(self.0, libc::FIONREAD, &mut n) } < 0 {
            return 0;
        }
        n.max(0) as usize
    }

    /// No more data from this end: the peer's reads (`recv` and `read(2)`) end after the data.
    pub fn finish(&self) {
        // SAFETY: shuts down the descriptor's sending side; it stays open.
        unsafe { libc::shutdown(self.0, libc::SHUT_WR) };
    }
}

impl Drop for OsEnd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed once.
        unsafe { libc::close(self.0) };
    }
}
