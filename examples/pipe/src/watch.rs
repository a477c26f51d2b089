//! Unix readiness: one thread per provider instance waits in `poll(2)` on the descriptors of
//! the sockets that want to hear about a change, and signals the runtime.
//!
//! A socket is watched once it is connected or listening (an unconnected stream socket polls
//! as hung up). Each watched socket has *armed* interests: `IN` (data, a pending connection or
//! the end of the stream) and `OUT` (room to send). The thread polls only armed interests and
//! disarms an interest when it signals it, so a socket whose data nobody reads costs nothing
//! until its next call: the provider re-arms `IN` after a receive or an accept that leaves
//! nothing to read, and `OUT` after a send that leaves the socket unwritable. Each arming
//! bumps a sequence number, and the thread disarms only if none happened since it polled, so
//! an arming that races with a signal is never lost.
//!
//! The thread starts with the first watched socket and is stopped and joined by the
//! provider's last clean-up, which also closes its wake-up pipe.

use libc::{c_int, c_void};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use winsock_provider::{Notifier, Ready, WsaError};

/// Interest in data, a pending connection or the end of the stream.
pub(crate) const IN: u8 = 1;
/// Interest in room to send.
pub(crate) const OUT: u8 = 2;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a watched socket is.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// Not watched (yet): unconnected, or closed.
    Idle,
    /// A listener: `IN` means a connection is pending.
    Listening,
    /// A connection: `IN` means data or the end of the stream.
    Connected,
}

struct WatchState {
    notifier: Option<Notifier>,
    kind: Kind,
    armed: u8,
    seq: u64,
    closed: bool,
    /// The watcher this socket is registered with.
    watcher: Option<Arc<Shared>>,
}

/// One socket's side of the watch: its descriptor, its notifier and its armed interests.
pub(crate) struct Watch {
    fd: c_int,
    state: Mutex<WatchState>,
}

impl Watch {
    pub(crate) fn new(fd: c_int) -> Arc<Watch> {
        Arc::new(Watch {
            fd,
            state: Mutex::new(WatchState {
                notifier: None,
                kind: Kind::Idle,
                armed: 0,
                seq: 0,
                closed: false,
                watcher: None,
            }),
        })
    }

    /// What the socket is, as far as the watch knows.
    pub(crate) fn kind(&self) -> Kind {
        lock(&self.state).kind
    }

    /// Keeps the socket's notifier (from `Provider::attached`).
    pub(crate) fn set_notifier(&self, notifier: Notifier) {
        lock(&self.state).notifier = Some(notifier);
    }

    /// Arms `bits` (a no-op until the socket is watched); wakes the thread if one was not
    /// armed already.
    pub(crate) fn arm(&self, bits: u8) {
        let wake = {
            let mut st = lock(&self.state);
            if st.closed || st.kind == Kind::Idle {
                return;
            }
            st.seq += 1;
            let new = bits & !st.armed;
            st.armed |= bits;
            if new == 0 {
                return;
            }
            st.watcher.clone()
        };
        if let Some(w) = wake {
            w.wake();
        }
    }

    /// Stops watching for good (the socket is closing).
    pub(crate) fn close(self: &Arc<Self>) {
        let watcher = {
            let mut st = lock(&self.state);
            st.closed = true;
            st.kind = Kind::Idle;
            st.armed = 0;
            st.notifier = None;
            st.watcher.take()
        };
        if let Some(w) = watcher {
            w.remove(self);
        }
    }
}

/// A poll-based watcher: the thread, its list of watched sockets and its wake-up pipe.
#[derive(Default)]
pub(crate) struct Watcher {
    shared: Mutex<Option<(Arc<Shared>, JoinHandle<()>)>>,
}

struct Shared {
    list: Mutex<Vec<Arc<Watch>>>,
    /// Read and write ends of the wake-up pipe (both non-blocking, close-on-exec).
    wake: [c_int; 2],
    stop: std::sync::atomic::AtomicBool,
    /// How many times `poll` returned (tests check that an idle socket costs none).
    #[cfg(test)]
    rounds: std::sync::atomic::AtomicUsize,
}

impl Shared {
    /// Wakes the thread (it looks at its list again). Nothing once it has been told to
    /// stop: its pipe is about to close.
    fn wake(&self) {
        if !self.stop.load(std::sync::atomic::Ordering::Acquire) {
            self.poke();
        }
    }

    fn poke(&self) {
        let byte = 1u8;
        // SAFETY: writes one byte from a live local to the pipe's write end, which stays
        // open while this `Shared` exists. A full pipe (EAGAIN) already holds a wake-up.
        unsafe { libc::write(self.wake[1], &byte as *const u8 as *const c_void, 1) };
    }

    fn remove(&self, watch: &Arc<Watch>) {
        lock(&self.list).retain(|w| !Arc::ptr_eq(w, watch));
        self.wake();
    }

    fn drain(&self) {
        let mut buf = [0u8; 64];
        // SAFETY: reads into a live local buffer from the pipe's (non-blocking) read end.
        while unsafe { libc::read(self.wake[0], buf.as_mut_ptr() as *mut c_void, buf.len()) } > 0 {}
    }

    fn run(&self) {
        let mut snapshot: Vec<(Arc<Watch>, u64, u8)> = Vec::new();
        let mut fds: Vec<libc::pollfd> = Vec::new();
        while !self.stop.load(std::sync::atomic::Ordering::Acquire) {
            snapshot.clear();
            fds.clear();
            fds.push(libc::pollfd {
                fd: self.wake[0],
                events: libc::POLLIN,
                revents: 0,
            });
            for w in lock(&self.list).iter() {
                let st = lock(&w.state);
                if st.armed == 0 || st.closed {
                    continue;
                }
                let mut events = 0;
                if st.armed & IN != 0 {
                    events |= libc::POLLIN;
                }
                if st.armed & OUT != 0 {
                    events |= libc::POLLOUT;
                }
                fds.push(libc::pollfd {
                    fd: w.fd,
                    events,
                    revents: 0,
                });
                snapshot.push((w.clone(), st.seq, st.armed));
            }
            // SAFETY: poll on a live array of `fds.len()` pollfd structures.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
            #[cfg(test)]
            self.rounds
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if rc <= 0 {
                continue;
            }
            if fds[0].revents != 0 {
                self.drain();
            }
            for (pfd, (watch, seq, armed)) in fds[1..].iter().zip(snapshot.iter()) {
                if pfd.revents != 0 {
                    fire(watch, *seq, *armed, pfd.revents);
                }
            }
        }
    }
}

/// Signals what `revents` says of a socket polled with interests `armed` at sequence `seq`.
fn fire(watch: &Watch, seq: u64, armed: u8, revents: libc::c_short) {
    let broken = revents & (libc::POLLHUP | libc::POLLERR) != 0;
    let mut fired = 0;
    if armed & IN != 0 && (broken || revents & libc::POLLIN != 0) {
        fired |= IN;
    }
    if armed & OUT != 0 && (broken || revents & libc::POLLOUT != 0) {
        fired |= OUT;
    }
    let (notifier, kind) = {
        let mut st = lock(&watch.state);
        if st.closed {
            return;
        }
        if st.seq == seq {
            st.armed &= !fired;
        }
        match st.notifier.clone() {
            Some(n) => (n, st.kind),
            None => return,
        }
    };
    if fired & IN != 0 {
        match kind {
            Kind::Listening => notifier.ready(Ready::ACCEPT),
            Kind::Connected => match peek(watch.fd) {
                Peek::Data => notifier.ready(Ready::READ),
                Peek::End => notifier.ready(Ready::CLOSE),
                Peek::Reset(e) => notifier.ready_with_error(Ready::CLOSE, e),
                Peek::Nothing => {}
            },
            Kind::Idle => {}
        }
    }
    if fired & OUT != 0 {
        notifier.ready(Ready::WRITE);
    }
}

/// What a receive would find now.
pub(crate) enum Peek {
    Data,
    End,
    Reset(WsaError),
    Nothing,
}

/// Looks at the next byte of a connected socket without taking it.
pub(crate) fn peek(fd: c_int) -> Peek {
    let mut byte = 0u8;
    loop {
        // SAFETY: a one-byte peek into a live local.
        let n = unsafe {
            libc::recv(
                fd,
                &mut byte as *mut u8 as *mut c_void,
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if n > 0 {
            return Peek::Data;
        }
        if n == 0 {
            return Peek::End;
        }
        let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        match e {
            libc::EINTR => continue,
            e if e == libc::EAGAIN || e == libc::EWOULDBLOCK => return Peek::Nothing,
            e => return Peek::Reset(crate::unix::wsa_error(e)),
        }
    }
}

fn wake_pipe() -> Result<[c_int; 2], WsaError> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe writes two descriptors into a live array of two ints.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } < 0 {
        return Err(WsaError::MFILE);
    }
    for &fd in &fds {
        // SAFETY: fcntl on descriptors this function just created.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            let flags = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
    Ok(fds)
}

impl Watcher {
    /// Starts watching `watch` as `kind` with interests `bits` (and the thread, if needed).
    /// Does nothing for a socket without a notifier yet (`attached` will call again) or a
    /// closed one.
    pub(crate) fn watch(&self, watch: &Arc<Watch>, kind: Kind, bits: u8) -> Result<(), WsaError> {
        let shared = self.shared()?;
        let register = {
            let mut st = lock(&watch.state);
            if st.closed {
                return Ok(());
            }
            st.kind = kind;
            if st.notifier.is_none() {
                return Ok(());
            }
            st.armed |= bits;
            st.seq += 1;
            let register = st.watcher.is_none();
            if register {
                st.watcher = Some(shared.clone());
            }
            register
        };
        if register {
            // The list is locked before a socket's state everywhere, never the other way.
            lock(&shared.list).push(watch.clone());
            if lock(&watch.state).closed {
                // Closed meanwhile: its `close` may have looked in the list before the push.
                shared.remove(watch);
            }
        }
        shared.wake();
        Ok(())
    }

    fn shared(&self) -> Result<Arc<Shared>, WsaError> {
        let mut slot = lock(&self.shared);
        if let Some((shared, _)) = slot.as_ref() {
            return Ok(shared.clone());
        }
        let shared = Arc::new(Shared {
            list: Mutex::new(Vec::new()),
            wake: wake_pipe()?,
            stop: std::sync::atomic::AtomicBool::new(false),
            #[cfg(test)]
            rounds: std::sync::atomic::AtomicUsize::new(0),
        });
        let runner = shared.clone();
        let thread = std::thread::Builder::new()
            .name("pipe-provider watcher".to_owned())
            .spawn(move || runner.run());
        let thread = match thread {
            Ok(t) => t,
            Err(_) => {
                shared.close_pipe();
                return Err(WsaError::NOBUFS);
            }
        };
        *slot = Some((shared.clone(), thread));
        Ok(shared)
    }

    /// Stops and joins the thread and closes its pipe (the provider's last clean-up).
    pub(crate) fn stop(&self) {
        let taken = lock(&self.shared).take();
        if let Some((shared, thread)) = taken {
            shared
                .stop
                .store(true, std::sync::atomic::Ordering::Release);
            shared.poke();
            let _ = thread.join();
            let left = std::mem::take(&mut *lock(&shared.list));
            for w in left {
                lock(&w.state).watcher = None;
            }
            shared.close_pipe();
        }
    }
}

impl Shared {
    fn close_pipe(&self) {
        for &fd in &self.wake {
            // SAFETY: the pipe's descriptors are owned by this `Shared` and closed once, here,
            // after its thread has ended (or never started).
            unsafe { libc::close(fd) };
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unix::Socket;
    use crate::Wait;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    fn rounds(w: &Watcher) -> usize {
        lock(&w.shared)
            .as_ref()
            .map_or(0, |(s, _)| s.rounds.load(Ordering::Relaxed))
    }

    /// Data nobody reads and an end of stream nobody looks at cost the watcher nothing until
    /// the socket is re-armed; stopping joins the thread.
    #[test]
    fn an_idle_socket_costs_no_rounds() {
        let watcher = Watcher::default();
        let listener = Socket::new().unwrap();
        listener.bind(b"").unwrap();
        listener.listen(4).unwrap();
        let name = listener.local_name().unwrap();
        let client = Socket::new().unwrap();
        client.connect(&name).unwrap();
        let (server, _) = listener.accept(Wait::Yes).unwrap();
        server.attach(&watcher, Notifier::detached()).unwrap();
        client.send(b"unread", Wait::Yes).unwrap();
        client.shutdown(winsock_provider::Shutdown::Send).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let settled = rounds(&watcher);
        assert!(settled > 0, "the watcher never polled");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            rounds(&watcher),
            settled,
            "the watcher spins on an idle socket"
        );
        // A receive that leaves nothing re-arms: the end of the stream is seen once more.
        let mut buf = [0u8; 16];
        assert_eq!(server.recv(&mut buf, Wait::No, false).unwrap(), 6);
        server.rearm_read();
        std::thread::sleep(Duration::from_millis(50));
        let after = rounds(&watcher);
        assert!(
            after > settled && after <= settled + 3,
            "{} -> {}",
            settled,
            after
        );
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            rounds(&watcher),
            after,
            "the watcher spins at the end of the stream"
        );
        for s in [&listener, &client, &server] {
            s.close();
        }
        watcher.stop();
        assert!(lock(&watcher.shared).is_none());
    }
}
