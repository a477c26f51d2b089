//! WSA error codes as a Rust error type.

use crate::sys;
use core::fmt;

/// A Winsock error code (`WSAE*`, `WSA_*`), as stored in `*lpErrno` on failure.
///
/// Every trait method of [`Provider`](crate::Provider) fails with one of these; the runtime turns
/// it into `SOCKET_ERROR` (or `INVALID_SOCKET`) plus the code in `*lpErrno`.
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct WsaError(i32);

macro_rules! codes {
    ($($name:ident = $sys:ident, $text:literal;)*) => {
        impl WsaError {
            $(
                #[doc = concat!("`", stringify!($sys), "`: ", $text)]
                pub const $name: WsaError = WsaError(sys::$sys);
            )*

            /// The symbolic name of a known code (`"WSAENOTSOCK"`), or `None`.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $(sys::$sys => Some(stringify!($sys)),)*
                    _ => None,
                }
            }

            /// A short description of a known code.
            fn text(self) -> Option<&'static str> {
                match self.0 {
                    $(sys::$sys => Some($text),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    INTR = WSAEINTR, "a blocking call was interrupted";
    BADF = WSAEBADF, "bad file handle";
    ACCES = WSAEACCES, "permission denied";
    FAULT = WSAEFAULT, "bad address: a pointer argument is null or its buffer too short";
    INVAL = WSAEINVAL, "invalid argument";
    MFILE = WSAEMFILE, "too many open sockets";
    WOULDBLOCK = WSAEWOULDBLOCK, "the operation would block on a non-blocking socket";
    INPROGRESS = WSAEINPROGRESS, "a blocking operation is in progress";
    ALREADY = WSAEALREADY, "the operation is already in progress";
    NOTSOCK = WSAENOTSOCK, "the handle is not an open socket of this provider";
    DESTADDRREQ = WSAEDESTADDRREQ, "a destination address is required";
    MSGSIZE = WSAEMSGSIZE, "the message is larger than the buffer or the protocol allows";
    PROTOTYPE = WSAEPROTOTYPE, "wrong protocol type for this socket";
    NOPROTOOPT = WSAENOPROTOOPT, "unknown or unsupported socket option";
    PROTONOSUPPORT = WSAEPROTONOSUPPORT, "protocol not supported";
    SOCKTNOSUPPORT = WSAESOCKTNOSUPPORT, "socket type not supported";
    OPNOTSUPP = WSAEOPNOTSUPP, "operation not supported";
    PFNOSUPPORT = WSAEPFNOSUPPORT, "protocol family not supported";
    AFNOSUPPORT = WSAEAFNOSUPPORT, "address family not supported";
    ADDRINUSE = WSAEADDRINUSE, "address already in use";
    ADDRNOTAVAIL = WSAEADDRNOTAVAIL, "address not available";
    NETDOWN = WSAENETDOWN, "the network subsystem has failed";
    NETUNREACH = WSAENETUNREACH, "network unreachable";
    NETRESET = WSAENETRESET, "connection reset by the network";
    CONNABORTED = WSAECONNABORTED, "connection aborted";
    CONNRESET = WSAECONNRESET, "connection reset by peer";
    NOBUFS = WSAENOBUFS, "no buffer space available";
    ISCONN = WSAEISCONN, "the socket is already connected";
    NOTCONN = WSAENOTCONN, "the socket is not connected";
    SHUTDOWN = WSAESHUTDOWN, "the socket has been shut down in that direction";
    TIMEDOUT = WSAETIMEDOUT, "timed out";
    CONNREFUSED = WSAECONNREFUSED, "connection refused";
    HOSTUNREACH = WSAEHOSTUNREACH, "host unreachable";
    PROCLIM = WSAEPROCLIM, "too many processes";
    SYSNOTREADY = WSASYSNOTREADY, "network subsystem not ready";
    VERNOTSUPPORTED = WSAVERNOTSUPPORTED, "requested Winsock version not supported";
    NOTINITIALISED = WSANOTINITIALISED, "WSPStartup has not been called, or WSPCleanup already balanced it";
    DISCON = WSAEDISCON, "graceful shutdown in progress";
    INVALIDPROCTABLE = WSAEINVALIDPROCTABLE, "invalid procedure table";
    INVALIDPROVIDER = WSAEINVALIDPROVIDER, "invalid provider";
    PROVIDERFAILEDINIT = WSAEPROVIDERFAILEDINIT, "the provider failed to initialise";
    SYSCALLFAILURE = WSASYSCALLFAILURE, "a system call that should never fail has failed";
    TRY_AGAIN = WSATRY_AGAIN, "temporary failure, try again";
    IO_PENDING = WSA_IO_PENDING, "overlapped operation will complete later";
    IO_INCOMPLETE = WSA_IO_INCOMPLETE, "overlapped operation not yet complete";
    OPERATION_ABORTED = WSA_OPERATION_ABORTED, "overlapped operation aborted";
    INVALID_HANDLE = WSA_INVALID_HANDLE, "invalid handle";
    INVALID_PARAMETER = WSA_INVALID_PARAMETER, "invalid parameter";
    NOT_ENOUGH_MEMORY = WSA_NOT_ENOUGH_MEMORY, "not enough memory";
}

impl WsaError {
    /// Wraps a raw code. `0` is not an error; [`WsaError::is_valid_failure`] tells apart codes
    /// that may be stored in `*lpErrno`.
    pub const fn from_code(code: i32) -> WsaError {
        WsaError(code)
    }

    /// The raw code, as stored in `*lpErrno`.
    pub const fn code(self) -> i32 {
        self.0
    }

    /// Whether this is a code a provider may report on failure: non-zero and either one of the
    /// `WSAE*` range (10000..=11999) or one of the overlapped `WSA_*` codes.
    pub fn is_valid_failure(self) -> bool {
        (10000..=11999).contains(&self.0) || self.name().is_some()
    }

    /// The error an upcall reported in its `lpErrno`, or `WSASYSCALLFAILURE` when it gave
    /// none that Winsock defines (0 included).
    pub(crate) fn from_upcall(code: i32) -> WsaError {
        let e = WsaError::from_code(code);
        if e.is_valid_failure() {
            e
        } else {
            WsaError::SYSCALLFAILURE
        }
    }
}

impl fmt::Debug for WsaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{}({})", name, self.0),
            None => write!(f, "WsaError({})", self.0),
        }
    }
}

impl fmt::Display for WsaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self.text()) {
            (Some(name), Some(text)) => write!(f, "{} ({}): {}", name, self.0, text),
            _ => write!(f, "Winsock error {}", self.0),
        }
    }
}

impl std::error::Error for WsaError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        assert_eq!(WsaError::NOTSOCK.code(), 10038);
        assert_eq!(WsaError::NOTSOCK.name(), Some("WSAENOTSOCK"));
        assert_eq!(
            format!("{:?}", WsaError::from_code(10038)),
            "WSAENOTSOCK(10038)"
        );
        assert!(format!("{}", WsaError::FAULT).starts_with("WSAEFAULT (10014): "));
        assert_eq!(WsaError::from_code(12345).name(), None);
    }

    #[test]
    fn valid_failure_codes() {
        assert!(WsaError::IO_PENDING.is_valid_failure());
        assert!(WsaError::from_code(10999).is_valid_failure());
        assert!(!WsaError::from_code(0).is_valid_failure());
        assert!(!WsaError::from_code(-1).is_valid_failure());
    }
}
