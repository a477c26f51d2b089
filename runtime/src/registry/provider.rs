//! The trait a provider implements, one method per `WSPPROC_TABLE` entry with safe arguments,
//! and the per-socket record its methods receive (`Sock`: the provider's state plus what the
//! runtime owns). The two are defined together: the trait's methods take the record, and the
//! record holds the provider's socket type.

use crate::io::{self, notifier::Notifier, Ready, SockIo};
use crate::sys::{self, SOCKET, WSPUPCALLTABLE};
use crate::types::addr::SockAddr;
use crate::types::buf::{Bufs, BufsMut};
use crate::types::error::WsaError;
use crate::types::flags::{MsgFlags, OptInput, OptValue, Shutdown, SockOpt, SocketFlags};
use crate::types::info::{Guid, ProtocolSpec};
use core::num::NonZeroU32;
use core::ops::Deref;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use wsp_handle_table::Keyed;

/// What `WSPStartup` was given, for [`Provider::startup`].
#[derive(Copy, Clone, Debug)]
pub struct StartupContext {
    /// The negotiated interface version (`MAKEWORD(2, 2)`).
    pub version: u16,
    /// `dwCatalogEntryId` of the entry ws2_32 loaded the provider for.
    pub catalog_id: u32,
}

/// The arguments of `WSPSocket`, resolved against the protocol entry ws2_32 chose.
#[derive(Copy, Clone, Debug)]
pub struct SocketRequest {
    /// The provider's protocol entry for this socket.
    pub spec: &'static ProtocolSpec,
    /// Its index in the provider's protocol list.
    pub index: usize,
    /// `dwCatalogEntryId` of that entry.
    pub catalog_id: u32,
    /// `WSA_FLAG_*` flags.
    pub flags: SocketFlags,
    /// The socket group (`g`); 0 when none.
    pub group: u32,
}

/// A request of `WSPIoctl` the runtime has not handled itself.
pub struct IoctlRequest<'a> {
    /// `dwIoControlCode`.
    pub code: u32,
    /// The input buffer (empty when none was given).
    pub input: &'a [u8],
    /// The output buffer (empty when none was given).
    pub output: &'a mut [u8],
}

/// A Winsock 2 transport service provider.
///
/// Implement this on a struct, put `#[winsock_provider(...)]` on the struct, and the crate
/// becomes a provider DLL: `WSPStartup` is exported, the 30-entry dispatch table is built from
/// these methods, and socket handles are allocated in the declared descriptor mode.
///
/// Every method has a default that fails with the error Winsock documents for an unsupported
/// operation, so a provider implements only what it serves. Methods run on the caller's thread;
/// blocking calls block there (check [`Sock::nonblocking`] and fail with `WSAEWOULDBLOCK`
/// instead when it is set). A panic in any method is caught by the runtime and reported to the
/// caller as `WSAENETDOWN`; it never unwinds into ws2_32.
///
/// Socket handles, argument validation (null and short buffers, bad lengths), start-up and
/// clean-up counting, `SO_TYPE`, `SO_PROTOCOL_INFOW` and `FIONBIO` are the runtime's job.
///
/// So is every notification model: overlapped requests (events, completion routines,
/// completion ports), `WSPEventSelect`, `WSPAsyncSelect`, `WSPSelect`, and the extension
/// functions (`AcceptEx`, `ConnectEx`, ...). A provider only *signals readiness*: store
/// [`Sock::notifier`] in [`Provider::attached`], call [`Notifier::ready`](crate::Notifier)
/// when data arrives, room frees, a connection is queued or completes, or the connection
/// closes, and answer [`Provider::readiness`]. The runtime retries pending requests by calling
/// your methods again with [`Sock::nonblocking`] true (they must then fail with
/// `WSAEWOULDBLOCK` rather than wait). See `docs/overlapped.md`.
#[cfg_attr(
    wsp_diagnostic_namespace,
    diagnostic::on_unimplemented(
        message = "`{Self}` does not implement `winsock_provider::Provider`",
        label = "`#[winsock_provider]` needs an `impl winsock_provider::Provider for {Self}`",
        note = "write `impl winsock_provider::Provider for {Self} {{ type Socket = ...; fn startup(...) ...; fn socket(...) ... }}`"
    )
)]
pub trait Provider: Sized + Send + Sync + 'static {
    /// Per-socket state. Shared between the threads calling on the same socket, so it must be
    /// `Send + Sync`: the bound is spelt `ThreadSafeSocket`, which exactly the `Send + Sync`
    /// types implement, so that a type that is not gets an error in this crate's words.
    type Socket: ThreadSafeSocket + 'static;

    /// Creates the provider instance on the first `WSPStartup` (later ones only count).
    fn startup(ctx: &StartupContext) -> Result<Self, WsaError>;

    /// Runs on the last `WSPCleanup`, after every socket still open has been closed. If it
    /// panics, that `WSPCleanup` still releases everything and then fails with `WSAENETDOWN`.
    fn cleanup(&self) {}

    /// `WSPSocket`: creates a socket's state. The runtime allocates its handle. (A
    /// `WSAPROTOCOL_INFOW` filled by `WSPDuplicateSocket` goes to
    /// [`Provider::socket_from_duplicate`] instead.)
    fn socket(&self, request: &SocketRequest) -> Result<Self::Socket, WsaError>;

    /// `WSPCloseSocket`: the socket has been removed from the handle table, so no new call can
    /// reach it; wake any thread blocked on it, and release here what must go at close time
    /// (names, ports, the peer's end of a connection). Its state is dropped once no call uses
    /// it: before the close returns when nothing else holds it and closes are not arriving in a
    /// burst; otherwise when the last call using it returns, after at most 1024 further closes
    /// on the closing thread (bursts share one memory barrier), when that thread exits, or at
    /// the last clean-up. Errors are reported to the caller but the handle is released
    /// regardless.
    fn close(&self, sock: &Sock<Self>) -> Result<(), WsaError> {
        let _ = sock;
        Ok(())
    }

    /// `WSPBind`.
    fn bind(&self, sock: &Sock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        let _ = (sock, addr);
        Err(WsaError::OPNOTSUPP)
    }

    /// `WSPListen`. `backlog` is clamped to at least 1 (`SOMAXCONN` stays as it is).
    fn listen(&self, sock: &Sock<Self>, backlog: i32) -> Result<(), WsaError> {
        let _ = (sock, backlog);
        Err(WsaError::OPNOTSUPP)
    }

    /// `WSPAccept`: waits for (or, non-blocking, polls for) a connection and returns the new
    /// socket's state and the peer address. The runtime allocates the handle, applies the
    /// condition function, and inherits the listener's non-blocking mode. A connection the
    /// condition function defers (`CF_DEFER`) stays with the runtime, at the top of the
    /// backlog: the next accept (`WSPAccept` or `AcceptEx`) takes it without calling this
    /// method, the listener counts as ready to accept meanwhile, and closing the listener
    /// closes it ([`Provider::close`] on its state).
    fn accept(&self, sock: &Sock<Self>) -> Result<(Self::Socket, SockAddr), WsaError> {
        let _ = sock;
        Err(WsaError::OPNOTSUPP)
    }

    /// `WSPConnect`.
    fn connect(&self, sock: &Sock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        let _ = (sock, addr);
        Err(WsaError::OPNOTSUPP)
    }

    /// `WSPJoinLeaf` (multipoint). Returns a new socket for a c_root, `None` to reuse `sock`.
    fn join_leaf(
        &self,
        sock: &Sock<Self>,
        addr: &SockAddr,
        flags: u32,
    ) -> Result<Option<Self::Socket>, WsaError> {
        let _ = (sock, addr, flags);
        Err(WsaError::OPNOTSUPP)
    }

    /// `WSPSend`: returns the number of bytes sent.
    fn send(&self, sock: &Sock<Self>, bufs: &Bufs<'_>, flags: MsgFlags) -> Result<usize, WsaError> {
        let _ = (sock, bufs, flags);
        Err(WsaError::OPNOTSUPP)
    }

    /// `WSPSendTo`: returns the number of bytes sent.
    fn send_to(
        &self,
        sock: &Sock<Self>,
        bufs: &Bufs<'_>,
        flags: MsgFlags,
        to: &SockAddr,
    ) -> Result<usize, WsaError> {
        let _ = (sock, bufs, flags, to);
        Err(WsaError::OPNOTSUPP)
    }

    /// `WSPRecv`: returns the bytes received (0 after a graceful close) and the output flags.
    fn recv(
        &self,
        sock: &Sock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags), WsaError> {
        let _ = (sock, bufs, flags);
        Err(WsaError::OPNOTSUPP)
    }

    /// `WSPRecvFrom`: like [`Provider::recv`], plus the sender's address.
    fn recv_from(
        &self,
        sock: &Sock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags, SockAddr), WsaError> {
        let _ = (sock, bufs, flags);
        Err(WsaError::OPNOTSUPP)
    }

    /// `WSPShutdown`.
    fn shutdown(&self, sock: &Sock<Self>, how: Shutdown) -> Result<(), WsaError> {
        let _ = (sock, how);
        Err(WsaError::OPNOTSUPP)
    }

    /// `WSPSendDisconnect` without disconnect data: by default a send shutdown.
    fn send_disconnect(&self, sock: &Sock<Self>) -> Result<(), WsaError> {
        self.shutdown(sock, Shutdown::Send)
    }

    /// `WSPRecvDisconnect` without disconnect data: by default a receive shutdown.
    fn recv_disconnect(&self, sock: &Sock<Self>) -> Result<(), WsaError> {
        self.shutdown(sock, Shutdown::Receive)
    }

    /// `WSPGetSockName`. An unbound socket is `WSAEINVAL`.
    fn sock_name(&self, sock: &Sock<Self>) -> Result<SockAddr, WsaError> {
        let _ = sock;
        Err(WsaError::INVAL)
    }

    /// `WSPGetPeerName`. An unconnected socket is `WSAENOTCONN`.
    fn peer_name(&self, sock: &Sock<Self>) -> Result<SockAddr, WsaError> {
        let _ = sock;
        Err(WsaError::NOTCONN)
    }

    /// `WSPGetSockOpt` for options other than `SO_TYPE` and `SO_PROTOCOL_INFOW` (answered by
    /// the runtime). The runtime checks the caller's buffer against the value's length.
    fn get_option(&self, sock: &Sock<Self>, opt: SockOpt) -> Result<OptValue, WsaError> {
        let _ = (sock, opt);
        Err(WsaError::NOPROTOOPT)
    }

    /// `WSPSetSockOpt`.
    fn set_option(
        &self,
        sock: &Sock<Self>,
        opt: SockOpt,
        value: OptInput<'_>,
    ) -> Result<(), WsaError> {
        let _ = (sock, opt, value);
        Err(WsaError::NOPROTOOPT)
    }

    /// `FIONREAD`: bytes that a receive would return now.
    fn bytes_readable(&self, sock: &Sock<Self>) -> Result<usize, WsaError> {
        let _ = sock;
        Err(WsaError::OPNOTSUPP)
    }

    /// `SIOCATMARK`: whether all out-of-band data has been read (true without OOB support).
    fn at_mark(&self, sock: &Sock<Self>) -> Result<bool, WsaError> {
        let _ = sock;
        Ok(true)
    }

    /// `WSPIoctl` for codes the runtime does not handle itself; returns the bytes written to
    /// `output`. Unknown codes are `WSAEINVAL`.
    fn ioctl(&self, sock: &Sock<Self>, request: IoctlRequest<'_>) -> Result<usize, WsaError> {
        let _ = (sock, request);
        Err(WsaError::INVAL)
    }

    /// The socket now has its runtime record and handle (called once, before the first call
    /// that reaches it is served). Store [`Sock::notifier`] wherever your transport learns
    /// that the socket became readable, writable, etc., and signal through it from then on
    /// (signalling never calls back into the provider on the signalling thread, so it may be
    /// done under your own locks: see [`Notifier::ready`](crate::Notifier::ready)).
    ///
    /// If it panics, the socket is unusable: the call that reached it and every later one
    /// fail with `WSAENETDOWN`, except `WSPCloseSocket`.
    fn attached(&self, sock: &Sock<Self>) {
        let _ = sock;
    }

    /// The socket's readiness now, as `select` defines it: `READ` (a receive would not block:
    /// data, a datagram, end of stream or an error), `WRITE` (a send would not block),
    /// `ACCEPT` (a connection is pending), `CLOSE` (the connection has closed). The default
    /// answers from the signals received ([`Sock::signalled`]), which is exact for a provider
    /// that signals every change; override it when the state is cheap to read directly. Must
    /// not block.
    ///
    /// If it panics, `WSPSelect` fails with `WSAENETDOWN`; elsewhere (event selection, the
    /// bookkeeping after a call) the socket counts as not ready.
    fn readiness(&self, sock: &Sock<Self>) -> Ready {
        sock.signalled()
    }

    /// `AcceptEx`: moves the state of connection `accepted` (from [`Provider::accept`]) into
    /// `target`, an unconnected socket the application created, which becomes the accepted
    /// connection. The default refuses (`WSAEOPNOTSUPP`), which makes `AcceptEx` fail.
    fn adopt(&self, target: &Sock<Self>, accepted: Self::Socket) -> Result<(), WsaError> {
        let _ = (target, accepted);
        Err(WsaError::OPNOTSUPP)
    }

    /// `WSPDuplicateSocket`: prepares the socket to be shared with process `process_id` (which
    /// may be the current process) and returns the value the target will need to rebuild it,
    /// for example a handle duplicated into that process or a token naming a hand-off.
    ///
    /// The runtime writes the socket's protocol entry to the caller's `WSAPROTOCOL_INFOW` with
    /// this value in `dwProviderReserved`. When the target passes that structure to `WSPSocket`
    /// (`WSASocket(FROM_PROTOCOL_INFO, ..., &info, ...)`), the runtime sees the non-zero
    /// `dwProviderReserved` and calls [`Provider::socket_from_duplicate`] instead of
    /// [`Provider::socket`]; catalog entries always carry 0 there, so a zero value could not be
    /// told from an ordinary socket request, hence `NonZeroU32`.
    ///
    /// Both descriptors then refer to the same underlying socket: each must be closed, and
    /// closing one leaves the connection open for the other. The structure is meant to be used
    /// once, by the target process only.
    fn duplicate_socket(&self, sock: &Sock<Self>, process_id: u32) -> Result<NonZeroU32, WsaError> {
        let _ = (sock, process_id);
        Err(WsaError::OPNOTSUPP)
    }

    /// `WSPSocket` given a `WSAPROTOCOL_INFOW` that [`Provider::duplicate_socket`] filled:
    /// rebuilds the state of a descriptor for the same underlying socket from `reserved` (the
    /// value `duplicate_socket` returned, read from `dwProviderReserved`). The runtime
    /// allocates the new handle as for any socket (IFS: `WPUModifyIFSHandle` on the new state's
    /// OS handle; non-IFS: `WPUCreateSocketHandle`). A value this provider does not recognise
    /// (never issued, already used, or issued for another process) is `WSAEINVAL`, the default.
    fn socket_from_duplicate(
        &self,
        request: &SocketRequest,
        reserved: NonZeroU32,
    ) -> Result<Self::Socket, WsaError> {
        let _ = (request, reserved);
        Err(WsaError::INVAL)
    }

    /// `WSPGetQOSByName`: the QOS template named `name`. Without QOS support no name is known:
    /// `WSAEINVAL`.
    fn get_qos_by_name(&self, sock: &Sock<Self>, name: &[u8]) -> Result<sys::QOS, WsaError> {
        let _ = (sock, name);
        Err(WsaError::INVAL)
    }

    /// `WSPAddressToString`. The default formats IPv4 and IPv6 addresses as Winsock does
    /// (`a.b.c.d:port`, `[v6%scope]:port`) and refuses other families with `WSAEINVAL`.
    fn address_to_string(&self, addr: &SockAddr) -> Result<String, WsaError> {
        crate::types::text::address_to_string(addr)
    }

    /// `WSPStringToAddress`. The default parses IPv4 and IPv6 text for those families.
    fn string_to_address(&self, text: &str, family: i32) -> Result<SockAddr, WsaError> {
        crate::types::text::string_to_address(text, family)
    }

    /// `WSPCancelBlockingCall`: Winsock 2.2 has no blocking hooks, so there is nothing to
    /// cancel; the default reports `WSAEINVAL` ("no outstanding blocking call").
    fn cancel_blocking_call(&self) -> Result<(), WsaError> {
        Err(WsaError::INVAL)
    }
}

/// `Send + Sync`, as [`Provider::Socket`] must be: implemented for every such type, and only
/// for those (coherence rejects any other impl, so never implement it yourself).
///
/// It exists so a socket type that is not thread-safe is reported in this crate's words, once,
/// at the provider's `type Socket = ...`. It has no `Send + Sync` supertraits on purpose: rustc
/// checks supertraits separately and would report each failing auto trait in its own raw words.
#[cfg_attr(
    wsp_diagnostic_namespace,
    diagnostic::on_unimplemented(
        message = "`{Self}` cannot be a provider's socket type: it is not `Send + Sync`",
        label = "the socket type must be `Send + Sync`",
        note = "the runtime shares one socket's state between the threads calling on that socket: hold shared mutable parts in `std::sync::Mutex`, atomics or `Arc` rather than `Cell`, `RefCell` or `Rc`"
    )
)]
pub trait ThreadSafeSocket {}

// `do_not_recommend` (Rust 1.85) makes rustc report the unmet bound above, with its message,
// instead of the `Send` or `Sync` of whichever field fails; older compilers ignore it.
#[cfg_attr(
    wsp_diagnostic_namespace,
    allow(unknown_or_malformed_diagnostic_attributes),
    diagnostic::do_not_recommend
)]
impl<T: Send + Sync + ?Sized> ThreadSafeSocket for T {}

/// A socket state type whose sockets are OS handles, for providers in IFS mode.
///
/// The runtime registers [`IfsSocket::os_handle`] with `WPUModifyIFSHandle` and hands out the
/// handle that comes back; the provider closes the OS handle itself (in [`Provider::close`] or
/// when the state is dropped).
#[cfg_attr(
    wsp_diagnostic_namespace,
    diagnostic::on_unimplemented(
        message = "`{Self}` cannot be the socket type of an IFS provider: it does not implement `winsock_provider::IfsSocket`",
        label = "IFS sockets must be OS handles",
        note = "implement `winsock_provider::IfsSocket for {Self}` returning the OS handle (Windows HANDLE, or file descriptor elsewhere) the socket owns, or declare the provider `non_ifs`"
    )
)]
pub trait IfsSocket {
    /// The OS handle (a Windows `HANDLE`, or a file descriptor elsewhere) as a `SOCKET` value.
    fn os_handle(&self) -> SOCKET;
}

/// The provider instance of one start-up, with the upcall table ws2_32 gave it.
pub(crate) struct Shared<P> {
    pub(crate) provider: P,
    pub(crate) upcalls: WSPUPCALLTABLE,
}

/// A socket as the provider's trait methods see it: the provider's own state (reached through
/// `Deref`), plus what the runtime tracks for it.
pub struct Sock<P: Provider> {
    inner: P::Socket,
    pub(crate) shared: Arc<Shared<P>>,
    handle: AtomicUsize,
    spec: &'static ProtocolSpec,
    pub(crate) index: usize,
    catalog_id: u32,
    provider_id: Guid,
    /// Blocking mode, readiness, event selection and pending overlapped requests.
    pub(crate) io: SockIo<Sock<P>>,
}

impl<P: Provider> Sock<P> {
    pub(crate) fn new(
        inner: P::Socket,
        shared: Arc<Shared<P>>,
        spec: &'static ProtocolSpec,
        index: usize,
        catalog_id: u32,
        provider_id: Guid,
    ) -> Sock<P> {
        Sock {
            inner,
            shared,
            handle: AtomicUsize::new(0),
            spec,
            index,
            catalog_id,
            provider_id,
            io: SockIo::new(),
        }
    }

    /// A new socket of the same catalog entry as this one (accepted or joined from it), which
    /// inherits its blocking mode.
    pub(crate) fn sibling(&self, inner: P::Socket) -> Sock<P> {
        let new = Sock::new(
            inner,
            self.shared.clone(),
            self.spec,
            self.index,
            self.catalog_id,
            self.provider_id,
        );
        new.io.set_nonblocking(self.io.nonblocking_mode());
        new
    }

    /// The provider's per-socket state.
    pub fn state(&self) -> &P::Socket {
        &self.inner
    }

    /// The socket handle the application uses.
    pub fn handle(&self) -> SOCKET {
        self.handle.load(Ordering::Relaxed)
    }

    pub(crate) fn set_handle(&self, handle: SOCKET) {
        self.handle.store(handle, Ordering::Relaxed);
    }

    /// The protocol entry the socket was created for.
    pub fn spec(&self) -> &'static ProtocolSpec {
        self.spec
    }

    /// `dwCatalogEntryId` of that entry.
    pub fn catalog_id(&self) -> u32 {
        self.catalog_id
    }

    /// `ProviderId` of that entry: the GUID the catalog lists the entry under, which need not
    /// be the attribute's (an installer may choose another).
    pub fn provider_id(&self) -> Guid {
        self.provider_id
    }

    /// Whether the socket is in non-blocking mode (`FIONBIO`): calls that would wait must fail
    /// with `WSAEWOULDBLOCK` instead.
    ///
    /// Also true while the runtime attempts a pending overlapped request of this socket on
    /// this thread: such attempts must not block either (the runtime retries when you signal
    /// readiness).
    pub fn nonblocking(&self) -> bool {
        self.io.nonblocking()
    }

    /// A handle for signalling this socket's readiness from anywhere (e.g. from the peer's
    /// `send`, or a transport thread). Detached (ignoring signals) before
    /// [`Provider::attached`] has been called for the socket.
    pub fn notifier(&self) -> Notifier {
        self.io.notifier()
    }

    /// Signals conditions that became true: see [`Notifier::ready`] (it never calls
    /// back into the provider on this thread, so it may be sent under your own locks).
    pub fn ready(&self, ready: Ready) {
        self.notifier().ready(ready);
    }

    /// Signals a failed connection attempt (`CONNECT`) or a reset (`CLOSE`) with its error:
    /// see [`Notifier::ready_with_error`].
    pub fn ready_with_error(&self, ready: Ready, error: WsaError) {
        self.notifier().ready_with_error(ready, error);
    }

    /// The conditions signalled and not since refuted by a call that failed with
    /// `WSAEWOULDBLOCK` (the default [`Provider::readiness`]).
    pub fn signalled(&self) -> Ready {
        io::sock_io::signalled(self)
    }
}

// SAFETY: `Sock<P>` is Send + Sync: its provider state implements `ThreadSafeSocket`,
// implemented exactly for `Send + Sync` types (a blanket impl that coherence keeps the only
// one), and the runtime's own fields are Send + Sync.
unsafe impl<P: Provider> io::Socket for Sock<P> {
    #[inline(always)]
    fn io(&self) -> &SockIo<Sock<P>> {
        &self.io
    }

    fn handle(&self) -> SOCKET {
        Sock::handle(self)
    }

    fn upcalls(&self) -> &WSPUPCALLTABLE {
        &self.shared.upcalls
    }

    fn readiness(&self) -> Ready {
        self.shared.provider.readiness(self)
    }

    fn attached(&self) {
        self.shared.provider.attached(self);
    }

    type Conn = P::Socket;

    fn discard(&self, conn: P::Socket) {
        let _ = self.shared.provider.close(&self.sibling(conn));
    }
}

impl<P: Provider> Keyed for Sock<P> {
    #[inline(always)]
    fn key(&self) -> usize {
        self.handle()
    }
}

impl<P: Provider> Deref for Sock<P> {
    type Target = P::Socket;

    fn deref(&self) -> &P::Socket {
        &self.inner
    }
}
