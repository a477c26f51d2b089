//! Shared sockets: `WSPDuplicateSocket` and `WSPSocket` from the structure it fills.
//!
//! A loopback socket lives in one provider instance of one process, so it can be shared only
//! there: duplicating for another process is `WSAEINVAL`. Duplicating for this process parks
//! the socket under a fresh token (its `dwProviderReserved`); `WSPSocket` given that structure
//! takes it back out (once) as a new descriptor of the same socket. Every descriptor, and every
//! duplicate not yet taken, holds the socket open: closing one descriptor leaves the
//! connection to the others, and the socket itself closes (as [`Socket`] documents) with its
//! last descriptor. A duplicate never taken is dropped at the provider's last clean-up.

use crate::net::Net;
use crate::socket::Socket;
use crate::sync::lock;
use core::num::NonZeroU32;
use core::ops::Deref;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use winsock_provider::WsaError;

/// A socket as one descriptor sees it: the socket it shares with every other descriptor
/// duplicated from it. Dereferences to the [`Socket`].
pub struct SharedSocket {
    core: Arc<Core>,
}

struct Core {
    socket: Socket,
    /// Descriptors open on the socket, plus duplicates not yet taken.
    open: AtomicUsize,
}

impl Core {
    /// Gives up one hold; the last closes the socket.
    fn release(&self) {
        if self.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.socket.close();
        }
    }
}

impl SharedSocket {
    /// The only descriptor of a new socket.
    pub(crate) fn new(socket: Socket) -> SharedSocket {
        SharedSocket {
            core: Arc::new(Core {
                socket,
                open: AtomicUsize::new(1),
            }),
        }
    }

    /// `closesocket` of this descriptor: the socket closes with its last descriptor (and
    /// then wakes the calls blocked in it); until then the others keep using it.
    pub(crate) fn close(&self) {
        self.core.release();
    }
}

impl Deref for SharedSocket {
    type Target = Socket;

    fn deref(&self) -> &Socket {
        &self.core.socket
    }
}

/// A duplicate not yet taken.
struct Pending {
    core: Arc<Core>,
    /// The provider instance (start-up) the socket belongs to.
    net: Arc<Net>,
    /// `iSocketType` of the socket's protocol entry.
    socket_type: i32,
}

static PENDING: Mutex<Option<HashMap<u32, Pending>>> = Mutex::new(None);
static NEXT_TOKEN: AtomicU32 = AtomicU32::new(1);

/// `WSPDuplicateSocket`: parks a new hold on the socket under a fresh token. Another process
/// is `WSAEINVAL` (a loopback socket cannot leave its process).
pub(crate) fn duplicate(
    sock: &SharedSocket,
    net: &Arc<Net>,
    socket_type: i32,
    process_id: u32,
) -> Result<NonZeroU32, WsaError> {
    if process_id != std::process::id() {
        return Err(WsaError::INVAL);
    }
    let mut pending = lock(&PENDING);
    let map = pending.get_or_insert_with(HashMap::new);
    let token = loop {
        let candidate = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        match NonZeroU32::new(candidate) {
            Some(token) if !map.contains_key(&candidate) => break token,
            _ => continue,
        }
    };
    sock.core.open.fetch_add(1, Ordering::AcqRel);
    map.insert(
        token.get(),
        Pending {
            core: sock.core.clone(),
            net: net.clone(),
            socket_type,
        },
    );
    Ok(token)
}

/// `WSPSocket` from a duplicate: takes the socket parked under `token`, once. A token this
/// provider instance did not issue, already taken, or for another socket type is `WSAEINVAL`.
pub(crate) fn take(
    token: NonZeroU32,
    net: &Arc<Net>,
    socket_type: i32,
) -> Result<SharedSocket, WsaError> {
    let mut pending = lock(&PENDING);
    let map = pending.as_mut().ok_or(WsaError::INVAL)?;
    match map.get(&token.get()) {
        Some(p) if Arc::ptr_eq(&p.net, net) && p.socket_type == socket_type => {}
        _ => return Err(WsaError::INVAL),
    }
    let taken = map.remove(&token.get()).ok_or(WsaError::INVAL)?;
    // The hold parked with the duplicate becomes the new descriptor's.
    Ok(SharedSocket { core: taken.core })
}

/// The provider instance's last clean-up: drops the duplicates nobody took.
pub(crate) fn forget(net: &Arc<Net>) {
    let dropped: Vec<Pending> = {
        let mut pending = lock(&PENDING);
        let map = match pending.as_mut() {
            Some(map) => map,
            None => return,
        };
        let tokens: Vec<u32> = map
            .iter()
            .filter(|(_, p)| Arc::ptr_eq(&p.net, net))
            .map(|(t, _)| *t)
            .collect();
        tokens.iter().filter_map(|t| map.remove(t)).collect()
    };
    // Released outside the lock: closing a socket takes the namespace's locks.
    for p in dropped {
        p.core.release();
    }
}
