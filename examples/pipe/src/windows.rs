//! Windows: every socket is a named-pipe handle.
//!
//! `socket()` creates a pipe server instance on a private, unique name
//! (`\\.\pipe\wsp-pipe-<pid>-<n>`, one instance, message-type writes read as a byte stream);
//! that handle is the socket. Names bound by the application live in an in-process registry
//! that maps each name to its listener. `connect(name)` finds the listener (none, not
//! listening, or a full backlog is `WSAECONNREFUSED`), opens the client end of the connecting
//! socket's private pipe and queues it on the listener: `accept` hands that handle out as the
//! new socket. Both ends are then real pipe handles: `WriteFile` on one is `ReadFile` on the
//! other.
//!
//! Handles are opened for overlapped I/O, as Winsock sockets are, so that a thread blocked
//! reading a socket does not hold up another thread writing it. The provider's own reads and
//! writes are overlapped operations that also wait for the socket's close event, so
//! `closesocket` cancels them whenever it comes. (An application's `ReadFile`/`WriteFile`
//! with a null `OVERLAPPED` still works: the system waits for the operation to finish.)
//!
//! `shutdown(SD_SEND)` writes a zero-length message: the peer's `ReadFile` returns 0 bytes,
//! which its `recv` reports as the end of the stream (the two ends share a flag, so a
//! zero-length write of the application's own is not mistaken for it). Receive shutdown only
//! makes later `recv` calls fail with `WSAESHUTDOWN`. Receives and `FIONREAD` ask the pipe
//! (`PeekNamedPipe` of the socket's own handle); a non-blocking receive whose read does not
//! finish at once (another receive took the bytes first) cancels it and fails with
//! `WSAEWOULDBLOCK`.
//!
//! # Readiness
//!
//! Both ends of a connection are in this process, so the provider tracks what moves between
//! them instead of asking the pipe: the connection counts, per direction, the bytes its sends
//! wrote that its receives have not read, and knows each end's send shutdown and close.
//! `readiness` answers from that alone (it does not call the system): `READ` while bytes are
//! counted toward the socket, `CLOSE` once none are and the peer shut down sending or closed,
//! `WRITE` while fewer than the pipe's 64 KiB are counted toward the peer (or the peer is gone),
//! `ACCEPT` while a listener has a connection queued. The calls that change it signal it:
//! `send` signals the peer's `READ` after each part it writes (a send writes at most a pipe
//! buffer at a time, so a large blocking send announces its first bytes as soon as they are in
//! the pipe), `recv` the peer's `WRITE` (room) and the socket's own `CLOSE` when it read the last
//! byte before the end, `shutdown(SD_SEND)` and the close of an end's last socket the peer's
//! `CLOSE` (or `READ` while bytes are unread), `connect` the listener's `ACCEPT`. A non-blocking
//! send writes only what fits by the same count.
//!
//! A send counts its bytes and issues its write under one lock, and a receive or `FIONREAD`
//! asks the pipe under that lock and sets the count toward its socket to what the pipe holds:
//! the count is exact for the provider's own sends and receives, and the application's own
//! `ReadFile`/`WriteFile` on the handle (which still work, interleaved with `send` and `recv`)
//! are taken into account at the socket's next receive or `FIONREAD`. Until then readiness
//! does not see bytes the application wrote with `WriteFile` (a blocking `recv` receives them;
//! `select` does not announce them), and may still announce bytes the application read with
//! `ReadFile` (a non-blocking `recv` then fails with `WSAEWOULDBLOCK`, which resets the count).
//! A connection shared with another process (`WSADuplicateSocket` for another process) is not
//! counted there: the readiness of its sockets in this process asks the pipe
//! (`PeekNamedPipe` of the socket's own handle) for the bytes toward them, and only this
//! process's calls signal.

use crate::Wait;
use core::ffi::c_void;
use core::num::NonZeroU32;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use winsock_provider::{sys::SOCKET, Notifier, Ready, Shutdown, WsaError};

type Handle = *mut c_void;
type Bool = i32;

/// `OVERLAPPED` (x86 and x86-64 layout).
#[repr(C)]
struct Overlapped {
    internal: usize,
    internal_high: usize,
    offset: u32,
    offset_high: u32,
    event: Handle,
}

const INVALID_HANDLE_VALUE: Handle = -1isize as Handle;
const PIPE_ACCESS_DUPLEX: u32 = 0x0000_0003;
const FILE_FLAG_FIRST_PIPE_INSTANCE: u32 = 0x0008_0000;
const FILE_FLAG_OVERLAPPED: u32 = 0x4000_0000;
const PIPE_TYPE_MESSAGE: u32 = 0x0000_0004;
const PIPE_READMODE_BYTE: u32 = 0x0000_0000;
const PIPE_WAIT: u32 = 0x0000_0000;
const PIPE_REJECT_REMOTE_CLIENTS: u32 = 0x0000_0008;
const GENERIC_READ: u32 = 0x8000_0000;
const GENERIC_WRITE: u32 = 0x4000_0000;
const OPEN_EXISTING: u32 = 3;
const INFINITE: u32 = 0xFFFF_FFFF;
const WAIT_OBJECT_0: u32 = 0;

const PROCESS_DUP_HANDLE: u32 = 0x0040;
const DUPLICATE_SAME_ACCESS: u32 = 0x0000_0002;
const DUPLICATE_CLOSE_SOURCE: u32 = 0x0000_0001;
const FILE_TYPE_PIPE: u32 = 3;

const ERROR_FILE_NOT_FOUND: u32 = 2;
const ERROR_ACCESS_DENIED: u32 = 5;
const ERROR_NOT_ENOUGH_MEMORY: u32 = 8;
const ERROR_OUTOFMEMORY: u32 = 14;
const ERROR_BROKEN_PIPE: u32 = 109;
const ERROR_PIPE_BUSY: u32 = 231;
const ERROR_NO_DATA: u32 = 232;
const ERROR_PIPE_NOT_CONNECTED: u32 = 233;
const ERROR_MORE_DATA: u32 = 234;
const ERROR_PIPE_CONNECTED: u32 = 535;
const ERROR_PIPE_LISTENING: u32 = 536;
const ERROR_OPERATION_ABORTED: u32 = 995;
const ERROR_IO_PENDING: u32 = 997;
const ERROR_NO_SYSTEM_RESOURCES: u32 = 1450;

/// Pipe buffer size suggested to the system, each direction.
const PIPE_BUFFER: u32 = 64 * 1024;
/// The largest single `ReadFile`/`WriteFile`.
const MAX_IO: usize = 1 << 30;
/// Poll interval of a blocking `MSG_PEEK` receive.
const PEEK_POLL_MS: u32 = 5;

#[link(name = "kernel32")]
extern "system" {
    fn CreateNamedPipeW(
        name: *const u16,
        open_mode: u32,
        pipe_mode: u32,
        max_instances: u32,
        out_buffer_size: u32,
        in_buffer_size: u32,
        default_timeout: u32,
        security: *mut c_void,
    ) -> Handle;
    fn CreateFileW(
        name: *const u16,
        access: u32,
        share_mode: u32,
        security: *mut c_void,
        disposition: u32,
        flags: u32,
        template: Handle,
    ) -> Handle;
    fn ConnectNamedPipe(pipe: Handle, overlapped: *mut Overlapped) -> Bool;
    fn ReadFile(
        file: Handle,
        buffer: *mut c_void,
        len: u32,
        read: *mut u32,
        overlapped: *mut Overlapped,
    ) -> Bool;
    fn WriteFile(
        file: Handle,
        buffer: *const c_void,
        len: u32,
        written: *mut u32,
        overlapped: *mut Overlapped,
    ) -> Bool;
    fn GetOverlappedResult(
        file: Handle,
        overlapped: *mut Overlapped,
        transferred: *mut u32,
        wait: Bool,
    ) -> Bool;
    fn PeekNamedPipe(
        pipe: Handle,
        buffer: *mut c_void,
        len: u32,
        read: *mut u32,
        available: *mut u32,
        left_this_message: *mut u32,
    ) -> Bool;
    fn CreateEventW(
        security: *mut c_void,
        manual_reset: Bool,
        initial_state: Bool,
        name: *const u16,
    ) -> Handle;
    fn SetEvent(event: Handle) -> Bool;
    fn WaitForMultipleObjects(count: u32, handles: *const Handle, wait_all: Bool, ms: u32) -> u32;
    fn CancelIoEx(file: Handle, overlapped: *mut Overlapped) -> Bool;
    fn CloseHandle(handle: Handle) -> Bool;
    fn GetCurrentProcess() -> Handle;
    fn GetCurrentProcessId() -> u32;
    fn OpenProcess(access: u32, inherit: Bool, process_id: u32) -> Handle;
    fn DuplicateHandle(
        source_process: Handle,
        source: Handle,
        target_process: Handle,
        target: *mut Handle,
        access: u32,
        inherit: Bool,
        options: u32,
    ) -> Bool;
    fn GetFileType(file: Handle) -> u32;
    fn GetLastError() -> u32;
    fn Sleep(ms: u32);
}

fn last_error() -> u32 {
    // SAFETY: reads the calling thread's last-error value; no arguments.
    unsafe { GetLastError() }
}

/// What a call that starts an overlapped operation did, from its result: `Ok(true)` pending,
/// `Ok(false)` finished at once, `Err` failed (the Win32 error).
fn issued(ok: Bool) -> Result<bool, u32> {
    if ok != 0 {
        return Ok(false);
    }
    match last_error() {
        ERROR_IO_PENDING => Ok(true),
        e => Err(e),
    }
}

/// Maps a Win32 error to the WSA code Winsock reports for the same condition.
fn wsa_error(e: u32) -> WsaError {
    match e {
        ERROR_BROKEN_PIPE | ERROR_NO_DATA => WsaError::CONNRESET,
        ERROR_PIPE_NOT_CONNECTED | ERROR_PIPE_LISTENING => WsaError::NOTCONN,
        ERROR_OPERATION_ABORTED => WsaError::INTR,
        ERROR_NOT_ENOUGH_MEMORY | ERROR_OUTOFMEMORY | ERROR_NO_SYSTEM_RESOURCES => WsaError::NOBUFS,
        ERROR_FILE_NOT_FOUND | ERROR_PIPE_BUSY => WsaError::CONNREFUSED,
        ERROR_ACCESS_DENIED => WsaError::ACCES,
        _ => WsaError::NETDOWN,
    }
}

/// An owned kernel handle, closed on drop.
struct OwnedHandle(Handle);

// SAFETY: a kernel handle is a process-wide value usable from any thread.
unsafe impl Send for OwnedHandle {}
// SAFETY: as above; every use goes through thread-safe kernel calls.
unsafe impl Sync for OwnedHandle {}

impl OwnedHandle {
    /// A new manual-reset event, not signalled.
    fn event() -> Result<OwnedHandle, WsaError> {
        // SAFETY: no security attributes, no name.
        let event = unsafe { CreateEventW(core::ptr::null_mut(), 1, 0, core::ptr::null()) };
        if event.is_null() {
            return Err(WsaError::NOBUFS);
        }
        Ok(OwnedHandle(event))
    }
}

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        // SAFETY: the handle is owned by this value and closed exactly once, here.
        unsafe { CloseHandle(self.0) };
    }
}

/// One socket of a connection's end: its pipe handle and where its readiness is signalled.
struct End {
    handle: usize,
    notifier: Notifier,
}

/// What both ends of one connection share (index 0: the connecting socket, 1: the accepted
/// one): whether each end has shut down sending, each end's sockets while they are open
/// (several when a socket was duplicated in this process), and the bytes on their way to each
/// end, from which readiness is told.
struct Conn {
    shut: [AtomicBool; 2],
    /// A socket removes its handle (under the lock) in its `close` or drop, before the handle
    /// is closed.
    ends: [Mutex<Vec<End>>; 2],
    /// An end is (or may be) in another process, where the shared flags cannot be seen: a
    /// zero-length message is then always the end of the stream.
    foreign: AtomicBool,
    /// Bytes the provider's sends wrote toward each end that its receives have not read yet.
    queued: Mutex<[usize; 2]>,
}

impl Conn {
    fn new(ends: [Vec<End>; 2], foreign: bool) -> Arc<Conn> {
        let [a, b] = ends;
        Arc::new(Conn {
            shut: [AtomicBool::new(false), AtomicBool::new(false)],
            ends: [Mutex::new(a), Mutex::new(b)],
            foreign: AtomicBool::new(foreign),
            queued: Mutex::new([0, 0]),
        })
    }

    fn end(&self, side: usize) -> MutexGuard<'_, Vec<End>> {
        self.ends[side].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn queued(&self) -> MutexGuard<'_, [usize; 2]> {
        self.queued.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Signals `ready` to every socket of end `side`.
    fn signal(&self, side: usize, ready: Ready) {
        for end in self.end(side).iter() {
            end.notifier.ready(ready);
        }
    }

    /// Whether end `side` has no socket left in this process (and none elsewhere).
    fn gone(&self, side: usize) -> bool {
        !self.foreign.load(Ordering::SeqCst) && self.end(side).is_empty()
    }

    /// What end `side` can tell of the stream toward it once the bytes queued are read: the end
    /// of the stream when the other end shut down sending or is gone.
    fn ended(&self, side: usize) -> bool {
        self.shut[1 - side].load(Ordering::SeqCst) || self.gone(1 - side)
    }
}

#[derive(Default)]
struct Queue {
    listening: bool,
    closed: bool,
    backlog: usize,
    /// Connections waiting for `accept`: the accepted sockets, ready made.
    pending: VecDeque<(Socket, Vec<u8>)>,
    /// The listening socket's notifier (`ACCEPT` is signalled through it).
    notifier: Notifier,
}

/// A bound name: its accept queue once the socket listens.
#[derive(Default)]
struct Binding {
    queue: Mutex<Queue>,
    ready: Condvar,
}

impl Binding {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Bound names of this process.
static REGISTRY: Mutex<Option<HashMap<Vec<u8>, Arc<Binding>>>> = Mutex::new(None);

fn registry() -> MutexGuard<'static, Option<HashMap<Vec<u8>, Arc<Binding>>>> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

static PIPE_COUNTER: AtomicU32 = AtomicU32::new(0);
static AUTO_NAMES: AtomicU32 = AtomicU32::new(0);

enum Phase {
    Idle,
    Listening,
    Connected {
        conn: Arc<Conn>,
        side: usize,
        peer: Vec<u8>,
    },
}

struct State {
    /// The name this socket bound, and its registry entry.
    binding: Option<(Vec<u8>, Arc<Binding>)>,
    /// The local name reported by `getsockname` (the listener's, for accepted sockets).
    local: Option<Vec<u8>>,
    phase: Phase,
}

/// Nothing to watch on Windows (the calls that change a socket's state signal it, see the
/// module's documentation); the type keeps the provider's code the same on every system.
#[derive(Default)]
pub(crate) struct Watcher;

impl Watcher {
    /// The provider's last clean-up: nothing to stop.
    pub(crate) fn stop(&self) {}
}

/// One socket: its pipe handle (owned; closed when the socket is dropped) and its state.
pub(crate) struct Socket {
    handle: OwnedHandle,
    /// Signalled by `close`: every wait of the socket's I/O also waits for it.
    closing: OwnedHandle,
    /// The private pipe name of a socket created by `socket()` (UTF-16, NUL-terminated).
    pipe_name: Option<Vec<u16>>,
    state: Mutex<State>,
    closed: AtomicBool,
    shut_send: AtomicBool,
    shut_recv: AtomicBool,
    /// Other handles of this process may refer to the same pipe end (the socket was
    /// duplicated, or rebuilt from a duplicate): `close` must not cancel all I/O on it.
    shared: AtomicBool,
    /// Where the socket's readiness is signalled (from `Provider::attached`).
    notifier: Mutex<Notifier>,
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(Some(0)).collect()
}

impl Socket {
    /// Listening or connected: nothing to watch (the calls that change the state signal it).
    pub(crate) fn start_watching(&self, _: &Watcher) -> Result<(), WsaError> {
        Ok(())
    }

    /// After a receive or an accept: nothing to re-arm (the calls that change the state
    /// signal it).
    pub(crate) fn rearm_read(&self) {}

    /// After a send: nothing to re-arm (the peer's receives signal room).
    pub(crate) fn rearm_write(&self) {}

    /// `Provider::attached`: keeps the socket's notifier, for the signals of its own calls and
    /// of its peer's (an accepted or rebuilt socket is connected already).
    pub(crate) fn attach(&self, _: &Watcher, notifier: Notifier) -> Result<(), WsaError> {
        *self.notifier.lock().unwrap_or_else(|e| e.into_inner()) = notifier.clone();
        let state = self.state();
        match &state.phase {
            Phase::Connected { conn, side, .. } => {
                let handle = self.handle.0 as usize;
                for end in conn.end(*side).iter_mut() {
                    if end.handle == handle {
                        end.notifier = notifier.clone();
                    }
                }
            }
            Phase::Listening => {
                if let Some((_, binding)) = &state.binding {
                    binding.queue().notifier = notifier;
                }
            }
            Phase::Idle => {}
        }
        Ok(())
    }

    fn notifier(&self) -> Notifier {
        self.notifier
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The socket's readiness now: `ACCEPT` for a listener with a connection queued; for a
    /// connection `READ` while bytes sent by the peer's `send` are unread, `CLOSE` once none
    /// are and the peer shut down sending or is gone, `WRITE` while the pipe toward the peer
    /// has room (or the peer is gone: a send fails at once). Nothing otherwise. Never waits;
    /// calls the system only for a connection shared with another process.
    pub(crate) fn readiness(&self) -> Ready {
        if self.closed.load(Ordering::Relaxed) {
            return Ready::NONE;
        }
        let (conn, side) = {
            let state = self.state();
            match (&state.phase, &state.binding) {
                (Phase::Listening, Some((_, binding))) => {
                    return if binding.queue().pending.is_empty() {
                        Ready::NONE
                    } else {
                        Ready::ACCEPT
                    };
                }
                (Phase::Connected { conn, side, .. }, _) => (conn.clone(), *side),
                _ => return Ready::NONE,
            }
        };
        let foreign = conn.foreign.load(Ordering::SeqCst);
        if foreign {
            // The other process's sends and receives are not counted: ask the pipe for the
            // bytes toward this end; a send there may wait, as it cannot see the peer's room.
            if let Ok(None) = self.available(&conn, side) {
                return Ready::CLOSE | Ready::WRITE;
            }
        }
        let queued = *conn.queued();
        let mut ready = Ready::NONE;
        if queued[side] > 0 {
            ready |= Ready::READ;
        } else if conn.ended(side) {
            ready |= Ready::CLOSE;
        }
        if queued[1 - side] < PIPE_BUFFER as usize || foreign || conn.gone(1 - side) {
            ready |= Ready::WRITE;
        }
        ready
    }

    /// A new, unbound socket: a fresh pipe server instance on a private name.
    pub(crate) fn new() -> Result<Socket, WsaError> {
        for _ in 0..16 {
            let n = PIPE_COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = wide(&format!(r"\\.\pipe\wsp-pipe-{}-{}", std::process::id(), n));
            // SAFETY: a NUL-terminated UTF-16 name and no security attributes.
            let handle = unsafe {
                CreateNamedPipeW(
                    name.as_ptr(),
                    PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE | FILE_FLAG_OVERLAPPED,
                    PIPE_TYPE_MESSAGE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                    1,
                    PIPE_BUFFER,
                    PIPE_BUFFER,
                    0,
                    core::ptr::null_mut(),
                )
            };
            if handle != INVALID_HANDLE_VALUE {
                return Socket::from_handle(OwnedHandle(handle), Some(name), None, Phase::Idle);
            }
            match last_error() {
                // The name exists (left by someone else): try the next one.
                ERROR_ACCESS_DENIED | ERROR_PIPE_BUSY => continue,
                ERROR_NOT_ENOUGH_MEMORY | ERROR_OUTOFMEMORY | ERROR_NO_SYSTEM_RESOURCES => {
                    return Err(WsaError::NOBUFS)
                }
                _ => return Err(WsaError::MFILE),
            }
        }
        Err(WsaError::MFILE)
    }

    fn from_handle(
        handle: OwnedHandle,
        pipe_name: Option<Vec<u16>>,
        local: Option<Vec<u8>>,
        phase: Phase,
    ) -> Result<Socket, WsaError> {
        Ok(Socket {
            handle,
            closing: OwnedHandle::event()?,
            pipe_name,
            state: Mutex::new(State {
                binding: None,
                local,
                phase,
            }),
            closed: AtomicBool::new(false),
            shut_send: AtomicBool::new(false),
            shut_recv: AtomicBool::new(false),
            shared: AtomicBool::new(false),
            notifier: Mutex::new(Notifier::detached()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pipe handle, as a `SOCKET` value.
    pub(crate) fn os_handle(&self) -> SOCKET {
        self.handle.0 as SOCKET
    }

    pub(crate) fn is_listening(&self) -> bool {
        matches!(self.state().phase, Phase::Listening)
    }

    pub(crate) fn send_shut(&self) -> bool {
        self.shut_send.load(Ordering::Relaxed)
    }

    pub(crate) fn recv_shut(&self) -> bool {
        self.shut_recv.load(Ordering::Relaxed)
    }

    fn io_error(&self, e: u32) -> WsaError {
        if self.closed.load(Ordering::Relaxed) {
            WsaError::INTR
        } else {
            wsa_error(e)
        }
    }

    /// Runs one overlapped operation on the socket's handle and waits for it, or for the
    /// socket's close (which cancels it): the bytes transferred, or the Win32 error. With
    /// `Wait::No` an operation that does not finish at once is cancelled at once (it fails
    /// with `ERROR_OPERATION_ABORTED` unless it finished meanwhile).
    ///
    /// `start` issues the operation with the `OVERLAPPED` given (and a null byte count) and
    /// tells what the call did ([`issued`]); it returns before the wait begins.
    fn overlapped(
        &self,
        wait: Wait,
        start: impl FnOnce(*mut Overlapped) -> Result<bool, u32>,
    ) -> Result<u32, u32> {
        let event = OwnedHandle::event().map_err(|_| ERROR_NOT_ENOUGH_MEMORY)?;
        let mut ov = Overlapped {
            internal: 0,
            internal_high: 0,
            offset: 0,
            offset_high: 0,
            event: event.0,
        };
        if start(&mut ov)? {
            let waits = [event.0, self.closing.0];
            let ms = if wait == Wait::Yes { INFINITE } else { 0 };
            // SAFETY: two live event handles.
            let woke = unsafe { WaitForMultipleObjects(2, waits.as_ptr(), 0, ms) };
            if woke != WAIT_OBJECT_0 {
                // SAFETY: cancels this operation (its OVERLAPPED is live until it completes).
                unsafe { CancelIoEx(self.handle.0, &mut ov) };
            }
        }
        let mut done = 0u32;
        // Wait for the operation to complete (or to be cancelled): the OVERLAPPED and the
        // buffer must outlive it.
        // SAFETY: the OVERLAPPED of an operation issued on this handle; waits for it.
        if unsafe { GetOverlappedResult(self.handle.0, &mut ov, &mut done, 1) } == 0 {
            return Err(last_error());
        }
        Ok(done)
    }

    /// Writes from `buf` (at most `MAX_IO` bytes) and waits: the bytes written.
    fn write(&self, buf: &[u8]) -> Result<usize, WsaError> {
        let len = buf.len().min(MAX_IO) as u32;
        let r = self.overlapped(Wait::Yes, |ov| {
            // SAFETY: writes from a live slice of at least `len` bytes; `overlapped` waits for
            // the operation before the slice can go away.
            issued(unsafe {
                WriteFile(
                    self.handle.0,
                    buf.as_ptr() as *const c_void,
                    len,
                    core::ptr::null_mut(),
                    ov,
                )
            })
        });
        r.map(|n| n as usize).map_err(|e| self.io_error(e))
    }

    /// Binds `name`; an empty name binds a fresh unique one.
    pub(crate) fn bind(&self, name: &[u8]) -> Result<(), WsaError> {
        let mut state = self.state();
        if state.binding.is_some() || state.local.is_some() || !matches!(state.phase, Phase::Idle) {
            return Err(WsaError::INVAL);
        }
        let mut names = registry();
        let map = names.get_or_insert_with(HashMap::new);
        let name = if name.is_empty() {
            loop {
                let n = AUTO_NAMES.fetch_add(1, Ordering::Relaxed);
                let candidate = format!("{:05x}", n).into_bytes();
                if !map.contains_key(&candidate) {
                    break candidate;
                }
            }
        } else if map.contains_key(name) {
            return Err(WsaError::ADDRINUSE);
        } else {
            name.to_vec()
        };
        let binding = Arc::new(Binding::default());
        map.insert(name.clone(), binding.clone());
        state.local = Some(name.clone());
        state.binding = Some((name, binding));
        Ok(())
    }

    pub(crate) fn listen(&self, backlog: i32) -> Result<(), WsaError> {
        let mut state = self.state();
        match state.phase {
            Phase::Connected { .. } => return Err(WsaError::ISCONN),
            Phase::Idle | Phase::Listening => {}
        }
        let binding = match &state.binding {
            Some((_, binding)) => binding.clone(),
            None => return Err(WsaError::INVAL),
        };
        let mut queue = binding.queue();
        queue.listening = true;
        queue.backlog = backlog.max(1) as usize;
        queue.notifier = self.notifier();
        drop(queue);
        state.phase = Phase::Listening;
        Ok(())
    }

    /// Takes a connection: the new socket and the peer's name.
    pub(crate) fn accept(&self, wait: Wait) -> Result<(Socket, Vec<u8>), WsaError> {
        let binding = {
            let state = self.state();
            match (&state.phase, &state.binding) {
                (Phase::Listening, Some((_, binding))) => binding.clone(),
                _ => return Err(WsaError::INVAL),
            }
        };
        let mut queue = binding.queue();
        loop {
            if queue.closed || self.closed.load(Ordering::Relaxed) {
                return Err(WsaError::INTR);
            }
            if let Some(pending) = queue.pending.pop_front() {
                return Ok(pending);
            }
            if wait == Wait::No {
                return Err(WsaError::WOULDBLOCK);
            }
            queue = binding.ready.wait(queue).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Connects to `name`: completes at once, or is refused (no listener, or its backlog is
    /// full).
    pub(crate) fn connect(&self, name: &[u8]) -> Result<(), WsaError> {
        let mut state = self.state();
        match state.phase {
            Phase::Idle => {}
            Phase::Listening => return Err(WsaError::INVAL),
            Phase::Connected { .. } => return Err(WsaError::ISCONN),
        }
        let pipe_name = match &self.pipe_name {
            Some(p) => p,
            None => return Err(WsaError::ISCONN),
        };
        let target = registry().as_ref().and_then(|m| m.get(name).cloned());
        let target = match target {
            Some(t) => t,
            None => return Err(WsaError::CONNREFUSED),
        };
        let mut queue = target.queue();
        if !queue.listening || queue.closed || queue.pending.len() >= queue.backlog {
            return Err(WsaError::CONNREFUSED);
        }
        // SAFETY: a NUL-terminated UTF-16 name, no security attributes, no template.
        let client = unsafe {
            CreateFileW(
                pipe_name.as_ptr(),
                GENERIC_READ | GENERIC_WRITE,
                0,
                core::ptr::null_mut(),
                OPEN_EXISTING,
                FILE_FLAG_OVERLAPPED,
                core::ptr::null_mut(),
            )
        };
        if client == INVALID_HANDLE_VALUE {
            return Err(match wsa_error(last_error()) {
                WsaError::NOBUFS => WsaError::NOBUFS,
                _ => WsaError::NETDOWN,
            });
        }
        let client = OwnedHandle(client);
        // The client end is open already, so this completes at once (ERROR_PIPE_CONNECTED).
        match self.overlapped(Wait::Yes, |ov| {
            // SAFETY: the socket's own server handle, and the OVERLAPPED `overlapped` provides.
            issued(unsafe { ConnectNamedPipe(self.handle.0, ov) })
        }) {
            Ok(_) | Err(ERROR_PIPE_CONNECTED) => {}
            Err(e) => return Err(self.io_error(e)),
        }
        let ends = [
            vec![End {
                handle: self.handle.0 as usize,
                notifier: self.notifier(),
            }],
            vec![End {
                handle: client.0 as usize,
                notifier: Notifier::detached(),
            }],
        ];
        let conn = Conn::new(ends, false);
        let me = state.local.clone().unwrap_or_default();
        let phase = Phase::Connected {
            conn: conn.clone(),
            side: 1,
            peer: me.clone(),
        };
        let accepted = Socket::from_handle(client, None, Some(name.to_vec()), phase)?;
        queue.pending.push_back((accepted, me));
        queue.notifier.ready(Ready::ACCEPT);
        drop(queue);
        target.ready.notify_all();
        state.phase = Phase::Connected {
            conn,
            side: 0,
            peer: name.to_vec(),
        };
        Ok(())
    }

    fn connection(&self) -> Result<(Arc<Conn>, usize), WsaError> {
        match &self.state().phase {
            Phase::Connected { conn, side, .. } => Ok((conn.clone(), *side)),
            _ => Err(WsaError::NOTCONN),
        }
    }

    /// Room left in the pipe toward the peer: its buffer less what the provider's sends put
    /// there that the peer has not received yet.
    fn room(conn: &Conn, side: usize) -> usize {
        (PIPE_BUFFER as usize).saturating_sub(conn.queued()[1 - side])
    }

    /// Sends from `buf`: all of it when waiting, else what fits in the pipe now
    /// (`WSAEWOULDBLOCK` if nothing does). Writes at most a pipe buffer at a time, and
    /// signals the peer's `READ` as soon as each part is in the pipe.
    pub(crate) fn send(&self, buf: &[u8], wait: Wait) -> Result<usize, WsaError> {
        let (conn, side) = self.connection()?;
        let mut buf = buf;
        if wait == Wait::No && !conn.gone(1 - side) && !conn.foreign.load(Ordering::SeqCst) {
            match Socket::room(&conn, side) {
                0 => return Err(WsaError::WOULDBLOCK),
                room => buf = &buf[..buf.len().min(room)],
            }
        }
        let mut done = 0;
        while done < buf.len() {
            let part = &buf[done..buf.len().min(done + PIPE_BUFFER as usize)];
            let len = part.len() as u32;
            // The part is counted while the write is issued, under the lock: whoever holds it
            // finds the pipe holding every byte counted (see `Socket::available`).
            let result = self.overlapped(Wait::Yes, |ov| {
                let mut queued = conn.queued();
                queued[1 - side] += part.len();
                // SAFETY: writes from a live slice of `len` bytes; `overlapped` waits for the
                // operation before the slice can go away.
                let r = issued(unsafe {
                    WriteFile(
                        self.handle.0,
                        part.as_ptr() as *const c_void,
                        len,
                        core::ptr::null_mut(),
                        ov,
                    )
                });
                if r.is_err() {
                    queued[1 - side] -= part.len();
                }
                r
            });
            let n = *result.as_ref().unwrap_or(&0) as usize;
            if n < part.len() && result.is_ok() {
                let mut queued = conn.queued();
                queued[1 - side] = queued[1 - side].saturating_sub(part.len() - n);
            }
            if n > 0 {
                conn.signal(1 - side, Ready::READ);
            }
            match result {
                Ok(_) => done += n,
                // What was sent before the peer went away is reported; a close fails the call.
                Err(_) if done > 0 && !self.closed.load(Ordering::Relaxed) => break,
                Err(e) => return Err(self.io_error(e)),
            }
        }
        Ok(done)
    }

    /// After a receive of `n` bytes: counts them off the bytes queued toward this end, and
    /// signals the room freed to the peer, and the end of the stream to this socket when it
    /// read the last byte before it.
    fn received(&self, conn: &Conn, side: usize, n: usize) {
        let left = {
            let mut queued = conn.queued();
            queued[side] = queued[side].saturating_sub(n);
            queued[side]
        };
        if n > 0 {
            conn.signal(1 - side, Ready::WRITE);
        }
        if left == 0 && conn.ended(side) {
            self.notifier().ready(Ready::CLOSE);
        }
    }

    /// Bytes waiting in the pipe toward this end, or `None` at the end of the stream (broken
    /// pipe). The count of bytes queued toward this end is set to what the pipe holds: the
    /// pipe is asked under the count's lock, so no send of the provider is then between
    /// counting its bytes and writing them, and the count loses what the application's own
    /// `ReadFile` took and gains what its `WriteFile` put there.
    fn available(&self, conn: &Conn, side: usize) -> Result<Option<usize>, WsaError> {
        let mut queued = conn.queued();
        let mut avail = 0u32;
        // SAFETY: PeekNamedPipe without a buffer, only the count.
        let ok = unsafe {
            PeekNamedPipe(
                self.handle.0,
                core::ptr::null_mut(),
                0,
                core::ptr::null_mut(),
                &mut avail,
                core::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return match last_error() {
                ERROR_BROKEN_PIPE | ERROR_NO_DATA => {
                    queued[side] = 0;
                    Ok(None)
                }
                e => Err(self.io_error(e)),
            };
        }
        queued[side] = avail as usize;
        Ok(Some(avail as usize))
    }

    /// Receives into `buf`: 0 at the end of the stream; `WSAEWOULDBLOCK` when not waiting and
    /// nothing is there.
    pub(crate) fn recv(&self, buf: &mut [u8], wait: Wait, peek: bool) -> Result<usize, WsaError> {
        let (conn, side) = self.connection()?;
        let peer_shut = || conn.shut[1 - side].load(Ordering::SeqCst);
        // A zero-length message from a peer that may be in another process: its shutdown,
        // remembered so that later receives see the end of the stream too.
        let foreign_end = || {
            let foreign = conn.foreign.load(Ordering::SeqCst);
            if foreign {
                conn.shut[1 - side].store(true, Ordering::SeqCst);
            }
            foreign
        };
        let len = buf.len().min(MAX_IO) as u32;
        loop {
            if self.closed.load(Ordering::Relaxed) {
                return Err(WsaError::INTR);
            }
            let avail = match self.available(&conn, side)? {
                None => return Ok(0),
                Some(n) => n,
            };
            if avail == 0 {
                if peer_shut() {
                    return Ok(0);
                }
                if wait == Wait::No {
                    return Err(WsaError::WOULDBLOCK);
                }
                if peek {
                    // SAFETY: plain sleep.
                    unsafe { Sleep(PEEK_POLL_MS) };
                    continue;
                }
            }
            let got = if peek {
                let mut got = 0u32;
                // SAFETY: peeks into a live, writable slice of `len` bytes.
                let ok = unsafe {
                    PeekNamedPipe(
                        self.handle.0,
                        buf.as_mut_ptr() as *mut c_void,
                        len,
                        &mut got,
                        core::ptr::null_mut(),
                        core::ptr::null_mut(),
                    )
                };
                if ok == 0 {
                    Err(last_error())
                } else {
                    Ok(got)
                }
            } else {
                let ptr = buf.as_mut_ptr() as *mut c_void;
                self.overlapped(wait, |ov| {
                    // SAFETY: reads into a live, writable slice of `len` bytes; `overlapped`
                    // waits for the operation before the slice can go away.
                    issued(unsafe { ReadFile(self.handle.0, ptr, len, core::ptr::null_mut(), ov) })
                })
            };
            match got {
                Ok(0) => {}
                Ok(n) if peek => return Ok(n as usize),
                Ok(n) => {
                    self.received(&conn, side, n as usize);
                    return Ok(n as usize);
                }
                Err(ERROR_BROKEN_PIPE) | Err(ERROR_NO_DATA) => return Ok(0),
                // Byte-mode reads do not report it, but a message-mode peer might.
                Err(ERROR_MORE_DATA) => return Ok(buf.len().min(len as usize)),
                // Not waiting, and someone else (another receive, or the application's own
                // `ReadFile`) took what was there.
                Err(ERROR_OPERATION_ABORTED)
                    if wait == Wait::No && !self.closed.load(Ordering::Relaxed) =>
                {
                    return Err(WsaError::WOULDBLOCK)
                }
                Err(e) => return Err(self.io_error(e)),
            }
            // A zero-length message: the peer's send shutdown when the shared flag says so
            // (or the peer may be in another process), else a zero-length write of the
            // application's: read on.
            if peer_shut() || foreign_end() {
                return Ok(0);
            }
        }
    }

    pub(crate) fn shutdown(&self, how: Shutdown) -> Result<(), WsaError> {
        let (conn, side) = self.connection()?;
        if how.receive() {
            self.shut_recv.store(true, Ordering::Relaxed);
        }
        if how.send() && !self.shut_send.swap(true, Ordering::Relaxed) {
            conn.shut[side].store(true, Ordering::SeqCst);
            // A zero-length message wakes a peer blocked in ReadFile (it reads 0 bytes).
            let _ = self.write(&[]);
            Socket::ended(&conn, 1 - side);
        }
        Ok(())
    }

    /// The local name; an unbound socket is `WSAEINVAL` unless it is connected (then unnamed).
    pub(crate) fn local_name(&self) -> Result<Vec<u8>, WsaError> {
        let state = self.state();
        match (&state.local, &state.phase) {
            (Some(name), _) => Ok(name.clone()),
            (None, Phase::Connected { .. }) => Ok(Vec::new()),
            (None, _) => Err(WsaError::INVAL),
        }
    }

    pub(crate) fn peer_name(&self) -> Result<Vec<u8>, WsaError> {
        match &self.state().phase {
            Phase::Connected { peer, .. } => Ok(peer.clone()),
            _ => Err(WsaError::NOTCONN),
        }
    }

    /// Bytes a receive would return now (`FIONREAD`).
    pub(crate) fn readable(&self) -> Result<usize, WsaError> {
        match self.connection() {
            Ok((conn, side)) => Ok(self.available(&conn, side)?.unwrap_or(0)),
            Err(_) => Ok(0),
        }
    }

    /// `SO_ERROR`: no error is ever left pending.
    pub(crate) fn take_error(&self) -> Result<i32, WsaError> {
        Ok(0)
    }

    /// `SO_RCVBUF` or `SO_SNDBUF`: the pipe's buffer size.
    pub(crate) fn buffer_size(&self, _send: bool) -> Result<i32, WsaError> {
        Ok(PIPE_BUFFER as i32)
    }

    /// Setting `SO_RCVBUF` or `SO_SNDBUF`: a pipe's buffers are fixed when it is created.
    pub(crate) fn set_buffer_size(&self, _send: bool, _size: i32) -> Result<(), WsaError> {
        Ok(())
    }

    /// The stream toward end `side` has ended (the other end shut down sending or is gone):
    /// signals `CLOSE` to its sockets if they have read everything sent before, `READ` if not
    /// (`CLOSE` follows the last receive).
    fn ended(conn: &Conn, side: usize) {
        let unread = conn.queued()[side] > 0;
        conn.signal(side, if unread { Ready::READ } else { Ready::CLOSE });
    }

    /// Takes this end's `handle` out of its connection's table, before the handle may be
    /// closed; when it was the end's last socket, the peer learns that the stream ended (and
    /// that a send no longer waits).
    fn leave_connection(state: &State, handle: Handle) {
        if let Phase::Connected { conn, side, .. } = &state.phase {
            let last = {
                let mut end = conn.end(*side);
                let before = end.len();
                end.retain(|e| e.handle != handle as usize);
                before > 0 && end.is_empty()
            };
            if last && !conn.foreign.load(Ordering::SeqCst) {
                Socket::ended(conn, 1 - side);
                conn.signal(1 - side, Ready::WRITE);
            }
        }
    }

    /// `WSPCloseSocket`: frees the bound name, drops queued connections, and wakes every call
    /// blocked on the socket (they fail with `WSAEINTR`). The handle is closed when the socket
    /// is dropped, after the last call using it has returned.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        // SAFETY: the socket's own event; from now on every wait of its I/O ends at once.
        unsafe { SetEvent(self.closing.0) };
        let binding = {
            let mut state = self.state();
            Socket::leave_connection(&state, self.handle.0);
            state.binding.take()
        };
        if let Some((name, binding)) = binding {
            let mut names = registry();
            if let Some(map) = names.as_mut() {
                if map.get(&name).map_or(false, |b| Arc::ptr_eq(b, &binding)) {
                    map.remove(&name);
                }
            }
            drop(names);
            let pending = {
                let mut queue = binding.queue();
                queue.closed = true;
                core::mem::take(&mut queue.pending)
            };
            binding.ready.notify_all();
            drop(pending);
        }
        // The provider's own operations were cancelled one by one (they wait for `closing`).
        // A shared socket's other handles refer to the same pipe end, whose I/O a blanket
        // cancel would end too.
        if !self.shared.load(Ordering::Relaxed) {
            // SAFETY: cancels any other I/O pending on the socket's (still open) handle.
            unsafe { CancelIoEx(self.handle.0, core::ptr::null_mut()) };
        }
    }
}

/// A duplicate made for this process and not taken yet: a second handle of the same pipe end
/// and what the socket's descriptors share in this process.
struct Pending {
    handle: OwnedHandle,
    conn: Arc<Conn>,
    side: usize,
    peer: Vec<u8>,
    local: Option<Vec<u8>>,
}

/// Duplicates for this process, by token (always odd: handle values, which name duplicates
/// for other processes, are multiples of 4).
static PENDING: Mutex<Option<HashMap<u32, Pending>>> = Mutex::new(None);
static NEXT_TOKEN: AtomicU32 = AtomicU32::new(0);

fn pending() -> MutexGuard<'static, Option<HashMap<u32, Pending>>> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Handles of the open sockets rebuilt from another process's duplicate (a structure used a
/// second time names one of them).
static ADOPTED: Mutex<Option<HashSet<usize>>> = Mutex::new(None);

fn adopted() -> MutexGuard<'static, Option<HashSet<usize>>> {
    ADOPTED.lock().unwrap_or_else(|e| e.into_inner())
}

const ERROR_TOO_MANY_OPEN_FILES: u32 = 4;
const ERROR_INVALID_PARAMETER: u32 = 87;

/// The WSA code for a failed `OpenProcess`/`DuplicateHandle`: no such process is `WSAEINVAL`.
fn dup_error(e: u32) -> WsaError {
    match e {
        ERROR_INVALID_PARAMETER => WsaError::INVAL,
        ERROR_TOO_MANY_OPEN_FILES => WsaError::MFILE,
        e => wsa_error(e),
    }
}

impl Socket {
    /// `WSPDuplicateSocket` (connected sockets only; others are `WSAEINVAL`). For this
    /// process: a second handle of the pipe end, parked under an odd token. For another: the
    /// handle duplicated into that process (`DuplicateHandle`), whose value is the reserved
    /// value; the connection is marked foreign from then on.
    pub(crate) fn duplicate(&self, process_id: u32) -> Result<NonZeroU32, WsaError> {
        let (conn, side, peer, local) = {
            let state = self.state();
            match &state.phase {
                Phase::Connected { conn, side, peer } => {
                    (conn.clone(), *side, peer.clone(), state.local.clone())
                }
                _ => return Err(WsaError::INVAL),
            }
        };
        // SAFETY: returns the current process's pseudo handle; nothing to close.
        let me = unsafe { GetCurrentProcess() };
        // SAFETY: plain call without arguments.
        if process_id == unsafe { GetCurrentProcessId() } {
            let mut dup: Handle = core::ptr::null_mut();
            // SAFETY: duplicates this socket's open handle within this process; the new
            // handle is owned by the `OwnedHandle` below.
            let ok = unsafe {
                DuplicateHandle(me, self.handle.0, me, &mut dup, 0, 0, DUPLICATE_SAME_ACCESS)
            };
            if ok == 0 {
                return Err(dup_error(last_error()));
            }
            let handle = OwnedHandle(dup);
            self.shared.store(true, Ordering::Relaxed);
            let mut pending = pending();
            let map = pending.get_or_insert_with(HashMap::new);
            let token = loop {
                let t = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed).wrapping_shl(1) | 1;
                if !map.contains_key(&t) {
                    break t;
                }
            };
            map.insert(
                token,
                Pending {
                    handle,
                    conn,
                    side,
                    peer,
                    local,
                },
            );
            return NonZeroU32::new(token).ok_or(WsaError::INVAL);
        }
        // SAFETY: plain call; the handle returned is owned by the `OwnedHandle` below.
        let target = unsafe { OpenProcess(PROCESS_DUP_HANDLE, 0, process_id) };
        if target.is_null() {
            return Err(dup_error(last_error()));
        }
        let target = OwnedHandle(target);
        let mut dup: Handle = core::ptr::null_mut();
        // SAFETY: duplicates this socket's open handle into the target process; the value
        // written is only meaningful there.
        let ok = unsafe {
            DuplicateHandle(
                me,
                self.handle.0,
                target.0,
                &mut dup,
                0,
                0,
                DUPLICATE_SAME_ACCESS,
            )
        };
        if ok == 0 {
            return Err(dup_error(last_error()));
        }
        let value = dup as usize;
        match u32::try_from(value)
            .ok()
            .filter(|v| v & 1 == 0)
            .and_then(NonZeroU32::new)
        {
            Some(reserved) => {
                conn.foreign.store(true, Ordering::SeqCst);
                Ok(reserved)
            }
            None => {
                // Not a value dwProviderReserved can carry: close it in the target again.
                // SAFETY: closes the handle just created in the target process.
                unsafe {
                    DuplicateHandle(
                        target.0,
                        dup,
                        core::ptr::null_mut(),
                        core::ptr::null_mut(),
                        0,
                        0,
                        DUPLICATE_CLOSE_SOURCE,
                    )
                };
                Err(WsaError::MFILE)
            }
        }
    }

    /// `WSPSocket` from a duplicate: an odd value is this process's token (`WSAEINVAL` if it
    /// is unknown or taken); an even one is a pipe handle another process duplicated into
    /// this one, which the new socket owns from now on (`WSAEINVAL` if it is not a pipe, or
    /// an open socket of this provider owns it already). Such a socket reports unnamed local
    /// and peer addresses, and takes a zero-length message for the end of the stream.
    pub(crate) fn from_duplicate(reserved: NonZeroU32) -> Result<Socket, WsaError> {
        let value = reserved.get();
        if value & 1 == 1 {
            let p = pending()
                .as_mut()
                .and_then(|m| m.remove(&value))
                .ok_or(WsaError::INVAL)?;
            let (conn, side) = (p.conn.clone(), p.side);
            let raw = p.handle.0 as usize;
            let phase = Phase::Connected {
                conn: p.conn,
                side: p.side,
                peer: p.peer,
            };
            let socket = Socket::from_handle(p.handle, None, p.local, phase)?;
            socket.shared.store(true, Ordering::Relaxed);
            conn.end(side).push(End {
                handle: raw,
                notifier: Notifier::detached(),
            });
            return Ok(socket);
        }
        let raw = value as usize;
        let handle = raw as Handle;
        let mut adopted = adopted();
        let adopted = adopted.get_or_insert_with(HashSet::new);
        // SAFETY: GetFileType only queries the handle; a value that is no handle fails.
        if adopted.contains(&raw) || unsafe { GetFileType(handle) } != FILE_TYPE_PIPE {
            return Err(WsaError::INVAL);
        }
        let end = End {
            handle: raw,
            notifier: Notifier::detached(),
        };
        let conn = Conn::new([vec![end], Vec::new()], true);
        let phase = Phase::Connected {
            conn,
            side: 0,
            peer: Vec::new(),
        };
        let socket = Socket::from_handle(OwnedHandle(handle), None, None, phase)?;
        socket.shared.store(true, Ordering::Relaxed);
        adopted.insert(raw);
        Ok(socket)
    }
}

/// The provider's last clean-up: closes the duplicates for this process nobody took.
pub(crate) fn withdraw_duplicates() {
    let dropped = pending().take();
    drop(dropped);
}

impl Drop for Socket {
    fn drop(&mut self) {
        // Sockets dropped without a close (queued connections nobody accepted) leave their
        // connection here; the handle is closed after this, as the field is dropped.
        let handle = self.handle.0;
        Socket::leave_connection(
            self.state.get_mut().unwrap_or_else(|e| e.into_inner()),
            handle,
        );
        if self.shared.load(Ordering::Relaxed) {
            if let Some(set) = adopted().as_mut() {
                set.remove(&(handle as usize));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A listener bound to `name`, a client connected to it, and the accepted socket.
    fn pair(name: &[u8]) -> (Socket, Socket, Socket) {
        let listener = Socket::new().unwrap();
        listener.bind(name).unwrap();
        listener.listen(4).unwrap();
        let client = Socket::new().unwrap();
        client.connect(name).unwrap();
        let (accepted, peer) = listener.accept(Wait::Yes).unwrap();
        assert_eq!(peer, b"");
        (listener, client, accepted)
    }

    fn write_file(s: &Socket, data: &[u8]) {
        let mut written = 0u32;
        // SAFETY: writes from a live slice; synchronous.
        let ok = unsafe {
            WriteFile(
                s.handle.0,
                data.as_ptr() as *const c_void,
                data.len() as u32,
                &mut written,
                core::ptr::null_mut(),
            )
        };
        assert!(
            ok != 0 && written as usize == data.len(),
            "WriteFile failed: {}",
            last_error()
        );
    }

    fn read_file(s: &Socket, buf: &mut [u8]) -> usize {
        let mut read = 0u32;
        // SAFETY: reads into a live, writable slice; synchronous.
        let ok = unsafe {
            ReadFile(
                s.handle.0,
                buf.as_mut_ptr() as *mut c_void,
                buf.len() as u32,
                &mut read,
                core::ptr::null_mut(),
            )
        };
        assert!(ok != 0, "ReadFile failed: {}", last_error());
        read as usize
    }

    #[test]
    fn readiness_follows_sends_receives_and_shutdown() {
        let (listener, client, accepted) = pair(b"win-ready");
        assert_eq!(listener.readiness(), Ready::NONE);
        assert_eq!(client.readiness(), Ready::WRITE);
        assert_eq!(accepted.readiness(), Ready::WRITE);
        client.send(b"hello", Wait::Yes).unwrap();
        assert_eq!(accepted.readiness(), Ready::READ | Ready::WRITE);
        let mut buf = [0u8; 16];
        assert_eq!(accepted.recv(&mut buf, Wait::Yes, true).unwrap(), 5);
        assert_eq!(
            accepted.readiness(),
            Ready::READ | Ready::WRITE,
            "after MSG_PEEK"
        );
        assert_eq!(accepted.recv(&mut buf, Wait::Yes, false).unwrap(), 5);
        assert_eq!(accepted.readiness(), Ready::WRITE);

        // A full pipe toward the peer: no room until the peer receives.
        let chunk = [0x33u8; 4096];
        loop {
            match accepted.send(&chunk, Wait::No) {
                Ok(_) => {}
                Err(WsaError::WOULDBLOCK) => break,
                Err(e) => panic!("non-blocking send: {:?}", e),
            }
        }
        assert_eq!(accepted.readiness(), Ready::NONE);
        assert_eq!(client.readiness(), Ready::READ | Ready::WRITE);
        assert_eq!(client.recv(&mut buf, Wait::Yes, false).unwrap(), buf.len());
        assert_eq!(accepted.readiness(), Ready::WRITE);

        // The end of the stream: CLOSE once everything before it is read.
        client.shutdown(Shutdown::Send).unwrap();
        assert_eq!(accepted.readiness(), Ready::CLOSE | Ready::WRITE);
        accepted.shutdown(Shutdown::Send).unwrap();
        assert_eq!(client.readiness(), Ready::READ | Ready::WRITE);
        let mut rest = vec![0u8; PIPE_BUFFER as usize];
        let mut got = 0;
        loop {
            match client.recv(&mut rest, Wait::Yes, false).unwrap() {
                0 => break,
                n => got += n,
            }
        }
        assert_eq!(got + buf.len(), PIPE_BUFFER as usize);
        assert_eq!(client.readiness(), Ready::CLOSE | Ready::WRITE);

        // A listener: ACCEPT while a connection is queued.
        let other = Socket::new().unwrap();
        other.connect(b"win-ready").unwrap();
        assert_eq!(listener.readiness(), Ready::ACCEPT);
        let _ = listener.accept(Wait::No).unwrap();
        assert_eq!(listener.readiness(), Ready::NONE);
    }

    #[test]
    fn readiness_catches_up_with_file_io_at_the_next_receive() {
        let (_listener, client, accepted) = pair(b"win-ready-file");
        let mut buf = [0u8; 16];
        client.send(b"abc", Wait::Yes).unwrap();
        assert_eq!(read_file(&accepted, &mut buf), 3);
        assert_eq!(
            accepted.recv(&mut buf, Wait::No, false),
            Err(WsaError::WOULDBLOCK)
        );
        assert_eq!(accepted.readiness(), Ready::WRITE);
        write_file(&client, b"wxyz");
        assert_eq!(accepted.readable().unwrap(), 4);
        assert_eq!(accepted.readiness(), Ready::READ | Ready::WRITE);
        assert_eq!(accepted.recv(&mut buf, Wait::No, false).unwrap(), 4);
        assert_eq!(&buf[..4], b"wxyz");
        assert_eq!(accepted.readiness(), Ready::WRITE);
    }

    #[test]
    fn a_large_send_announces_its_first_part_at_once() {
        let (_listener, client, accepted) = pair(b"win-big-send");
        let client = Arc::new(client);
        let size = 1 << 20;
        let sender = {
            let client = client.clone();
            std::thread::spawn(move || client.send(&vec![0x77u8; size], Wait::Yes))
        };
        // Nobody reads until READ is announced, so the send cannot have finished by then.
        let mut waited = 0;
        while !accepted.readiness().contains(Ready::READ) && waited < 10_000 {
            std::thread::sleep(Duration::from_millis(1));
            waited += 1;
        }
        assert!(
            accepted.readiness().contains(Ready::READ),
            "no READ while a 1 MiB send waits for room"
        );
        let mut buf = vec![0u8; 100_000];
        let mut got = 0;
        while got < size {
            got += accepted.recv(&mut buf, Wait::Yes, false).unwrap();
        }
        assert_eq!(sender.join().unwrap(), Ok(size));
        assert_eq!(accepted.readiness(), Ready::WRITE);
    }

    #[test]
    fn both_directions_and_file_io() {
        let (listener, client, accepted) = pair(b"win-both");
        assert_eq!(accepted.local_name().unwrap(), b"win-both");
        assert_eq!(client.peer_name().unwrap(), b"win-both");
        assert_eq!(client.send(b"hello", Wait::Yes).unwrap(), 5);
        assert_eq!(accepted.readable().unwrap(), 5);
        let mut buf = [0u8; 16];
        assert_eq!(accepted.recv(&mut buf, Wait::Yes, true).unwrap(), 5);
        assert_eq!(accepted.recv(&mut buf, Wait::Yes, false).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        write_file(&accepted, b"file");
        assert_eq!(client.recv(&mut buf, Wait::Yes, false).unwrap(), 4);
        assert_eq!(&buf[..4], b"file");
        assert_eq!(
            client.recv(&mut buf, Wait::No, false),
            Err(WsaError::WOULDBLOCK)
        );
        for s in [&listener, &client, &accepted] {
            s.close();
        }
    }

    #[test]
    fn send_shutdown_is_end_of_stream() {
        let (_listener, client, accepted) = pair(b"win-shut");
        client.send(b"abc", Wait::Yes).unwrap();
        client.shutdown(Shutdown::Send).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(accepted.recv(&mut buf, Wait::Yes, false).unwrap(), 3);
        assert_eq!(accepted.recv(&mut buf, Wait::Yes, false).unwrap(), 0);
        assert_eq!(accepted.recv(&mut buf, Wait::No, false).unwrap(), 0);
        // The other direction still works.
        accepted.send(b"back", Wait::Yes).unwrap();
        assert_eq!(client.recv(&mut buf, Wait::Yes, false).unwrap(), 4);
    }

    #[test]
    fn blocked_recv_wakes_on_peer_shutdown_and_close() {
        let (_listener, client, accepted) = pair(b"win-wake");
        let accepted = Arc::new(accepted);
        let reader = {
            let accepted = accepted.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4];
                accepted.recv(&mut buf, Wait::Yes, false)
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        client.shutdown(Shutdown::Send).unwrap();
        assert_eq!(reader.join().unwrap(), Ok(0));

        // A peer that goes away is the end of the stream too.
        let mut buf = [0u8; 4];
        let (_l2, c2, a2) = pair(b"win-gone");
        c2.close();
        drop(c2);
        assert_eq!(a2.recv(&mut buf, Wait::Yes, false), Ok(0));
    }

    #[test]
    fn close_wakes_blocked_recv() {
        let (_listener, _client, accepted) = pair(b"win-close");
        let accepted = Arc::new(accepted);
        let reader = {
            let accepted = accepted.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4];
                accepted.recv(&mut buf, Wait::Yes, false)
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        accepted.close();
        assert_eq!(reader.join().unwrap(), Err(WsaError::INTR));
    }

    #[test]
    fn close_wakes_blocked_send() {
        let (_listener, client, _accepted) = pair(b"win-close-send");
        let client = Arc::new(client);
        let sender = {
            let client = client.clone();
            std::thread::spawn(move || client.send(&vec![0u8; 16 << 20], Wait::Yes))
        };
        std::thread::sleep(Duration::from_millis(100));
        client.close();
        assert_eq!(sender.join().unwrap(), Err(WsaError::INTR));
    }

    #[test]
    fn nonblocking_send_fills_the_pipe() {
        let (_listener, client, accepted) = pair(b"win-fill");
        let chunk = vec![0x5Au8; 16 * 1024];
        let mut sent = 0;
        loop {
            match client.send(&chunk, Wait::No) {
                Ok(n) => sent += n,
                Err(WsaError::WOULDBLOCK) => break,
                Err(e) => panic!("non-blocking send: {:?}", e),
            }
            assert!(
                sent <= PIPE_BUFFER as usize,
                "sent {} bytes without blocking",
                sent
            );
        }
        assert_eq!(sent, PIPE_BUFFER as usize);
        let mut buf = vec![0u8; 4096];
        let n = accepted.recv(&mut buf, Wait::Yes, false).unwrap();
        assert!(n > 0);
        assert_eq!(client.send(&chunk, Wait::No).unwrap(), n.min(chunk.len()));
        // A peer that is gone: the send fails instead of blocking.
        accepted.close();
        drop(accepted);
        assert_eq!(client.send(b"x", Wait::No), Err(WsaError::CONNRESET));
    }

    #[test]
    fn unaccepted_connections_are_dropped_with_the_listener() {
        let listener = Socket::new().unwrap();
        listener.bind(b"win-unaccepted").unwrap();
        listener.listen(2).unwrap();
        let client = Socket::new().unwrap();
        client.connect(b"win-unaccepted").unwrap();
        let third = Socket::new().unwrap();
        client.send(b"queued", Wait::No).unwrap();
        let other = Socket::new().unwrap();
        other.connect(b"win-unaccepted").unwrap();
        assert_eq!(
            third.connect(b"win-unaccepted"),
            Err(WsaError::CONNREFUSED),
            "backlog of 2"
        );
        listener.close();
        drop(listener);
        let mut buf = [0u8; 4];
        assert_eq!(client.recv(&mut buf, Wait::Yes, false), Ok(0));
        assert_eq!(client.send(b"x", Wait::No), Err(WsaError::CONNRESET));
    }

    #[test]
    fn names_refusals_and_accept_wakeup() {
        let a = Socket::new().unwrap();
        a.bind(b"").unwrap();
        let b = Socket::new().unwrap();
        b.bind(b"").unwrap();
        assert_ne!(a.local_name().unwrap(), b.local_name().unwrap());
        assert_eq!(a.bind(b"again"), Err(WsaError::INVAL));
        let c = Socket::new().unwrap();
        assert_eq!(c.bind(&a.local_name().unwrap()), Err(WsaError::ADDRINUSE));
        assert_eq!(c.local_name(), Err(WsaError::INVAL));
        // Bound but not listening, and nobody at all: refused.
        assert_eq!(
            c.connect(&a.local_name().unwrap()),
            Err(WsaError::CONNREFUSED)
        );
        assert_eq!(c.connect(b"win-nobody"), Err(WsaError::CONNREFUSED));
        assert_eq!(c.listen(1), Err(WsaError::INVAL));

        a.listen(1).unwrap();
        assert_eq!(a.accept(Wait::No).err(), Some(WsaError::WOULDBLOCK));
        let a = Arc::new(a);
        let acceptor = {
            let a = a.clone();
            std::thread::spawn(move || a.accept(Wait::Yes).map(|_| ()))
        };
        std::thread::sleep(Duration::from_millis(100));
        let name = a.local_name().unwrap();
        a.close();
        assert_eq!(acceptor.join().unwrap(), Err(WsaError::INTR));
        // The name is free again.
        assert_eq!(c.connect(&name), Err(WsaError::CONNREFUSED));
        c.bind(&name).unwrap();
    }
}
