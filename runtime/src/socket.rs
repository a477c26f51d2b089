//! The per-socket record the runtime keeps: the provider's state plus what the runtime owns.

use crate::info::ProtocolSpec;
use crate::provider::Provider;
use crate::sys::{SOCKET, WSPUPCALLTABLE};
use core::ops::Deref;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

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
    nonblocking: AtomicBool,
}

impl<P: Provider> Sock<P> {
    pub(crate) fn new(
        inner: P::Socket,
        shared: Arc<Shared<P>>,
        spec: &'static ProtocolSpec,
        index: usize,
        catalog_id: u32,
        nonblocking: bool,
    ) -> Sock<P> {
        Sock {
            inner,
            shared,
            handle: AtomicUsize::new(0),
            spec,
            index,
            catalog_id,
            nonblocking: AtomicBool::new(nonblocking),
        }
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

    /// Whether the socket is in non-blocking mode (`FIONBIO`): calls that would wait must fail
    /// with `WSAEWOULDBLOCK` instead.
    pub fn nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }

    pub(crate) fn set_nonblocking(&self, on: bool) {
        self.nonblocking.store(on, Ordering::Relaxed);
    }
}

impl<P: Provider> Deref for Sock<P> {
    type Target = P::Socket;

    fn deref(&self) -> &P::Socket {
        &self.inner
    }
}
