//! The extension functions applications get through `SIO_GET_EXTENSION_FUNCTION_POINTER`
//! and call directly (`AcceptEx`, `ConnectEx`, `DisconnectEx`, `GetAcceptExSockaddrs`,
//! `WSARecvMsg`, `WSASendMsg`, `TransmitFile`), errors read from the thread's last error.

use super::overlapped::{given_routine, settle};
use super::{ext, Ws2};
use crate::host::overlapped;
use crate::loader::{check_count, parse_returned, report_violations};
use winsock_provider::sys::*;
use winsock_provider::{SockAddr, WsaError};

/// The value the last error holds before an extension-function call, to tell "set" from
/// "left alone".
const LAST_ERROR_SENTINEL: i32 = 0x5EED_0BAE;

impl Ws2 {
    /// `WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, ...)`: the provider's function
    /// for `guid`, as the pointer type `F` (one of the [`ext`] types). Unknown GUIDs fail as
    /// the provider says (`WSAEINVAL`). Panics if `F` is not pointer-sized, or if the provider
    /// returned a null pointer or a length other than a pointer's.
    pub fn get_extension_function<F: Copy>(&self, s: SOCKET, guid: GUID) -> Result<F, WsaError> {
        assert_eq!(
            core::mem::size_of::<F>(),
            core::mem::size_of::<usize>(),
            "get_extension_function: F must be a function pointer type"
        );
        let mut out = [0u8; core::mem::size_of::<usize>()];
        // SAFETY: GUID is 16 bytes of plain data.
        let input = unsafe { core::slice::from_raw_parts((&guid as *const GUID).cast::<u8>(), 16) };
        let n = self.wsa_ioctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, input, &mut out)?;
        let p = usize::from_ne_bytes(out);
        if n as usize != out.len() || p == 0 {
            panic!(
                "ws2-standin: SIO_GET_EXTENSION_FUNCTION_POINTER succeeded with {} bytes and \
                 pointer {:#x}; expected a non-null {}-byte pointer",
                n,
                p,
                out.len()
            );
        }
        // SAFETY: `F` is pointer-sized (asserted) and the provider handed out a function of
        // this GUID's signature.
        Ok(unsafe { core::mem::transmute_copy::<usize, F>(&p) })
    }

    /// Calls an extension function the way applications do (directly, not through ws2_32),
    /// tracking its operation, and reads its error from the thread's last error.
    fn ext_call(
        &self,
        name: &'static str,
        ov: *mut OVERLAPPED,
        routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
        call: impl FnOnce(LPWSAOVERLAPPED_COMPLETION_ROUTINE) -> bool,
    ) -> Result<(), WsaError> {
        self.not_cleaned()?;
        if !ov.is_null() {
            // SAFETY: the application's OVERLAPPED, valid until the operation is seen to
            // complete (the contract of every extension-function call).
            unsafe { overlapped::issue(ov, self.inner.id, name, routine) };
        }
        overlapped::preset_last_error(LAST_ERROR_SENTINEL);
        let ok = call(given_routine(ov, routine));
        report_violations();
        let r = if ok {
            Ok(())
        } else {
            let code = overlapped::last_error();
            if code == LAST_ERROR_SENTINEL {
                panic!(
                    "ws2-standin: {} failed without setting the last error (WSASetLastError)",
                    name
                );
            }
            let e = WsaError::from_code(code);
            if !e.is_valid_failure() {
                panic!(
                    "ws2-standin: {} failed with last error {}, which is not a WSA error code",
                    name, code
                );
            }
            Err(e)
        };
        settle(name, ov, r)
    }

    /// `AcceptEx(listen, accept, output, receive_len, addr_len, addr_len, &bytes, ov)`: bytes
    /// received with the connection when it completed at once, or `Err(WSA_IO_PENDING)`.
    /// `output` holds `receive_len` bytes of data, then the local and the remote address
    /// (`addr_len` each; at least 16 more than the largest address); see
    /// [`Ws2::get_accept_ex_sockaddrs`].
    ///
    /// # Safety
    /// `output` and `*ov` must stay valid until the operation completes.
    pub unsafe fn accept_ex(
        &self,
        listen: SOCKET,
        accept: SOCKET,
        output: &mut [u8],
        receive_len: u32,
        addr_len: u32,
        ov: *mut OVERLAPPED,
    ) -> Result<u32, WsaError> {
        assert!(
            output.len() >= receive_len as usize + 2 * addr_len as usize,
            "accept_ex: output buffer too small for the lengths given"
        );
        let f: ext::AcceptExFn = self.get_extension_function(listen, ext::WSAID_ACCEPTEX)?;
        let mut bytes = 0u32;
        self.ext_call("AcceptEx", ov, None, |_| {
            // SAFETY: as the caller guarantees; lengths fit in `output` (asserted).
            unsafe {
                f(
                    listen,
                    accept,
                    output.as_mut_ptr().cast(),
                    receive_len,
                    addr_len,
                    addr_len,
                    &mut bytes,
                    ov,
                ) != 0
            }
        })?;
        check_count("AcceptEx", bytes, receive_len as usize);
        Ok(bytes)
    }

    /// `GetAcceptExSockaddrs` (looked up through socket `s` of the same provider): the local and
    /// remote addresses an `AcceptEx` wrote into `output`. Panics if the provider returned
    /// pointers outside `output` or malformed addresses.
    pub fn get_accept_ex_sockaddrs(
        &self,
        s: SOCKET,
        output: &[u8],
        receive_len: u32,
        addr_len: u32,
    ) -> Result<(SockAddr, SockAddr), WsaError> {
        let f: ext::GetAcceptExSockaddrsFn =
            self.get_extension_function(s, ext::WSAID_GETACCEPTEXSOCKADDRS)?;
        let (mut local, mut remote) = (core::ptr::null_mut(), core::ptr::null_mut());
        let (mut local_len, mut remote_len) = (0i32, 0i32);
        // SAFETY: `output` is readable for the lengths given (checked by the provider's
        // contract: it only reads inside them); the out-pointers are writable.
        unsafe {
            f(
                output.as_ptr().cast(),
                receive_len,
                addr_len,
                addr_len,
                &mut local,
                &mut local_len,
                &mut remote,
                &mut remote_len,
            )
        };
        let parse = |p: *mut SOCKADDR, len: i32, which: &str| -> SockAddr {
            let start = output.as_ptr() as usize;
            let at = p as usize;
            if p.is_null() || at < start || len < 0 || at + len as usize > start + output.len() {
                panic!(
                    "ws2-standin: GetAcceptExSockaddrs returned a {} address pointer {:p} \
                     (length {}) outside the {}-byte output buffer",
                    which,
                    p,
                    len,
                    output.len()
                );
            }
            let offset = at - start;
            parse_returned(
                "GetAcceptExSockaddrs",
                &output[offset..offset + len as usize],
                len,
            )
        };
        Ok((
            parse(local, local_len, "local"),
            parse(remote, remote_len, "remote"),
        ))
    }

    /// `ConnectEx(s, to, send, &bytes, ov)` on a bound socket: bytes of `send` sent when it
    /// completed at once, or `Err(WSA_IO_PENDING)`.
    ///
    /// # Safety
    /// `send` and `*ov` must stay valid until the operation completes.
    pub unsafe fn connect_ex(
        &self,
        s: SOCKET,
        to: &SockAddr,
        send: &[u8],
        ov: *mut OVERLAPPED,
    ) -> Result<u32, WsaError> {
        let f: ext::ConnectExFn = self.get_extension_function(s, ext::WSAID_CONNECTEX)?;
        let to = to.to_bytes();
        let mut bytes = 0u32;
        self.ext_call("ConnectEx", ov, None, |_| {
            // SAFETY: a whole address; `send` valid (caller's contract).
            unsafe {
                f(
                    s,
                    to.as_ptr().cast(),
                    to.len() as i32,
                    if send.is_empty() {
                        core::ptr::null()
                    } else {
                        send.as_ptr().cast()
                    },
                    send.len() as u32,
                    &mut bytes,
                    ov,
                ) != 0
            }
        })?;
        check_count("ConnectEx", bytes, send.len());
        Ok(bytes)
    }

    /// `DisconnectEx(s, ov, flags, 0)`.
    ///
    /// # Safety
    /// `*ov` must stay valid until the operation completes.
    pub unsafe fn disconnect_ex(
        &self,
        s: SOCKET,
        ov: *mut OVERLAPPED,
        flags: u32,
    ) -> Result<(), WsaError> {
        let f: ext::DisconnectExFn = self.get_extension_function(s, ext::WSAID_DISCONNECTEX)?;
        self.ext_call("DisconnectEx", ov, None, |_| {
            // SAFETY: `*ov` stays valid until the operation completes (caller's contract).
            unsafe { f(s, ov, flags, 0) != 0 }
        })
    }

    /// `WSARecvMsg(s, msg, &bytes, ov, routine)`: bytes received when it completed at once.
    ///
    /// # Safety
    /// `*msg`, the buffers it names, and `*ov` must stay valid until the operation completes.
    pub unsafe fn wsa_recv_msg(
        &self,
        s: SOCKET,
        msg: *mut ext::WSAMSG,
        ov: *mut OVERLAPPED,
        routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    ) -> Result<u32, WsaError> {
        let f: ext::WsaRecvMsgFn = self.get_extension_function(s, ext::WSAID_WSARECVMSG)?;
        let mut bytes = 0u32;
        self.ext_call("WSARecvMsg", ov, routine, |r| {
            // SAFETY: as the caller guarantees.
            unsafe { f(s, msg, &mut bytes, ov, r) == 0 }
        })?;
        Ok(bytes)
    }

    /// `WSASendMsg(s, msg, flags, &bytes, ov, routine)`: bytes sent when it completed at once.
    ///
    /// # Safety
    /// As [`Ws2::wsa_recv_msg`].
    pub unsafe fn wsa_send_msg(
        &self,
        s: SOCKET,
        msg: *mut ext::WSAMSG,
        flags: u32,
        ov: *mut OVERLAPPED,
        routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    ) -> Result<u32, WsaError> {
        let f: ext::WsaSendMsgFn = self.get_extension_function(s, ext::WSAID_WSASENDMSG)?;
        let mut bytes = 0u32;
        self.ext_call("WSASendMsg", ov, routine, |r| {
            // SAFETY: as the caller guarantees.
            unsafe { f(s, msg, flags, &mut bytes, ov, r) == 0 }
        })?;
        Ok(bytes)
    }

    /// `TransmitFile(s, file, bytes_to_write, bytes_per_send, ov, buffers, flags)`.
    ///
    /// # Safety
    /// `file` must be a file handle (or null), `*buffers` and what it names and `*ov` valid
    /// until the operation completes.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn transmit_file(
        &self,
        s: SOCKET,
        file: HANDLE,
        bytes_to_write: u32,
        bytes_per_send: u32,
        ov: *mut OVERLAPPED,
        buffers: *const ext::TRANSMIT_FILE_BUFFERS,
        flags: u32,
    ) -> Result<(), WsaError> {
        let f: ext::TransmitFileFn = self.get_extension_function(s, ext::WSAID_TRANSMITFILE)?;
        self.ext_call("TransmitFile", ov, None, |_| {
            // SAFETY: as the caller guarantees.
            unsafe { f(s, file, bytes_to_write, bytes_per_send, ov, buffers, flags) != 0 }
        })
    }
}
