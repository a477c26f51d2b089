//! The per-socket record the runtime keeps: the provider's state plus what the runtime owns.

use super::provider::Provider;
use crate::io::{self, ready::Notifier, Ready, SockIo};
use crate::sys::{SOCKET, WSPUPCALLTABLE};
use crate::types::error::WsaError;
use crate::types::info::{Guid, ProtocolSpec};
use core::ops::Deref;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use wsp_handle_table::Keyed;

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
