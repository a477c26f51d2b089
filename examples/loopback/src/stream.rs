//! Stream connections and listeners.

use crate::pipe::{Pipe, PipeReady};
use crate::ready::{Slot, Watchers};
use crate::sync::{lock, wait, Deadline};
use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::sync::{Arc, Condvar, Mutex};
use winsock_provider::{Ready, WsaError};

/// One end of an established connection.
pub(crate) struct Conn {
    /// Bytes coming in (the peer writes, this end reads).
    pub(crate) rx: Arc<Pipe>,
    /// Bytes going out.
    pub(crate) tx: Arc<Pipe>,
    /// This end's address.
    pub(crate) local: SocketAddrV4,
    /// The other end's address.
    pub(crate) peer: SocketAddrV4,
}

impl Conn {
    /// A new connection between `client` and `server`: returns (client end, server end). Each
    /// end's incoming pipe is bounded by that end's receive buffer size.
    pub(crate) fn pair(
        client: SocketAddrV4,
        server: SocketAddrV4,
        client_rcvbuf: usize,
        server_rcvbuf: usize,
    ) -> (Conn, Conn) {
        let to_client = Arc::new(Pipe::new(client_rcvbuf));
        let to_server = Arc::new(Pipe::new(server_rcvbuf));
        let client_end = Conn {
            rx: to_client.clone(),
            tx: to_server.clone(),
            local: client,
            peer: server,
        };
        let server_end = Conn {
            rx: to_server,
            tx: to_client,
            local: server,
            peer: client,
        };
        (client_end, server_end)
    }

    /// Closes this end. The peer receives what was sent, then end of stream; but if this end
    /// leaves unread data behind, or `abort` (linger on with a zero timeout), the connection
    /// is reset instead, as TCP does: the peer's receives fail with `WSAECONNRESET`. Either
    /// way the peer's later sends fail with `WSAECONNRESET`. This end's blocked calls return
    /// `WSAEINTR`.
    pub(crate) fn close(&self, abort: bool) {
        let unread = self.rx.close_reader();
        self.tx.close_writer(abort || unread);
    }

    /// Sends this end's readiness to `watchers` (the socket that owns this end).
    pub(crate) fn attach(&self, watchers: &Arc<Watchers>) {
        self.rx.set_reader(watchers);
        self.tx.set_writer(watchers);
    }

    /// This end's readiness.
    pub(crate) fn readiness(&self) -> Ready {
        let rx: PipeReady = self.rx.readiness();
        let tx: PipeReady = self.tx.readiness();
        let mut ready = Ready::NONE;
        if rx.readable {
            ready |= Ready::READ;
        }
        if rx.closed {
            ready |= Ready::CLOSE;
        }
        if tx.writable {
            ready |= Ready::WRITE;
        }
        ready
    }
}

/// A listening socket's queue of connections not yet accepted.
pub(crate) struct Listener {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// The listening socket's readiness (a connection queued).
    watchers: Slot,
}

struct Queue {
    pending: VecDeque<Conn>,
    backlog: usize,
    /// Receive buffer size of accepted sockets (the listener's `SO_RCVBUF`).
    rcvbuf: usize,
    closed: bool,
}

impl Listener {
    /// A listener admitting at most `backlog` connections waiting to be accepted.
    pub(crate) fn new(backlog: usize, rcvbuf: usize) -> Listener {
        Listener {
            queue: Mutex::new(Queue {
                pending: VecDeque::new(),
                backlog: backlog.max(1),
                rcvbuf,
                closed: false,
            }),
            ready: Condvar::new(),
            watchers: Slot::default(),
        }
    }

    /// Sends the listener's readiness to `watchers`.
    pub(crate) fn set_watchers(&self, watchers: &Arc<Watchers>) {
        self.watchers.set(watchers);
    }

    /// Signals that a connection was queued (call without holding socket locks).
    pub(crate) fn announce(&self) {
        self.watchers.signal(Ready::ACCEPT);
    }

    /// Whether a connection is waiting (or the listener closed: accept fails at once).
    pub(crate) fn acceptable(&self) -> bool {
        let queue = lock(&self.queue);
        queue.closed || !queue.pending.is_empty()
    }

    /// A second `listen` changes the backlog.
    pub(crate) fn set_backlog(&self, backlog: usize) {
        lock(&self.queue).backlog = backlog.max(1);
    }

    /// The listener's receive buffer size changed: connections made from now on use it.
    pub(crate) fn set_rcvbuf(&self, rcvbuf: usize) {
        lock(&self.queue).rcvbuf = rcvbuf;
    }

    /// Connects `client` to this listener at `server`: queues the server end and returns the
    /// client end, or `WSAECONNREFUSED` when the backlog is full or the listener closed.
    pub(crate) fn connect(
        &self,
        client: SocketAddrV4,
        server: SocketAddrV4,
        client_rcvbuf: usize,
    ) -> Result<Conn, WsaError> {
        let mut queue = lock(&self.queue);
        if queue.closed || queue.pending.len() >= queue.backlog {
            return Err(WsaError::CONNREFUSED);
        }
        let (client_end, server_end) = Conn::pair(client, server, client_rcvbuf, queue.rcvbuf);
        queue.pending.push_back(server_end);
        drop(queue);
        self.ready.notify_one();
        Ok(client_end)
    }

    /// Takes the oldest pending connection, waiting for one unless `nonblocking`. Fails with
    /// `WSAEINTR` when the listener is closed meanwhile.
    pub(crate) fn accept(&self, nonblocking: bool, deadline: Deadline) -> Result<Conn, WsaError> {
        let mut queue = lock(&self.queue);
        loop {
            if queue.closed {
                return Err(WsaError::INTR);
            }
            if let Some(conn) = queue.pending.pop_front() {
                return Ok(conn);
            }
            if nonblocking {
                return Err(WsaError::WOULDBLOCK);
            }
            queue = wait(&self.ready, queue, deadline)?;
        }
    }

    /// Connections waiting to be accepted.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        lock(&self.queue).pending.len()
    }

    /// Closes the listener: pending connections are reset, blocked accepts return `WSAEINTR`.
    pub(crate) fn close(&self) {
        let pending = {
            let mut queue = lock(&self.queue);
            queue.closed = true;
            std::mem::take(&mut queue.pending)
        };
        self.ready.notify_all();
        for conn in pending {
            conn.close(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn a(port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)
    }

    #[test]
    fn backlog_bounds_pending_connections() {
        let l = Listener::new(2, 100);
        assert!(l.connect(a(1), a(80), 100).is_ok());
        assert!(l.connect(a(2), a(80), 100).is_ok());
        assert_eq!(
            l.connect(a(3), a(80), 100).err(),
            Some(WsaError::CONNREFUSED)
        );
        let first = l.accept(true, Deadline::NEVER).ok().unwrap();
        assert_eq!((first.local, first.peer), (a(80), a(1)));
        assert_eq!(l.pending(), 1);
        assert!(l.connect(a(3), a(80), 100).is_ok());
        l.set_backlog(10);
        assert!(l.connect(a(4), a(80), 100).is_ok());
        assert_eq!(l.pending(), 3);
    }

    #[test]
    fn closing_resets_pending_and_wakes_accept() {
        let l = Arc::new(Listener::new(5, 100));
        let client = l.connect(a(1), a(80), 100).ok().unwrap();
        assert!(l.accept(false, Deadline::NEVER).is_ok());
        let waiter = {
            let l = l.clone();
            std::thread::spawn(move || l.accept(false, Deadline::NEVER).err())
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        let pending = l.connect(a(2), a(80), 100).ok().unwrap();
        // The waiter may have taken that one; connect another to be reset by close.
        let late = l.connect(a(3), a(80), 100).ok().unwrap();
        l.close();
        let got = waiter.join().unwrap();
        assert!(got.is_none() || got == Some(WsaError::INTR));
        assert_eq!(
            l.connect(a(4), a(80), 100).err(),
            Some(WsaError::CONNREFUSED)
        );
        assert_eq!(l.accept(true, Deadline::NEVER).err(), Some(WsaError::INTR));
        assert_eq!(late.tx.queued(), 0);
        drop((client, pending));
    }
}
