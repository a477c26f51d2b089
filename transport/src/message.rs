//! A bounded queue of messages that keeps their boundaries (datagrams).

use crate::notify::Slot;
use crate::sync::{lock, Wait};
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use winsock_provider::{Bufs, BufsMut, Ready, WsaError};

struct Message<A> {
    from: A,
    data: Vec<u8>,
}

struct Queue<A> {
    messages: VecDeque<Message<A>>,
    /// Sum of the queued messages' sizes.
    bytes: usize,
    /// The byte bound (the receiver's `SO_RCVBUF`).
    capacity: usize,
    /// The count bound.
    max_messages: usize,
    /// Accept only messages from this sender (a connected datagram socket).
    only_from: Option<A>,
    /// `SD_RECEIVE`: receives fail with `WSAESHUTDOWN`, arrivals are dropped.
    shut: bool,
    /// The socket was closed: blocked receives return `WSAEINTR`, arrivals are dropped.
    closed: bool,
}

/// A datagram socket's receive queue: each receive takes one whole message and its sender
/// (of any address type `A`). Bounded in bytes and in messages; a message that does not fit is
/// dropped silently, as UDP does, except that an empty queue always takes one. Arrivals signal
/// `READ` through [`MessageQueue::slot`].
pub struct MessageQueue<A> {
    queue: Mutex<Queue<A>>,
    arrived: Condvar,
    slot: Slot,
}

/// What a receive returned.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Received<A> {
    /// Bytes copied into the caller's buffers.
    pub len: usize,
    /// The sender.
    pub from: A,
    /// The message did not fit: the rest of it was discarded (unless peeking).
    pub truncated: bool,
}

impl<A> Received<A> {
    /// The receive's result as Winsock reports it: a truncated message is `WSAEMSGSIZE` (its
    /// first bytes are in the buffers, the rest is lost).
    #[inline]
    pub fn into_result(self) -> Result<(usize, A), WsaError> {
        if self.truncated {
            Err(WsaError::MSGSIZE)
        } else {
            Ok((self.len, self.from))
        }
    }
}

impl<A: Copy + PartialEq> MessageQueue<A> {
    /// An empty queue holding at most `capacity` bytes in at most `max_messages` messages.
    pub fn new(capacity: usize, max_messages: usize) -> MessageQueue<A> {
        MessageQueue {
            queue: Mutex::new(Queue {
                messages: VecDeque::new(),
                bytes: 0,
                capacity,
                max_messages,
                only_from: None,
                shut: false,
                closed: false,
            }),
            arrived: Condvar::new(),
            slot: Slot::new(),
        }
    }

    /// The slot arrivals signal `READ` through.
    pub fn slot(&self) -> &Slot {
        &self.slot
    }

    /// Whether a receive returns at once (a message queued, or the queue shut or closed).
    pub fn readable(&self) -> bool {
        let queue = lock(&self.queue);
        !queue.messages.is_empty() || queue.shut || queue.closed
    }

    /// Changes the byte bound (the receiver's `SO_RCVBUF`).
    pub fn set_capacity(&self, capacity: usize) {
        lock(&self.queue).capacity = capacity;
    }

    /// Accept messages only from `sender` (a connected socket), or from anyone (`None`).
    pub fn filter(&self, sender: Option<A>) {
        lock(&self.queue).only_from = sender;
    }

    /// Total bytes queued (`FIONREAD`, as Winsock reports it for datagram sockets).
    pub fn queued(&self) -> usize {
        lock(&self.queue).bytes
    }

    /// Messages queued.
    pub fn messages(&self) -> usize {
        lock(&self.queue).messages.len()
    }

    /// Queues a copy of `data` from `from`, or drops it silently (as UDP does) when the queue
    /// is full, filters senders, or was shut or closed.
    pub fn deliver(&self, from: A, data: &Bufs<'_>) {
        let len = data.len();
        let mut queue = lock(&self.queue);
        let full = !queue.messages.is_empty()
            && (queue.bytes + len > queue.capacity || queue.messages.len() >= queue.max_messages);
        let filtered = queue.only_from.map_or(false, |only| only != from);
        if full || filtered || queue.shut || queue.closed {
            return;
        }
        queue.messages.push_back(Message {
            from,
            data: data.to_vec(),
        });
        queue.bytes += len;
        drop(queue);
        self.arrived.notify_one();
        self.slot.signal(Ready::READ);
    }

    /// Receives one message into `bufs` (removing it unless `peek`), waiting as `wait`
    /// allows. See [`Received::into_result`] for truncation.
    pub fn receive(
        &self,
        bufs: &mut BufsMut<'_>,
        peek: bool,
        wait: Wait,
    ) -> Result<Received<A>, WsaError> {
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
            queue = wait.wait(&self.arrived, queue)?;
        }
    }

    /// `SD_RECEIVE`: drops what is queued and refuses further messages (receives fail at once
    /// with `WSAESHUTDOWN`; nothing is signalled).
    pub fn shut(&self) {
        self.end(|q| q.shut = true);
    }

    /// The socket closes: blocked receives return `WSAEINTR`, arrivals are dropped.
    pub fn close(&self) {
        self.end(|q| q.closed = true);
    }

    fn end(&self, mark: impl FnOnce(&mut Queue<A>)) {
        let mut queue = lock(&self.queue);
        mark(&mut queue);
        queue.messages.clear();
        queue.bytes = 0;
        drop(queue);
        self.arrived.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{read_with, write_with};
    use std::sync::Arc;
    use std::thread;

    /// Delivers `data` from `from`; returns whether it was queued.
    fn send(q: &MessageQueue<u16>, from: u16, data: &[u8]) -> bool {
        let before = q.messages();
        write_with(data, |bufs| {
            q.deliver(from, bufs);
            Ok(())
        })
        .unwrap();
        q.messages() > before
    }

    fn recv(q: &MessageQueue<u16>, out: &mut [u8], peek: bool) -> Result<Received<u16>, WsaError> {
        read_with(out, |bufs| q.receive(bufs, peek, Wait::NONBLOCKING))
    }

    #[test]
    fn boundaries_truncation_and_bounds() {
        let q = MessageQueue::new(10, 100);
        assert!(send(&q, 1, b"hello"));
        assert!(send(&q, 2, b""));
        // 5 + 0 + 6 > 10: dropped.
        assert!(!send(&q, 3, b"world!"));
        assert_eq!(q.queued(), 5);
        let mut out = [0u8; 3];
        let peeked = recv(&q, &mut out, true).unwrap();
        let expected = Received {
            len: 3,
            from: 1,
            truncated: true,
        };
        assert_eq!(peeked, expected);
        assert_eq!(peeked.into_result(), Err(WsaError::MSGSIZE));
        assert!(recv(&q, &mut out, false).unwrap().truncated);
        assert_eq!(&out, b"hel");
        assert_eq!(recv(&q, &mut out, false).unwrap().into_result(), Ok((0, 2)));
        assert_eq!(recv(&q, &mut out, false), Err(WsaError::WOULDBLOCK));
        assert!(!q.readable());
        // An empty queue takes a message larger than its bound.
        assert!(send(&q, 4, &[7u8; 50]));
        assert_eq!(q.queued(), 50);
    }

    #[test]
    fn count_bound_filter_shut_and_close() {
        let q = MessageQueue::new(1000, 2);
        assert!(send(&q, 1, b"a") && send(&q, 1, b"b"));
        assert!(!send(&q, 1, b"c"));
        let mut out = [0u8; 8];
        recv(&q, &mut out, false).unwrap();
        recv(&q, &mut out, false).unwrap();
        q.filter(Some(9));
        assert!(!send(&q, 1, b"no"));
        assert!(send(&q, 9, b"yes"));
        assert_eq!(recv(&q, &mut out, false).unwrap().from, 9);
        q.shut();
        assert!(!send(&q, 9, b"late"));
        assert!(q.readable());
        assert_eq!(recv(&q, &mut out, false), Err(WsaError::SHUTDOWN));
        q.close();
        assert_eq!(recv(&q, &mut out, false), Err(WsaError::INTR));
    }

    #[test]
    fn concurrent_senders_and_blocked_receivers() {
        let q = Arc::new(MessageQueue::new(1 << 20, 1 << 16));
        let receivers: Vec<_> = (0..3)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || {
                    let mut got = Vec::new();
                    let mut out = [0u8; 8];
                    loop {
                        match read_with(&mut out, |b| q.receive(b, false, Wait::FOREVER)) {
                            Ok(r) => got.push((r.from, out[..r.len].to_vec())),
                            Err(e) => return (got, e),
                        }
                    }
                })
            })
            .collect();
        let senders: Vec<_> = (0..4u16)
            .map(|s| {
                let q = q.clone();
                thread::spawn(move || {
                    for i in 0..500u32 {
                        write_with(&i.to_ne_bytes(), |b| {
                            q.deliver(s, b);
                            Ok(())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        while q.readable() {
            thread::yield_now();
        }
        q.close();
        let mut all = Vec::new();
        for r in receivers {
            let (got, end) = r.join().unwrap();
            assert_eq!(end, WsaError::INTR);
            all.extend(got);
        }
        // Every message arrived once, whole, and each sender's in order per receiver.
        assert_eq!(all.len(), 2000);
        for s in 0..4u16 {
            let mut mine: Vec<u32> = all
                .iter()
                .filter(|(f, _)| *f == s)
                .map(|(_, d)| u32::from_ne_bytes([d[0], d[1], d[2], d[3]]))
                .collect();
            mine.sort_unstable();
            assert_eq!(mine, (0..500).collect::<Vec<_>>());
        }
    }
}
