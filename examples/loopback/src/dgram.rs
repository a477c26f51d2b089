//! Datagram receive queues.

use crate::ready::{Slot, Watchers};
use crate::sync::{lock, wait, Deadline};
use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::sync::{Arc, Condvar, Mutex};
use winsock_provider::{Bufs, BufsMut, Ready, WsaError};

/// The largest datagram: 65535 minus the IPv4 and UDP headers with room for IP options.
pub(crate) const MAX_DATAGRAM: usize = 65467;

/// At most this many datagrams wait in one queue, whatever their size (so a flood of empty
/// datagrams is bounded too).
pub(crate) const MAX_QUEUED: usize = 4096;

struct Datagram {
    from: SocketAddrV4,
    data: Vec<u8>,
}

struct Queue {
    messages: VecDeque<Datagram>,
    /// Sum of the queued datagrams' sizes.
    bytes: usize,
    /// The receiver's `SO_RCVBUF` bound.
    capacity: usize,
    /// Accept only datagrams from this address (a connected datagram socket).
    only_from: Option<SocketAddrV4>,
    /// `SD_RECEIVE`: receives fail with `WSAESHUTDOWN`, arrivals are dropped.
    shut: bool,
    /// The socket was closed: blocked receives return `WSAEINTR`, arrivals are dropped.
    closed: bool,
}

/// A datagram socket's receive queue.
pub(crate) struct Mailbox {
    queue: Mutex<Queue>,
    arrived: Condvar,
    /// The receiving socket's readiness.
    watchers: Slot,
}

/// What a datagram receive returns.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Received {
    /// Bytes copied into the caller's buffers.
    pub(crate) len: usize,
    /// The sender.
    pub(crate) from: SocketAddrV4,
    /// The datagram did not fit: the rest of it was discarded (unless peeking).
    pub(crate) truncated: bool,
}

impl Mailbox {
    /// An empty queue bounded by `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> Mailbox {
        Mailbox {
            queue: Mutex::new(Queue {
                messages: VecDeque::new(),
                bytes: 0,
                capacity,
                only_from: None,
                shut: false,
                closed: false,
            }),
            arrived: Condvar::new(),
            watchers: Slot::default(),
        }
    }

    /// Sends the queue's readiness to `watchers`.
    pub(crate) fn set_watchers(&self, watchers: &Arc<Watchers>) {
        self.watchers.set(watchers);
    }

    /// Whether a receive returns at once (a datagram queued, or the queue shut or closed).
    pub(crate) fn readable(&self) -> bool {
        let queue = lock(&self.queue);
        !queue.messages.is_empty() || queue.shut || queue.closed
    }

    /// Changes the byte bound (the receiver's `SO_RCVBUF`).
    pub(crate) fn set_capacity(&self, capacity: usize) {
        lock(&self.queue).capacity = capacity;
    }

    /// Accept datagrams only from `peer` (a connected socket), or from anyone (`None`).
    pub(crate) fn filter(&self, peer: Option<SocketAddrV4>) {
        lock(&self.queue).only_from = peer;
    }

    /// Total bytes queued (`FIONREAD`, as Winsock reports it for datagram sockets).
    pub(crate) fn queued(&self) -> usize {
        lock(&self.queue).bytes
    }

    /// Queues a datagram from `from`, or drops it silently as UDP does: when the queue is full
    /// (an empty queue always takes one datagram), the receiver filters senders, or it has
    /// shut down receiving or closed.
    pub(crate) fn deliver(&self, from: SocketAddrV4, data: &Bufs<'_>) {
        let len = data.len();
        let mut queue = lock(&self.queue);
        let full = !queue.messages.is_empty()
            && (queue.bytes + len > queue.capacity || queue.messages.len() >= MAX_QUEUED);
        let filtered = queue.only_from.map_or(false, |peer| peer != from);
        if full || filtered || queue.shut || queue.closed {
            return;
        }
        queue.messages.push_back(Datagram {
            from,
            data: data.to_vec(),
        });
        queue.bytes += len;
        drop(queue);
        self.arrived.notify_one();
        self.watchers.signal(Ready::READ);
    }

    /// Receives one datagram into `bufs`, waiting for one unless `nonblocking`.
    pub(crate) fn receive(
        &self,
        bufs: &mut BufsMut<'_>,
        peek: bool,
        nonblocking: bool,
        deadline: Deadline,
    ) -> Result<Received, WsaError> {
        let mut queue = lock(&self.queue);
        loop {
            if queue.closed {
                return Err(WsaError::INTR);
            }
            if queue.shut {
                return Err(WsaError::SHUTDOWN);
            }
            if let Some(front) = queue.messages.front() {
                let len = bufs.copy_from(&front.data);
                let received = Received {
                    len,
                    from: front.from,
                    truncated: len < front.data.len(),
                };
                if !peek {
                    if let Some(gone) = queue.messages.pop_front() {
                        queue.bytes -= gone.data.len();
                    }
                    if !queue.messages.is_empty() {
                        // Another receiver may be waiting for the next one.
                        self.arrived.notify_one();
                    }
                }
                return Ok(received);
            }
            if nonblocking {
                return Err(WsaError::WOULDBLOCK);
            }
            queue = wait(&self.arrived, queue, deadline)?;
        }
    }

    /// `SD_RECEIVE`: drops what is queued and refuses further datagrams.
    pub(crate) fn shut(&self) {
        let mut queue = lock(&self.queue);
        queue.shut = true;
        queue.messages.clear();
        queue.bytes = 0;
        drop(queue);
        self.arrived.notify_all();
    }

    /// The socket closes: blocked receives return `WSAEINTR`.
    pub(crate) fn close(&self) {
        let mut queue = lock(&self.queue);
        queue.closed = true;
        queue.messages.clear();
        queue.bytes = 0;
        drop(queue);
        self.arrived.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use winsock_provider::sys::WSABUF;

    fn from(port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)
    }

    fn send(mb: &Mailbox, port: u16, data: &[u8]) {
        let w = [WSABUF {
            len: data.len() as u32,
            buf: data.as_ptr() as *mut u8,
        }];
        // SAFETY: the WSABUF describes `data`, live for the call.
        let bufs = unsafe { Bufs::from_raw(w.as_ptr(), 1) }.unwrap();
        mb.deliver(from(port), &bufs);
    }

    fn recv(mb: &Mailbox, out: &mut [u8], peek: bool) -> Result<Received, WsaError> {
        let w = [WSABUF {
            len: out.len() as u32,
            buf: out.as_mut_ptr(),
        }];
        // SAFETY: the WSABUF describes `out`, borrowed mutably for the call.
        let mut bufs = unsafe { BufsMut::from_raw(w.as_ptr(), 1) }.unwrap();
        mb.receive(&mut bufs, peek, true, Deadline::NEVER)
    }

    #[test]
    fn boundaries_truncation_and_bounds() {
        let mb = Mailbox::new(10);
        send(&mb, 1, b"hello");
        send(&mb, 2, b"");
        send(&mb, 3, b"world!");
        // 5 + 0 + 6 > 10: the third was dropped.
        assert_eq!(mb.queued(), 5);
        let mut out = [0u8; 3];
        let peeked = recv(&mb, &mut out, true).unwrap();
        assert_eq!(
            peeked,
            Received {
                len: 3,
                from: from(1),
                truncated: true
            }
        );
        assert!(recv(&mb, &mut out, false).unwrap().truncated);
        assert_eq!(&out, b"hel");
        assert_eq!(
            recv(&mb, &mut out, false).unwrap(),
            Received {
                len: 0,
                from: from(2),
                truncated: false
            }
        );
        assert_eq!(recv(&mb, &mut out, false), Err(WsaError::WOULDBLOCK));
        // An empty queue takes a datagram larger than its bound.
        send(&mb, 4, &[7u8; 50]);
        assert_eq!(mb.queued(), 50);
    }

    #[test]
    fn filter_shut_and_close() {
        let mb = Mailbox::new(100);
        mb.filter(Some(from(9)));
        send(&mb, 1, b"no");
        send(&mb, 9, b"yes");
        let mut out = [0u8; 8];
        assert_eq!(recv(&mb, &mut out, false).unwrap().from, from(9));
        mb.shut();
        send(&mb, 9, b"late");
        assert_eq!(recv(&mb, &mut out, false), Err(WsaError::SHUTDOWN));
        mb.close();
        assert_eq!(recv(&mb, &mut out, false), Err(WsaError::INTR));
    }
}
