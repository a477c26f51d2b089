//! Window message queues for `WSPAsyncSelect` notifications, emulated on every OS (windows and
//! their queues are not kernel objects; a test has no message loop of its own to offer).
//!
//! `Ws2::create_window` makes a window (a handle value from ws2_32's allocator);
//! `WPUPostMessage` appends to its queue; `Ws2::get_message` pops in FIFO order.

use super::registry;
use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use winsock_provider::sys::{LPARAM, WPARAM};

/// A message taken from a window's queue.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The window it was posted to.
    pub hwnd: Window,
    /// The message number (`wMsg` given to `WSAAsyncSelect`).
    pub msg: u32,
    /// `wParam`: for `WSAAsyncSelect` messages, the socket.
    pub wparam: WPARAM,
    /// `lParam`: for `WSAAsyncSelect` messages, `WSAMAKESELECTREPLY(event, error)`.
    pub lparam: LPARAM,
}

impl Message {
    /// `WSAGETSELECTEVENT(lParam)`: the network event (`FD_READ`, ...).
    pub fn select_event(&self) -> u32 {
        (self.lparam as usize & 0xFFFF) as u32
    }

    /// `WSAGETSELECTERROR(lParam)`: the event's error code (0 for none).
    pub fn select_error(&self) -> u32 {
        ((self.lparam as usize >> 16) & 0xFFFF) as u32
    }
}

/// A window handle (`HWND`) made by [`Ws2::create_window`](crate::Ws2::create_window).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Window(pub isize);

impl Window {
    /// The handle as the SPI passes it.
    pub fn hwnd(self) -> winsock_provider::sys::HWND {
        self.0 as _
    }
}

struct Queues {
    windows: Option<HashMap<isize, VecDeque<Message>>>,
}

static QUEUES: Mutex<Queues> = Mutex::new(Queues { windows: None });
static POSTED: Condvar = Condvar::new();

fn queues() -> MutexGuard<'static, Queues> {
    QUEUES.lock().unwrap_or_else(|e| e.into_inner())
}

impl Queues {
    fn windows(&mut self) -> &mut HashMap<isize, VecDeque<Message>> {
        self.windows.get_or_insert_with(HashMap::new)
    }
}

/// Creates a window with an empty queue.
pub(crate) fn create_window() -> Window {
    let h = registry::lock().alloc_value() as isize;
    queues().windows().insert(h, VecDeque::new());
    Window(h)
}

/// Destroys a window; false if it does not exist.
pub(crate) fn destroy_window(w: Window) -> bool {
    let removed = queues().windows().remove(&w.0).is_some();
    if removed {
        registry::lock().free_value(w.0 as usize);
        POSTED.notify_all();
    }
    removed
}

/// `PostMessage`: false if the window does not exist.
pub(crate) fn post(hwnd: isize, msg: u32, wparam: WPARAM, lparam: LPARAM) -> bool {
    let mut q = queues();
    match q.windows().get_mut(&hwnd) {
        Some(queue) => {
            queue.push_back(Message {
                hwnd: Window(hwnd),
                msg,
                wparam,
                lparam,
            });
            POSTED.notify_all();
            true
        }
        None => false,
    }
}

/// The oldest message of window `w`, waiting up to `timeout` (`None` = forever); `Ok(None)` on
/// time-out, `Err(())` if the window does not exist (or is destroyed while waiting).
pub(crate) fn get(w: Window, timeout: Option<Duration>) -> Result<Option<Message>, ()> {
    let end = timeout.map(|t| Instant::now() + t);
    let mut q = queues();
    loop {
        match q.windows().get_mut(&w.0) {
            None => return Err(()),
            Some(queue) => {
                if let Some(m) = queue.pop_front() {
                    return Ok(Some(m));
                }
            }
        }
        q = match end {
            None => POSTED.wait(q).unwrap_or_else(|e| e.into_inner()),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return Ok(None);
                }
                POSTED
                    .wait_timeout(q, d - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
        };
    }
}
