//! A socket's pending overlapped requests, as its I/O record holds them: one queue per
//! direction, and the state of the thread attempting them.

use super::completion::Completion;
use super::Socket;
use crate::types::error::WsaError;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};

/// Which queue a request waits in: requests of one direction complete in order.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Dir {
    /// Receives and accepts.
    In = 0,
    /// Sends, connects and disconnects.
    Out = 1,
}

/// One attempt of a request: `(bytes, flags)`, `WSAEWOULDBLOCK` to keep waiting, or an error.
pub(crate) type Attempt<S> = Box<dyn FnMut(&S) -> Result<(u32, u32), WsaError> + Send + 'static>;

pub(crate) struct Op<S: Socket> {
    pub(crate) attempt: Attempt<S>,
    pub(crate) done: Completion,
    /// The `FD_*` event whose re-enabling call this request is.
    pub(crate) bit: u32,
    /// Keeps the socket record alive until the request completes.
    pub(crate) _keep: Arc<S>,
}

/// A socket's pending requests.
pub(crate) struct Ops<S: Socket> {
    pub(crate) queues: [VecDeque<Op<S>>; 2],
    /// A thread is attempting this socket's requests (at most one does).
    pub(crate) running: bool,
    /// A signal arrived while it was: attempt again.
    pub(crate) again: bool,
    /// The socket is closing: requests are aborted.
    pub(crate) closed: bool,
    /// Listed in the registry of sockets that had pending requests.
    pub(crate) registered: bool,
    /// Requests waiting on another socket whose completion names this one (`AcceptEx`'s
    /// data stage): closing this socket completes them.
    pub(crate) stages: Vec<Weak<Held>>,
}

impl<S: Socket> Ops<S> {
    pub(crate) fn new() -> Ops<S> {
        Ops {
            queues: [VecDeque::new(), VecDeque::new()],
            running: false,
            again: false,
            closed: false,
            registered: false,
            stages: Vec::new(),
        }
    }
}

/// A request's completion held where two sockets can reach it: the one whose queue it waits
/// in, and the one whose handle it names ([`hold_stage`](super::ops::hold_stage)). Whoever takes it first delivers it,
/// under this lock, so a close of the naming socket waits for a delivery in progress.
pub(crate) type Held = Mutex<Option<Completion>>;
