//! Windows: every handle is a named-pipe handle. `socket()` creates a pipe server instance on a
//! private name; connecting opens that pipe's client end, which becomes the accepted socket's
//! handle, while the connecting socket keeps its own (now connected) server handle.

use core::ffi::c_void;
use std::sync::atomic::{AtomicU32, Ordering};
use winsock_provider::sys::SOCKET;
use winsock_provider::WsaError;

type Handle = *mut c_void;

const INVALID_HANDLE_VALUE: Handle = -1isize as Handle;
const PIPE_ACCESS_DUPLEX: u32 = 3;
const FILE_FLAG_FIRST_PIPE_INSTANCE: u32 = 0x0008_0000;
/// `PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS`.
const PIPE_MODE: u32 = 0x8;
const GENERIC_READ_WRITE: u32 = 0xC000_0000;
const OPEN_EXISTING: u32 = 3;
const ERROR_BROKEN_PIPE: u32 = 109;
const ERROR_NO_DATA: u32 = 232;
const ERROR_PIPE_NOT_CONNECTED: u32 = 233;
const ERROR_PIPE_CONNECTED: u32 = 535;
const ERROR_NOT_ENOUGH_MEMORY: u32 = 8;
const ERROR_TOO_MANY_OPEN_FILES: u32 = 4;

/// Bytes a pipe holds in each direction (the send window).
pub const WINDOW: u32 = 64 * 1024;

#[link(name = "kernel32")]
extern "system" {
    fn CreateNamedPipeW(
        name: *const u16,
        open_mode: u32,
        pipe_mode: u32,
        max_instances: u32,
        out_size: u32,
        in_size: u32,
        timeout: u32,
        security: *mut c_void,
    ) -> Handle;
    fn CreateFileW(
        name: *const u16,
        access: u32,
        share: u32,
        security: *mut c_void,
        disposition: u32,
        flags: u32,
        template: Handle,
    ) -> Handle;
    fn ConnectNamedPipe(pipe: Handle, overlapped: *mut c_void) -> i32;
    fn PeekNamedPipe(
        pipe: Handle,
        buf: *mut c_void,
        size: u32,
        read: *mut u32,
        available: *mut u32,
        left: *mut u32,
    ) -> i32;
    fn ReadFile(file: Handle, buf: *mut c_void, len: u32, read: *mut u32, ov: *mut c_void) -> i32;
    fn WriteFile(
        file: Handle,
        buf: *const c_void,
        len: u32,
        written: *mut u32,
        ov: *mut c_void,
    ) -> i32;
    fn CloseHandle(handle: Handle) -> i32;
    fn GetLastError() -> u32;
    fn GetCurrentProcessId() -> u32;
}

fn last_error() -> u32 {
    // SAFETY: reads the calling thread's last-error value.
    unsafe { GetLastError() }
}

fn wsa(e: u32) -> WsaError {
    match e {
        ERROR_BROKEN_PIPE | ERROR_NO_DATA | ERROR_PIPE_NOT_CONNECTED => WsaError::CONNRESET,
        ERROR_NOT_ENOUGH_MEMORY => WsaError::NOBUFS,
        ERROR_TOO_MANY_OPEN_FILES => WsaError::MFILE,
        _ => WsaError::NETDOWN,
    }
}

/// One end of a byte stream: a named-pipe handle, closed on drop.
pub struct OsEnd {
    handle: Handle,
    /// The pipe's name, NUL-terminated UTF-16 (a server instance's; empty for a client end).
    name: Vec<u16>,
}

// SAFETY: a pipe handle may be used from any thread; the value is owned by this struct.
unsafe impl Send for OsEnd {}
// SAFETY: every method makes self-contained system calls on the handle.
unsafe impl Sync for OsEnd {}

impl OsEnd {
    /// A handle not yet connected: a pipe server instance on a name of its own.
    pub fn unconnected() -> Result<OsEnd, WsaError> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        // SAFETY: no arguments.
        let pid = unsafe { GetCurrentProcessId() };
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let text = format!(r"\\.\pipe\wsp-ifs-{}-{}", pid, n);
        let name: Vec<u16> = text.encode_utf16().chain(Some(0)).collect();
        // SAFETY: `name` is NUL-terminated and outlives the call; no security attributes.
        let handle = unsafe {
            CreateNamedPipeW(
                name.as_ptr(),
                PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
                PIPE_MODE,
                1,
                WINDOW,
                WINDOW,
                0,
                core::ptr::null_mut(),
            )
        };
        if handle == INVALID_HANDLE_VALUE {
            return Err(wsa(last_error()));
        }
        Ok(OsEnd { handle, name })
    }

    /// The value the socket has (its handle).
    pub fn handle(&self) -> SOCKET {
        self.handle as SOCKET
    }

    /// Connects this handle (a server instance) and returns the pipe's client end.
    pub fn connect(&self) -> Result<OsEnd, WsaError> {
        // SAFETY: `name` is NUL-terminated and outlives the call; no security attributes or
        // template.
        let client = unsafe {
            CreateFileW(
                self.name.as_ptr(),
                GENERIC_READ_WRITE,
                0,
                core::ptr::null_mut(),
                OPEN_EXISTING,
                0,
                core::ptr::null_mut(),
            )
        };
        if client == INVALID_HANDLE_VALUE {
            return Err(wsa(last_error()));
        }
        let client = OsEnd {
            handle: client,
            name: Vec::new(),
        };
        // The client end is open already, so this returns at once (ERROR_PIPE_CONNECTED).
        // SAFETY: a synchronous call on the owned server handle.
        if unsafe { ConnectNamedPipe(self.handle, core::ptr::null_mut()) } == 0 {
            let e = last_error();
            if e != ERROR_PIPE_CONNECTED {
                return Err(wsa(e));
            }
        }
        Ok(client)
    }

    /// Reads (or with `peek` copies) what is there without waiting: `None` when nothing is,
    /// `Some(0)` at the end of the stream (the other end closed).
    pub fn try_read(&self, buf: &mut [u8], peek: bool) -> Result<Option<usize>, WsaError> {
        let len = buf.len().min(WINDOW as usize) as u32;
        let (mut copied, mut available) = (0u32, 0u32);
        // SAFETY: copies at most `len` bytes into `buf`, live and writable for the call.
        let ok = unsafe {
            PeekNamedPipe(
                self.handle,
                buf.as_mut_ptr().cast(),
                if peek { len } else { 0 },
                &mut copied,
                &mut available,
                core::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return match last_error() {
                ERROR_BROKEN_PIPE => Ok(Some(0)),
                e => Err(wsa(e)),
            };
        }
        if available == 0 {
            return Ok(None);
        }
        if peek {
            return Ok(Some(copied as usize));
        }
        let mut read = 0u32;
        // SAFETY: reads at most `available` bytes (already in the pipe, so it does not wait)
        // into `buf`, live and writable for the call; synchronous.
        let ok = unsafe {
            ReadFile(
                self.handle,
                buf.as_mut_ptr().cast(),
                len.min(available),
                &mut read,
                core::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return match last_error() {
                ERROR_BROKEN_PIPE => Ok(Some(0)),
                e => Err(wsa(e)),
            };
        }
        Ok(Some(read as usize))
    }

    /// Writes what fits in the pipe now (what `peer`, the other end, has not read yet counts
    /// against the window), without waiting: 0 when nothing fits.
    pub fn try_write(&self, data: &[u8], peer: &OsEnd) -> Result<usize, WsaError> {
        let room = (WINDOW as usize).saturating_sub(peer.available());
        let len = room.min(data.len()) as u32;
        if len == 0 {
            return Ok(0);
        }
        let mut written = 0u32;
        // SAFETY: writes `len` bytes from `data`, live for the call; they fit in the pipe, so
        // the synchronous call does not wait.
        let ok = unsafe {
            WriteFile(
                self.handle,
                data.as_ptr().cast(),
                len,
                &mut written,
                core::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(wsa(last_error()));
        }
        Ok(written as usize)
    }

    /// Bytes waiting to be read.
    pub fn available(&self) -> usize {
        let mut available = 0u32;
        // SAFETY: only queries the pipe; no buffer.
        let ok = unsafe {
            PeekNamedPipe(
                self.handle,
                core::ptr::null_mut(),
                0,
                core::ptr::null_mut(),
                &mut available,
                core::ptr::null_mut(),
            )
        };
        if ok == 0 {
            0
        } else {
            available as usize
        }
    }

    /// No more data from this end. A pipe has no half-close: the provider's own state carries
    /// the end of the stream to the peer's `recv` (a `ReadFile` sees it when the socket closes).
    pub fn finish(&self) {}
}

impl Drop for OsEnd {
    fn drop(&mut self) {
        // SAFETY: the handle is owned by this value and closed once.
        unsafe { CloseHandle(self.handle) };
    }
}
