//! Emulated kernel objects for OSes other than Windows, with Windows' semantics.
//!
//! One process-wide table maps handle values (taken from the same allocator as socket handles,
//! so values never collide, as in a Windows handle table) to events, thread handles and
//! completion ports. Events and APC queues share one lock and one condition variable: a wait
//! re-checks its condition whenever any event is set or any APC queued. Each completion port has
//! its own queue, lock and condition variable, so worker threads on different ports never
//! contend.

use super::{ApcFn, Completion, ERROR_ABANDONED_WAIT_0, WSA_INFINITE, WSA_MAXIMUM_WAIT_EVENTS};
use super::{WSA_WAIT_EVENT_0, WSA_WAIT_IO_COMPLETION, WSA_WAIT_TIMEOUT};
use crate::host::registry;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use winsock_provider::sys::{OVERLAPPED, WSATHREADID};
use winsock_provider::WsaError;

enum Object {
    /// A manual-reset event.
    Event { signaled: bool },
    /// A handle to the thread with this serial number.
    Thread { serial: u64 },
    /// An I/O completion port.
    Port(Arc<Port>),
}

struct Tables {
    objects: Option<HashMap<isize, Object>>,
    /// APC queues of the threads that are alive, by serial number.
    apcs: Option<HashMap<u64, VecDeque<(ApcFn, usize)>>>,
    next_serial: u64,
}

impl Tables {
    fn objects(&mut self) -> &mut HashMap<isize, Object> {
        self.objects.get_or_insert_with(HashMap::new)
    }

    fn apcs(&mut self) -> &mut HashMap<u64, VecDeque<(ApcFn, usize)>> {
        self.apcs.get_or_insert_with(HashMap::new)
    }
}

static TABLES: Mutex<Tables> = Mutex::new(Tables {
    objects: None,
    apcs: None,
    next_serial: 1,
});
/// Signalled whenever an event is set or an APC queued.
static CHANGED: Condvar = Condvar::new();

fn tables() -> MutexGuard<'static, Tables> {
    TABLES.lock().unwrap_or_else(|e| e.into_inner())
}

fn new_value() -> isize {
    registry::lock().alloc_value() as isize
}

fn free_value(h: isize) {
    registry::lock().free_value(h as usize)
}

/// The calling thread's standing identity: its serial number and the handle ws2_32 keeps for
/// it (what `lpThreadId` carries), released when the thread ends.
struct Me {
    serial: u64,
    id: WSATHREADID,
}

impl Me {
    fn new() -> Me {
        let h = new_value();
        let mut t = tables();
        let serial = t.next_serial;
        t.next_serial += 1;
        t.objects().insert(h, Object::Thread { serial });
        t.apcs().insert(serial, VecDeque::new());
        Me {
            serial,
            id: WSATHREADID {
                ThreadHandle: h as _,
                Reserved: serial as usize,
            },
        }
    }
}

impl Drop for Me {
    fn drop(&mut self) {
        let h = self.id.ThreadHandle as isize;
        {
            let mut t = tables();
            // APCs still queued to a thread that ends are discarded, as Windows discards them.
            t.apcs().remove(&self.serial);
            t.objects().remove(&h);
        }
        free_value(h);
    }
}

thread_local! {
    static ME: Me = Me::new();
}

/// The calling thread's serial number, or `None` while the thread is being torn down.
fn my_serial() -> Option<u64> {
    ME.try_with(|m| m.serial).ok()
}

/// The `WSATHREADID` ws2_32 passes for the calling thread (its standing thread handle).
pub(crate) fn current_thread() -> WSATHREADID {
    ME.try_with(|m| m.id).unwrap_or_default()
}

/// Handles from [`open_current_thread`] not yet closed.
static OPENED: AtomicUsize = AtomicUsize::new(0);

/// How many thread handles `WPUOpenCurrentThread` handed out that are still open.
pub(crate) fn opened_thread_handles() -> usize {
    OPENED.load(Ordering::SeqCst)
}

/// `WPUOpenCurrentThread`: a new handle to the calling thread.
pub(crate) fn open_current_thread() -> Result<WSATHREADID, WsaError> {
    let serial = my_serial().ok_or(WsaError::INVALID_HANDLE)?;
    let h = new_value();
    tables().objects().insert(h, Object::Thread { serial });
    OPENED.fetch_add(1, Ordering::SeqCst);
    Ok(WSATHREADID {
        ThreadHandle: h as _,
        Reserved: serial as usize,
    })
}

/// `WPUCloseThread`: closes a handle from [`open_current_thread`].
pub(crate) fn close_thread(id: &WSATHREADID) -> Result<(), WsaError> {
    let h = id.ThreadHandle as isize;
    let standing = ME
        .try_with(|m| m.id.ThreadHandle as isize == h)
        .unwrap_or(false);
    let mut t = tables();
    match t.objects().get(&h) {
        Some(Object::Thread { .. }) if !standing => {
            t.objects().remove(&h);
            drop(t);
            free_value(h);
            OPENED.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
        _ => Err(WsaError::INVALID_HANDLE),
    }
}

/// `QueueUserAPC` onto the thread `id` names.
pub(crate) fn queue_apc(id: &WSATHREADID, apc: ApcFn, context: usize) -> Result<(), WsaError> {
    let h = id.ThreadHandle as isize;
    let mut t = tables();
    let serial = match t.objects().get(&h) {
        Some(Object::Thread { serial }) => *serial,
        _ => return Err(WsaError::INVALID_HANDLE),
    };
    match t.apcs().get_mut(&serial) {
        Some(queue) => queue.push_back((apc, context)),
        // The thread has ended (its handle is still open): Windows refuses too.
        None => return Err(WsaError::INVALID_HANDLE),
    }
    CHANGED.notify_all();
    Ok(())
}

/// `CreateEventW(NULL, TRUE, FALSE, NULL)`: a manual-reset event, not signalled.
pub(crate) fn create_event() -> Result<isize, WsaError> {
    let h = new_value();
    tables()
        .objects()
        .insert(h, Object::Event { signaled: false });
    Ok(h)
}

fn with_event(h: isize, f: impl FnOnce(&mut bool)) -> Result<(), WsaError> {
    let mut t = tables();
    match t.objects().get_mut(&h) {
        Some(Object::Event { signaled }) => {
            f(signaled);
            Ok(())
        }
        _ => Err(WsaError::INVALID_HANDLE),
    }
}

/// `SetEvent`.
pub(crate) fn set_event(h: isize) -> Result<(), WsaError> {
    with_event(h, |s| *s = true)?;
    CHANGED.notify_all();
    Ok(())
}

/// `ResetEvent`.
pub(crate) fn reset_event(h: isize) -> Result<(), WsaError> {
    with_event(h, |s| *s = false)
}

/// `CloseHandle` of an event.
pub(crate) fn close_event(h: isize) -> Result<(), WsaError> {
    let mut t = tables();
    match t.objects().get(&h) {
        Some(Object::Event { .. }) => {
            t.objects().remove(&h);
            drop(t);
            free_value(h);
            Ok(())
        }
        _ => Err(WsaError::INVALID_HANDLE),
    }
}

fn deadline(timeout_ms: u32) -> Option<Instant> {
    if timeout_ms == WSA_INFINITE {
        None
    } else {
        Some(Instant::now() + Duration::from_millis(u64::from(timeout_ms)))
    }
}

/// Waits on the condition variable until `deadline`; false once it has passed.
fn wait_until(
    guard: MutexGuard<'static, Tables>,
    deadline: Option<Instant>,
) -> (MutexGuard<'static, Tables>, bool) {
    match deadline {
        None => (CHANGED.wait(guard).unwrap_or_else(|e| e.into_inner()), true),
        Some(d) => {
            let now = Instant::now();
            if now >= d {
                return (guard, false);
            }
            let (g, _) = CHANGED
                .wait_timeout(guard, d - now)
                .unwrap_or_else(|e| e.into_inner());
            (g, true)
        }
    }
}

/// Takes the calling thread's queued APCs (if any).
fn take_apcs(t: &mut Tables, serial: Option<u64>) -> Vec<(ApcFn, usize)> {
    match serial.and_then(|s| t.apcs().get_mut(&s)) {
        Some(q) => q.drain(..).collect(),
        None => Vec::new(),
    }
}

/// Runs APCs on the calling thread, outside every lock, and any queued while they ran.
fn run_apcs(mut batch: Vec<(ApcFn, usize)>, serial: Option<u64>) {
    while !batch.is_empty() {
        for (apc, context) in batch {
            // SAFETY: the provider queued this function with this context for this thread,
            // to be called in an alertable wait, which is where we are.
            unsafe { apc(context) };
        }
        batch = take_apcs(&mut tables(), serial);
    }
}

/// `WaitForMultipleObjectsEx` over events: `WSA_WAIT_EVENT_0 + i` (the lowest signalled index,
/// or 0 when `wait_all` and all are), `WSA_WAIT_TIMEOUT`, or `WSA_WAIT_IO_COMPLETION` when
/// `alertable` and APCs were queued to this thread (they run first).
pub(crate) fn wait(
    handles: &[isize],
    wait_all: bool,
    timeout_ms: u32,
    alertable: bool,
) -> Result<u32, WsaError> {
    if handles.is_empty() || handles.len() > WSA_MAXIMUM_WAIT_EVENTS {
        return Err(WsaError::INVALID_PARAMETER);
    }
    let serial = if alertable { my_serial() } else { None };
    let end = deadline(timeout_ms);
    let mut t = tables();
    loop {
        let apcs = take_apcs(&mut t, serial);
        if !apcs.is_empty() {
            drop(t);
            run_apcs(apcs, serial);
            return Ok(WSA_WAIT_IO_COMPLETION);
        }
        let mut states = Vec::with_capacity(handles.len());
        for h in handles {
            match t.objects().get(h) {
                Some(Object::Event { signaled }) => states.push(*signaled),
                _ => return Err(WsaError::INVALID_HANDLE),
            }
        }
        if wait_all {
            if states.iter().all(|&s| s) {
                return Ok(WSA_WAIT_EVENT_0);
            }
        } else if let Some(i) = states.iter().position(|&s| s) {
            return Ok(WSA_WAIT_EVENT_0 + i as u32);
        }
        let (g, more) = wait_until(t, end);
        t = g;
        if !more {
            return Ok(WSA_WAIT_TIMEOUT);
        }
    }
}

/// `SleepEx`: 0 after `ms`, or `WSA_WAIT_IO_COMPLETION` as soon as APCs ran (alertable only).
pub(crate) fn sleep_ex(ms: u32, alertable: bool) -> u32 {
    if !alertable {
        match deadline(ms) {
            Some(_) => std::thread::sleep(Duration::from_millis(u64::from(ms))),
            None => loop {
                std::thread::park();
            },
        }
        return 0;
    }
    let serial = my_serial();
    let end = deadline(ms);
    let mut t = tables();
    loop {
        let apcs = take_apcs(&mut t, serial);
        if !apcs.is_empty() {
            drop(t);
            run_apcs(apcs, serial);
            return WSA_WAIT_IO_COMPLETION;
        }
        let (g, more) = wait_until(t, end);
        t = g;
        if !more {
            return 0;
        }
    }
}

/// An I/O completion port.
struct Port {
    queue: Mutex<PortQueue>,
    ready: Condvar,
}

struct PortQueue {
    packets: VecDeque<Completion>,
    closed: bool,
}

/// `CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0)`.
pub(crate) fn create_port() -> Result<isize, WsaError> {
    let h = new_value();
    let port = Arc::new(Port {
        queue: Mutex::new(PortQueue {
            packets: VecDeque::new(),
            closed: false,
        }),
        ready: Condvar::new(),
    });
    tables().objects().insert(h, Object::Port(port));
    Ok(h)
}

fn port(h: isize) -> Result<Arc<Port>, WsaError> {
    match tables().objects().get(&h) {
        Some(Object::Port(p)) => Ok(p.clone()),
        _ => Err(WsaError::INVALID_HANDLE),
    }
}

/// Queues a packet on port `h` (`PostQueuedCompletionStatus`, or a completed I/O).
pub(crate) fn post(
    h: isize,
    bytes: u32,
    key: usize,
    overlapped: *mut OVERLAPPED,
    error: u32,
) -> Result<(), WsaError> {
    let p = port(h)?;
    let mut q = p.queue.lock().unwrap_or_else(|e| e.into_inner());
    q.packets.push_back(Completion {
        bytes,
        key,
        overlapped,
        error,
    });
    p.ready.notify_one();
    Ok(())
}

/// `GetQueuedCompletionStatus`: the oldest packet, `None` on time-out; closing the port while
/// waiting fails with `ERROR_ABANDONED_WAIT_0`.
pub(crate) fn get_queued(h: isize, timeout_ms: u32) -> Result<Option<Completion>, WsaError> {
    let p = port(h)?;
    let end = deadline(timeout_ms);
    let mut q = p.queue.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if q.closed {
            return Err(WsaError::from_code(ERROR_ABANDONED_WAIT_0));
        }
        if let Some(c) = q.packets.pop_front() {
            return Ok(Some(c));
        }
        q = match end {
            None => p.ready.wait(q).unwrap_or_else(|e| e.into_inner()),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return Ok(None);
                }
                p.ready
                    .wait_timeout(q, d - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
        };
    }
}

/// `CloseHandle` of a completion port: waiting threads wake with `ERROR_ABANDONED_WAIT_0`.
pub(crate) fn close_port(h: isize) -> Result<(), WsaError> {
    let p = {
        let mut t = tables();
        match t.objects().remove(&h) {
            Some(Object::Port(p)) => p,
            Some(other) => {
                t.objects().insert(h, other);
                return Err(WsaError::INVALID_HANDLE);
            }
            None => return Err(WsaError::INVALID_HANDLE),
        }
    };
    free_value(h);
    p.queue.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
    p.ready.notify_all();
    Ok(())
}
