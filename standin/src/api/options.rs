//! Options and controls: `getsockopt`, `setsockopt`, `ioctlsocket`, `WSAIoctl`.

use super::Ws2;
use crate::loader::check_int;
use core::ffi::c_void;
use winsock_provider::sys::*;
use winsock_provider::WsaError;

impl Ws2 {
    /// `getsockopt(s, level, name)` into `buf`: the option's length.
    pub fn getsockopt(
        &self,
        s: SOCKET,
        level: i32,
        name: i32,
        buf: &mut [u8],
    ) -> Result<usize, WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.get_sock_opt;
        let mut len = buf.len() as i32;
        // SAFETY: `buf` is writable for `len` bytes.
        check_int("WSPGetSockOpt", |errno| unsafe {
            f(s, level, name, buf.as_mut_ptr(), &mut len, errno)
        })?;
        if len < 0 || len as usize > buf.len() {
            panic!(
                "ws2-standin: WSPGetSockOpt reported length {} for a {}-byte buffer",
                len,
                buf.len()
            );
        }
        Ok(len as usize)
    }

    /// `getsockopt` of an `int` (or `BOOL`) option.
    pub fn getsockopt_int(&self, s: SOCKET, level: i32, name: i32) -> Result<i32, WsaError> {
        let mut buf = [0u8; 4];
        let n = self.getsockopt(s, level, name, &mut buf)?;
        let mut value = [0u8; 4];
        value[..n].copy_from_slice(&buf[..n]);
        Ok(i32::from_ne_bytes(value))
    }

    /// `setsockopt(s, level, name, value)`.
    pub fn setsockopt(
        &self,
        s: SOCKET,
        level: i32,
        name: i32,
        value: &[u8],
    ) -> Result<(), WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.set_sock_opt;
        // SAFETY: `value` is readable for its length.
        check_int("WSPSetSockOpt", |errno| unsafe {
            f(s, level, name, value.as_ptr(), value.len() as i32, errno)
        })
        .map(drop)
    }

    /// `setsockopt` of an `int` (or `BOOL`) option.
    pub fn setsockopt_int(
        &self,
        s: SOCKET,
        level: i32,
        name: i32,
        value: i32,
    ) -> Result<(), WsaError> {
        self.setsockopt(s, level, name, &value.to_ne_bytes())
    }

    /// `ioctlsocket(s, cmd, &mut arg)`, which ws2_32 turns into `WSPIoctl` with a 4-byte input
    /// and output (`FIONBIO` reads `*arg`; `FIONREAD` and `SIOCATMARK` write it).
    pub fn ioctlsocket(&self, s: SOCKET, cmd: i32, arg: &mut u32) -> Result<(), WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.ioctl;
        let input = *arg;
        let mut output = 0u32;
        let mut returned = 0u32;
        // SAFETY: 4-byte input and output buffers and a writable byte count; not overlapped.
        check_int("WSPIoctl", |errno| unsafe {
            f(
                s,
                cmd as u32,
                (&input as *const u32).cast(),
                4,
                (&mut output as *mut u32).cast(),
                4,
                &mut returned,
                core::ptr::null_mut(),
                None,
                core::ptr::null(),
                errno,
            )
        })?;
        if returned > 4 {
            panic!(
                "ws2-standin: WSPIoctl({:#x}) reported {} bytes written to a 4-byte buffer",
                cmd, returned
            );
        }
        if returned == 4 {
            *arg = output;
        }
        Ok(())
    }

    /// `WSAIoctl(s, code, input, output)` without overlapped I/O: the bytes returned.
    pub fn wsa_ioctl(
        &self,
        s: SOCKET,
        code: u32,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<u32, WsaError> {
        // SAFETY: both buffers are valid for the whole (synchronous) call.
        unsafe {
            self.wsa_ioctl_overlapped(
                s,
                code,
                input.as_ptr().cast(),
                input.len() as u32,
                output.as_mut_ptr().cast(),
                output.len() as u32,
                core::ptr::null_mut(),
                None,
            )
        }
    }

    /// `WSAIoctl` with raw buffers, an optional `OVERLAPPED` and completion routine.
    ///
    /// # Safety
    /// `input`/`output` must be valid for their lengths (until completion when overlapped),
    /// and `*ov` too when non-null.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn wsa_ioctl_overlapped(
        &self,
        s: SOCKET,
        code: u32,
        input: *const c_void,
        input_len: u32,
        output: *mut c_void,
        output_len: u32,
        ov: *mut OVERLAPPED,
        routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    ) -> Result<u32, WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.ioctl;
        let mut returned = 0u32;
        self.overlapped_call("WSPIoctl", ov, routine, |r, t, errno| {
            // SAFETY: buffers valid for their lengths (caller's contract).
            unsafe {
                f(
                    s,
                    code,
                    input,
                    input_len,
                    output,
                    output_len,
                    &mut returned,
                    ov,
                    r,
                    t,
                    errno,
                )
            }
        })?;
        if returned > output_len {
            panic!(
                "ws2-standin: WSPIoctl({:#x}) reported {} bytes written to a {}-byte buffer",
                code, returned, output_len
            );
        }
        Ok(returned)
    }
}
