//! Overlapped requests a thread started: their `OVERLAPPED`s and buffers (kept at a fixed
//! address until the request's one notification, and for a while after it, so that a late
//! second notification is seen rather than written into freed memory), and the bookkeeping
//! that checks each request is notified exactly once, and one that failed at once never.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::time::Instant;
use winsock_provider::sys::{OVERLAPPED, SOCKET, TRANSMIT_FILE_BUFFERS, WSABUF, WSAEVENT, WSAMSG};

/// Bytes of data buffer per request.
pub const BUF: usize = 2048;
/// Room for an address.
pub const ADDR: usize = 128;
/// Finished requests kept (and watched for a second notification) before their memory is
/// reused.
const GRAVE: usize = 256;

/// How the application asked to be told of completion.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `hEvent` is set (with the low bit set on a socket associated with a port).
    Event,
    /// A completion routine, run as an APC on the issuing thread.
    Routine,
    /// A packet on the completion port the socket is associated with.
    Port,
}

/// Where a request is in its life.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Memory free for a new request.
    Free,
    /// Started; waiting for its one notification.
    Pending,
    /// Notified once.
    Done,
    /// The call failed at once: no notification may follow.
    Failed,
}

/// One request's memory and bookkeeping. Boxed, so the addresses handed to the provider stay
/// put.
pub struct Op {
    /// The request's `OVERLAPPED`.
    pub ov: OVERLAPPED,
    /// The event of the Event and Port routes (created once per record).
    pub event: WSAEVENT,
    /// Data.
    pub buf: [u8; BUF],
    /// Up to two buffers over `buf`.
    pub bufs: [WSABUF; 2],
    /// An address (source or destination).
    pub addr: [u8; ADDR],
    /// Its length.
    pub addr_len: i32,
    /// For WSARecvMsg / WSASendMsg.
    pub msg: WSAMSG,
    /// For TransmitFile.
    pub tfb: TRANSMIT_FILE_BUFFERS,
    /// Bytes transferred at once.
    pub bytes: u32,
    /// Flags in and out.
    pub flags: u32,
    /// Life stage.
    pub state: State,
    /// Notification route.
    pub route: Route,
    /// The socket value it was started on.
    pub sock: SOCKET,
    /// The id of the socket record (the completion key on the port route).
    pub sock_id: u64,
    /// The call that started it, with its arguments.
    pub call: String,
    /// Notifications seen.
    pub notes: u32,
    /// When it was started.
    pub issued: Instant,
}

thread_local! {
    /// Completion-routine calls on this thread: (OVERLAPPED address, error, bytes).
    static ROUTINE_CALLS: RefCell<Vec<(usize, u32, u32)>> = const { RefCell::new(Vec::new()) };
}

/// The completion routine given with the Routine route: records the call for the thread
/// that issued the request (it runs there, in an alertable wait).
pub unsafe extern "system" fn on_routine(
    error: u32,
    transferred: u32,
    ov: *mut OVERLAPPED,
    _flags: u32,
) {
    let _ = ROUTINE_CALLS.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            c.push((ov as usize, error, transferred));
        }
    });
}

/// The completion-routine calls recorded on this thread since the last call.
pub fn take_routine_calls() -> Vec<(usize, u32, u32)> {
    ROUTINE_CALLS
        .try_with(|c| std::mem::take(&mut *c.borrow_mut()))
        .unwrap_or_default()
}

/// A thread's requests.
#[derive(Default)]
pub struct Ops {
    /// Every record ever made (reused once free). Boxed: the addresses handed to the
    /// provider must not move when the vector grows.
    #[allow(clippy::vec_box)]
    pub recs: Vec<Box<Op>>,
    /// `OVERLAPPED` address → record index.
    pub by_ov: HashMap<usize, usize>,
    free: Vec<usize>,
    /// Finished records, oldest first, still watched.
    pub grave: VecDeque<usize>,
    /// Records waiting for their notification.
    pub pending: Vec<usize>,
}

impl Ops {
    /// A free record (index), made if needed; `event` makes its event on first use.
    pub fn alloc(&mut self, event: impl FnOnce() -> WSAEVENT) -> usize {
        if let Some(i) = self.free.pop() {
            return i;
        }
        let mut op = Box::new(Op {
            ov: OVERLAPPED::default(),
            event: 0,
            buf: [0; BUF],
            bufs: [WSABUF::default(); 2],
            addr: [0; ADDR],
            addr_len: 0,
            msg: WSAMSG::default(),
            tfb: TRANSMIT_FILE_BUFFERS::default(),
            bytes: 0,
            flags: 0,
            state: State::Free,
            route: Route::Event,
            sock: 0,
            sock_id: 0,
            call: String::new(),
            notes: 0,
            issued: Instant::now(),
        });
        op.event = event();
        let i = self.recs.len();
        self.by_ov.insert(&op.ov as *const OVERLAPPED as usize, i);
        self.recs.push(op);
        i
    }

    /// Records the outcome of starting request `i`: pending (also when it finished at once,
    /// as the route is still notified), or failed at once.
    pub fn started(&mut self, i: usize, failed: bool) {
        if failed {
            self.recs[i].state = State::Failed;
            self.grave.push_back(i);
        } else {
            self.recs[i].state = State::Pending;
            self.pending.push(i);
        }
    }

    /// Moves pending request `i` to the finished list.
    pub fn finish(&mut self, i: usize) {
        self.recs[i].state = State::Done;
        self.pending.retain(|&p| p != i);
        self.grave.push_back(i);
    }

    /// The oldest finished record, when the list is over its size (to be checked, then
    /// freed with [`Ops::release`]).
    pub fn overflow(&mut self) -> Option<usize> {
        if self.grave.len() > GRAVE {
            self.grave.pop_front()
        } else {
            None
        }
    }

    /// Returns a checked record's memory to the free list.
    pub fn release(&mut self, i: usize) {
        self.recs[i].state = State::Free;
        self.free.push(i);
    }
}
