//! What every thread is doing: its current call (with when it started) and its recent calls,
//! for the watchdog (a call longer than the limit is a hang) and for the crash report.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How many finished calls each thread remembers.
const RECENT: usize = 12;

/// One thread's record.
pub struct Slot {
    /// The thread's name (`worker 3`, `race helper of worker 1`).
    pub name: String,
    /// The call in progress and when it began.
    pub current: Option<(String, Instant)>,
    /// The last calls that returned, oldest first, each with its result.
    pub recent: VecDeque<String>,
}

impl Slot {
    /// The thread's recent calls and its current one, one per line.
    pub fn describe(&self) -> String {
        let mut out = format!("  {}:\n", self.name);
        for r in &self.recent {
            out.push_str(&format!("    done    {}\n", r));
        }
        match &self.current {
            Some((call, since)) => out.push_str(&format!(
                "    CURRENT {} (for {} ms)\n",
                call,
                since.elapsed().as_millis()
            )),
            None => out.push_str("    (between calls)\n"),
        }
        out
    }
}

/// Every thread's slot, shared with the watchdog and the crash handler.
#[derive(Default)]
pub struct Board {
    slots: Mutex<Vec<Arc<Mutex<Slot>>>>,
}

/// A thread's handle on its slot.
pub struct Tracker {
    slot: Arc<Mutex<Slot>>,
    board: Arc<Board>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Board {
    /// Registers the calling thread under `name`.
    pub fn join(self: &Arc<Board>, name: String) -> Tracker {
        let slot = Arc::new(Mutex::new(Slot {
            name,
            current: None,
            recent: VecDeque::new(),
        }));
        lock(&self.slots).push(slot.clone());
        Tracker {
            slot,
            board: self.clone(),
        }
    }

    /// Every live thread's record.
    pub fn describe_all(&self) -> String {
        let slots: Vec<_> = lock(&self.slots).clone();
        slots.iter().map(|s| lock(s).describe()).collect()
    }

    /// The first call that has been running for longer than `limit`, with its thread's record.
    fn overdue(&self, limit: Duration) -> Option<String> {
        let slots: Vec<_> = lock(&self.slots).clone();
        slots.iter().find_map(|s| {
            let s = lock(s);
            match &s.current {
                Some((_, since)) if since.elapsed() > limit => Some(s.describe()),
                _ => None,
            }
        })
    }
}

impl Tracker {
    /// Marks `call` as in progress.
    pub fn begin(&self, call: String) {
        lock(&self.slot).current = Some((call, Instant::now()));
    }

    /// Marks the call in progress as finished with `result`.
    pub fn end(&self, result: &str) {
        let mut s = lock(&self.slot);
        if let Some((call, _)) = s.current.take() {
            if s.recent.len() == RECENT {
                s.recent.pop_front();
            }
            s.recent.push_back(format!("{} -> {}", call, result));
        }
    }

    /// This thread's recent calls (for a violation report).
    pub fn recent(&self) -> Vec<String> {
        lock(&self.slot).recent.iter().cloned().collect()
    }

    /// The call in progress, if any.
    pub fn current(&self) -> Option<String> {
        lock(&self.slot).current.as_ref().map(|(c, _)| c.clone())
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        lock(&self.board.slots).retain(|s| !Arc::ptr_eq(s, &self.slot));
    }
}

/// Runs the watchdog until `stop` is set: when a call has run longer than `limit`, prints
/// `FAIL <label>: hang ...` with the call, its arguments and every thread's recent calls to
/// stdout and ends the process with status 1 (a hung thread cannot be recovered).
pub fn watchdog(
    board: Arc<Board>,
    limit: Duration,
    label: String,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<()> {
    thread::Builder::new()
        .name("watchdog".to_owned())
        .spawn(move || {
            while !stop.load(Ordering::Acquire) {
                thread::sleep(Duration::from_millis(200));
                if let Some(stuck) = board.overdue(limit) {
                    let all = board.describe_all();
                    let mut out = std::io::stdout();
                    let _ = writeln!(
                        out,
                        "FAIL {}: hang: a call did not return within {} s\n{}every thread:\n{}",
                        label,
                        limit.as_secs(),
                        stuck,
                        all
                    );
                    let _ = out.flush();
                    std::process::exit(1);
                }
            }
        })
        .expect("spawning the watchdog")
}

/// The board and label the crash handler prints.
static CRASH_BOARD: AtomicPtr<(Arc<Board>, String)> = AtomicPtr::new(core::ptr::null_mut());

/// Installs a handler that, when the process crashes (a fault or an abort inside the
/// provider), prints `label` (configuration and seed) and every thread's current call to
/// stderr before the process dies.
pub fn on_crash(board: Arc<Board>, label: String) {
    // A previous run's board is left allocated: a handler may be reading it right now, and
    // it is a few bytes per run.
    let fresh = Box::into_raw(Box::new((board, label)));
    CRASH_BOARD.store(fresh, Ordering::Release);
    install_handler();
}

/// Writes the crash report; best effort, as the process is dying.
fn crash_report(what: &str) {
    let p = CRASH_BOARD.load(Ordering::Acquire);
    if p.is_null() {
        return;
    }
    // SAFETY: the pointer comes from `Box::into_raw` in `on_crash` and is never freed.
    let (board, label) = unsafe { &*p };
    let mut text = format!("\nwsp-chaos: CRASH ({}) in {}\n", what, label);
    if let Ok(slots) = board.slots.try_lock() {
        for s in slots.iter() {
            if let Ok(s) = s.try_lock() {
                text.push_str(&s.describe());
            }
        }
    }
    write_stderr(text.as_bytes());
}

#[cfg(unix)]
mod platform {
    extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
        fn write(fd: i32, buf: *const u8, count: usize) -> isize;
    }
    const SIGNALS: [(i32, &str); 5] = [
        (4, "SIGILL"),
        (6, "SIGABRT"),
        (7, "SIGBUS"),
        (8, "SIGFPE"),
        (11, "SIGSEGV"),
    ];

    extern "C" fn handler(sig: i32) {
        let name = SIGNALS
            .iter()
            .find(|(n, _)| *n == sig)
            .map_or("signal", |(_, name)| *name);
        super::crash_report(name);
        // SAFETY: restores the default action and re-raises by returning into the fault (for
        // synchronous signals) or by the pending abort; either way the process ends as it
        // would have without the report.
        unsafe {
            signal(sig, 0);
        }
    }

    pub fn install_handler() {
        for (sig, _) in SIGNALS {
            // SAFETY: installs a handler with the signature `signal` expects.
            unsafe {
                signal(sig, handler as extern "C" fn(i32) as usize);
            }
        }
    }

    pub fn write_stderr(bytes: &[u8]) {
        // SAFETY: writes a valid buffer to fd 2 (async-signal-safe).
        unsafe {
            write(2, bytes.as_ptr(), bytes.len());
        }
    }
}

#[cfg(windows)]
mod platform {
    use core::ffi::c_void;
    extern "system" {
        fn SetUnhandledExceptionFilter(
            filter: Option<unsafe extern "system" fn(*mut c_void) -> i32>,
        ) -> *mut c_void;
    }

    unsafe extern "system" fn filter(_info: *mut c_void) -> i32 {
        super::crash_report("unhandled exception");
        0 // EXCEPTION_CONTINUE_SEARCH: the process then ends as it would have.
    }

    pub fn install_handler() {
        // SAFETY: installs a filter with the documented signature.
        unsafe {
            SetUnhandledExceptionFilter(Some(filter));
        }
    }

    pub fn write_stderr(bytes: &[u8]) {
        use std::io::Write;
        let _ = std::io::stderr().write_all(bytes);
    }
}

use platform::{install_handler, write_stderr};
