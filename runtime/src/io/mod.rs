//! The I/O machinery: readiness and network events, overlapped requests and their
//! completions, and where pending requests run after a signal.
//!
//! It knows nothing of providers or of the socket registry: it reaches a socket through the
//! [`Socket`] trait, which the registry's `Sock<P>` implements, and keeps its own per-socket
//! record ([`SockIo`]) inside it.
//!
//! - [`ready`]: what a provider signals ([`Ready`]) and the socket side a signal reaches;
//! - [`notifier`]: the handle a provider signals through ([`Notifier`](notifier::Notifier));
//! - [`sock_io`]: the per-socket record, how a signal is recorded and how a call's result
//!   re-enables events;
//! - [`events`]: the `WSAEventSelect` re-enabling rules and the announcements;
//! - [`ops`]: pending overlapped requests, attempted in order, each completed once;
//! - [`queue`]: the queues of pending requests a socket's record holds;
//! - [`completion`]: how a request completes (routine, completion port, event);
//! - [`bufs`]: the caller's buffers and out-pointers a pending request holds;
//! - [`deferred`]: the entry guard, and the driver thread;
//! - [`signals`]: the process-wide generation `WSPSelect` waits on.

pub(crate) mod bufs;
pub(crate) mod completion;
pub(crate) mod deferred;
pub(crate) mod events;
pub(crate) mod notifier;
pub(crate) mod ops;
pub(crate) mod queue;
pub(crate) mod ready;
pub(crate) mod signals;
pub(crate) mod sock_io;

use crate::sys::{SOCKET, WSPUPCALLTABLE};
pub(crate) use ready::Ready;
pub(crate) use sock_io::SockIo;

/// What the I/O machinery needs of a socket, and nothing more: its record, its handle, the
/// upcall table, and two questions for the provider.
///
/// # Safety
/// Records are shared between threads (held in `Arc`s that pending requests, notifiers and the
/// driver thread reach from any thread): an implementor must be `Send + Sync` in fact, even
/// where the compiler cannot see it through an associated type.
pub(crate) unsafe trait Socket: Sized + 'static {
    /// The socket's I/O record.
    fn io(&self) -> &SockIo<Self>;
    /// The handle the application uses (completions and window messages name it).
    fn handle(&self) -> SOCKET;
    /// The upcall table ws2_32 passed to `WSPStartup`.
    fn upcalls(&self) -> &WSPUPCALLTABLE;
    /// The provider's view of the socket's readiness now (may panic: callers catch).
    fn readiness(&self) -> Ready;
    /// Tells the provider that the socket's notifier is live (may panic: the caller catches).
    fn attached(&self);
    /// The provider's state of a connection accepted on this listener: what an accept whose
    /// condition function defers the connection keeps for the next accept.
    type Conn;
    /// Lets the provider close such a connection, never handed out (may panic: the caller
    /// catches).
    fn discard(&self, conn: Self::Conn);
}
