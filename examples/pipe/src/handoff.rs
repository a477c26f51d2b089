//! Unix: handing a socket's descriptor to another process (or to this one) for
//! `WSPDuplicateSocket`.
//!
//! [`offer`] keeps a copy of the descriptor and opens a one-shot hand-off socket, a listening
//! Unix-domain socket whose name is derived from a fresh 32-bit token (the structure's
//! `dwProviderReserved`): in Linux's abstract namespace `NUL NUL "wsp-pipe-dup-<token>"`,
//! which no application name can be (names never start with NUL); elsewhere the socket file
//! `<temp dir>/wsp-dup-<token>`, which no application name maps to. A thread serves it: it
//! accepts one connection, from the target process only (checked with `SO_PEERCRED` where
//! the system has it), sends the descriptor over it (`SCM_RIGHTS`), and ends. [`take`], in the
//! target, connects to the name and receives the descriptor: a new descriptor of the same
//! socket.
//!
//! An offer nobody takes within [`OFFER_LIFETIME`] is withdrawn (its copy of the descriptor is
//! closed); [`withdraw_all`] withdraws every offer at once (the provider's last clean-up) and
//! waits for their threads.

use crate::unix::{new_fd, wsa_error, Namespace};
use core::num::NonZeroU32;
use libc::{c_int, c_void, sockaddr, sockaddr_un, socklen_t};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use winsock_provider::WsaError;

/// How long an offer waits for its target.
pub(crate) const OFFER_LIFETIME: Duration = Duration::from_secs(60);

/// How long a serving thread sleeps in `poll` before it checks whether it was withdrawn.
const SERVE_POLL_MS: c_int = 100;

/// How long [`take`] waits for the offering process to send the descriptor.
const TAKE_TIMEOUT_MS: c_int = 10_000;

/// The threads serving offers, with the flag that withdraws each.
static OFFERS: Mutex<Vec<(Arc<AtomicBool>, JoinHandle<()>)>> = Mutex::new(Vec::new());

static NEXT_TOKEN: AtomicU32 = AtomicU32::new(0);

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// An owned descriptor, closed on drop.
struct Fd(c_int);

impl Fd {
    /// Gives up ownership: the caller closes the descriptor.
    fn into_raw(self) -> c_int {
        let raw = self.0;
        core::mem::forget(self);
        raw
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed exactly once, here.
        unsafe { libc::close(self.0) };
    }
}

/// The address of the hand-off socket of `token`.
fn address(token: NonZeroU32) -> Result<(sockaddr_un, socklen_t), WsaError> {
    let name = format!("{:08x}", token.get());
    let path = match Namespace::native() {
        Namespace::Abstract => {
            let mut path = vec![0u8, 0u8];
            path.extend_from_slice(b"wsp-pipe-dup-");
            path.extend_from_slice(name.as_bytes());
            path
        }
        Namespace::Dir(dir) => {
            use std::os::unix::ffi::OsStrExt;
            let file = dir.join(format!("wsp-dup-{}", name));
            file.as_os_str().as_bytes().to_vec()
        }
    };
    crate::unix::make_addr(&path)
}

/// A token no offer of this process uses now (the bind of its name decides for sure).
fn fresh_token() -> NonZeroU32 {
    loop {
        let n = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mixed = (std::process::id().rotate_left(16) ^ nanos ^ n.wrapping_mul(0x9E37_79B9))
            .wrapping_add(n);
        if let Some(token) = NonZeroU32::new(mixed) {
            return token;
        }
    }
}

/// Offers `fd` (a copy of it is kept) to process `process_id`: the token that names the
/// offer.
pub(crate) fn offer(fd: c_int, process_id: u32) -> Result<NonZeroU32, WsaError> {
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor the caller owns; the copy is owned here.
    let held = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if held < 0 {
        return Err(wsa_error(errno()));
    }
    let held = Fd(held);
    let (listener, token) = bind_listener()?;
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("wsp-pipe-handoff".to_owned())
            .spawn(move || serve(&listener, &held, process_id, &stop))
            .map_err(|_| WsaError::NOBUFS)?
    };
    let mut offers = OFFERS.lock().unwrap_or_else(|e| e.into_inner());
    // Reap the threads of offers that ended.
    let (done, running): (Vec<_>, Vec<_>) = core::mem::take(&mut *offers)
        .into_iter()
        .partition(|(_, t)| t.is_finished());
    *offers = running;
    offers.push((stop, thread));
    drop(offers);
    for (_, t) in done {
        let _ = t.join();
    }
    Ok(token)
}

/// A listening hand-off socket on a fresh token's name.
fn bind_listener() -> Result<(Fd, NonZeroU32), WsaError> {
    for _ in 0..64 {
        let listener = Fd(new_fd()?);
        let token = fresh_token();
        let (addr, len) = address(token)?;
        // SAFETY: bind with a live sockaddr_un and its length.
        let rc = unsafe {
            libc::bind(
                listener.0,
                &addr as *const sockaddr_un as *const sockaddr,
                len,
            )
        };
        if rc < 0 {
            match errno() {
                libc::EADDRINUSE => continue,
                e => return Err(wsa_error(e)),
            }
        }
        // SAFETY: plain system call on the descriptor owned here.
        if unsafe { libc::listen(listener.0, 4) } < 0 {
            return Err(wsa_error(errno()));
        }
        // SAFETY: as above; F_SETFL takes an int.
        if unsafe { libc::fcntl(listener.0, libc::F_SETFL, libc::O_NONBLOCK) } < 0 {
            return Err(wsa_error(errno()));
        }
        return Ok((listener, token));
    }
    Err(WsaError::NOBUFS)
}

/// Serves one offer: waits for the target to connect, sends it `held`, ends. The hand-off
/// socket's file (outside Linux) is removed when the offer ends.
fn serve(listener: &Fd, held: &Fd, process_id: u32, stop: &AtomicBool) {
    let deadline = Instant::now() + OFFER_LIFETIME;
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let mut pfd = libc::pollfd {
            fd: listener.0,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one live pollfd.
        if unsafe { libc::poll(&mut pfd, 1, SERVE_POLL_MS) } <= 0 {
            continue;
        }
        // SAFETY: accept without asking for the peer's address.
        let conn =
            unsafe { libc::accept(listener.0, core::ptr::null_mut(), core::ptr::null_mut()) };
        if conn < 0 {
            continue;
        }
        let conn = Fd(conn);
        if !from_process(&conn, process_id) {
            // Someone else: refused (the connection closes), the offer stays.
            continue;
        }
        if send_fd(&conn, held).is_ok() {
            break;
        }
    }
    remove_file(listener);
}

/// Whether the peer of `conn` is process `process_id`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn from_process(conn: &Fd, process_id: u32) -> bool {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = core::mem::size_of::<libc::ucred>() as socklen_t;
    // SAFETY: SO_PEERCRED writes one ucred to the pointer given, of the size given.
    let rc = unsafe {
        libc::getsockopt(
            conn.0,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut libc::ucred as *mut c_void,
            &mut len,
        )
    };
    rc == 0 && cred.pid as u32 == process_id
}

/// Without `SO_PEERCRED` the target process cannot be checked: the first to connect gets it.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn from_process(_: &Fd, _: u32) -> bool {
    true
}

/// Removes the hand-off socket's file, if it has one (outside Linux's abstract namespace).
fn remove_file(listener: &Fd) {
    let mut addr: sockaddr_un = crate::unix::empty_addr();
    let mut len = core::mem::size_of::<sockaddr_un>() as socklen_t;
    // SAFETY: getsockname with a live, writable sockaddr_un and its size.
    let rc = unsafe {
        libc::getsockname(
            listener.0,
            &mut addr as *mut sockaddr_un as *mut sockaddr,
            &mut len,
        )
    };
    if rc < 0 {
        return;
    }
    let path = crate::unix::path_bytes(&addr, len);
    if path.first().map_or(false, |&b| b != 0) {
        use std::os::unix::ffi::OsStrExt;
        let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
        let _ = std::fs::remove_file(std::ffi::OsStr::from_bytes(&path[..end]));
    }
}

/// Room for one `SCM_RIGHTS` message of one descriptor (`CMSG_SPACE(sizeof(int))`), aligned.
#[repr(C)]
struct CmsgBuf {
    _align: [libc::cmsghdr; 0],
    bytes: [u8; 64],
}

fn cmsg_space() -> usize {
    // SAFETY: CMSG_SPACE only computes a size.
    unsafe { libc::CMSG_SPACE(core::mem::size_of::<c_int>() as u32) as usize }
}

/// Sends one byte carrying `fd` over `conn`.
fn send_fd(conn: &Fd, fd: &Fd) -> Result<(), WsaError> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr() as *mut c_void,
        iov_len: 1,
    };
    let mut control = CmsgBuf {
        _align: [],
        bytes: [0; 64],
    };
    let space = cmsg_space();
    // SAFETY: msghdr is a plain C structure for which all-zero bytes are a valid value.
    let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes.as_mut_ptr() as *mut c_void;
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer is aligned for cmsghdr and holds CMSG_SPACE(sizeof(int))
    // bytes, so the first header and its data fit; the header is written before use.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(core::mem::size_of::<c_int>() as u32) as _;
        core::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut c_int, fd.0);
    }
    loop {
        // SAFETY: sendmsg with the message assembled above; its buffers live until it returns.
        let n = unsafe { libc::sendmsg(conn.0, &msg, crate::unix::NOSIGNAL) };
        if n == 1 {
            return Ok(());
        }
        if n < 0 && errno() == libc::EINTR {
            continue;
        }
        return Err(WsaError::NETDOWN);
    }
}

/// In the target: takes the descriptor offered under `token`. A token nobody offers (never
/// offered, taken already, withdrawn, or offered to another process) is `WSAEINVAL`.
pub(crate) fn take(token: NonZeroU32) -> Result<c_int, WsaError> {
    let conn = Fd(new_fd()?);
    let (addr, len) = address(token)?;
    loop {
        // SAFETY: connect with a live sockaddr_un and its length.
        let rc =
            unsafe { libc::connect(conn.0, &addr as *const sockaddr_un as *const sockaddr, len) };
        if rc == 0 {
            break;
        }
        match errno() {
            libc::EINTR => continue,
            _ => return Err(WsaError::INVAL),
        }
    }
    let mut pfd = libc::pollfd {
        fd: conn.0,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one live pollfd.
    if unsafe { libc::poll(&mut pfd, 1, TAKE_TIMEOUT_MS) } <= 0 {
        return Err(WsaError::INVAL);
    }
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr() as *mut c_void,
        iov_len: 1,
    };
    let mut control = CmsgBuf {
        _align: [],
        bytes: [0; 64],
    };
    // SAFETY: msghdr is a plain C structure for which all-zero bytes are a valid value.
    let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes.as_mut_ptr() as *mut c_void;
    msg.msg_controllen = control.bytes.len() as _;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let flags = libc::MSG_CMSG_CLOEXEC;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let flags = 0;
    let n = loop {
        // SAFETY: recvmsg into the live buffers the message points to.
        let n = unsafe { libc::recvmsg(conn.0, &mut msg, flags) };
        if n < 0 && errno() == libc::EINTR {
            continue;
        }
        break n;
    };
    if n != 1 {
        return Err(WsaError::INVAL);
    }
    let mut received = Vec::new();
    // SAFETY: walks the control messages the kernel wrote into `control`, within the length it
    // reported; each SCM_RIGHTS payload is an array of ints, read unaligned.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg);
                let header = data as usize - cmsg as usize;
                let count = ((*cmsg).cmsg_len as usize).saturating_sub(header)
                    / core::mem::size_of::<c_int>();
                for i in 0..count {
                    let fd = core::ptr::read_unaligned((data as *const c_int).add(i));
                    received.push(Fd(fd));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    // Anything but exactly one descriptor is not an offer of this provider.
    let fd = match received.pop() {
        Some(fd) if received.is_empty() && msg.msg_flags & libc::MSG_CTRUNC == 0 => fd,
        _ => return Err(WsaError::INVAL),
    };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    // SAFETY: fcntl on the descriptor just received, owned here.
    unsafe {
        libc::fcntl(fd.0, libc::F_SETFD, libc::FD_CLOEXEC)
    };
    Ok(fd.into_raw())
}

/// Withdraws every offer not taken yet and waits for their threads (the provider's last
/// clean-up: no thread of the provider may outlive it).
pub(crate) fn withdraw_all() {
    let offers = core::mem::take(&mut *OFFERS.lock().unwrap_or_else(|e| e.into_inner()));
    for (stop, _) in &offers {
        stop.store(true, Ordering::Relaxed);
    }
    for (_, thread) in offers {
        let _ = thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_go_to_their_process_once_and_can_be_withdrawn() {
        let fd = new_fd().unwrap();
        // Another process's offer: this process is refused.
        let theirs = offer(fd, std::process::id().wrapping_add(1)).unwrap();
        assert_eq!(take(theirs), Err(WsaError::INVAL));
        // This process's: taken once, as a descriptor of the same socket.
        let mine = offer(fd, std::process::id()).unwrap();
        let got = take(mine).unwrap();
        assert_ne!(got, fd);
        let same = |a: c_int, b: c_int| {
            // SAFETY: fstat into live, zeroed structures; both descriptors are open.
            unsafe {
                let (mut x, mut y): (libc::stat, libc::stat) =
                    (core::mem::zeroed(), core::mem::zeroed());
                libc::fstat(a, &mut x) == 0 && libc::fstat(b, &mut y) == 0 && x.st_ino == y.st_ino
            }
        };
        assert!(
            same(fd, got),
            "the descriptor taken is not the socket offered"
        );
        assert_eq!(take(mine), Err(WsaError::INVAL));
        // Withdrawn offers are gone.
        let withdrawn = offer(fd, std::process::id()).unwrap();
        withdraw_all();
        assert_eq!(take(withdrawn), Err(WsaError::INVAL));
        for d in [got, fd] {
            // SAFETY: descriptors owned by this test, closed once.
            unsafe { libc::close(d) };
        }
    }
}
