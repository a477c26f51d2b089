//! Blocking data transfer: `send`, `recv`, `sendto`, `recvfrom`.

use super::Ws2;
use crate::loader::{check_count, check_int, parse_returned, ADDR_ROOM};
use winsock_provider::sys::*;
use winsock_provider::{SockAddr, WsaError};

impl Ws2 {
    /// `send(s, buf, flags)`: bytes sent.
    pub fn send(&self, s: SOCKET, buf: &[u8], flags: i32) -> Result<usize, WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.send;
        let wsabuf = WSABUF {
            len: buf.len() as u32,
            buf: buf.as_ptr() as *mut u8,
        };
        let mut sent = 0u32;
        // SAFETY: one WSABUF over `buf`, which the provider only reads; no overlapped I/O.
        check_int("WSPSend", |errno| unsafe {
            f(
                s,
                &wsabuf,
                1,
                &mut sent,
                flags as u32,
                core::ptr::null_mut(),
                None,
                core::ptr::null(),
                errno,
            )
        })?;
        check_count("WSPSend", sent, buf.len());
        Ok(sent as usize)
    }

    /// `recv(s, buf, flags)`: bytes received (0 when the peer closed gracefully).
    pub fn recv(&self, s: SOCKET, buf: &mut [u8], flags: i32) -> Result<usize, WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.recv;
        let wsabuf = WSABUF {
            len: buf.len() as u32,
            buf: buf.as_mut_ptr(),
        };
        let mut got = 0u32;
        let mut flags = flags as u32;
        // SAFETY: one WSABUF over `buf`, writable; no overlapped I/O.
        check_int("WSPRecv", |errno| unsafe {
            f(
                s,
                &wsabuf,
                1,
                &mut got,
                &mut flags,
                core::ptr::null_mut(),
                None,
                core::ptr::null(),
                errno,
            )
        })?;
        check_count("WSPRecv", got, buf.len());
        Ok(got as usize)
    }

    /// `sendto(s, buf, flags, to)`: bytes sent.
    pub fn sendto(
        &self,
        s: SOCKET,
        buf: &[u8],
        flags: i32,
        to: &SockAddr,
    ) -> Result<usize, WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.send_to;
        let wsabuf = WSABUF {
            len: buf.len() as u32,
            buf: buf.as_ptr() as *mut u8,
        };
        let to = to.to_bytes();
        let mut sent = 0u32;
        // SAFETY: one WSABUF over `buf` (read only) and a whole socket address.
        check_int("WSPSendTo", |errno| unsafe {
            f(
                s,
                &wsabuf,
                1,
                &mut sent,
                flags as u32,
                to.as_ptr().cast(),
                to.len() as i32,
                core::ptr::null_mut(),
                None,
                core::ptr::null(),
                errno,
            )
        })?;
        check_count("WSPSendTo", sent, buf.len());
        Ok(sent as usize)
    }

    /// `recvfrom(s, buf, flags)`: bytes received and the sender.
    pub fn recvfrom(
        &self,
        s: SOCKET,
        buf: &mut [u8],
        flags: i32,
    ) -> Result<(usize, SockAddr), WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.recv_from;
        let wsabuf = WSABUF {
            len: buf.len() as u32,
            buf: buf.as_mut_ptr(),
        };
        let mut from = [0u8; ADDR_ROOM];
        let mut fromlen = ADDR_ROOM as i32;
        let mut got = 0u32;
        let mut flags = flags as u32;
        // SAFETY: one writable WSABUF and a writable address buffer of `fromlen` bytes.
        check_int("WSPRecvFrom", |errno| unsafe {
            f(
                s,
                &wsabuf,
                1,
                &mut got,
                &mut flags,
                from.as_mut_ptr().cast(),
                &mut fromlen,
                core::ptr::null_mut(),
                None,
                core::ptr::null(),
                errno,
            )
        })?;
        check_count("WSPRecvFrom", got, buf.len());
        Ok((got as usize, parse_returned("WSPRecvFrom", &from, fromlen)))
    }
}
