//! An IFS Winsock provider: a byte-stream transport whose sockets are real OS handles.
//!
//! Every socket this provider hands out is a file-system handle of the operating system, so an
//! application may use the OS's own file I/O on it (`ReadFile`/`WriteFile` on Windows,
//! `read(2)`/`write(2)` elsewhere) interleaved with `send`/`recv`, at no cost: the provider is
//! declared `ifs`, the runtime registers each socket's handle with `WPUModifyIFSHandle`, and its
//! protocol entry carries `XP1_IFS_HANDLES`.
//!
//! * **Unix**: each socket is a Unix-domain stream socket; every call is the libc call of the
//!   same name on its descriptor. Names live in Linux's abstract namespace (nothing is created
//!   in the file system); on other Unix systems they are socket files in the temporary
//!   directory, removed when the socket that bound them is closed.
//! * **Windows**: each socket is a named-pipe handle. `socket()` creates a pipe server instance
//!   on a private, unique name; names bound by the application live in an in-process registry
//!   (so peers must be in the same process); `connect` opens the client end of the connecting
//!   socket's pipe and queues it on the listener, and `accept` hands that handle out. Handles
//!   are opened for overlapped I/O, as Winsock's own sockets are (a `ReadFile`/`WriteFile`
//!   with a null `OVERLAPPED` still works: the system waits for it).
//!
//! # Addresses
//!
//! The protocol entry is `AF_UNIX` (1), `SOCK_STREAM`, protocol 0. Addresses are names, laid
//! out like `sockaddr_un`:
//!
//! ```text
//! struct sockaddr_pipe {         // as SOCKADDR_UN
//!     u16  sun_family;           // AF_UNIX = 1
//!     char sun_path[108];        // the name, NUL-terminated (at most 107 bytes)
//! };
//! ```
//!
//! A caller may pass any length from 2 (the family alone) up: the name is the bytes after the
//! family up to the first NUL or the end. A name longer than 107 bytes is `WSAEFAULT`. The
//! provider writes addresses as the family, the name and its NUL (no padding), or the family
//! alone for an unnamed socket (a peer that never bound a name). [`sockaddr`] and [`name_of`]
//! convert between names and addresses.
//!
//! Binding an empty name ("" or the family alone) binds a fresh unique name, like port 0 for
//! IP (Linux's autobind: five hex digits); `getsockname` reports it. `getsockname` on an
//! unbound socket is `WSAEINVAL`, unless it is connected (then it is the unnamed address); on
//! an accepted socket it is the listener's name. Connecting to a name nobody listens on is
//! `WSAECONNREFUSED`, and so is a connection beyond the listener's backlog (as Winsock refuses
//! one beyond a TCP listener's backlog); connecting to the empty name is `WSAEADDRNOTAVAIL`.
//! `connect` never waits: it completes at once or is refused.
//!
//! # Behaviour
//!
//! * `send`/`recv` take and fill several buffers; `MSG_PEEK` and `MSG_WAITALL` are supported;
//!   `MSG_OOB` is `WSAEOPNOTSUPP`. A blocking `send` sends everything. `FIONREAD` counts the
//!   bytes waiting. `SO_ACCEPTCONN`, `SO_ERROR`, `SO_RCVBUF` and `SO_SNDBUF` can be read;
//!   `SO_RCVBUF`/`SO_SNDBUF` can be set (and read back as set; Windows pipes keep the 64 KiB
//!   buffers they were created with).
//! * Non-blocking mode (`FIONBIO`): `accept` and `recv` fail with `WSAEWOULDBLOCK` instead of
//!   waiting; `send` sends what fits now (on Windows: what fits in the peer's 64 KiB pipe
//!   buffer, as the peer's end reports it) and fails with `WSAEWOULDBLOCK` if nothing does.
//! * `shutdown(SD_SEND)`: the peer's `recv` returns 0 once it has read everything sent before.
//!   On Windows this is a zero-length pipe message, which the peer's `ReadFile` also sees as a
//!   0-byte read. `SD_RECEIVE` makes later receives fail with `WSAESHUTDOWN`.
//! * `closesocket` wakes calls blocked on the socket (they fail with `WSAEINTR`), frees its
//!   name, and closes the OS handle once the last call using it has returned. Connections
//!   still waiting in a closed listener's backlog are dropped (their clients see the end of
//!   the stream).
//! * `WSAAddressToString` / `WSAStringToAddress` convert between an address and its name as
//!   UTF-8 text.
//! * Readiness is signalled, so every notification model works (`select`, `WSAEventSelect`,
//!   `WSAAsyncSelect`, overlapped requests). **Unix**: one thread per provider instance
//!   watches the descriptors with `poll(2)`, and `readiness` asks the kernel. **Windows**: the
//!   provider counts the bytes its own sends and receives move between the two ends of each
//!   connection (both in this process) and signals from those calls; the application's own
//!   `ReadFile`/`WriteFile` on a socket are seen at its next receive (see the Windows back
//!   end's documentation).
//!
//! # Shared sockets
//!
//! `WSADuplicateSocket(s, pid)` fills a structure that `WSASocket(FROM_PROTOCOL_INFO, ...)` in
//! process `pid` (this one included) turns, once, into a second descriptor of the same socket:
//! both move the same byte stream, each must be closed, and the connection ends with the last
//! of them (closing one wakes only the calls blocked in that descriptor).
//!
//! * **Unix**: any socket can be shared. The structure names a one-shot hand-off socket (its
//!   token is `dwProviderReserved`) through which the target receives a descriptor of the same
//!   socket (`SCM_RIGHTS`); on Linux only process `pid` can take it. Until the target takes it
//!   (at most 60 s, or until the provider's last clean-up) the offer holds the socket open, so
//!   the source may close its descriptor at once. Outside Linux's abstract namespace, the
//!   socket file of a bound name is removed when the descriptor that bound it closes.
//! * **Windows**: connected sockets can be shared (others are `WSAEINVAL`). For another process
//!   the pipe handle is duplicated into it (`DuplicateHandle`) and its value is
//!   `dwProviderReserved`; the rebuilt socket reports unnamed local and peer addresses, a
//!   non-blocking send there cannot see the peer's buffer (it may wait), and from then on both
//!   ends take a zero-length message for the end of the stream (the flag that tells it from an
//!   application's zero-length write is not shared across processes); a handle the target
//!   never turns into a socket stays open there, as with any provider that duplicates handles.
//!   Within this process the structure carries a token for a second handle of the pipe end
//!   (held until it is used, or until the provider's last clean-up), and the descriptors share
//!   everything.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(unix)]
mod handoff;
mod name;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as backend;
#[cfg(unix)]
mod watch;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as backend;

pub use name::{name_of, sockaddr, MAX_NAME_LEN, MAX_SOCKADDR_LEN, SUN_PATH_LEN};

use core::num::NonZeroU32;
use std::sync::atomic::{AtomicI32, Ordering};
use winsock_provider::sys::{self, SOCKET};
use winsock_provider::{
    winsock_provider, Bufs, BufsMut, IfsSocket, MsgFlags, OptInput, OptValue, Provider, Ready,
    Shutdown, Sock, SockAddr, SockOpt, SocketRequest, StartupContext, WsaError,
};

/// Whether a call may wait.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Wait {
    Yes,
    No,
}

impl Wait {
    fn unless(nonblocking: bool) -> Wait {
        if nonblocking {
            Wait::No
        } else {
            Wait::Yes
        }
    }
}

/// The provider: a stream transport over Unix-domain sockets (Unix) or named pipes (Windows).
#[winsock_provider(
    name = "Pipe",
    guid = "a570a6a8-5d63-4ac4-9d9c-639abdbba07f",
    ifs,
    protocol(name = "Pipe stream", family = AF_UNIX, socket_type = SOCK_STREAM, protocol = 0),
)]
pub struct Pipe {
    /// Watches the sockets' OS handles and signals their readiness (Unix; nothing to watch on
    /// Windows, where the calls that change a connection signal it).
    watcher: backend::Watcher,
}

/// A socket of the provider: the OS handle it owns (a Unix-domain socket descriptor, or a
/// named-pipe handle on Windows), closed when the socket is dropped.
pub struct PipeSocket {
    os: backend::Socket,
    /// `SO_RCVBUF` and `SO_SNDBUF` as last set (-1: never set), reported back as set.
    buffers: [AtomicI32; 2],
}

impl PipeSocket {
    fn new(os: backend::Socket) -> PipeSocket {
        PipeSocket {
            os,
            buffers: [AtomicI32::new(-1), AtomicI32::new(-1)],
        }
    }

    fn buffer_size(&self, send: bool) -> Result<i32, WsaError> {
        match self.buffers[usize::from(send)].load(Ordering::Relaxed) {
            -1 => self.os.buffer_size(send),
            set => Ok(set),
        }
    }
}

impl IfsSocket for PipeSocket {
    fn os_handle(&self) -> SOCKET {
        self.os.os_handle()
    }
}

/// The most a receive into several buffers with `MSG_PEEK` looks at.
const MAX_PEEK: usize = 1 << 20;

impl Pipe {
    fn recv_into(
        sock: &PipeSocket,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
        wait: Wait,
    ) -> Result<usize, WsaError> {
        let s = &sock.os;
        if flags.contains(MsgFlags::PEEK) {
            let mut tmp = vec![0u8; bufs.capacity().min(MAX_PEEK)];
            let n = s.recv(&mut tmp, wait, true)?;
            return Ok(bufs.copy_from(&tmp[..n]));
        }
        let wait_all = flags.contains(MsgFlags::WAITALL) && wait == Wait::Yes;
        let mut total = 0;
        for buf in bufs.iter_mut() {
            let mut off = 0;
            while off < buf.len() {
                // The first byte may be waited for; after that only MSG_WAITALL waits.
                let this = if total + off == 0 || wait_all {
                    wait
                } else {
                    Wait::No
                };
                match s.recv(&mut buf[off..], this, false) {
                    Ok(0) => return Ok(total + off),
                    Ok(n) => off += n,
                    // Data already received is reported; the error comes again next call.
                    Err(_) if total + off > 0 => return Ok(total + off),
                    Err(e) => return Err(e),
                }
                if !wait_all {
                    break;
                }
            }
            total += off;
            if off < buf.len() {
                break;
            }
        }
        Ok(total)
    }
}

impl Provider for Pipe {
    type Socket = PipeSocket;

    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Pipe {
            watcher: backend::Watcher::default(),
        })
    }

    fn socket(&self, _: &SocketRequest) -> Result<PipeSocket, WsaError> {
        backend::Socket::new().map(PipeSocket::new)
    }

    fn close(&self, sock: &Sock<Self>) -> Result<(), WsaError> {
        sock.os.close();
        Ok(())
    }

    fn bind(&self, sock: &Sock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        sock.os.bind(name_of(addr)?)
    }

    fn listen(&self, sock: &Sock<Self>, backlog: i32) -> Result<(), WsaError> {
        sock.os.listen(backlog)?;
        sock.os.start_watching(&self.watcher)
    }

    fn accept(&self, sock: &Sock<Self>) -> Result<(PipeSocket, SockAddr), WsaError> {
        let result = sock.os.accept(Wait::unless(sock.nonblocking()));
        sock.os.rearm_read();
        let (new, peer) = result?;
        Ok((PipeSocket::new(new), name::to_sockaddr(&peer)))
    }

    fn connect(&self, sock: &Sock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        let name = name_of(addr)?;
        if name.is_empty() {
            return Err(WsaError::ADDRNOTAVAIL);
        }
        sock.os.connect(name)?;
        sock.os.start_watching(&self.watcher)
    }

    fn send(&self, sock: &Sock<Self>, bufs: &Bufs<'_>, flags: MsgFlags) -> Result<usize, WsaError> {
        if flags.contains(MsgFlags::OOB) {
            return Err(WsaError::OPNOTSUPP);
        }
        if sock.os.send_shut() {
            return Err(WsaError::SHUTDOWN);
        }
        let wait = Wait::unless(sock.nonblocking());
        let mut total = 0;
        let mut result = Ok(());
        for part in bufs.iter() {
            if part.is_empty() {
                continue;
            }
            match sock.os.send(part, wait) {
                Ok(n) => {
                    total += n;
                    if n < part.len() {
                        break;
                    }
                }
                Err(_) if total > 0 => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        sock.os.rearm_write();
        result.map(|()| total)
    }

    fn recv(
        &self,
        sock: &Sock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags), WsaError> {
        if flags.contains(MsgFlags::OOB) {
            return Err(WsaError::OPNOTSUPP);
        }
        if sock.os.recv_shut() {
            return Err(WsaError::SHUTDOWN);
        }
        if bufs.capacity() == 0 {
            return Ok((0, MsgFlags::NONE));
        }
        let result = Pipe::recv_into(sock, bufs, flags, Wait::unless(sock.nonblocking()));
        sock.os.rearm_read();
        Ok((result?, MsgFlags::NONE))
    }

    fn shutdown(&self, sock: &Sock<Self>, how: Shutdown) -> Result<(), WsaError> {
        sock.os.shutdown(how)
    }

    fn sock_name(&self, sock: &Sock<Self>) -> Result<SockAddr, WsaError> {
        Ok(name::to_sockaddr(&sock.os.local_name()?))
    }

    fn peer_name(&self, sock: &Sock<Self>) -> Result<SockAddr, WsaError> {
        Ok(name::to_sockaddr(&sock.os.peer_name()?))
    }

    fn get_option(&self, sock: &Sock<Self>, opt: SockOpt) -> Result<OptValue, WsaError> {
        if opt.level != sys::SOL_SOCKET {
            return Err(WsaError::NOPROTOOPT);
        }
        match opt.name {
            sys::SO_ACCEPTCONN => Ok(OptValue::Bool(sock.os.is_listening())),
            sys::SO_ERROR => Ok(OptValue::Int(sock.os.take_error()?)),
            sys::SO_RCVBUF => Ok(OptValue::Int(sock.buffer_size(false)?)),
            sys::SO_SNDBUF => Ok(OptValue::Int(sock.buffer_size(true)?)),
            _ => Err(WsaError::NOPROTOOPT),
        }
    }

    fn set_option(
        &self,
        sock: &Sock<Self>,
        opt: SockOpt,
        value: OptInput<'_>,
    ) -> Result<(), WsaError> {
        if opt.level != sys::SOL_SOCKET {
            return Err(WsaError::NOPROTOOPT);
        }
        let send = match opt.name {
            sys::SO_RCVBUF => false,
            sys::SO_SNDBUF => true,
            _ => return Err(WsaError::NOPROTOOPT),
        };
        let size = value.int()?;
        if size < 0 {
            return Err(WsaError::INVAL);
        }
        sock.os.set_buffer_size(send, size)?;
        sock.buffers[usize::from(send)].store(size, Ordering::Relaxed);
        Ok(())
    }

    fn bytes_readable(&self, sock: &Sock<Self>) -> Result<usize, WsaError> {
        sock.os.readable()
    }

    fn address_to_string(&self, addr: &SockAddr) -> Result<String, WsaError> {
        let name = name_of(addr).map_err(|_| WsaError::INVAL)?;
        String::from_utf8(name.to_vec()).map_err(|_| WsaError::INVAL)
    }

    fn string_to_address(&self, text: &str, family: i32) -> Result<SockAddr, WsaError> {
        if family != i32::from(name::FAMILY) && family != i32::from(sys::AF_UNSPEC) {
            return Err(WsaError::INVAL);
        }
        sockaddr(text.as_bytes())
    }

    fn duplicate_socket(&self, sock: &Sock<Self>, process_id: u32) -> Result<NonZeroU32, WsaError> {
        sock.os.duplicate(process_id)
    }

    fn socket_from_duplicate(
        &self,
        _: &SocketRequest,
        reserved: NonZeroU32,
    ) -> Result<PipeSocket, WsaError> {
        backend::Socket::from_duplicate(reserved).map(PipeSocket::new)
    }

    fn attached(&self, sock: &Sock<Self>) {
        // A socket whose watch cannot start (no thread, no descriptors left) still works;
        // its readiness is then only what `readiness` finds when asked.
        let _ = sock.os.attach(&self.watcher, sock.notifier());
    }

    fn readiness(&self, sock: &Sock<Self>) -> Ready {
        sock.os.readiness()
    }

    fn cleanup(&self) {
        self.watcher.stop();
        backend::withdraw_duplicates();
    }
}
