//! Start-up/clean-up counting, the handle table and descriptor allocation.

use super::provider::{IfsSocket, Provider, StartupContext};
use super::provider::{Shared, Sock};
use crate::host::catch;
use crate::io::{ops, sock_io};
use crate::sys::{self, SOCKET, WSPUPCALLTABLE};
use crate::types::error::WsaError;
use crate::types::info::{DescriptorMode, ProviderInfo};
use std::sync::{Arc, Mutex, MutexGuard};
use wsp_handle_table::{Guard, InsertError, Reclaim, Table};

/// A socket found by a handle lookup, usable for the duration of one call. Use [`keep`] for
/// anything that must outlive the call (pending overlapped operations).
pub(crate) type Pinned<P> = Guard<'static, Sock<P>>;

/// An owned reference to a looked-up socket that keeps its record alive until dropped.
pub(crate) fn keep<P: Provider>(pinned: &Pinned<P>) -> Arc<Sock<P>> {
    pinned.to_arc()
}

/// The link between a provider struct and the runtime, written by `#[winsock_provider]`:
/// what the attribute declared, the provider's state, and how its socket handles are
/// allocated (the descriptor mode, stated here only).
pub trait Binding: Provider {
    /// The descriptor mode: [`NonIfs`] or [`Ifs`].
    type Mode: Mode<Self>;
    /// What the attribute declared.
    const INFO: ProviderInfo;
    /// The provider's process-wide runtime state (a `static` the attribute emits).
    fn state() -> &'static State<Self>;
}

/// The protocol entry `index` of provider `P` as a `WSAPROTOCOL_INFOW` (see
/// [`ProviderInfo::protocol_info`]), in `P`'s descriptor mode.
pub(crate) fn protocol_info<P: Binding>(index: usize, catalog_id: u32) -> sys::WSAPROTOCOL_INFOW {
    P::INFO.protocol_info(<P::Mode as Mode<P>>::KIND, index, catalog_id)
}

/// A descriptor allocation mode: how a socket gets the handle the application sees.
pub trait Mode<P: Provider>: 'static {
    /// Which mode this is.
    const KIND: DescriptorMode;

    /// Obtains the handle for a new socket from ws2_32.
    ///
    /// # Safety
    /// `upcalls` must be the table ws2_32 passed to `WSPStartup`.
    unsafe fn publish(upcalls: &WSPUPCALLTABLE, sock: &Arc<Sock<P>>) -> Result<SOCKET, WsaError>;

    /// Gives a closed socket's handle back to ws2_32 (non-IFS); nothing for IFS, whose OS
    /// handle the provider closes.
    ///
    /// # Safety
    /// `upcalls` must be the table ws2_32 passed to `WSPStartup`; `handle` must have come from
    /// [`Mode::publish`] and not been released yet.
    unsafe fn release(upcalls: &WSPUPCALLTABLE, handle: SOCKET) -> Result<(), WsaError>;
}

/// Non-IFS mode: handles from `WPUCreateSocketHandle`, whose context is the socket record.
pub enum NonIfs {}

/// IFS mode: the provider's OS handle, registered with `WPUModifyIFSHandle`.
pub enum Ifs {}

impl<P: Provider> Mode<P> for NonIfs {
    const KIND: DescriptorMode = DescriptorMode::NonIfs;

    unsafe fn publish(upcalls: &WSPUPCALLTABLE, sock: &Arc<Sock<P>>) -> Result<SOCKET, WsaError> {
        let create = upcalls
            .lpWPUCreateSocketHandle
            .ok_or(WsaError::SYSCALLFAILURE)?;
        let mut err = 0;
        let context = Arc::as_ptr(sock) as usize;
        // SAFETY: a ws2_32 upcall, called with its documented arguments.
        let handle = unsafe { create(sock.catalog_id(), context, &mut err) };
        if handle == sys::INVALID_SOCKET {
            return Err(WsaError::from_upcall(err));
        }
        Ok(handle)
    }

    unsafe fn release(upcalls: &WSPUPCALLTABLE, handle: SOCKET) -> Result<(), WsaError> {
        let close = upcalls
            .lpWPUCloseSocketHandle
            .ok_or(WsaError::SYSCALLFAILURE)?;
        let mut err = 0;
        // SAFETY: a ws2_32 upcall; `handle` came from WPUCreateSocketHandle and is released once.
        if unsafe { close(handle, &mut err) } == sys::SOCKET_ERROR {
            return Err(WsaError::from_upcall(err));
        }
        Ok(())
    }
}

impl<P: Provider> Mode<P> for Ifs
where
    P::Socket: IfsSocket,
{
    const KIND: DescriptorMode = DescriptorMode::Ifs;

    unsafe fn publish(upcalls: &WSPUPCALLTABLE, sock: &Arc<Sock<P>>) -> Result<SOCKET, WsaError> {
        let modify = upcalls
            .lpWPUModifyIFSHandle
            .ok_or(WsaError::SYSCALLFAILURE)?;
        let mut err = 0;
        // SAFETY: a ws2_32 upcall, given the OS handle the provider's socket owns.
        let handle = unsafe { modify(sock.catalog_id(), sock.state().os_handle(), &mut err) };
        if handle == sys::INVALID_SOCKET {
            return Err(WsaError::from_upcall(err));
        }
        Ok(handle)
    }

    unsafe fn release(_: &WSPUPCALLTABLE, _: SOCKET) -> Result<(), WsaError> {
        Ok(())
    }
}

struct Active<P> {
    count: u32,
    shared: Arc<Shared<P>>,
}

/// A provider's process-wide runtime state: its start-up count and instance, and the table
/// from socket handle to socket record.
pub struct State<P: Provider> {
    life: Mutex<Option<Active<P>>>,
    table: Table<Sock<P>>,
}

impl<P: Provider> State<P> {
    /// An idle state: not started, no sockets.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> State<P> {
        State {
            life: Mutex::new(None),
            table: Table::new(),
        }
    }

    fn life(&self) -> MutexGuard<'_, Option<Active<P>>> {
        // A panic while holding the lock cannot leave the data inconsistent (every update is a
        // single assignment), so a poisoned lock is used as it is.
        self.life.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a `WSPStartup`; the first creates the provider instance.
    pub(crate) fn startup(
        &self,
        ctx: &StartupContext,
        upcalls: WSPUPCALLTABLE,
    ) -> Result<(), WsaError> {
        let mut life = self.life();
        match life.as_mut() {
            Some(active) => {
                active.count = active.count.checked_add(1).ok_or(WsaError::PROCLIM)?;
            }
            None => {
                let provider = P::startup(ctx)?;
                *life = Some(Active {
                    count: 1,
                    shared: Arc::new(Shared { provider, upcalls }),
                });
            }
        }
        Ok(())
    }

    /// Counts a `WSPCleanup`; the last one closes every socket still open (completing their
    /// pending requests first), then lets the provider clean up. A panic in the provider's
    /// `cleanup` is [`PANIC_ERROR`](crate::host::PANIC_ERROR), reported after everything has been released.
    pub(crate) fn cleanup<M: Mode<P>>(&self) -> Result<(), WsaError> {
        let mut life = self.life();
        let active = life.as_mut().ok_or(WsaError::NOTINITIALISED)?;
        active.count -= 1;
        if active.count > 0 {
            return Ok(());
        }
        let shared = life.take().map(|a| a.shared);
        // Sockets are only inserted while `life` is held and active, so none can appear now.
        let open = self.table.drain();
        drop(life);
        for sock in open {
            // Before the handle is released: completions still name it.
            sock_io::forget_selection(&*sock);
            ops::abort_all(&*sock);
            let _ = self.finish_close::<M>(sock.handle(), &sock);
        }
        match shared {
            Some(shared) => catch(|| {
                shared.provider.cleanup();
                Ok(())
            }),
            None => Ok(()),
        }
    }

    /// The current start-up's shared instance, or `WSANOTINITIALISED`.
    pub(crate) fn active(&self) -> Result<Arc<Shared<P>>, WsaError> {
        self.life()
            .as_ref()
            .map(|a| a.shared.clone())
            .ok_or(WsaError::NOTINITIALISED)
    }

    /// Finds an open socket: `WSAENOTSOCK` for unknown or closed handles, or
    /// `WSANOTINITIALISED` after the last clean-up.
    ///
    /// Inlined into every entry point, so that the hazard record's thread-local and the entry
    /// guard's are one access.
    #[inline(always)]
    pub(crate) fn lookup(&'static self, handle: SOCKET) -> Result<Pinned<P>, WsaError> {
        match self.table.get(handle) {
            Some(sock) => Ok(sock),
            None => Err(self.miss()),
        }
    }

    #[cold]
    fn miss(&self) -> WsaError {
        if self.life().is_some() {
            WsaError::NOTSOCK
        } else {
            WsaError::NOTINITIALISED
        }
    }

    /// Allocates the handle of a new socket and publishes it in the table; the handle is
    /// usable by other threads only once this returns it.
    pub(crate) fn create<M: Mode<P>>(&self, sock: Sock<P>) -> Result<SOCKET, WsaError> {
        let sock = Arc::new(sock);
        // SAFETY: the upcall table is the one ws2_32 passed to WSPStartup.
        let handle = match unsafe { M::publish(&sock.shared.upcalls, &sock) } {
            Ok(handle) => handle,
            Err(e) => {
                let _ = sock.shared.provider.close(&sock);
                return Err(e);
            }
        };
        sock.set_handle(handle);
        let life = self.life();
        let current = life
            .as_ref()
            .map_or(false, |a| Arc::ptr_eq(&a.shared, &sock.shared));
        let inserted = if current {
            self.table.insert(sock)
        } else {
            Err((InsertError::Occupied, sock))
        };
        drop(life);
        let (why, sock) = match inserted {
            Ok(()) => return Ok(handle),
            Err(e) => e,
        };
        // Clean-up ran meanwhile, ws2_32 handed out a value that is still open here, or the
        // value is beyond the table's range.
        let _ = self.finish_close::<M>(handle, &sock);
        Err(match why {
            _ if !current => WsaError::NOTINITIALISED,
            InsertError::Occupied => WsaError::SYSCALLFAILURE,
            InsertError::OutOfRange => WsaError::NOBUFS,
        })
    }

    /// `WSPCloseSocket`: unpublishes the handle (exactly one caller wins), lets the provider
    /// close, then releases the handle. Calls still running keep the record alive.
    ///
    /// An IFS socket's state owns an OS handle the application can see (and whose value the OS
    /// reuses), so its record is reclaimed at once rather than batched with other closes.
    pub(crate) fn close<M: Mode<P>>(&self, handle: SOCKET) -> Result<(), WsaError> {
        let reclaim = match M::KIND {
            DescriptorMode::Ifs => Reclaim::Now,
            DescriptorMode::NonIfs => Reclaim::Batched,
        };
        match self.table.remove(handle, reclaim) {
            Some(sock) => self.finish_close::<M>(handle, &sock),
            None => Err(self.miss()),
        }
    }

    fn finish_close<M: Mode<P>>(&self, handle: SOCKET, sock: &Sock<P>) -> Result<(), WsaError> {
        let closed = catch(|| sock.shared.provider.close(sock));
        // An overlapped attempt still running (the provider's close has woken it if it was
        // blocked) delivers its completion before the handle it names is released.
        ops::wait_idle(sock);
        // SAFETY: the handle came from M::publish and was just unpublished by this caller alone.
        let released = unsafe { M::release(&sock.shared.upcalls, handle) };
        closed.and(released)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_kinds() {
        struct P;
        impl Provider for P {
            type Socket = ();
            fn startup(_: &StartupContext) -> Result<Self, WsaError> {
                Ok(P)
            }
            fn socket(&self, _: &crate::registry::provider::SocketRequest) -> Result<(), WsaError> {
                Ok(())
            }
        }
        assert_eq!(<NonIfs as Mode<P>>::KIND, DescriptorMode::NonIfs);
        static STATE: State<P> = State::new();
        let state = &STATE;
        assert_eq!(state.lookup(4).err(), Some(WsaError::NOTINITIALISED));
        assert_eq!(
            state.cleanup::<NonIfs>().err(),
            Some(WsaError::NOTINITIALISED)
        );
    }
}
