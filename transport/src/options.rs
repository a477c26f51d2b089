//! The common socket options a transport stores, and the waits its timeouts give.

use crate::pipe::capacity_for;
use crate::sync::Wait;
use winsock_provider::sys::{
    IPPROTO_TCP, SOL_SOCKET, SO_BROADCAST, SO_DONTLINGER, SO_KEEPALIVE, SO_LINGER, SO_RCVBUF,
    SO_RCVTIMEO, SO_REUSEADDR, SO_SNDBUF, SO_SNDTIMEO,
};
use winsock_provider::{OptInput, OptValue, SockOpt, WsaError};

/// `TCP_NODELAY` (level `IPPROTO_TCP`).
pub const TCP_NODELAY: i32 = 1;

/// The values of the options most transports keep per socket, read and written as
/// `getsockopt`/`setsockopt` lay them out. The transport decides what they mean (e.g.
/// [`SocketOptions::rcvbuf`] bounding a [`Pipe`](crate::Pipe)); the timeouts give
/// [`SocketOptions::recv_wait`] and [`SocketOptions::send_wait`].
///
/// Handled: `SO_RCVBUF`, `SO_SNDBUF` (non-negative), `SO_REUSEADDR`, `SO_RCVTIMEO`,
/// `SO_SNDTIMEO` (milliseconds, 0 = none); for stream sockets `SO_KEEPALIVE`, `SO_LINGER`,
/// `SO_DONTLINGER`, `TCP_NODELAY`; for datagram sockets `SO_BROADCAST`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SocketOptions {
    /// `SO_RCVBUF`.
    pub rcvbuf: i32,
    /// `SO_SNDBUF`.
    pub sndbuf: i32,
    /// `SO_REUSEADDR`.
    pub reuse_addr: bool,
    /// `SO_KEEPALIVE`.
    pub keepalive: bool,
    /// `SO_BROADCAST`.
    pub broadcast: bool,
    /// `TCP_NODELAY`.
    pub nodelay: bool,
    /// `SO_LINGER`: `struct linger`'s (`l_onoff`, `l_linger`).
    pub linger: (u16, u16),
    /// `SO_RCVTIMEO` in milliseconds.
    pub rcvtimeo: u32,
    /// `SO_SNDTIMEO` in milliseconds.
    pub sndtimeo: u32,
}

impl SocketOptions {
    /// Defaults with both buffer sizes `buffer` bytes.
    pub fn with_buffers(buffer: i32) -> SocketOptions {
        SocketOptions {
            rcvbuf: buffer,
            sndbuf: buffer,
            reuse_addr: false,
            keepalive: false,
            broadcast: false,
            nodelay: false,
            linger: (0, 0),
            rcvtimeo: 0,
            sndtimeo: 0,
        }
    }

    /// `getsockopt` of `opt` on a stream (`stream`) or datagram socket: `None` when it is not
    /// one of the options above (answer it yourself, or `WSAENOPROTOOPT`).
    pub fn get(&self, opt: SockOpt, stream: bool) -> Option<OptValue> {
        Some(match (opt.level, opt.name) {
            (SOL_SOCKET, SO_RCVBUF) => OptValue::Int(self.rcvbuf),
            (SOL_SOCKET, SO_SNDBUF) => OptValue::Int(self.sndbuf),
            (SOL_SOCKET, SO_REUSEADDR) => OptValue::Bool(self.reuse_addr),
            (SOL_SOCKET, SO_RCVTIMEO) => OptValue::Int(self.rcvtimeo as i32),
            (SOL_SOCKET, SO_SNDTIMEO) => OptValue::Int(self.sndtimeo as i32),
            (SOL_SOCKET, SO_KEEPALIVE) if stream => OptValue::Bool(self.keepalive),
            (SOL_SOCKET, SO_LINGER) if stream => {
                let mut bytes = self.linger.0.to_ne_bytes().to_vec();
                bytes.extend_from_slice(&self.linger.1.to_ne_bytes());
                OptValue::Bytes(bytes)
            }
            (SOL_SOCKET, SO_DONTLINGER) if stream => OptValue::Bool(self.linger.0 == 0),
            (IPPROTO_TCP, TCP_NODELAY) if stream => OptValue::Bool(self.nodelay),
            (SOL_SOCKET, SO_BROADCAST) if !stream => OptValue::Bool(self.broadcast),
            _ => return None,
        })
    }

    /// `setsockopt`: `Ok(true)` when `opt` is one of the options above and was stored,
    /// `Ok(false)` when it is not one of them, or the value's error (`WSAEFAULT` too short,
    /// `WSAEINVAL` a negative buffer size).
    pub fn set(
        &mut self,
        opt: SockOpt,
        value: OptInput<'_>,
        stream: bool,
    ) -> Result<bool, WsaError> {
        let size = |value: OptInput<'_>| match value.int()? {
            n if n < 0 => Err(WsaError::INVAL),
            n => Ok(n),
        };
        match (opt.level, opt.name) {
            (SOL_SOCKET, SO_RCVBUF) => self.rcvbuf = size(value)?,
            (SOL_SOCKET, SO_SNDBUF) => self.sndbuf = size(value)?,
            (SOL_SOCKET, SO_REUSEADDR) => self.reuse_addr = value.bool()?,
            (SOL_SOCKET, SO_RCVTIMEO) => self.rcvtimeo = value.int()? as u32,
            (SOL_SOCKET, SO_SNDTIMEO) => self.sndtimeo = value.int()? as u32,
            (SOL_SOCKET, SO_KEEPALIVE) if stream => self.keepalive = value.bool()?,
            (SOL_SOCKET, SO_LINGER) if stream => match value.0 {
                [a, b, c, d, ..] => {
                    self.linger = (u16::from_ne_bytes([*a, *b]), u16::from_ne_bytes([*c, *d]));
                }
                _ => return Err(WsaError::FAULT),
            },
            (SOL_SOCKET, SO_DONTLINGER) if stream => self.linger.0 = u16::from(!value.bool()?),
            (IPPROTO_TCP, TCP_NODELAY) if stream => self.nodelay = value.bool()?,
            (SOL_SOCKET, SO_BROADCAST) if !stream => self.broadcast = value.bool()?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The queue bound `SO_RCVBUF` gives (see [`capacity_for`]).
    #[inline]
    pub fn rcv_capacity(&self) -> usize {
        capacity_for(self.rcvbuf)
    }

    /// Whether closing resets the connection: `SO_LINGER` on with a zero timeout.
    #[inline]
    pub fn abortive_close(&self) -> bool {
        self.linger.0 != 0 && self.linger.1 == 0
    }

    /// How a receive or accept may wait on a socket in mode `nonblocking`: `SO_RCVTIMEO`.
    #[inline]
    pub fn recv_wait(&self, nonblocking: bool) -> Wait {
        Wait::new(nonblocking, self.rcvtimeo)
    }

    /// How a send may wait on a socket in mode `nonblocking`: `SO_SNDTIMEO`.
    #[inline]
    pub fn send_wait(&self, nonblocking: bool) -> Wait {
        Wait::new(nonblocking, self.sndtimeo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_and_set() {
        let mut o = SocketOptions::with_buffers(100);
        let int = |v: i32| v.to_ne_bytes();
        assert_eq!(
            o.get(SockOpt::socket(SO_RCVBUF), true),
            Some(OptValue::Int(100))
        );
        assert_eq!(
            o.set(SockOpt::socket(SO_RCVBUF), OptInput(&int(7)), false),
            Ok(true)
        );
        assert_eq!(o.rcv_capacity(), 7);
        assert_eq!(
            o.set(SockOpt::socket(SO_SNDBUF), OptInput(&int(-1)), false),
            Err(WsaError::INVAL)
        );
        assert_eq!(
            o.set(SockOpt::socket(SO_RCVBUF), OptInput(&[1, 2]), false),
            Err(WsaError::FAULT)
        );
        // Stream-only and datagram-only options.
        assert_eq!(
            o.set(SockOpt::socket(SO_BROADCAST), OptInput(&[1]), true),
            Ok(false)
        );
        assert_eq!(
            o.set(SockOpt::socket(SO_BROADCAST), OptInput(&[1]), false),
            Ok(true)
        );
        assert_eq!(
            o.get(SockOpt::socket(SO_BROADCAST), false),
            Some(OptValue::Bool(true))
        );
        assert_eq!(o.get(SockOpt::socket(SO_KEEPALIVE), false), None);
        let nodelay = SockOpt {
            level: IPPROTO_TCP,
            name: TCP_NODELAY,
        };
        assert_eq!(o.set(nodelay, OptInput(&int(1)), true), Ok(true));
        assert_eq!(o.get(nodelay, true), Some(OptValue::Bool(true)));
        assert_eq!(o.get(SockOpt::socket(0x7777), true), None);
    }

    #[test]
    fn linger_and_waits() {
        let mut o = SocketOptions::with_buffers(1);
        assert!(!o.abortive_close());
        let linger = [1u8, 0, 0, 0];
        assert_eq!(
            o.set(SockOpt::socket(SO_LINGER), OptInput(&linger), true),
            Ok(true)
        );
        assert!(o.abortive_close());
        assert_eq!(
            o.get(SockOpt::socket(SO_DONTLINGER), true),
            Some(OptValue::Bool(false))
        );
        assert_eq!(
            o.set(SockOpt::socket(SO_DONTLINGER), OptInput(&[1]), true),
            Ok(true)
        );
        assert!(!o.abortive_close());
        assert_eq!(o.recv_wait(true), Wait::NONBLOCKING);
        assert_eq!(o.send_wait(false), Wait::FOREVER);
        o.set(
            SockOpt::socket(SO_RCVTIMEO),
            OptInput(&50i32.to_ne_bytes()),
            true,
        )
        .unwrap();
        assert_ne!(o.recv_wait(false), Wait::FOREVER);
        assert_eq!(
            o.get(SockOpt::socket(SO_RCVTIMEO), true),
            Some(OptValue::Int(50))
        );
    }
}
