//! Typed flags and small argument types of the SPI calls.

use super::error::WsaError;
use crate::sys;

/// `MSG_*` flags of send and receive calls.
#[derive(Copy, Clone, Default, PartialEq, Eq, Hash, Debug)]
pub struct MsgFlags(u32);

impl MsgFlags {
    /// No flags.
    pub const NONE: MsgFlags = MsgFlags(0);
    /// `MSG_OOB`: out-of-band data.
    pub const OOB: MsgFlags = MsgFlags(sys::MSG_OOB as u32);
    /// `MSG_PEEK`: receive without removing the data.
    pub const PEEK: MsgFlags = MsgFlags(sys::MSG_PEEK as u32);
    /// `MSG_DONTROUTE`.
    pub const DONTROUTE: MsgFlags = MsgFlags(sys::MSG_DONTROUTE as u32);
    /// `MSG_WAITALL`: a blocking receive waits until the buffers are full.
    pub const WAITALL: MsgFlags = MsgFlags(sys::MSG_WAITALL as u32);
    /// `MSG_PUSH_IMMEDIATE`.
    pub const PUSH_IMMEDIATE: MsgFlags = MsgFlags(sys::MSG_PUSH_IMMEDIATE as u32);
    /// `MSG_PARTIAL`: on output, the message continues in the next receive.
    pub const PARTIAL: MsgFlags = MsgFlags(sys::MSG_PARTIAL);

    /// From the raw bits.
    pub const fn from_bits(bits: u32) -> MsgFlags {
        MsgFlags(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: MsgFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for MsgFlags {
    type Output = MsgFlags;
    fn bitor(self, rhs: MsgFlags) -> MsgFlags {
        MsgFlags(self.0 | rhs.0)
    }
}

/// `WSA_FLAG_*` flags given to `WSPSocket`.
#[derive(Copy, Clone, Default, PartialEq, Eq, Hash, Debug)]
pub struct SocketFlags(u32);

impl SocketFlags {
    /// `WSA_FLAG_OVERLAPPED`.
    pub const OVERLAPPED: SocketFlags = SocketFlags(sys::WSA_FLAG_OVERLAPPED);

    /// From the raw bits.
    pub const fn from_bits(bits: u32) -> SocketFlags {
        SocketFlags(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: SocketFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Which directions `WSPShutdown` closes.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Shutdown {
    /// `SD_RECEIVE`.
    Receive,
    /// `SD_SEND`.
    Send,
    /// `SD_BOTH`.
    Both,
}

impl Shutdown {
    /// Parses `SD_*`; anything else is `None` (the runtime reports `WSAEINVAL`).
    pub fn from_raw(how: i32) -> Option<Shutdown> {
        match how {
            sys::SD_RECEIVE => Some(Shutdown::Receive),
            sys::SD_SEND => Some(Shutdown::Send),
            sys::SD_BOTH => Some(Shutdown::Both),
            _ => None,
        }
    }

    /// Whether the receive direction is closed.
    pub fn receive(self) -> bool {
        matches!(self, Shutdown::Receive | Shutdown::Both)
    }

    /// Whether the send direction is closed.
    pub fn send(self) -> bool {
        matches!(self, Shutdown::Send | Shutdown::Both)
    }
}

/// A socket option name: `(level, optname)` as given to get/setsockopt.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct SockOpt {
    /// `SOL_SOCKET`, `IPPROTO_TCP`, ...
    pub level: i32,
    /// `SO_RCVBUF`, ...
    pub name: i32,
}

impl SockOpt {
    /// A `SOL_SOCKET` option.
    pub const fn socket(name: i32) -> SockOpt {
        SockOpt {
            level: sys::SOL_SOCKET,
            name,
        }
    }
}

/// The value of a socket option read with `getsockopt`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OptValue {
    /// An `int`-sized value (`SO_RCVBUF`, `SO_TYPE`, ...).
    Int(i32),
    /// A `BOOL` option (`SO_REUSEADDR`, ...), written as a 4-byte `BOOL`.
    Bool(bool),
    /// Any other layout, written as is.
    Bytes(Vec<u8>),
}

impl OptValue {
    /// The bytes written to the caller's `optval`.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bytes(&mut [0; 4]).to_vec()
    }

    /// The bytes written to the caller's `optval`, without allocating: an `int` or `BOOL` is
    /// laid out in `int`.
    #[inline]
    pub(crate) fn bytes<'a>(&'a self, int: &'a mut [u8; 4]) -> &'a [u8] {
        match self {
            OptValue::Int(v) => {
                *int = v.to_ne_bytes();
                int
            }
            OptValue::Bool(b) => {
                *int = (*b as i32).to_ne_bytes();
                int
            }
            OptValue::Bytes(b) => b,
        }
    }
}

/// The value given to `setsockopt`, with typed readers.
#[derive(Copy, Clone, Debug)]
pub struct OptInput<'a>(pub &'a [u8]);

impl OptInput<'_> {
    /// The value as an `int`; shorter than 4 bytes is `WSAEFAULT`.
    pub fn int(&self) -> Result<i32, WsaError> {
        match self.0 {
            [a, b, c, d, ..] => Ok(i32::from_ne_bytes([*a, *b, *c, *d])),
            _ => Err(WsaError::FAULT),
        }
    }

    /// The value as a `BOOL`: a 4-byte int, or a single byte as some callers pass; empty is
    /// `WSAEFAULT`.
    pub fn bool(&self) -> Result<bool, WsaError> {
        match self.0 {
            [] => Err(WsaError::FAULT),
            [b] => Ok(*b != 0),
            _ if self.0.len() < 4 => Err(WsaError::FAULT),
            _ => Ok(self.int()? != 0),
        }
    }
}
