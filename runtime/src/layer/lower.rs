//! The provider below a layer: its library loaded and started with the layer's upcall table,
//! its dispatch table checked, and safe calls on its sockets.

use crate::sys::{self, SOCKET, WSABUF, WSAPROTOCOL_INFOW, WSPDATA, WSPPROC_TABLE, WSPUPCALLTABLE};
use crate::types::addr::SockAddr;
use crate::types::error::WsaError;
use crate::types::flags::{MsgFlags, OptInput, OptValue, Shutdown, SockOpt};
use core::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// A started provider below the layer (one per lower catalog provider, shared by every chain
/// that goes through it). Its `WSPStartup` is balanced by one `WSPCleanup` in
/// [`LowerProvider::cleanup`].
pub(crate) struct LowerProvider {
    /// All 30 entries are set (checked at start-up).
    table: WSPPROC_TABLE,
    /// The expanded library path, for messages and for finding it again.
    pub(crate) path: String,
    cleaned: AtomicBool,
}

/// The number of entries of a `WSPPROC_TABLE`.
const TABLE_ENTRIES: usize = 30;

/// The entries of `table` that are null.
fn null_entries(table: &WSPPROC_TABLE) -> usize {
    let words = core::mem::size_of::<WSPPROC_TABLE>() / core::mem::size_of::<usize>();
    debug_assert_eq!(words, TABLE_ENTRIES);
    // SAFETY: WSPPROC_TABLE is 30 `Option<fn>` fields, each one pointer-sized word (null for
    // `None`); reading them as words only looks at their bits.
    let raw = unsafe {
        core::slice::from_raw_parts((table as *const WSPPROC_TABLE).cast::<usize>(), words)
    };
    raw.iter().filter(|w| **w == 0).count()
}

impl LowerProvider {
    /// Loads the library at `path` (environment strings already expanded) and starts it for
    /// `info` with `upcalls`: `WSAEPROVIDERFAILEDINIT` when the library or its `WSPStartup`
    /// is missing, when `WSPStartup` fails, or when it leaves a dispatch entry null.
    pub(crate) fn start(
        path: &str,
        info: &WSAPROTOCOL_INFOW,
        upcalls: WSPUPCALLTABLE,
    ) -> Result<Arc<LowerProvider>, WsaError> {
        let (startup, set_hooks) = match dl::open_startup(path) {
            Ok(f) => f,
            Err(why) => {
                crate::host::panic::log(&format!(
                    "winsock-provider: layer: cannot load the provider below ({}): {}\n",
                    path, why
                ));
                return Err(WsaError::PROVIDERFAILEDINIT);
            }
        };
        if let (Some(set), Some(hooks)) = (set_hooks, crate::host::hooks::current()) {
            // SAFETY: the toolkit's `WspSetHostHooks` export, given a complete HostHooks that
            // outlives the call, before WSPStartup (as a host calls it).
            unsafe { set(&hooks) };
        }
        let mut data = WSPDATA::default();
        let mut table = WSPPROC_TABLE::default();
        // SAFETY: WSPStartup called as ws2_32 calls it: writable WSPDATA and table, the
        // protocol entry, and the upcall table ws2_32 gave the layer.
        let r = unsafe {
            startup(
                sys::WINSOCK_VERSION_2_2,
                core::ptr::addr_of_mut!(data),
                info,
                upcalls,
                &mut table,
            )
        };
        if r != 0 {
            crate::host::panic::log(&format!(
                "winsock-provider: layer: WSPStartup of the provider below ({}) failed with {}\n",
                path, r
            ));
            return Err(WsaError::PROVIDERFAILEDINIT);
        }
        let lower = LowerProvider {
            table,
            path: path.to_owned(),
            cleaned: AtomicBool::new(false),
        };
        if null_entries(&table) != 0 {
            crate::host::panic::log(&format!(
                "winsock-provider: layer: the provider below ({}) left {} dispatch entries null\n",
                path,
                null_entries(&table)
            ));
            lower.cleanup();
            return Err(WsaError::PROVIDERFAILEDINIT);
        }
        Ok(Arc::new(lower))
    }

    /// A provider below made of `table` (tests: a table of stand-in functions), never
    /// cleaned up.
    #[cfg(test)]
    pub(crate) fn from_table(table: WSPPROC_TABLE) -> Arc<LowerProvider> {
        Arc::new(LowerProvider {
            table,
            path: String::new(),
            cleaned: AtomicBool::new(true),
        })
    }

    /// Balances the start-up (once).
    pub(crate) fn cleanup(&self) {
        if self.cleaned.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(cleanup) = self.table.lpWSPCleanup {
            let mut errno = 0;
            // SAFETY: balances the WSPStartup this provider was started with.
            unsafe { cleanup(&mut errno) };
        }
    }

    /// `WSPSocket` on the provider below, for entry `info`.
    pub(crate) fn socket(
        self: &Arc<Self>,
        af: i32,
        ty: i32,
        protocol: i32,
        info: &WSAPROTOCOL_INFOW,
        group: u32,
        flags: u32,
    ) -> Result<LowerSocket, WsaError> {
        let f = entry(self.table.lpWSPSocket)?;
        let mut errno = 0;
        // SAFETY: the lower provider's WSPSocket with a valid protocol entry and errno slot.
        let s = unsafe { f(af, ty, protocol, info, group, flags, &mut errno) };
        if s == sys::INVALID_SOCKET {
            return Err(error(errno));
        }
        let lower = LowerSocket::new(self.clone(), s);
        // The layer drives the lower socket without blocking; blocking calls wait in the layer.
        lower.set_nonblocking()?;
        Ok(lower)
    }

    /// `WSPEventSelect(s, event, mask)`.
    pub(crate) fn event_select(
        &self,
        s: SOCKET,
        event: sys::WSAEVENT,
        mask: u32,
    ) -> Result<(), WsaError> {
        let f = entry(self.table.lpWSPEventSelect)?;
        let mut errno = 0;
        // SAFETY: the lower provider's own socket and an event from WPUCreateEvent.
        check(unsafe { f(s, event, mask as i32, &mut errno) }, errno)
    }

    /// `WSPSelect` on lower socket `s` alone, without waiting: whether it is readable,
    /// writable, and in the exception set.
    pub(crate) fn poll(&self, s: SOCKET) -> Result<(bool, bool, bool), WsaError> {
        let f = entry(self.table.lpWSPSelect)?;
        let one = || {
            let mut set = sys::FD_SET {
                fd_count: 1,
                ..Default::default()
            };
            set.fd_array[0] = s;
            set
        };
        let (mut read, mut write, mut except) = (one(), one(), one());
        let zero = sys::TIMEVAL::default();
        let mut errno = 0;
        // SAFETY: three writable sets holding the lower provider's socket, a zero timeout.
        let r = unsafe { f(0, &mut read, &mut write, &mut except, &zero, &mut errno) };
        if r == sys::SOCKET_ERROR {
            return Err(error(errno));
        }
        let has = |set: &sys::FD_SET| set.fd_array[..(set.fd_count as usize).min(64)].contains(&s);
        Ok((has(&read), has(&write), has(&except)))
    }

    /// `FIONREAD` on lower socket `s`: the bytes it holds to receive.
    pub(crate) fn bytes_readable(&self, s: SOCKET) -> Result<usize, WsaError> {
        let mut out = 0u32;
        // SAFETY: a 4-byte output the provider writes the count to.
        unsafe {
            ioctl_raw(
                &self.table,
                s,
                sys::FIONREAD as u32,
                core::ptr::null(),
                0,
                (&mut out as *mut u32).cast(),
                4,
            )
        }
        .map(|_| out as usize)
    }

    /// A receive on lower socket `s` that takes nothing (`MSG_PEEK` into one byte), made for
    /// its side effect: any receive is `FD_READ`'s re-enabling call, after which the provider
    /// records `FD_READ` again when data is (or becomes) waiting. Its result does not matter.
    pub(crate) fn peek(&self, s: SOCKET) {
        let mut byte = 0u8;
        let one = [WSABUF {
            len: 1,
            buf: &mut byte,
        }];
        // SAFETY: one WSABUF describing a live byte that nothing else uses.
        let _ = unsafe { recv_raw(&self.table, s, &one, sys::MSG_PEEK as u32) };
    }

    /// `WSPEnumNetworkEvents(s, event)`: the events recorded since the last call (which it
    /// resets, with the event).
    pub(crate) fn enum_network_events(
        &self,
        s: SOCKET,
        event: sys::WSAEVENT,
    ) -> Result<sys::WSANETWORKEVENTS, WsaError> {
        let f = entry(self.table.lpWSPEnumNetworkEvents)?;
        let mut errno = 0;
        let mut events = sys::WSANETWORKEVENTS::default();
        // SAFETY: the lower provider's own socket, its selected event, a writable record.
        let r = unsafe { f(s, event as sys::HANDLE, &mut events, &mut errno) };
        check(r, errno)?;
        Ok(events)
    }
}

/// A dispatch entry (never null after the start-up check).
fn entry<F>(f: Option<F>) -> Result<F, WsaError> {
    f.ok_or(WsaError::PROVIDERFAILEDINIT)
}

/// The failure a lower call reported: its code, or `WSASYSCALLFAILURE` when it broke the
/// convention and left none.
fn error(errno: i32) -> WsaError {
    let e = WsaError::from_code(errno);
    if e.is_valid_failure() {
        e
    } else {
        WsaError::SYSCALLFAILURE
    }
}

fn check(r: i32, errno: i32) -> Result<(), WsaError> {
    if r == sys::SOCKET_ERROR {
        Err(error(errno))
    } else {
        Ok(())
    }
}

/// `WSPRecv` of `table` on lower socket `s` with flags `flags`, without an overlapped structure
/// (the call completes at once): the bytes received and the flags the provider returned.
///
/// # Safety
/// `bufs` describe writable buffers that nothing else uses during the call.
unsafe fn recv_raw(
    table: &WSPPROC_TABLE,
    s: SOCKET,
    bufs: &[WSABUF],
    flags: u32,
) -> Result<(usize, u32), WsaError> {
    let f = entry(table.lpWSPRecv)?;
    let mut errno = 0;
    let mut got = 0u32;
    let mut out_flags = flags;
    // SAFETY: the lower provider's socket; the buffers as the caller promises; writable count,
    // flags and errno (a mutable pointer, though the bindings declare it const); no overlapped
    // structure.
    let r = unsafe {
        f(
            s,
            bufs.as_ptr(),
            bufs.len() as u32,
            &mut got,
            &mut out_flags,
            core::ptr::null_mut(),
            None,
            core::ptr::null(),
            core::ptr::addr_of_mut!(errno),
        )
    };
    check(r, errno).map(|()| (got as usize, out_flags))
}

/// `WSPIoctl` of `table` on lower socket `s`, without an overlapped structure (the call
/// completes at once): the bytes returned.
///
/// # Safety
/// `input` and `output` are valid for `input_len` and `output_len` bytes (or null with 0).
unsafe fn ioctl_raw(
    table: &WSPPROC_TABLE,
    s: SOCKET,
    code: u32,
    input: *const c_void,
    input_len: u32,
    output: *mut c_void,
    output_len: u32,
) -> Result<usize, WsaError> {
    let f = entry(table.lpWSPIoctl)?;
    let mut errno = 0;
    let mut returned = 0u32;
    // SAFETY: the lower provider's socket; the buffers as the caller promises; no overlapped
    // structure.
    let r = unsafe {
        f(
            s,
            code,
            input,
            input_len,
            output,
            output_len,
            &mut returned,
            core::ptr::null_mut(),
            None,
            core::ptr::null(),
            &mut errno,
        )
    };
    check(r, errno).map(|()| returned as usize)
}

/// A socket of the provider below, owned by one layer socket: closed when the layer socket is
/// (`WSPCloseSocket`, after [`Layer::close`](super::Layer::close)) or, if never closed, when
/// dropped.
pub struct LowerSocket {
    provider: Arc<LowerProvider>,
    /// The lower handle; 0 once closed or moved out. Calls hold the read lock while they use
    /// it, so a close never lets a call reach a reused value.
    handle: RwLock<SOCKET>,
}

impl LowerSocket {
    fn new(provider: Arc<LowerProvider>, handle: SOCKET) -> LowerSocket {
        LowerSocket {
            provider,
            handle: RwLock::new(handle),
        }
    }

    pub(crate) fn provider(&self) -> &Arc<LowerProvider> {
        &self.provider
    }

    /// The lower provider's handle (0 once closed).
    pub fn handle(&self) -> SOCKET {
        *self.handle.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the open handle, under the read lock (so a close waits for it);
    /// `WSAENOTSOCK` once closed.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&WSPPROC_TABLE, SOCKET) -> Result<T, WsaError>,
    ) -> Result<T, WsaError> {
        let handle = self.handle.read().unwrap_or_else(|e| e.into_inner());
        if *handle == 0 {
            return Err(WsaError::NOTSOCK);
        }
        f(&self.provider.table, *handle)
    }

    /// Closes the lower socket (once); later calls fail with `WSAENOTSOCK`.
    pub(crate) fn close(&self) -> Result<(), WsaError> {
        let mut handle = self.handle.write().unwrap_or_else(|e| e.into_inner());
        let s = core::mem::replace(&mut *handle, 0);
        if s == 0 {
            return Ok(());
        }
        let f = entry(self.provider.table.lpWSPCloseSocket)?;
        let mut errno = 0;
        // SAFETY: the lower provider's own socket, closed once (the handle is now 0 here).
        check(unsafe { f(s, &mut errno) }, errno)
    }

    /// Moves the handle out of `other` into `self`, closing `self`'s previous one.
    pub(crate) fn replace_with(&self, other: &LowerSocket) -> Result<(), WsaError> {
        let taken = core::mem::replace(
            &mut *other.handle.write().unwrap_or_else(|e| e.into_inner()),
            0,
        );
        self.close()?;
        *self.handle.write().unwrap_or_else(|e| e.into_inner()) = taken;
        Ok(())
    }

    fn set_nonblocking(&self) -> Result<(), WsaError> {
        let mut on: u32 = 1;
        self.ioctl_raw(
            sys::FIONBIO as u32,
            (&mut on as *mut u32).cast(),
            4,
            core::ptr::null_mut(),
            0,
        )
        .map(|_| ())
    }

    fn ioctl_raw(
        &self,
        code: u32,
        input: *const c_void,
        input_len: u32,
        output: *mut c_void,
        output_len: u32,
    ) -> Result<usize, WsaError> {
        self.with(|t, s| {
            // SAFETY: the buffers are the caller's, valid for their lengths.
            unsafe { ioctl_raw(t, s, code, input, input_len, output, output_len) }
        })
    }

    pub(crate) fn ioctl(
        &self,
        code: u32,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<usize, WsaError> {
        let input_ptr = if input.is_empty() {
            core::ptr::null()
        } else {
            input.as_ptr().cast()
        };
        let output_ptr = if output.is_empty() {
            core::ptr::null_mut()
        } else {
            output.as_mut_ptr().cast()
        };
        self.ioctl_raw(
            code,
            input_ptr,
            input.len() as u32,
            output_ptr,
            output.len() as u32,
        )
    }

    pub(crate) fn bind(&self, addr: &SockAddr) -> Result<(), WsaError> {
        let raw = addr.to_bytes();
        self.with(|t, s| {
            let f = entry(t.lpWSPBind)?;
            let mut errno = 0;
            // SAFETY: `raw` holds the address's bytes for the duration of the call.
            check(
                unsafe { f(s, raw.as_ptr().cast(), raw.len() as i32, &mut errno) },
                errno,
            )
        })
    }

    pub(crate) fn listen(&self, backlog: i32) -> Result<(), WsaError> {
        self.with(|t, s| {
            let f = entry(t.lpWSPListen)?;
            let mut errno = 0;
            // SAFETY: the lower provider's socket.
            check(unsafe { f(s, backlog, &mut errno) }, errno)
        })
    }

    pub(crate) fn accept(&self) -> Result<(LowerSocket, SockAddr), WsaError> {
        let mut addr = [0u8; 128];
        let mut len = addr.len() as i32;
        let s = self.with(|t, s| {
            let f = entry(t.lpWSPAccept)?;
            let mut errno = 0;
            // SAFETY: the lower provider's socket; a writable address buffer of `len` bytes.
            let new = unsafe { f(s, addr.as_mut_ptr().cast(), &mut len, None, 0, &mut errno) };
            if new == sys::INVALID_SOCKET {
                Err(error(errno))
            } else {
                Ok(new)
            }
        })?;
        let lower = LowerSocket::new(self.provider.clone(), s);
        lower.set_nonblocking()?;
        let len = (len.max(0) as usize).min(addr.len());
        Ok((lower, SockAddr::from_bytes(&addr[..len])?))
    }

    pub(crate) fn connect(&self, addr: &SockAddr) -> Result<(), WsaError> {
        let raw = addr.to_bytes();
        self.with(|t, s| {
            let f = entry(t.lpWSPConnect)?;
            let mut errno = 0;
            // SAFETY: `raw` holds the address; no connect data or QOS.
            let r = unsafe {
                f(
                    s,
                    raw.as_ptr().cast(),
                    raw.len() as i32,
                    core::ptr::null(),
                    core::ptr::null_mut(),
                    core::ptr::null(),
                    core::ptr::null(),
                    &mut errno,
                )
            };
            check(r, errno)
        })
    }

    pub(crate) fn send(
        &self,
        bufs: &[WSABUF],
        flags: MsgFlags,
        to: Option<&SockAddr>,
    ) -> Result<usize, WsaError> {
        let to = to.map(|a| a.to_bytes());
        self.with(|t, s| {
            let mut errno = 0;
            let mut sent = 0u32;
            // SAFETY: `bufs` is a validated WSABUF array (the caller's, or one describing a
            // slice) whose buffers stay readable for the call; the provider below only reads
            // them for a send; no overlapped structure.
            let r = unsafe {
                match &to {
                    None => entry(t.lpWSPSend)?(
                        s,
                        bufs.as_ptr(),
                        bufs.len() as u32,
                        &mut sent,
                        flags.bits(),
                        core::ptr::null_mut(),
                        None,
                        core::ptr::null(),
                        &mut errno,
                    ),
                    Some(to) => entry(t.lpWSPSendTo)?(
                        s,
                        bufs.as_ptr(),
                        bufs.len() as u32,
                        &mut sent,
                        flags.bits(),
                        to.as_ptr().cast(),
                        to.len() as i32,
                        core::ptr::null_mut(),
                        None,
                        core::ptr::null(),
                        &mut errno,
                    ),
                }
            };
            check(r, errno).map(|()| sent as usize)
        })
    }

    pub(crate) fn recv(
        &self,
        bufs: &[WSABUF],
        flags: MsgFlags,
        from: bool,
    ) -> Result<(usize, MsgFlags, Option<SockAddr>), WsaError> {
        if !from {
            return self.with(|t, s| {
                // SAFETY: `bufs` is a validated WSABUF array whose buffers are writable and not
                // otherwise in use for the call (`BufsMut::as_wsabufs_mut` borrows them
                // exclusively).
                let (got, out_flags) = unsafe { recv_raw(t, s, bufs, flags.bits()) }?;
                Ok((got, MsgFlags::from_bits(out_flags), None))
            });
        }
        let mut addr = [0u8; 128];
        let mut addr_len = addr.len() as i32;
        self.with(|t, s| {
            let mut errno = 0;
            let mut got = 0u32;
            let mut out_flags = flags.bits();
            // SAFETY: `bufs` as for `recv_raw` above; the address buffer has `addr_len` bytes;
            // no overlapped structure.
            let r = unsafe {
                entry(t.lpWSPRecvFrom)?(
                    s,
                    bufs.as_ptr(),
                    bufs.len() as u32,
                    &mut got,
                    &mut out_flags,
                    addr.as_mut_ptr().cast(),
                    &mut addr_len,
                    core::ptr::null_mut(),
                    None,
                    core::ptr::null(),
                    &mut errno,
                )
            };
            check(r, errno)?;
            let n = (addr_len.max(0) as usize).min(addr.len());
            Ok((
                got as usize,
                MsgFlags::from_bits(out_flags),
                SockAddr::from_bytes(&addr[..n]).ok(),
            ))
        })
    }

    pub(crate) fn shutdown(&self, how: Shutdown) -> Result<(), WsaError> {
        let how = match how {
            Shutdown::Receive => sys::SD_RECEIVE,
            Shutdown::Send => sys::SD_SEND,
            Shutdown::Both => sys::SD_BOTH,
        };
        self.with(|t, s| {
            let f = entry(t.lpWSPShutdown)?;
            let mut errno = 0;
            // SAFETY: the lower provider's socket.
            check(unsafe { f(s, how, &mut errno) }, errno)
        })
    }

    pub(crate) fn disconnect(&self, send: bool) -> Result<(), WsaError> {
        self.with(|t, s| {
            let mut errno = 0;
            // SAFETY: the lower provider's socket; no disconnect data.
            let r = unsafe {
                if send {
                    entry(t.lpWSPSendDisconnect)?(s, core::ptr::null(), &mut errno)
                } else {
                    entry(t.lpWSPRecvDisconnect)?(s, core::ptr::null(), &mut errno)
                }
            };
            check(r, errno)
        })
    }

    pub(crate) fn name(&self, peer: bool) -> Result<SockAddr, WsaError> {
        let mut addr = [0u8; 128];
        let mut len = addr.len() as i32;
        self.with(|t, s| {
            let mut errno = 0;
            // SAFETY: the lower provider's socket; a writable buffer of `len` bytes.
            let r = unsafe {
                if peer {
                    entry(t.lpWSPGetPeerName)?(s, addr.as_mut_ptr().cast(), &mut len, &mut errno)
                } else {
                    entry(t.lpWSPGetSockName)?(s, addr.as_mut_ptr().cast(), &mut len, &mut errno)
                }
            };
            check(r, errno)
        })?;
        let n = (len.max(0) as usize).min(addr.len());
        SockAddr::from_bytes(&addr[..n])
    }

    pub(crate) fn get_option(&self, opt: SockOpt) -> Result<OptValue, WsaError> {
        let mut value = vec![0u8; 1024];
        let mut len = value.len() as i32;
        self.with(|t, s| {
            let f = entry(t.lpWSPGetSockOpt)?;
            let mut errno = 0;
            // SAFETY: the lower provider's socket; a writable buffer of `len` bytes.
            check(
                unsafe {
                    f(
                        s,
                        opt.level,
                        opt.name,
                        value.as_mut_ptr(),
                        &mut len,
                        &mut errno,
                    )
                },
                errno,
            )
        })?;
        value.truncate((len.max(0) as usize).min(value.len()));
        Ok(OptValue::Bytes(value))
    }

    pub(crate) fn set_option(&self, opt: SockOpt, value: OptInput<'_>) -> Result<(), WsaError> {
        self.with(|t, s| {
            let f = entry(t.lpWSPSetSockOpt)?;
            let mut errno = 0;
            // SAFETY: the lower provider's socket; the value's bytes, readable for the call.
            check(
                unsafe {
                    f(
                        s,
                        opt.level,
                        opt.name,
                        value.0.as_ptr(),
                        value.0.len() as i32,
                        &mut errno,
                    )
                },
                errno,
            )
        })
    }

    /// `WSPSelect` on the lower socket alone, without waiting: whether it is readable,
    /// writable, and in the exception set.
    pub(crate) fn poll(&self) -> Result<(bool, bool, bool), WsaError> {
        self.with(|_, s| self.provider.poll(s))
    }

    /// `WSPDuplicateSocket` on the lower socket: the lower provider's structure for the target.
    pub(crate) fn duplicate(&self, process_id: u32) -> Result<WSAPROTOCOL_INFOW, WsaError> {
        self.with(|t, s| {
            let f = entry(t.lpWSPDuplicateSocket)?;
            let mut errno = 0;
            let mut info = WSAPROTOCOL_INFOW::default();
            // SAFETY: the lower provider's socket; a writable structure.
            check(unsafe { f(s, process_id, &mut info, &mut errno) }, errno)?;
            Ok(info)
        })
    }
}

impl Drop for LowerSocket {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

mod dl {
    //! Loading a provider library and resolving `WSPStartup` (and the toolkit's
    //! `WspSetHostHooks`, when the library has it). Libraries stay loaded: a layer may hold
    //! threads and pointers into them until the process ends.

    use crate::host::hooks::SetHostHooksFn;
    use crate::spi::exports::StartupFn;

    /// `WSPStartup`, and `WspSetHostHooks` if exported.
    pub(super) type Exports = (StartupFn, Option<SetHostHooksFn>);

    #[cfg(windows)]
    pub(super) fn open_startup(path: &str) -> Result<Exports, String> {
        use core::ffi::c_void;
        extern "system" {
            fn LoadLibraryW(name: *const u16) -> *mut c_void;
            fn GetProcAddress(module: *mut c_void, name: *const u8) -> *const c_void;
            fn GetLastError() -> u32;
        }
        let wide: Vec<u16> = path.encode_utf16().chain(Some(0)).collect();
        // SAFETY: a NUL-terminated UTF-16 path that outlives the call.
        let module = unsafe { LoadLibraryW(wide.as_ptr()) };
        if module.is_null() {
            // SAFETY: reads the calling thread's last error.
            return Err(format!("LoadLibraryW failed with error {}", unsafe {
                GetLastError()
            }));
        }
        // SAFETY: a loaded module and a NUL-terminated name.
        let f = unsafe { GetProcAddress(module, b"WSPStartup\0".as_ptr()) };
        if f.is_null() {
            return Err("the library does not export WSPStartup".to_owned());
        }
        // SAFETY: a loaded module and a NUL-terminated name.
        let hooks = unsafe { GetProcAddress(module, b"WspSetHostHooks\0".as_ptr()) };
        // SAFETY: WSPStartup has this signature by the SPI's contract, WspSetHostHooks by the
        // toolkit's.
        unsafe {
            Ok((
                core::mem::transmute::<*const c_void, StartupFn>(f),
                if hooks.is_null() {
                    None
                } else {
                    Some(core::mem::transmute::<*const c_void, SetHostHooksFn>(hooks))
                },
            ))
        }
    }

    #[cfg(unix)]
    pub(super) fn open_startup(path: &str) -> Result<Exports, String> {
        use core::ffi::c_void;
        use std::os::raw::{c_char, c_int};
        #[cfg_attr(target_os = "linux", link(name = "dl"))]
        extern "C" {
            fn dlopen(name: *const c_char, flags: c_int) -> *mut c_void;
            fn dlsym(module: *mut c_void, name: *const c_char) -> *mut c_void;
            fn dlerror() -> *const c_char;
        }
        const RTLD_NOW: c_int = 2;
        let name = std::ffi::CString::new(path).map_err(|_| "the path has a NUL".to_owned())?;
        // SAFETY: a NUL-terminated path that outlives the call.
        let module = unsafe { dlopen(name.as_ptr(), RTLD_NOW) };
        if module.is_null() {
            // SAFETY: dlerror returns null or a NUL-terminated message valid until the next
            // dl call on this thread.
            let why = unsafe {
                let e = dlerror();
                if e.is_null() {
                    "dlopen failed".to_owned()
                } else {
                    std::ffi::CStr::from_ptr(e).to_string_lossy().into_owned()
                }
            };
            return Err(why);
        }
        // SAFETY: a loaded module and a NUL-terminated name.
        let f = unsafe { dlsym(module, b"WSPStartup\0".as_ptr().cast()) };
        if f.is_null() {
            return Err("the library does not export WSPStartup".to_owned());
        }
        // SAFETY: a loaded module and a NUL-terminated name.
        let hooks = unsafe { dlsym(module, b"WspSetHostHooks\0".as_ptr().cast()) };
        // SAFETY: WSPStartup has this signature by the SPI's contract, WspSetHostHooks by the
        // toolkit's.
        unsafe {
            Ok((
                core::mem::transmute::<*mut c_void, StartupFn>(f),
                if hooks.is_null() {
                    None
                } else {
                    Some(core::mem::transmute::<*mut c_void, SetHostHooksFn>(hooks))
                },
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_without_a_code_is_a_syscall_failure() {
        assert_eq!(error(0), WsaError::SYSCALLFAILURE);
        assert_eq!(error(12345678), WsaError::SYSCALLFAILURE);
        assert_eq!(error(WsaError::WOULDBLOCK.code()), WsaError::WOULDBLOCK);
        assert_eq!(check(0, 0), Ok(()));
        assert_eq!(check(sys::SOCKET_ERROR, 0), Err(WsaError::SYSCALLFAILURE));
    }

    #[test]
    fn null_entries_are_counted() {
        let mut table = WSPPROC_TABLE::default();
        assert_eq!(null_entries(&table), TABLE_ENTRIES);
        table.lpWSPCleanup = Some(cleanup_stub);
        assert_eq!(null_entries(&table), TABLE_ENTRIES - 1);
    }

    unsafe extern "system" fn cleanup_stub(_: *mut i32) -> i32 {
        0
    }

    #[test]
    fn a_missing_library_is_provider_failed_init() {
        let r = LowerProvider::start(
            "/nonexistent/provider.so",
            &WSAPROTOCOL_INFOW::default(),
            WSPUPCALLTABLE::default(),
        );
        assert_eq!(r.err(), Some(WsaError::PROVIDERFAILEDINIT));
    }
}
