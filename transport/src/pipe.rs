//! A bounded byte pipe (one direction of a stream connection) and a connection end made of
//! two of them.

use crate::notify::{Slot, Watchers};
use crate::ring::Ring;
use crate::sync::{lock, Wait};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use winsock_provider::{Bufs, BufsMut, MsgFlags, Ready, Shutdown, WsaError};

/// A bounded byte queue from a writer socket to a reader socket, with TCP's end of stream,
/// reset and close: writers get `WSAEWOULDBLOCK` (or wait) when it is full, readers when it is
/// empty; readiness changes are signalled through the reader's and the writer's [`Slot`]s.
pub struct Pipe {
    state: Mutex<PipeState>,
    /// Signalled when data arrives or the reader must stop waiting.
    readable: Condvar,
    /// Signalled when room frees up or the writer must stop waiting.
    writable: Condvar,
    /// The reading socket's readiness (`READ`, `CLOSE`).
    reader: Slot,
    /// The writing socket's readiness (`WRITE`).
    writer: Slot,
}

struct PipeState {
    data: Ring,
    /// How many bytes may be queued (typically the reader's `SO_RCVBUF`).
    capacity: usize,
    /// The smallest room a blocked writer waits for (0: no writer waiting).
    want_room: usize,
    /// The writer will send no more (`SD_SEND` or close): the reader gets 0 after draining.
    eof: bool,
    /// The writer's side aborted: the reader gets `WSAECONNRESET`, queued data is lost.
    reset: bool,
    /// The writer socket was closed: its own blocked senders return `WSAEINTR`.
    writer_closed: bool,
    /// The reader will receive no more (`SD_RECEIVE` or close): writers get `WSAECONNRESET`.
    reader_shut: bool,
    /// The reader socket was closed: its own blocked receivers return `WSAEINTR`.
    reader_closed: bool,
    /// A non-blocking write could not queue everything: signal the writer when room frees.
    writer_starved: bool,
}

/// How a read takes data.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadMode {
    /// `MSG_PEEK`: leave the data queued.
    pub peek: bool,
    /// `MSG_WAITALL`: a blocking read waits until the buffers are full.
    pub wait_all: bool,
}

impl ReadMode {
    /// The mode of a receive with `flags`: `MSG_OOB`, and `MSG_PEEK` with `MSG_WAITALL`, are
    /// `WSAEOPNOTSUPP`; other flags are ignored.
    #[inline]
    pub fn from_flags(flags: MsgFlags) -> Result<ReadMode, WsaError> {
        let peek = flags.contains(MsgFlags::PEEK);
        let wait_all = flags.contains(MsgFlags::WAITALL);
        if flags.contains(MsgFlags::OOB) || (peek && wait_all) {
            return Err(WsaError::OPNOTSUPP);
        }
        Ok(ReadMode { peek, wait_all })
    }
}

/// A queue bound from an `SO_RCVBUF` value: at least one byte, so a blocking writer always
/// makes progress.
#[inline]
pub fn capacity_for(rcvbuf: i32) -> usize {
    rcvbuf.max(1) as usize
}

/// Calls `f` on the bytes of `bufs` from offset `skip`, at most `n` of them, in order.
fn gather(bufs: &Bufs<'_>, mut skip: usize, mut n: usize, mut f: impl FnMut(&[u8])) {
    for part in bufs.iter() {
        if n == 0 {
            break;
        }
        if skip >= part.len() {
            skip -= part.len();
            continue;
        }
        let part = &part[skip..];
        skip = 0;
        let take = part.len().min(n);
        f(&part[..take]);
        n -= take;
    }
}

/// Copies queued bytes into `bufs` from byte offset `offset` of the buffers (earlier bytes were
/// filled by a previous round); returns how many were copied.
fn scatter(bufs: &mut BufsMut<'_>, offset: usize, ring: &Ring) -> usize {
    let mut pos = 0;
    let mut done = 0;
    for buf in bufs.iter_mut() {
        let len = buf.len();
        if pos + len <= offset {
            pos += len;
            continue;
        }
        let start = offset.saturating_sub(pos);
        let n = ring.peek_at(done, &mut buf[start..]);
        done += n;
        pos += len;
        if n < len - start {
            break;
        }
    }
    done
}

impl Pipe {
    /// An open, empty pipe holding at most `capacity` bytes, signalling nowhere yet.
    pub fn new(capacity: usize) -> Pipe {
        Pipe {
            state: Mutex::new(PipeState {
                data: Ring::default(),
                capacity,
                want_room: 0,
                eof: false,
                reset: false,
                writer_closed: false,
                reader_shut: false,
                reader_closed: false,
                writer_starved: false,
            }),
            readable: Condvar::new(),
            writable: Condvar::new(),
            reader: Slot::new(),
            writer: Slot::new(),
        }
    }

    /// The slot the reading side's readiness goes through.
    pub fn reader(&self) -> &Slot {
        &self.reader
    }

    /// The slot the writing side's readiness goes through.
    pub fn writer(&self) -> &Slot {
        &self.writer
    }

    /// Whether a receive returns at once (data, end of stream, an error): `READ`, with
    /// `CLOSE` once the writer finished or reset.
    pub fn read_readiness(&self) -> Ready {
        let st = lock(&self.state);
        let mut ready = Ready::NONE;
        if !st.data.is_empty() || st.reset || st.reader_shut || st.reader_closed {
            ready |= Ready::READ;
        }
        if st.eof || st.reset {
            ready |= Ready::CLOSE;
        }
        ready
    }

    /// Whether a send returns at once (room, or an error): `WRITE` or nothing.
    pub fn write_readiness(&self) -> Ready {
        let st = lock(&self.state);
        let fails = st.writer_closed || st.eof || st.reader_shut || st.reset;
        if fails || st.data.len() < st.capacity {
            Ready::WRITE
        } else {
            Ready::NONE
        }
    }

    /// Drops the state lock, signals, and takes the lock again.
    fn signal_unlocked<'a>(
        &'a self,
        st: MutexGuard<'a, PipeState>,
        slot: &Slot,
        ready: Ready,
    ) -> MutexGuard<'a, PipeState> {
        drop(st);
        slot.signal(ready);
        lock(&self.state)
    }

    /// Bytes queued (`FIONREAD`).
    pub fn queued(&self) -> usize {
        lock(&self.state).data.len()
    }

    /// Changes the bound (the reader's `SO_RCVBUF` changed); wakes writers if it grew.
    pub fn set_capacity(&self, capacity: usize) {
        lock(&self.state).capacity = capacity;
        self.writable.notify_all();
    }

    /// Receives into `bufs`, waiting as `wait` allows until data, end of stream or an error.
    /// Returns 0 only at end of stream or for empty buffers. With `wait_all`, a blocking read
    /// returns early only at end of stream, on an error or a timeout, with what it has.
    pub fn read(
        &self,
        bufs: &mut BufsMut<'_>,
        mode: ReadMode,
        wait: Wait,
    ) -> Result<usize, WsaError> {
        let want = bufs.capacity();
        let mut got = 0;
        let mut starved = false;
        let mut st = lock(&self.state);
        let result = loop {
            let failure = if st.reader_closed {
                Some(WsaError::INTR)
            } else if st.reader_shut {
                Some(WsaError::SHUTDOWN)
            } else if st.reset {
                Some(WsaError::CONNRESET)
            } else {
                None
            };
            if let Some(e) = failure {
                // Bytes already taken by an earlier round of MSG_WAITALL are the caller's.
                break if got > 0 { Ok(got) } else { Err(e) };
            }
            if !st.data.is_empty() && got < want {
                let n = scatter(bufs, got, &st.data);
                if !mode.peek {
                    st.data.consume(n);
                    let room = st.capacity.saturating_sub(st.data.len());
                    if st.want_room > 0 && room >= st.want_room {
                        st.want_room = 0;
                        self.writable.notify_all();
                    }
                    starved |= core::mem::replace(&mut st.writer_starved, false);
                }
                got += n;
            }
            if got == want || (got > 0 && !mode.wait_all) || st.eof {
                break Ok(got);
            }
            if wait.is_nonblocking() {
                break if got > 0 {
                    Ok(got)
                } else {
                    Err(WsaError::WOULDBLOCK)
                };
            }
            if core::mem::replace(&mut starved, false) {
                // Tell a waiting overlapped writer about the room before waiting ourselves.
                st = self.signal_unlocked(st, &self.writer, Ready::WRITE);
                continue;
            }
            st = match wait.wait(&self.readable, st) {
                Ok(st) => st,
                // (Nothing consumed since `starved` was sent just above.)
                Err(e) => return if got > 0 { Ok(got) } else { Err(e) },
            };
        };
        drop(st);
        if starved {
            self.writer.signal(Ready::WRITE);
        }
        result
    }

    /// Sends `bufs`: a blocking write queues every byte, waiting for room as needed (until
    /// `wait`'s deadline: then it returns what it queued, or `WSAETIMEDOUT`); a non-blocking
    /// one queues what fits, or fails with `WSAEWOULDBLOCK` if nothing does.
    pub fn write(&self, bufs: &Bufs<'_>, wait: Wait) -> Result<usize, WsaError> {
        let total = bufs.len();
        let nonblocking = wait.is_nonblocking();
        let mut sent = 0;
        let mut pushed = false;
        let mut st = lock(&self.state);
        let result = loop {
            let failure = if st.writer_closed {
                Some(WsaError::INTR)
            } else if st.eof {
                Some(WsaError::SHUTDOWN)
            } else if st.reader_shut || st.reset {
                Some(WsaError::CONNRESET)
            } else {
                None
            };
            if let Some(e) = failure {
                break Err(e);
            }
            if sent == total {
                break Ok(sent);
            }
            let room = st.capacity.saturating_sub(st.data.len());
            // A blocked writer takes room in large steps rather than trickling byte by byte
            // behind a slow reader.
            let worth = (total - sent).min((st.capacity / 2).max(1));
            if room > 0 && (nonblocking || room >= worth || sent == 0) {
                let n = room.min(total - sent);
                let data = &mut st.data;
                gather(bufs, sent, n, |part| data.push(part));
                sent += n;
                pushed = true;
                self.readable.notify_all();
                continue;
            }
            if nonblocking {
                st.writer_starved = true;
                break if sent > 0 {
                    Ok(sent)
                } else {
                    Err(WsaError::WOULDBLOCK)
                };
            }
            if core::mem::replace(&mut pushed, false) {
                // Tell a waiting overlapped reader about the data before waiting for room.
                st = self.signal_unlocked(st, &self.reader, Ready::READ);
                continue;
            }
            st.want_room = match st.want_room {
                0 => worth,
                w => w.min(worth),
            };
            st = match wait.wait(&self.writable, st) {
                Ok(st) => st,
                // (Nothing pushed since `pushed` was sent just above.)
                Err(e) => return if sent > 0 { Ok(sent) } else { Err(e) },
            };
        };
        drop(st);
        if pushed {
            self.reader.signal(Ready::READ);
        }
        result
    }

    /// The writer shuts down sending (`SD_SEND`): the reader drains what is queued, then gets 0.
    pub fn finish(&self) {
        lock(&self.state).eof = true;
        self.readable.notify_all();
        self.writable.notify_all();
        self.reader.signal(Ready::CLOSE);
        self.writer.signal(Ready::WRITE);
    }

    /// The reader shuts down receiving (`SD_RECEIVE`): queued data is discarded, its receives
    /// fail with `WSAESHUTDOWN` and later sends with `WSAECONNRESET`.
    pub fn refuse(&self) {
        let mut st = lock(&self.state);
        st.reader_shut = true;
        st.data.clear();
        drop(st);
        self.readable.notify_all();
        self.writable.notify_all();
        self.reader.signal(Ready::READ);
        self.writer.signal(Ready::WRITE);
    }

    /// The reader socket closes: its blocked receivers get `WSAEINTR`, writers
    /// `WSAECONNRESET`. Returns whether unread data was discarded.
    pub fn close_reader(&self) -> bool {
        let mut st = lock(&self.state);
        let unread = !st.data.is_empty();
        st.reader_shut = true;
        st.reader_closed = true;
        st.data.clear();
        drop(st);
        self.readable.notify_all();
        self.writable.notify_all();
        self.writer.signal(Ready::WRITE);
        unread
    }

    /// The writer socket closes: its blocked senders get `WSAEINTR`; the reader gets the
    /// queued data then 0, or, if `abort`, `WSAECONNRESET` (and the data is lost).
    pub fn close_writer(&self, abort: bool) {
        let mut st = lock(&self.state);
        st.writer_closed = true;
        st.eof = true;
        if abort {
            st.reset = true;
            st.data.clear();
        }
        drop(st);
        self.readable.notify_all();
        self.writable.notify_all();
        if abort {
            self.reader
                .signal_error(Ready::READ | Ready::CLOSE, WsaError::CONNRESET);
        } else {
            self.reader.signal(Ready::CLOSE);
        }
    }
}

/// One end of a stream connection: the pipe it reads from and the pipe it writes to (the
/// other end's, crossed).
pub struct StreamEnd {
    /// Bytes coming in (the peer writes, this end reads).
    pub rx: Arc<Pipe>,
    /// Bytes going out.
    pub tx: Arc<Pipe>,
}

impl StreamEnd {
    /// A new connection: two ends whose incoming pipes hold at most `a_capacity` and
    /// `b_capacity` bytes (each end's receive buffer).
    pub fn pair(a_capacity: usize, b_capacity: usize) -> (StreamEnd, StreamEnd) {
        let to_a = Arc::new(Pipe::new(a_capacity));
        let to_b = Arc::new(Pipe::new(b_capacity));
        let a = StreamEnd {
            rx: to_a.clone(),
            tx: to_b.clone(),
        };
        (a, StreamEnd { rx: to_b, tx: to_a })
    }

    /// Sends this end's readiness to `watchers` (the socket owning it; again for `AcceptEx`).
    pub fn attach(&self, watchers: &Arc<Watchers>) {
        self.rx.reader().set(watchers);
        self.tx.writer().set(watchers);
    }

    /// This end's readiness: `READ` and `CLOSE` from the incoming pipe, `WRITE` from the
    /// outgoing one.
    pub fn readiness(&self) -> Ready {
        self.rx.read_readiness() | self.tx.write_readiness()
    }

    /// `shutdown`: `SD_SEND` finishes the outgoing pipe, `SD_RECEIVE` refuses the incoming
    /// one (see [`Pipe::finish`], [`Pipe::refuse`]).
    pub fn shutdown(&self, how: Shutdown) {
        if how.send() {
            self.tx.finish();
        }
        if how.receive() {
            self.rx.refuse();
        }
    }

    /// Closes this end. The peer receives what was sent, then end of stream; but if this end
    /// leaves unread data behind, or `abort` (linger on with a zero timeout), the connection
    /// is reset instead, as TCP does: the peer's receives fail with `WSAECONNRESET`. Either
    /// way the peer's later sends fail with `WSAECONNRESET`, and this end's blocked calls
    /// return `WSAEINTR`.
    pub fn close(&self, abort: bool) {
        let unread = self.rx.close_reader();
        self.tx.close_writer(abort || unread);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::tests::Recorder;
    use crate::test_util::{read_with, write_with};
    use std::thread;
    use std::time::Duration;

    fn write(pipe: &Pipe, data: &[u8], nonblocking: bool) -> Result<usize, WsaError> {
        write_with(data, |bufs| pipe.write(bufs, Wait::new(nonblocking, 0)))
    }

    fn read(pipe: &Pipe, out: &mut [u8], mode: ReadMode, nb: bool) -> Result<usize, WsaError> {
        read_with(out, |bufs| pipe.read(bufs, mode, Wait::new(nb, 0)))
    }

    #[test]
    fn bounded_nonblocking_write_and_peek() {
        let pipe = Pipe::new(10);
        assert_eq!(write(&pipe, b"0123456789abc", true), Ok(10));
        assert_eq!(write(&pipe, b"x", true), Err(WsaError::WOULDBLOCK));
        assert_eq!(pipe.write_readiness(), Ready::NONE);
        let mut out = [0u8; 4];
        let peek = ReadMode::from_flags(MsgFlags::PEEK).unwrap();
        assert_eq!(read(&pipe, &mut out, peek, true), Ok(4));
        assert_eq!(&out, b"0123");
        assert_eq!(pipe.queued(), 10);
        assert_eq!(read(&pipe, &mut out, ReadMode::default(), true), Ok(4));
        assert_eq!(&out, b"0123");
        assert_eq!(write(&pipe, b"xyz", true), Ok(3));
        let mut rest = [0u8; 20];
        assert_eq!(read(&pipe, &mut rest, ReadMode::default(), true), Ok(9));
        assert_eq!(&rest[..9], b"456789xyz");
        assert_eq!(
            read(&pipe, &mut rest, ReadMode::default(), true),
            Err(WsaError::WOULDBLOCK)
        );
        assert_eq!(pipe.read_readiness(), Ready::NONE);
    }

    #[test]
    fn read_modes() {
        let both = MsgFlags::from_bits(MsgFlags::PEEK.bits() | MsgFlags::WAITALL.bits());
        assert_eq!(ReadMode::from_flags(both), Err(WsaError::OPNOTSUPP));
        assert_eq!(
            ReadMode::from_flags(MsgFlags::OOB),
            Err(WsaError::OPNOTSUPP)
        );
        assert_eq!(
            ReadMode::from_flags(MsgFlags::WAITALL),
            Ok(ReadMode {
                peek: false,
                wait_all: true
            })
        );
        assert_eq!(capacity_for(-5), 1);
    }

    #[test]
    fn scatter_over_several_buffers() {
        let pipe = Pipe::new(100);
        write(&pipe, b"hello world", true).unwrap();
        let (mut a, mut b) = ([0u8; 3], [0u8; 20]);
        let w = [
            winsock_provider::sys::WSABUF {
                len: 3,
                buf: a.as_mut_ptr(),
            },
            winsock_provider::sys::WSABUF {
                len: 0,
                buf: core::ptr::null_mut(),
            },
            winsock_provider::sys::WSABUF {
                len: 20,
                buf: b.as_mut_ptr(),
            },
        ];
        // SAFETY: the WSABUFs describe `a` and `b`, live for the call.
        let mut bufs = unsafe { BufsMut::from_raw(w.as_ptr(), 3) }.unwrap();
        assert_eq!(
            pipe.read(&mut bufs, ReadMode::default(), Wait::NONBLOCKING),
            Ok(11)
        );
        assert_eq!(&a, b"hel");
        assert_eq!(&b[..8], b"lo world");
    }

    #[test]
    fn eof_after_draining_and_shutdown_errors() {
        let pipe = Pipe::new(100);
        write(&pipe, b"abc", false).unwrap();
        pipe.finish();
        assert_eq!(pipe.read_readiness(), Ready::READ | Ready::CLOSE);
        assert_eq!(write(&pipe, b"d", false), Err(WsaError::SHUTDOWN));
        let mut out = [0u8; 8];
        assert_eq!(read(&pipe, &mut out, ReadMode::default(), false), Ok(3));
        assert_eq!(read(&pipe, &mut out, ReadMode::default(), false), Ok(0));
        pipe.refuse();
        assert_eq!(
            read(&pipe, &mut out, ReadMode::default(), false),
            Err(WsaError::SHUTDOWN)
        );
    }

    #[test]
    fn abort_resets_the_reader_and_reader_close_resets_writers() {
        let pipe = Pipe::new(100);
        write(&pipe, b"abc", false).unwrap();
        pipe.close_writer(true);
        let mut out = [0u8; 8];
        assert_eq!(
            read(&pipe, &mut out, ReadMode::default(), false),
            Err(WsaError::CONNRESET)
        );

        let pipe = Pipe::new(100);
        write(&pipe, b"abc", false).unwrap();
        assert!(pipe.close_reader());
        assert_eq!(write(&pipe, b"d", false), Err(WsaError::CONNRESET));
        assert_eq!(pipe.write_readiness(), Ready::WRITE);
    }

    #[test]
    fn blocking_transfer_through_a_small_pipe() {
        let pipe = Arc::new(Pipe::new(1000));
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let writer = {
            let (pipe, data) = (pipe.clone(), data.clone());
            thread::spawn(move || {
                assert_eq!(write(&pipe, &data, false), Ok(data.len()));
                pipe.finish();
            })
        };
        let mut got = Vec::new();
        let mut buf = [0u8; 777];
        loop {
            match read(&pipe, &mut buf, ReadMode::default(), false) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!("read failed: {:?}", e),
            }
        }
        writer.join().unwrap();
        assert!(got == data);
    }

    #[test]
    fn concurrent_nonblocking_peers_with_readiness() {
        // Two threads that never block in the pipe: each waits for its readiness signal, as an
        // overlapped or event-selecting application does. A lost signal hangs the test.
        let pipe = Arc::new(Pipe::new(64));
        let (reader_w, writer_w) = (Watchers::new(), Watchers::new());
        let (reader_r, writer_r) = (Recorder::default(), Recorder::default());
        reader_w.attach_sink(Box::new(reader_r.clone()));
        writer_w.attach_sink(Box::new(writer_r.clone()));
        pipe.reader().set(&reader_w);
        pipe.writer().set(&writer_w);
        let total = 50_000usize;
        let writer = {
            let (pipe, rec) = (pipe.clone(), writer_r);
            thread::spawn(move || {
                let mut sent = 0;
                while sent < total {
                    let chunk: Vec<u8> = (sent..(sent + 100).min(total)).map(|i| i as u8).collect();
                    let seen = lock(&rec.0).len();
                    match write(&pipe, &chunk, true) {
                        Ok(n) => sent += n,
                        Err(WsaError::WOULDBLOCK) => {
                            while lock(&rec.0).len() == seen {
                                thread::yield_now();
                            }
                        }
                        Err(e) => panic!("write failed: {:?}", e),
                    }
                }
                pipe.finish();
            })
        };
        let mut got = 0usize;
        let mut buf = [0u8; 37];
        loop {
            let seen = lock(&reader_r.0).len();
            match read(&pipe, &mut buf, ReadMode::default(), true) {
                Ok(0) => break,
                Ok(n) => {
                    assert!(buf[..n]
                        .iter()
                        .enumerate()
                        .all(|(i, &b)| b == (got + i) as u8));
                    got += n;
                }
                Err(WsaError::WOULDBLOCK) => {
                    while lock(&reader_r.0).len() == seen {
                        thread::yield_now();
                    }
                }
                Err(e) => panic!("read failed: {:?}", e),
            }
        }
        writer.join().unwrap();
        assert_eq!(got, total);
        assert!(reader_r.seen().contains(Ready::READ | Ready::CLOSE));
    }

    #[test]
    fn wait_all_fills_the_buffer() {
        let pipe = Arc::new(Pipe::new(16));
        let writer = {
            let pipe = pipe.clone();
            thread::spawn(move || {
                for chunk in [&b"ab"[..], b"cdef", b"g"] {
                    write(&pipe, chunk, false).unwrap();
                    thread::sleep(Duration::from_millis(5));
                }
            })
        };
        let mut out = [0u8; 7];
        let mode = ReadMode::from_flags(MsgFlags::WAITALL).unwrap();
        assert_eq!(read(&pipe, &mut out, mode, false), Ok(7));
        assert_eq!(&out, b"abcdefg");
        writer.join().unwrap();
    }

    #[test]
    fn closing_with_unread_data_resets() {
        let (a, b) = StreamEnd::pair(4, 4);
        let b = Arc::new(b);
        write(&b.tx, b"1234", false).unwrap();
        assert_eq!(a.readiness(), Ready::READ | Ready::WRITE);
        assert_eq!(b.readiness(), Ready::NONE);
        // `b` waits for room in `a`'s full incoming pipe; closing `a` with that data unread
        // resets the connection both ways.
        let writer = {
            let b = b.clone();
            thread::spawn(move || write(&b.tx, b"5678", false))
        };
        thread::sleep(Duration::from_millis(20));
        a.close(false);
        assert_eq!(writer.join().unwrap(), Err(WsaError::CONNRESET));
        assert_eq!(b.readiness(), Ready::READ | Ready::CLOSE | Ready::WRITE);
        let mut out = [0u8; 4];
        assert_eq!(
            read(&b.rx, &mut out, ReadMode::default(), false),
            Err(WsaError::CONNRESET)
        );
    }

    #[test]
    fn closing_the_own_side_interrupts() {
        let pipe = Arc::new(Pipe::new(4));
        let reader = {
            let pipe = pipe.clone();
            thread::spawn(move || read(&pipe, &mut [0u8; 4], ReadMode::default(), false))
        };
        let full = Arc::new(Pipe::new(4));
        write(&full, b"1234", false).unwrap();
        let writer = {
            let full = full.clone();
            thread::spawn(move || write(&full, b"5678", false))
        };
        thread::sleep(Duration::from_millis(20));
        pipe.close_reader();
        full.close_writer(false);
        assert_eq!(reader.join().unwrap(), Err(WsaError::INTR));
        assert_eq!(writer.join().unwrap(), Err(WsaError::INTR));
    }

    #[test]
    fn timeouts() {
        let pipe = Pipe::new(4);
        let mut out = [0u8; 4];
        let r = read_with(&mut out, |bufs| {
            pipe.read(bufs, ReadMode::default(), Wait::new(false, 10))
        });
        assert_eq!(r, Err(WsaError::TIMEDOUT));
        write(&pipe, b"12", false).unwrap();
        // A timed-out blocking write returns what it queued.
        let w = write_with(b"3456", |bufs| pipe.write(bufs, Wait::new(false, 10)));
        assert_eq!(w, Ok(2));
        let w = write_with(b"7", |bufs| pipe.write(bufs, Wait::new(false, 10)));
        assert_eq!(w, Err(WsaError::TIMEDOUT));
    }

    #[test]
    fn shutdown_both_ways() {
        let (a, b) = StreamEnd::pair(16, 16);
        write(&a.tx, b"hi", true).unwrap();
        a.shutdown(Shutdown::from_raw(1).unwrap());
        assert_eq!(write(&a.tx, b"x", true), Err(WsaError::SHUTDOWN));
        let mut out = [0u8; 4];
        assert_eq!(read(&b.rx, &mut out, ReadMode::default(), true), Ok(2));
        assert_eq!(read(&b.rx, &mut out, ReadMode::default(), true), Ok(0));
        b.shutdown(Shutdown::from_raw(0).unwrap());
        assert_eq!(
            read(&b.rx, &mut out, ReadMode::default(), true),
            Err(WsaError::SHUTDOWN)
        );
    }
}
