//! One direction of a stream connection: a bounded byte queue between a writer socket and a
//! reader socket, with the end-of-stream, reset and close signals TCP has.

use crate::ready::{Slot, Watchers};
use crate::ring::Ring;
use crate::sync::{lock, wait, Deadline};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use winsock_provider::{Bufs, BufsMut, Ready, WsaError};

/// A bounded byte queue from one socket to another.
pub(crate) struct Pipe {
    state: Mutex<PipeState>,
    /// Signalled when data arrives or the reader must stop waiting.
    readable: Condvar,
    /// Signalled when room frees up or the writer must stop waiting.
    writable: Condvar,
    /// The reading socket's readiness (data, end of stream, reset).
    reader: Slot,
    /// The writing socket's readiness (room, or sends failing at once).
    writer: Slot,
}

/// How the pipe can be read and written right now (for readiness).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PipeReady {
    /// A receive returns at once with data or an error.
    pub(crate) readable: bool,
    /// The writer finished or reset: end of stream reached or pending.
    pub(crate) closed: bool,
    /// A send returns at once (room, or an error).
    pub(crate) writable: bool,
}

struct PipeState {
    data: Ring,
    /// How many bytes may be queued: the reader's `SO_RCVBUF`.
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
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct ReadMode {
    /// `MSG_PEEK`: leave the data queued.
    pub(crate) peek: bool,
    /// `MSG_WAITALL`: a blocking read waits until the buffers are full.
    pub(crate) wait_all: bool,
}

/// Turns an `SO_RCVBUF` value into a queue bound (at least one byte, so a blocking writer can
/// always make progress).
pub(crate) fn queue_bound(rcvbuf: i32) -> usize {
    rcvbuf.max(1) as usize
}

/// Calls `f` on the bytes of `bufs` from offset `skip`, at most `n` of them, in order.
pub(crate) fn gather(bufs: &Bufs<'_>, mut skip: usize, mut n: usize, mut f: impl FnMut(&[u8])) {
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
    /// An open, empty pipe holding at most `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> Pipe {
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
            reader: Slot::default(),
            writer: Slot::default(),
        }
    }

    /// Sends readiness of the reading side to `watchers`.
    pub(crate) fn set_reader(&self, watchers: &Arc<Watchers>) {
        self.reader.set(watchers);
    }

    /// Sends readiness of the writing side to `watchers`.
    pub(crate) fn set_writer(&self, watchers: &Arc<Watchers>) {
        self.writer.set(watchers);
    }

    /// The pipe's readiness now.
    pub(crate) fn readiness(&self) -> PipeReady {
        let st = lock(&self.state);
        let write_fails = st.writer_closed || st.eof || st.reader_shut || st.reset;
        PipeReady {
            readable: !st.data.is_empty() || st.reset || st.reader_shut || st.reader_closed,
            closed: st.eof || st.reset,
            writable: write_fails || st.data.len() < st.capacity,
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
    pub(crate) fn queued(&self) -> usize {
        lock(&self.state).data.len()
    }

    /// Changes the bound (the reader's `SO_RCVBUF` changed); wakes writers if it grew.
    pub(crate) fn set_capacity(&self, capacity: usize) {
        lock(&self.state).capacity = capacity;
        self.writable.notify_all();
    }

    /// Receives into `bufs`: blocks (unless `nonblocking`) until data, end of stream or an
    /// error. Returns 0 only at end of stream or for empty buffers.
    pub(crate) fn read(
        &self,
        bufs: &mut BufsMut<'_>,
        mode: ReadMode,
        nonblocking: bool,
        deadline: Deadline,
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
            if nonblocking {
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
            st = match wait(&self.readable, st, deadline) {
                Ok(st) => st,
                Err(e) => {
                    // (Nothing consumed since the last signal: `starved` was just sent.)
                    return if got > 0 { Ok(got) } else { Err(e) };
                }
            };
        };
        drop(st);
        if starved {
            self.writer.signal(Ready::WRITE);
        }
        result
    }

    /// Sends `bufs`: a blocking write queues every byte, waiting for room as needed; a
    /// non-blocking one queues what fits, or fails with `WSAEWOULDBLOCK` if nothing does.
    pub(crate) fn write(
        &self,
        bufs: &Bufs<'_>,
        nonblocking: bool,
        deadline: Deadline,
    ) -> Result<usize, WsaError> {
        let total = bufs.len();
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
            st.want_room = if st.want_room == 0 {
                worth
            } else {
                st.want_room.min(worth)
            };
            st = match wait(&self.writable, st, deadline) {
                Ok(st) => st,
                Err(e) => {
                    // (Nothing pushed since the last signal: `pushed` was just sent.)
                    return if sent > 0 { Ok(sent) } else { Err(e) };
                }
            };
        };
        drop(st);
        if pushed {
            self.reader.signal(Ready::READ);
        }
        result
    }

    /// The writer shuts down sending (`SD_SEND`): the reader drains what is queued, then gets 0.
    pub(crate) fn finish(&self) {
        lock(&self.state).eof = true;
        self.readable.notify_all();
        self.writable.notify_all();
        self.reader.signal(Ready::CLOSE);
        self.writer.signal(Ready::WRITE);
    }

    /// The reader shuts down receiving (`SD_RECEIVE`): queued data is discarded and later
    /// sends fail with `WSAECONNRESET`.
    pub(crate) fn refuse(&self) {
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
    pub(crate) fn close_reader(&self) -> bool {
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
    /// queued data then 0, or `WSAECONNRESET` if `abort`.
    pub(crate) fn close_writer(&self, abort: bool) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;
    use winsock_provider::sys::WSABUF;

    fn wsabuf(data: &[u8]) -> WSABUF {
        WSABUF {
            len: data.len() as u32,
            buf: data.as_ptr() as *mut u8,
        }
    }

    fn write(pipe: &Pipe, data: &[u8], nonblocking: bool) -> Result<usize, WsaError> {
        let w = [wsabuf(data)];
        // SAFETY: the WSABUF describes `data`, which outlives the call.
        let bufs = unsafe { Bufs::from_raw(w.as_ptr(), 1) }?;
        pipe.write(&bufs, nonblocking, Deadline::NEVER)
    }

    fn read(
        pipe: &Pipe,
        out: &mut [u8],
        mode: ReadMode,
        nonblocking: bool,
    ) -> Result<usize, WsaError> {
        let w = [WSABUF {
            len: out.len() as u32,
            buf: out.as_mut_ptr(),
        }];
        // SAFETY: the WSABUF describes `out`, borrowed mutably for the call.
        let mut bufs = unsafe { BufsMut::from_raw(w.as_ptr(), 1) }?;
        pipe.read(&mut bufs, mode, nonblocking, Deadline::NEVER)
    }

    #[test]
    fn bounded_nonblocking_write_and_peek() {
        let pipe = Pipe::new(10);
        assert_eq!(write(&pipe, b"0123456789abc", true), Ok(10));
        assert_eq!(write(&pipe, b"x", true), Err(WsaError::WOULDBLOCK));
        let mut out = [0u8; 4];
        let peek = ReadMode {
            peek: true,
            wait_all: false,
        };
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
    }

    #[test]
    fn scatter_over_several_buffers() {
        let pipe = Pipe::new(100);
        write(&pipe, b"hello world", true).unwrap();
        let (mut a, mut b) = ([0u8; 3], [0u8; 20]);
        let w = [
            WSABUF {
                len: 3,
                buf: a.as_mut_ptr(),
            },
            WSABUF {
                len: 0,
                buf: core::ptr::null_mut(),
            },
            WSABUF {
                len: 20,
                buf: b.as_mut_ptr(),
            },
        ];
        // SAFETY: the WSABUFs describe `a` and `b`, live for the call.
        let mut bufs = unsafe { BufsMut::from_raw(w.as_ptr(), 3) }.unwrap();
        assert_eq!(
            pipe.read(&mut bufs, ReadMode::default(), true, Deadline::NEVER),
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
    fn wait_all_fills_the_buffer() {
        let pipe = Arc::new(Pipe::new(16));
        let writer = {
            let pipe = pipe.clone();
            thread::spawn(move || {
                for chunk in [&b"ab"[..], b"cdef", b"g"] {
                    write(&pipe, chunk, false).unwrap();
                    thread::sleep(std::time::Duration::from_millis(5));
                }
            })
        };
        let mut out = [0u8; 7];
        let mode = ReadMode {
            peek: false,
            wait_all: true,
        };
        assert_eq!(read(&pipe, &mut out, mode, false), Ok(7));
        assert_eq!(&out, b"abcdefg");
        writer.join().unwrap();
    }

    #[test]
    fn closing_wakes_blocked_callers() {
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
        thread::sleep(std::time::Duration::from_millis(20));
        pipe.close_reader();
        full.close_writer(false);
        assert_eq!(reader.join().unwrap(), Err(WsaError::INTR));
        assert_eq!(writer.join().unwrap(), Err(WsaError::INTR));
    }

    #[test]
    fn timeouts() {
        let pipe = Pipe::new(4);
        let mut out = [0u8; 4];
        let w = [WSABUF {
            len: 4,
            buf: out.as_mut_ptr(),
        }];
        // SAFETY: the WSABUF describes `out`.
        let mut bufs = unsafe { BufsMut::from_raw(w.as_ptr(), 1) }.unwrap();
        let r = pipe.read(
            &mut bufs,
            ReadMode::default(),
            false,
            Deadline::after_millis(10),
        );
        assert_eq!(r, Err(WsaError::TIMEDOUT));
    }
}
