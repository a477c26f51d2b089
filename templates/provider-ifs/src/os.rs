//! The OS side of a connection: one end of a byte stream whose handle is the socket's value.
//!
//! [`OsEnd`] is all the provider asks of the OS: a handle made at `socket()` time
//! (`unconnected`), made one end of a connection without changing its value (`connect`, which
//! returns the other end), reads and writes that never wait (`try_read`, `try_write`), the
//! bytes waiting (`available`) and the end of what one side sends (`finish`).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::OsEnd;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::OsEnd;
