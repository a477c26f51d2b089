//! Where pending overlapped requests run after a readiness signal: never on the signalling
//! thread inside the signal, because the signaller may hold its own locks and the attempts
//! call the provider's `recv`, `send`, `accept`... which may take them again.
//!
//! A signal records readiness, wakes waiters and *schedules* the socket (when it has requests
//! pending). A scheduled socket is driven:
//! - at the end of the runtime entry point on whose thread the signal was made, once the
//!   provider's method has returned (it holds none of its locks then), or
//! - by the runtime's driver thread, which holds no provider lock: at once for a signal made
//!   outside every entry point (a provider's own thread), and after [`GRACE`] for a signal
//!   made inside an entry point that has not returned by then (a provider method that blocks
//!   after signalling, e.g. a blocking send waiting for room that only a pending overlapped
//!   receive of the peer can free).
//!
//! The driver thread starts when first needed, ends after [`IDLE`] without work, and is
//! stopped and joined by the last clean-up ([`quiesce`]), so no runtime code runs on it
//! after `WSPCleanup` returns.

use super::ready::Driver;
use crate::host::{catch, lock};
use core::cell::Cell;
use std::sync::{Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the driver thread leaves a signal made inside an entry point to that entry point.
pub(crate) const GRACE: Duration = Duration::from_millis(2);

/// How long the driver thread waits for work before it ends.
pub(crate) const IDLE: Duration = Duration::from_secs(1);

/// Runs `f` with the thread's state: how many runtime entry points this thread is inside
/// (nested: an application callback that calls back in), times 2, plus [`MINE`]. One word,
/// kept by the handle table next to the thread's hazard record, so an entry point that looks a
/// socket up reaches thread-local storage once for both.
#[inline(always)]
fn with_state<R>(f: impl FnOnce(&Cell<usize>) -> R) -> R {
    wsp_handle_table::with_thread_word(f)
}

/// In the thread's state ([`with_state`]): this thread scheduled sockets that its outermost
/// entry point drives on exit.
const MINE: usize = 1;
/// In the thread's state: one level of entry point.
const LEVEL: usize = 2;

/// A scheduled socket.
struct Item {
    sock: Weak<dyn Driver>,
    /// The thread (token) whose entry point drives it, 0 for none.
    owner: usize,
    /// When the driver thread takes it.
    due: Instant,
}

struct Queue {
    items: Vec<Item>,
    /// The driver thread exists.
    running: bool,
    /// It sleeps until this instant (`None`: until woken, or not sleeping).
    sleeping_until: Option<Instant>,
    /// It sleeps with no work.
    idle: bool,
    /// The last clean-up asks it to end.
    stop: bool,
    thread: Option<JoinHandle<()>>,
}

// SAFETY: every `Driver` is a `Socket`, Send + Sync by that trait's contract; the
// queue only upgrades the weak references and calls `drive` through them.
unsafe impl Send for Queue {}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    items: Vec::new(),
    running: false,
    sleeping_until: None,
    idle: false,
    stop: false,
    thread: None,
});
static WAKE: Condvar = Condvar::new();

/// This thread's token: the address of its state, distinct among live threads (never 0).
pub(crate) fn token() -> usize {
    with_state(|d| d as *const Cell<usize> as usize)
}

fn same(a: &Weak<dyn Driver>, b: &Weak<dyn Driver>) -> bool {
    Weak::as_ptr(a) as *const () == Weak::as_ptr(b) as *const ()
}

/// Marks the thread as inside a runtime entry point until the guard drops; the outermost one
/// then drives the sockets this thread scheduled.
/// (It holds the address of the thread's state, so leaving reaches no thread-local storage
/// again; the raw pointer keeps the guard on its thread.)
pub(crate) struct Entry(*const Cell<usize>);

impl Entry {
    /// Entering an entry point.
    #[inline(always)]
    pub(crate) fn enter() -> Entry {
        Entry(with_state(|state| {
            state.set(state.get() + LEVEL);
            state as *const Cell<usize>
        }))
    }
}

impl Drop for Entry {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: the address of this thread's state, taken by `enter` on this thread (the guard
        // is not `Send`); it outlives every entry point the thread is in.
        let state = unsafe { &*self.0 };
        if state.get() == LEVEL | MINE {
            // Still counted as inside: signals made by these attempts join this loop.
            drive_mine();
        }
        state.set(state.get() - LEVEL);
    }
}

/// Drives the sockets this thread scheduled, until none is left.
#[cold]
#[inline(never)]
fn drive_mine() {
    let me = token();
    loop {
        with_state(|state| state.set(state.get() & !MINE));
        let mine: Vec<Weak<dyn Driver>> = {
            let mut q = lock(&QUEUE);
            let mut mine = Vec::new();
            q.items.retain(|i| {
                if i.owner == me {
                    mine.push(i.sock.clone());
                    false
                } else {
                    true
                }
            });
            mine
        };
        if mine.is_empty() {
            return;
        }
        run(mine);
    }
}

/// Drives each socket still alive (a panic in the runtime's own code stays here: this runs
/// on the way out of an entry point and on the driver thread).
fn run(socks: Vec<Weak<dyn Driver>>) {
    for sock in socks {
        if let Some(sock) = sock.upgrade() {
            let _ = catch(|| {
                sock.drive();
                Ok(())
            });
        }
    }
}

/// Schedules `sock`'s pending requests after a signal (see the module's rule).
pub(crate) fn schedule(sock: Weak<dyn Driver>) {
    let inside = with_state(|state| {
        let inside = state.get() >= LEVEL;
        if inside {
            state.set(state.get() | MINE);
        }
        inside
    });
    let now = Instant::now();
    let (owner, due) = if inside {
        (token(), now + GRACE)
    } else {
        (0, now)
    };
    let mut q = lock(&QUEUE);
    if !q
        .items
        .iter()
        .any(|i| i.owner == owner && same(&i.sock, &sock))
    {
        q.items.push(Item { sock, owner, due });
    }
    if !q.running {
        start_driver(q);
        return;
    }
    if q.idle || q.sleeping_until.map_or(false, |at| due < at) {
        drop(q);
        WAKE.notify_one();
    }
}

/// Starts the driver thread (the previous one, if any, has ended or is ending: it is joined).
fn start_driver(mut q: std::sync::MutexGuard<'_, Queue>) {
    let previous = q.thread.take();
    let spawned = std::thread::Builder::new()
        .name("winsock-provider driver".to_owned())
        .spawn(driver);
    if let Ok(handle) = spawned {
        q.running = true;
        q.stop = false;
        q.thread = Some(handle);
    }
    // A failed spawn leaves the items queued: the next signal tries again, and signals made
    // inside entry points are still driven when those return.
    drop(q);
    if let Some(previous) = previous {
        let _ = previous.join();
    }
}

/// The driver thread: drives the items that are due, sleeps until the next one.
fn driver() {
    let mut q = lock(&QUEUE);
    loop {
        q.idle = false;
        q.sleeping_until = None;
        let now = Instant::now();
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        q.items.retain(|i| {
            if i.due <= now {
                due.push(i.sock.clone());
                false
            } else {
                next = Some(next.map_or(i.due, |n| n.min(i.due)));
                true
            }
        });
        if !due.is_empty() {
            drop(q);
            run(due);
            q = lock(&QUEUE);
            continue;
        }
        if q.stop {
            break;
        }
        match next {
            Some(at) => {
                q.sleeping_until = Some(at);
                q = WAKE
                    .wait_timeout(q, at - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            None => {
                q.idle = true;
                let (g, waited) = WAKE
                    .wait_timeout(q, IDLE)
                    .unwrap_or_else(|e| e.into_inner());
                q = g;
                if waited.timed_out() && q.items.is_empty() {
                    break;
                }
            }
        }
    }
    q.running = false;
    q.idle = false;
    q.sleeping_until = None;
}

/// The last clean-up: runs what is still scheduled, then ends the driver thread and waits
/// for it, so that no runtime code runs on it once `WSPCleanup` has returned.
pub(crate) fn quiesce() {
    let handle = {
        let mut q = lock(&QUEUE);
        if !q.running {
            q.thread.take()
        } else {
            q.stop = true;
            for item in q.items.iter_mut() {
                item.due = Instant::now();
            }
            q.thread.take()
        }
    };
    WAKE.notify_all();
    if let Some(handle) = handle {
        if handle.thread().id() != std::thread::current().id() {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_nest_and_restore_the_depth() {
        assert_eq!(with_state(Cell::get), 0);
        {
            let _outer = Entry::enter();
            let _inner = Entry::enter();
            assert_eq!(with_state(Cell::get), 2 * LEVEL);
        }
        assert_eq!(with_state(Cell::get), 0);
        assert_ne!(token(), 0);
    }
}
