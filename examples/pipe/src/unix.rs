//! Unix: every socket is a Unix-domain stream socket (`socket(AF_UNIX, SOCK_STREAM, 0)`), and
//! every call is the libc call of the same name on its file descriptor.
//!
//! Names live in Linux's abstract namespace (`sun_path` = NUL + name: nothing is created in the
//! file system, and a name disappears with its socket). Elsewhere they are socket files
//! `<temp dir>/wsp-pipe-<name>` (bytes other than `[A-Za-z0-9._-]` written as `%XX`), removed
//! when the socket that bound them is closed.

use crate::name::MAX_NAME_LEN;
pub(crate) use crate::watch::Watcher;
use crate::watch::{self, Kind, Peek, Watch};
use crate::Wait;
use core::num::NonZeroU32;
use libc::{c_int, c_void, sockaddr, sockaddr_un, socklen_t};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use winsock_provider::{sys::SOCKET, Notifier, Ready, Shutdown, WsaError};

/// `send` flags: no `SIGPIPE` when the peer is gone (Apple systems use `SO_NOSIGPIPE`).
#[cfg(not(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos"
)))]
pub(crate) const NOSIGNAL: c_int = libc::MSG_NOSIGNAL;
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos"
))]
pub(crate) const NOSIGNAL: c_int = 0;

/// How long a blocking call sleeps in `poll` before it checks again whether its socket has
/// been closed (a shared socket's close cannot wake it by shutting the socket down).
const WAIT_POLL_MS: c_int = 200;

/// Prefix of socket file names in [`Namespace::Dir`].
const FILE_PREFIX: &[u8] = b"wsp-pipe-";

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Maps an `errno` value to the WSA code Winsock reports for the same condition.
pub(crate) fn wsa_error(e: c_int) -> WsaError {
    if e == libc::EAGAIN || e == libc::EWOULDBLOCK {
        return WsaError::WOULDBLOCK;
    }
    match e {
        libc::ECONNREFUSED | libc::ENOENT | libc::ENOTDIR | libc::EPROTOTYPE => {
            WsaError::CONNREFUSED
        }
        libc::EADDRINUSE => WsaError::ADDRINUSE,
        libc::EADDRNOTAVAIL | libc::ENAMETOOLONG | libc::EROFS => WsaError::ADDRNOTAVAIL,
        libc::EINVAL => WsaError::INVAL,
        libc::EISCONN => WsaError::ISCONN,
        libc::ENOTCONN => WsaError::NOTCONN,
        libc::EPIPE | libc::ECONNRESET => WsaError::CONNRESET,
        libc::ECONNABORTED => WsaError::CONNABORTED,
        libc::EINTR => WsaError::INTR,
        libc::EMFILE | libc::ENFILE => WsaError::MFILE,
        libc::ENOBUFS | libc::ENOMEM => WsaError::NOBUFS,
        libc::EOPNOTSUPP => WsaError::OPNOTSUPP,
        libc::EACCES | libc::EPERM => WsaError::ACCES,
        libc::ETIMEDOUT => WsaError::TIMEDOUT,
        libc::EFAULT => WsaError::FAULT,
        libc::EALREADY => WsaError::ALREADY,
        libc::EINPROGRESS => WsaError::INPROGRESS,
        libc::EBADF | libc::ENOTSOCK => WsaError::NOTSOCK,
        _ => WsaError::NETDOWN,
    }
}

/// [`wsa_error`] for data transfer: Linux reports `EINVAL` for an unconnected or listening
/// socket, where Winsock says `WSAENOTCONN`.
fn stream_error(e: c_int) -> WsaError {
    if e == libc::EINVAL {
        WsaError::NOTCONN
    } else {
        wsa_error(e)
    }
}

fn last_error() -> WsaError {
    wsa_error(errno())
}

/// Where names are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Namespace {
    /// Linux's abstract namespace: name `n` is `sun_path` = NUL, `n`.
    Abstract,
    /// Socket files in a directory: name `n` is `<dir>/wsp-pipe-<n, escaped>`.
    Dir(PathBuf),
}

impl Namespace {
    /// The namespace of this system: abstract on Linux, the temporary directory elsewhere.
    pub(crate) fn native() -> Namespace {
        if cfg!(any(target_os = "linux", target_os = "android")) {
            Namespace::Abstract
        } else {
            Namespace::Dir(std::env::temp_dir())
        }
    }

    /// The `sun_path` bytes (without a terminating NUL) of a non-empty name.
    fn path_of(&self, name: &[u8]) -> Vec<u8> {
        match self {
            Namespace::Abstract => {
                let mut path = Vec::with_capacity(name.len() + 1);
                path.push(0);
                path.extend_from_slice(name);
                path
            }
            Namespace::Dir(dir) => {
                use std::os::unix::ffi::OsStrExt;
                let mut path = dir.as_os_str().as_bytes().to_vec();
                if !path.ends_with(b"/") {
                    path.push(b'/');
                }
                path.extend_from_slice(FILE_PREFIX);
                for &b in name {
                    if b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-' {
                        path.push(b);
                    } else {
                        path.extend_from_slice(format!("%{:02X}", b).as_bytes());
                    }
                }
                path
            }
        }
    }

    /// The name of a `sun_path` the kernel reported (empty for an unnamed socket).
    fn name_of(&self, path: &[u8]) -> Vec<u8> {
        let name = match (self, path.first()) {
            (_, None) => Vec::new(),
            (Namespace::Abstract, Some(0)) => path[1..].to_vec(),
            (_, Some(_)) => {
                let path = until_nul(path);
                let file = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
                match file.strip_prefix(FILE_PREFIX).and_then(unescape) {
                    Some(name) if matches!(self, Namespace::Dir(_)) => name,
                    _ => path.to_vec(),
                }
            }
        };
        let end = name.len().min(MAX_NAME_LEN);
        name[..end].to_vec()
    }
}

fn until_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

/// Reverses the `%XX` escaping of [`Namespace::Dir`] file names.
fn unescape(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    Some(out)
}

pub(crate) fn empty_addr() -> sockaddr_un {
    // SAFETY: sockaddr_un is a plain C structure for which all-zero bytes are a valid value.
    let mut addr: sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    addr
}

/// Offset of `sun_path` in `sockaddr_un` (2 everywhere, computed to be sure).
fn path_offset() -> usize {
    let addr = empty_addr();
    addr.sun_path.as_ptr() as usize - (&addr as *const sockaddr_un as usize)
}

/// Builds the `sockaddr_un` of `sun_path` bytes; too long for `sun_path` is `WSAEADDRNOTAVAIL`.
pub(crate) fn make_addr(path: &[u8]) -> Result<(sockaddr_un, socklen_t), WsaError> {
    let mut addr = empty_addr();
    let abstract_name = path.first() == Some(&0);
    // File names need room for their terminating NUL; abstract names are counted exactly.
    let room = if abstract_name {
        addr.sun_path.len()
    } else {
        addr.sun_path.len() - 1
    };
    if path.len() > room {
        return Err(WsaError::ADDRNOTAVAIL);
    }
    for (dst, src) in addr.sun_path.iter_mut().zip(path) {
        *dst = *src as libc::c_char;
    }
    let len = path_offset() + path.len() + usize::from(!abstract_name);
    Ok((addr, len as socklen_t))
}

/// The `sun_path` bytes of an address the kernel filled in (`len` as it reported).
pub(crate) fn path_bytes(addr: &sockaddr_un, len: socklen_t) -> Vec<u8> {
    let n = (len as usize)
        .saturating_sub(path_offset())
        .min(addr.sun_path.len());
    addr.sun_path[..n].iter().map(|&c| c as u8).collect()
}

fn set_flag(fd: c_int, flag: c_int, on: bool) -> Result<c_int, WsaError> {
    // SAFETY: fcntl on a descriptor this socket owns; F_GETFL takes no argument.
    let old = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if old < 0 {
        return Err(last_error());
    }
    let new = if on { old | flag } else { old & !flag };
    // SAFETY: as above; F_SETFL takes an int.
    if new != old && unsafe { libc::fcntl(fd, libc::F_SETFL, new) } < 0 {
        return Err(last_error());
    }
    Ok(old)
}

/// Marks `fd` close-on-exec (`dup2` clears the flag on the number it fills).
fn set_cloexec(fd: c_int) -> Result<(), WsaError> {
    // SAFETY: fcntl on a descriptor the caller owns; F_SETFD takes an int.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(last_error());
    }
    Ok(())
}

/// A new socket descriptor: close-on-exec, and on Apple systems without `SIGPIPE`.
pub(crate) fn new_fd() -> Result<c_int, WsaError> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: plain system call; the descriptor returned is owned by the caller.
        let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(last_error());
        }
        Ok(fd)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        // SAFETY: plain system call; the descriptor returned is owned by the caller.
        let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
        if fd < 0 {
            return Err(last_error());
        }
        prepare_fd(fd);
        Ok(fd)
    }
}

/// Sets what `SOCK_CLOEXEC` / `accept4` set on Linux (best effort).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn prepare_fd(fd: c_int) {
    // SAFETY: fcntl on a descriptor the caller owns.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "tvos",
        target_os = "watchos"
    ))]
    {
        let on: c_int = 1;
        // SAFETY: setsockopt with a pointer to a live int and its size.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_NOSIGPIPE,
                &on as *const c_int as *const c_void,
                std::mem::size_of::<c_int>() as socklen_t,
            )
        };
    }
}

static AUTO_NAMES: AtomicUsize = AtomicUsize::new(0);

/// One socket: its descriptor (owned; closed when the socket is dropped) and what the kernel
/// does not track the way Winsock reports it.
pub(crate) struct Socket {
    fd: c_int,
    ns: Namespace,
    /// `close` ran: blocking calls woken by it report `WSAEINTR`.
    closed: AtomicBool,
    listening: AtomicBool,
    shut_send: AtomicBool,
    shut_recv: AtomicBool,
    /// [`Namespace::Dir`]: the socket file this socket created, removed on close.
    file: Mutex<Option<PathBuf>>,
    /// Other descriptors may share the socket (it was duplicated, or rebuilt from a
    /// duplicate): `close` must not shut it down.
    shared: AtomicBool,
    /// Held while `connect` switches `O_NONBLOCK` on and back, and while `listen` turns it on
    /// for good: otherwise a `connect` racing with `listen` could restore blocking mode on
    /// the listener, and an accept that must not wait would then block in the kernel.
    mode: Mutex<()>,
    /// What the readiness watcher knows of the socket.
    watch: Arc<Watch>,
}

impl Socket {
    /// A new, unbound socket in the system's namespace.
    pub(crate) fn new() -> Result<Socket, WsaError> {
        Socket::new_in(Namespace::native())
    }

    /// A new, unbound socket in namespace `ns`.
    pub(crate) fn new_in(ns: Namespace) -> Result<Socket, WsaError> {
        Ok(Socket::from_fd(new_fd()?, ns))
    }

    fn from_fd(fd: c_int, ns: Namespace) -> Socket {
        Socket {
            fd,
            ns,
            closed: AtomicBool::new(false),
            listening: AtomicBool::new(false),
            shut_send: AtomicBool::new(false),
            shut_recv: AtomicBool::new(false),
            file: Mutex::new(None),
            shared: AtomicBool::new(false),
            mode: Mutex::new(()),
            watch: Watch::new(fd),
        }
    }

    /// What the watcher should watch the socket as: a listener, a connection, or nothing
    /// yet.
    fn kind(&self) -> Kind {
        if self.is_listening() {
            Kind::Listening
        } else if self.watch.kind() == Kind::Connected || self.peer_name().is_ok() {
            Kind::Connected
        } else {
            Kind::Idle
        }
    }

    /// `Provider::attached`: keeps the socket's notifier, and watches it if it is connected
    /// or listening already (accepted sockets, duplicates).
    pub(crate) fn attach(&self, watcher: &Watcher, notifier: Notifier) -> Result<(), WsaError> {
        self.watch.set_notifier(notifier);
        self.start_watching(watcher)
    }

    /// Watches the socket for data and connections, once it is connected or listening.
    pub(crate) fn start_watching(&self, watcher: &Watcher) -> Result<(), WsaError> {
        match self.kind() {
            Kind::Idle => Ok(()),
            kind => watcher.watch(&self.watch, kind, watch::IN),
        }
    }

    /// After a receive or an accept: the next data, connection or end of the stream is
    /// signalled, unless data is still waiting (the runtime re-announces that itself).
    pub(crate) fn rearm_read(&self) {
        if self.readable().map_or(true, |n| n == 0) {
            self.watch.arm(watch::IN);
        }
    }

    /// After a send: room to send is signalled when it comes, if there is none now.
    pub(crate) fn rearm_write(&self) {
        if !self
            .poll_now(libc::POLLOUT)
            .map_or(false, |r| r & libc::POLLOUT != 0)
        {
            self.watch.arm(watch::OUT);
        }
    }

    /// `poll` of the descriptor for `events`, without waiting: the events reported.
    fn poll_now(&self, events: libc::c_short) -> Result<libc::c_short, WsaError> {
        let mut pfd = libc::pollfd {
            fd: self.fd,
            events,
            revents: 0,
        };
        loop {
            // SAFETY: poll on one live pollfd, without waiting.
            let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
            if rc >= 0 {
                return Ok(pfd.revents);
            }
            if errno() != libc::EINTR {
                return Err(last_error());
            }
        }
    }

    /// The socket's readiness now, from the kernel: `ACCEPT` for a listener with a
    /// connection pending; for a connection `READ` with data waiting, `CLOSE` at the end of
    /// the stream (or after a reset), `WRITE` with room to send. Nothing for a socket that is
    /// neither.
    pub(crate) fn readiness(&self) -> Ready {
        let kind = self.kind();
        if kind == Kind::Idle || self.closed.load(Ordering::Relaxed) {
            return Ready::NONE;
        }
        let revents = match self.poll_now(libc::POLLIN | libc::POLLOUT) {
            Ok(r) => r,
            Err(_) => return Ready::NONE,
        };
        let mut ready = Ready::NONE;
        let readable = revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0;
        if kind == Kind::Listening {
            if revents & libc::POLLIN != 0 {
                ready |= Ready::ACCEPT;
            }
            return ready;
        }
        if readable {
            match watch::peek(self.fd) {
                Peek::Data => ready |= Ready::READ,
                Peek::End | Peek::Reset(_) => ready |= Ready::CLOSE,
                Peek::Nothing => {}
            }
        }
        if revents & libc::POLLOUT != 0 {
            ready |= Ready::WRITE;
        }
        ready
    }

    /// The file descriptor, as a `SOCKET` value.
    pub(crate) fn os_handle(&self) -> SOCKET {
        self.fd as SOCKET
    }

    pub(crate) fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }

    pub(crate) fn send_shut(&self) -> bool {
        self.shut_send.load(Ordering::Relaxed)
    }

    pub(crate) fn recv_shut(&self) -> bool {
        self.shut_recv.load(Ordering::Relaxed)
    }

    /// The error to report for `e` on a call woken or broken by a close or a shutdown.
    fn io_error(&self, e: WsaError, sending: bool) -> WsaError {
        if self.closed.load(Ordering::Relaxed) {
            WsaError::INTR
        } else if sending && e == WsaError::CONNRESET && self.send_shut() {
            WsaError::SHUTDOWN
        } else {
            e
        }
    }

    /// Binds `name`; an empty name binds a fresh unique one.
    pub(crate) fn bind(&self, name: &[u8]) -> Result<(), WsaError> {
        if !name.is_empty() {
            return self.bind_path(&self.ns.path_of(name));
        }
        if self.local_path()?.is_some() {
            return Err(WsaError::INVAL);
        }
        match self.ns {
            Namespace::Abstract => {
                // Linux autobind: binding the family alone picks a unique abstract name.
                let addr = empty_addr();
                // SAFETY: bind with a live sockaddr_un and a length within it.
                let rc = unsafe {
                    libc::bind(
                        self.fd,
                        &addr as *const sockaddr_un as *const sockaddr,
                        path_offset() as socklen_t,
                    )
                };
                if rc < 0 {
                    return Err(last_error());
                }
                Ok(())
            }
            Namespace::Dir(_) => {
                for _ in 0..64 {
                    let n = AUTO_NAMES.fetch_add(1, Ordering::Relaxed);
                    let name = format!("auto-{}-{}", std::process::id(), n);
                    match self.bind_path(&self.ns.path_of(name.as_bytes())) {
                        Err(WsaError::ADDRINUSE) => continue,
                        other => return other,
                    }
                }
                Err(WsaError::ADDRINUSE)
            }
        }
    }

    fn bind_path(&self, path: &[u8]) -> Result<(), WsaError> {
        let (addr, len) = make_addr(path)?;
        // SAFETY: bind with a live sockaddr_un and its length.
        let rc =
            unsafe { libc::bind(self.fd, &addr as *const sockaddr_un as *const sockaddr, len) };
        if rc < 0 {
            return Err(match errno() {
                libc::ENOENT | libc::ENOTDIR => WsaError::ADDRNOTAVAIL,
                e => wsa_error(e),
            });
        }
        if path.first() != Some(&0) {
            use std::os::unix::ffi::OsStrExt;
            let file = PathBuf::from(std::ffi::OsStr::from_bytes(path));
            *self.file.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
        }
        Ok(())
    }

    pub(crate) fn listen(&self, backlog: i32) -> Result<(), WsaError> {
        let _mode = self.mode.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: plain system call on the socket's descriptor.
        if unsafe { libc::listen(self.fd, backlog) } < 0 {
            let e = last_error();
            return Err(if e == WsaError::INVAL && self.peer_name().is_ok() {
                WsaError::ISCONN
            } else {
                e
            });
        }
        // A listening descriptor is never read or written, so it can stay non-blocking: a
        // blocking accept waits in poll and so notices a close.
        set_flag(self.fd, libc::O_NONBLOCK, true)?;
        self.listening.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Takes a connection: the new socket and the peer's name.
    pub(crate) fn accept(&self, wait: Wait) -> Result<(Socket, Vec<u8>), WsaError> {
        loop {
            if self.closed.load(Ordering::Relaxed) {
                return Err(WsaError::INTR);
            }
            let mut addr = empty_addr();
            let mut len = std::mem::size_of::<sockaddr_un>() as socklen_t;
            let ptr = &mut addr as *mut sockaddr_un as *mut sockaddr;
            #[cfg(any(target_os = "linux", target_os = "android"))]
            // SAFETY: accept4 with a live, writable sockaddr_un and its size.
            let fd = unsafe { libc::accept4(self.fd, ptr, &mut len, libc::SOCK_CLOEXEC) };
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            // SAFETY: accept with a live, writable sockaddr_un and its size.
            let fd = unsafe { libc::accept(self.fd, ptr, &mut len) };
            if fd >= 0 {
                #[cfg(not(any(target_os = "linux", target_os = "android")))]
                {
                    prepare_fd(fd);
                    // BSD descriptors inherit the listener's O_NONBLOCK.
                    let _ = set_flag(fd, libc::O_NONBLOCK, false);
                }
                let peer = self.ns.name_of(&path_bytes(&addr, len));
                return Ok((Socket::from_fd(fd, self.ns.clone()), peer));
            }
            let e = errno();
            if e == libc::EINTR || e == libc::ECONNABORTED {
                continue;
            }
            if e != libc::EAGAIN && e != libc::EWOULDBLOCK {
                return Err(self.io_error(wsa_error(e), false));
            }
            if wait == Wait::No {
                return Err(WsaError::WOULDBLOCK);
            }
            let mut pfd = libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one live pollfd.
            unsafe { libc::poll(&mut pfd, 1, WAIT_POLL_MS) };
        }
    }

    /// Connects to `name`. A Unix-domain `connect` completes at once or finds the listener's
    /// backlog full; it is made non-blocking so that a full backlog is refused, as Winsock
    /// refuses connections beyond a TCP listener's backlog, instead of waiting for an accept.
    pub(crate) fn connect(&self, name: &[u8]) -> Result<(), WsaError> {
        let (addr, len) = make_addr(&self.ns.path_of(name)).map_err(|_| WsaError::CONNREFUSED)?;
        // Only a listening socket is non-blocking already (and connect fails on it anyway).
        let _mode = self.mode.lock().unwrap_or_else(|e| e.into_inner());
        let old = set_flag(self.fd, libc::O_NONBLOCK, true)?;
        let result = loop {
            // SAFETY: connect with a live sockaddr_un and its length.
            let rc = unsafe {
                libc::connect(self.fd, &addr as *const sockaddr_un as *const sockaddr, len)
            };
            if rc == 0 {
                break Ok(());
            }
            match errno() {
                libc::EINTR => continue,
                e if e == libc::EAGAIN || e == libc::EWOULDBLOCK => {
                    break Err(WsaError::CONNREFUSED)
                }
                e => break Err(wsa_error(e)),
            }
        };
        let _ = set_flag(self.fd, libc::O_NONBLOCK, old & libc::O_NONBLOCK != 0);
        result.map_err(|e| self.io_error(e, false))
    }

    /// Waits until the descriptor is ready for `events` (or has an error or hang-up to report),
    /// or fails with `WSAEINTR` once the socket is closed.
    fn wait_ready(&self, events: libc::c_short) -> Result<(), WsaError> {
        loop {
            if self.closed.load(Ordering::Relaxed) {
                return Err(WsaError::INTR);
            }
            let mut pfd = libc::pollfd {
                fd: self.fd,
                events,
                revents: 0,
            };
            // SAFETY: poll on one live pollfd.
            let rc = unsafe { libc::poll(&mut pfd, 1, WAIT_POLL_MS) };
            if rc > 0 {
                return Ok(());
            }
            if rc < 0 && errno() != libc::EINTR {
                return Err(last_error());
            }
        }
    }

    /// Sends from `buf`: all of it when waiting, else what fits now (`WSAEWOULDBLOCK` if
    /// nothing does). Waits happen in [`Socket::wait_ready`], so that a close wakes them.
    pub(crate) fn send(&self, buf: &[u8], wait: Wait) -> Result<usize, WsaError> {
        let flags = NOSIGNAL | libc::MSG_DONTWAIT;
        let mut done = 0;
        while done < buf.len() {
            let rest = &buf[done..];
            // SAFETY: send from a live slice and its length.
            let n =
                unsafe { libc::send(self.fd, rest.as_ptr() as *const c_void, rest.len(), flags) };
            if n >= 0 {
                done += n as usize;
                if wait == Wait::No {
                    break;
                }
                continue;
            }
            let e = errno();
            if e == libc::EINTR {
                continue;
            }
            if (e == libc::EAGAIN || e == libc::EWOULDBLOCK) && wait == Wait::Yes {
                self.wait_ready(libc::POLLOUT)?;
                continue;
            }
            return Err(self.io_error(stream_error(e), true));
        }
        Ok(done)
    }

    /// Receives into `buf`: 0 at the end of the stream; `WSAEWOULDBLOCK` when not waiting and
    /// nothing is there.
    pub(crate) fn recv(&self, buf: &mut [u8], wait: Wait, peek: bool) -> Result<usize, WsaError> {
        let mut flags = libc::MSG_DONTWAIT;
        if peek {
            flags |= libc::MSG_PEEK;
        }
        loop {
            // SAFETY: recv into a live, writable slice and its length.
            let n =
                unsafe { libc::recv(self.fd, buf.as_mut_ptr() as *mut c_void, buf.len(), flags) };
            if n > 0 || (n == 0 && !self.closed.load(Ordering::Relaxed)) {
                return Ok(n as usize);
            }
            if n == 0 {
                return Err(WsaError::INTR);
            }
            let e = errno();
            if e == libc::EINTR {
                continue;
            }
            if (e == libc::EAGAIN || e == libc::EWOULDBLOCK) && wait == Wait::Yes {
                self.wait_ready(libc::POLLIN)?;
                continue;
            }
            return Err(self.io_error(stream_error(e), false));
        }
    }

    pub(crate) fn shutdown(&self, how: Shutdown) -> Result<(), WsaError> {
        let raw = match how {
            Shutdown::Receive => libc::SHUT_RD,
            Shutdown::Send => libc::SHUT_WR,
            Shutdown::Both => libc::SHUT_RDWR,
        };
        // Linux accepts a shutdown of an unconnected socket; Winsock does not.
        self.peer_name()?;
        // SAFETY: plain system call on the socket's descriptor.
        if unsafe { libc::shutdown(self.fd, raw) } < 0 {
            return Err(last_error());
        }
        if how.send() {
            self.shut_send.store(true, Ordering::Relaxed);
        }
        if how.receive() {
            self.shut_recv.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The `sun_path` the socket is bound to, or `None` if it is unbound.
    fn local_path(&self) -> Result<Option<Vec<u8>>, WsaError> {
        let mut addr = empty_addr();
        let mut len = std::mem::size_of::<sockaddr_un>() as socklen_t;
        // SAFETY: getsockname with a live, writable sockaddr_un and its size.
        let rc = unsafe {
            libc::getsockname(
                self.fd,
                &mut addr as *mut sockaddr_un as *mut sockaddr,
                &mut len,
            )
        };
        if rc < 0 {
            return Err(last_error());
        }
        let path = path_bytes(&addr, len);
        Ok(if path.is_empty() { None } else { Some(path) })
    }

    /// The local name; an unbound socket is `WSAEINVAL` unless it is connected (then unnamed).
    pub(crate) fn local_name(&self) -> Result<Vec<u8>, WsaError> {
        match self.local_path()? {
            Some(path) => Ok(self.ns.name_of(&path)),
            None => self
                .peer_name()
                .map(|_| Vec::new())
                .map_err(|_| WsaError::INVAL),
        }
    }

    pub(crate) fn peer_name(&self) -> Result<Vec<u8>, WsaError> {
        let mut addr = empty_addr();
        let mut len = std::mem::size_of::<sockaddr_un>() as socklen_t;
        // SAFETY: getpeername with a live, writable sockaddr_un and its size.
        let rc = unsafe {
            libc::getpeername(
                self.fd,
                &mut addr as *mut sockaddr_un as *mut sockaddr,
                &mut len,
            )
        };
        if rc < 0 {
            return Err(last_error());
        }
        Ok(self.ns.name_of(&path_bytes(&addr, len)))
    }

    /// Bytes a receive would return now (`FIONREAD`).
    pub(crate) fn readable(&self) -> Result<usize, WsaError> {
        let mut n: c_int = 0;
        // SAFETY: FIONREAD writes one int to the pointer given.
        let rc = unsafe { libc::ioctl(self.fd, libc::FIONREAD, &mut n as *mut c_int) };
        if rc < 0 {
            return match errno() {
                // A listening socket has no data.
                libc::EINVAL => Ok(0),
                e => Err(wsa_error(e)),
            };
        }
        Ok(n.max(0) as usize)
    }

    fn int_option(&self, name: c_int) -> Result<c_int, WsaError> {
        let mut value: c_int = 0;
        let mut len = std::mem::size_of::<c_int>() as socklen_t;
        // SAFETY: getsockopt with a live int and its size.
        let rc = unsafe {
            libc::getsockopt(
                self.fd,
                libc::SOL_SOCKET,
                name,
                &mut value as *mut c_int as *mut c_void,
                &mut len,
            )
        };
        if rc < 0 {
            return Err(last_error());
        }
        Ok(value)
    }

    /// `SO_ERROR`: the pending error as a WSA code (0 for none); reading it clears it.
    pub(crate) fn take_error(&self) -> Result<i32, WsaError> {
        let e = self.int_option(libc::SO_ERROR)?;
        Ok(if e == 0 { 0 } else { wsa_error(e).code() })
    }

    /// `SO_RCVBUF` or `SO_SNDBUF` as the kernel reports it.
    pub(crate) fn buffer_size(&self, send: bool) -> Result<i32, WsaError> {
        self.int_option(if send {
            libc::SO_SNDBUF
        } else {
            libc::SO_RCVBUF
        })
    }

    /// Sets `SO_RCVBUF` or `SO_SNDBUF`.
    pub(crate) fn set_buffer_size(&self, send: bool, size: i32) -> Result<(), WsaError> {
        let name = if send {
            libc::SO_SNDBUF
        } else {
            libc::SO_RCVBUF
        };
        // SAFETY: setsockopt with a live int and its size.
        let rc = unsafe {
            libc::setsockopt(
                self.fd,
                libc::SOL_SOCKET,
                name,
                &size as *const c_int as *const c_void,
                std::mem::size_of::<c_int>() as socklen_t,
            )
        };
        if rc < 0 {
            return Err(last_error());
        }
        Ok(())
    }

    /// `WSPDuplicateSocket`: offers a new descriptor of this socket to process `process_id`
    /// (see `handoff`); the token that names the offer. From now on the socket is shared.
    pub(crate) fn duplicate(&self, process_id: u32) -> Result<NonZeroU32, WsaError> {
        let token = crate::handoff::offer(self.fd, process_id)?;
        self.shared.store(true, Ordering::Relaxed);
        Ok(token)
    }

    /// `WSPSocket` from a duplicate: a new descriptor of the socket offered under `token`.
    pub(crate) fn from_duplicate(token: NonZeroU32) -> Result<Socket, WsaError> {
        let socket = Socket::from_fd(crate::handoff::take(token)?, Namespace::native());
        socket.shared.store(true, Ordering::Relaxed);
        if socket.int_option(libc::SO_ACCEPTCONN)? != 0 {
            socket.listening.store(true, Ordering::Relaxed);
        }
        Ok(socket)
    }

    /// `WSPCloseSocket`: wakes every call blocked on the socket (they fail with `WSAEINTR`)
    /// and removes its socket file. The descriptor is closed when the socket is dropped,
    /// after the last call using it has returned.
    ///
    /// A shared socket is not shut down (that would end the connection for the other
    /// descriptors): this descriptor lets go of it at once instead (a placeholder socket takes
    /// its number until the socket is dropped, so that a call still running never reaches a
    /// number reused meanwhile), and its blocked calls notice the close within
    /// [`WAIT_POLL_MS`].
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.watch.close();
        if self.shared.load(Ordering::Relaxed) {
            if let Ok(placeholder) = new_fd() {
                // SAFETY: both descriptors are open; dup2 atomically makes `self.fd` refer to
                // the placeholder's socket (the shared one loses this reference), and the
                // placeholder's own number is closed right after.
                unsafe {
                    libc::dup2(placeholder, self.fd);
                    libc::close(placeholder);
                }
                let _ = set_cloexec(self.fd);
            }
        } else {
            // SAFETY: plain system call on the socket's (still open) descriptor.
            unsafe { libc::shutdown(self.fd, libc::SHUT_RDWR) };
        }
        if let Some(file) = self.file.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// The provider's last clean-up: withdraws the duplicates nobody took (see `handoff`).
pub(crate) fn withdraw_duplicates() {
    crate::handoff::withdraw_all();
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.watch.close();
        // SAFETY: the descriptor is owned by this socket and closed exactly once, here.
        unsafe { libc::close(self.fd) };
        if let Some(file) = self
            .file
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = std::fs::remove_file(file);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_names_are_escaped_and_recovered() {
        let ns = Namespace::Dir(PathBuf::from("/tmp/x"));
        let path = ns.path_of(b"a b/%");
        assert_eq!(path, b"/tmp/x/wsp-pipe-a%20b%2F%25");
        assert_eq!(ns.name_of(&path), b"a b/%");
        assert_eq!(ns.name_of(b"/elsewhere/sock\0"), b"/elsewhere/sock");
        assert_eq!(Namespace::Abstract.name_of(b"\0abc"), b"abc");
        assert_eq!(Namespace::Abstract.name_of(b""), b"");
    }

    #[test]
    fn oversized_paths_are_refused() {
        assert!(make_addr(&[b'x'; 200]).is_err());
        let (_, len) = make_addr(b"\0ab").unwrap();
        assert_eq!(len as usize, path_offset() + 3);
    }

    /// The socket-file namespace (used where there is no abstract namespace) works end to end
    /// and leaves no file behind.
    #[test]
    fn dir_namespace_round_trip() {
        let dir = std::env::temp_dir().join(format!("wsp-pipe-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ns = Namespace::Dir(dir.clone());
        let listener = Socket::new_in(ns.clone()).unwrap();
        listener.bind(b"srv one").unwrap();
        assert_eq!(listener.local_name().unwrap(), b"srv one");
        listener.listen(4).unwrap();
        let client = Socket::new_in(ns.clone()).unwrap();
        client.bind(b"").unwrap();
        let client_name = client.local_name().unwrap();
        assert!(client_name.starts_with(b"auto-"));
        client.connect(b"srv one").unwrap();
        let (server, peer) = listener.accept(Wait::Yes).unwrap();
        assert_eq!(peer, client_name);
        assert_eq!(server.local_name().unwrap(), b"srv one");
        assert_eq!(client.send(b"ping", Wait::Yes).unwrap(), 4);
        let mut buf = [0u8; 8];
        assert_eq!(server.recv(&mut buf, Wait::Yes, false).unwrap(), 4);
        assert_eq!(&buf[..4], b"ping");
        for s in [&listener, &client, &server] {
            s.close();
        }
        drop((listener, client, server));
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "socket files left behind"
        );
        std::fs::remove_dir(&dir).unwrap();
    }
}
