//! Shared sockets within one process: several descriptors of one socket
//! (`WSPDuplicateSocket` for the calling process, then `WSPSocket` from the structure it
//! filled).

use crate::sync::lock;
use core::num::NonZeroU32;
use core::ops::Deref;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use winsock_provider::WsaError;

/// A socket state that closes once, when its last descriptor is closed.
pub trait Close {
    /// Closes the socket (wakes the calls blocked in it, releases its address...).
    fn close(&self);
}

struct Core<S: Close> {
    socket: S,
    /// Descriptors open on the socket, plus duplicates not yet taken.
    holds: AtomicUsize,
}

impl<S: Close> Core<S> {
    /// Gives up one hold; the last closes the socket.
    fn release(&self) {
        if self.holds.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.socket.close();
        }
    }
}

/// A socket as one descriptor sees it (a provider's `Socket` type): the socket `S` it shares
/// with every descriptor duplicated from it. Dereferences to `S`.
pub struct Shared<S: Close> {
    core: Arc<Core<S>>,
}

impl<S: Close> Shared<S> {
    /// The only descriptor of a new socket.
    pub fn new(socket: S) -> Shared<S> {
        Shared {
            core: Arc::new(Core {
                socket,
                holds: AtomicUsize::new(1),
            }),
        }
    }

    /// `closesocket` of this descriptor: the socket closes with its last descriptor (and any
    /// parked duplicate); until then the others keep using it.
    pub fn close(&self) {
        self.core.release();
    }

    /// The number of descriptors and parked duplicates holding the socket open.
    pub fn holds(&self) -> usize {
        self.core.holds.load(Ordering::Acquire)
    }
}

impl<S: Close> Deref for Shared<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.core.socket
    }
}

/// A parked hold and the socket type of its protocol entry.
type Parked<S> = (Arc<Core<S>>, i32);

/// Tokens are unique in the process, whichever provider instance issued them, so one instance
/// never takes a token another issued for a socket of its own.
static NEXT_TOKEN: AtomicU32 = AtomicU32::new(1);

/// The duplicates a provider instance issued and nobody took yet, under the token that
/// `WSPDuplicateSocket` returns (its `dwProviderReserved`). Each holds its socket open.
pub struct Duplicates<S: Close> {
    parked: Mutex<HashMap<u32, Parked<S>>>,
}

impl<S: Close> Default for Duplicates<S> {
    fn default() -> Self {
        Duplicates {
            parked: Mutex::new(HashMap::new()),
        }
    }
}

impl<S: Close> Duplicates<S> {
    /// `WSPDuplicateSocket`: parks a new hold on `sock` (of protocol entry `socket_type`) and
    /// returns its token. For another process than this one: `WSAEINVAL` (a user-space socket
    /// cannot leave its process).
    pub fn park(
        &self,
        sock: &Shared<S>,
        socket_type: i32,
        process_id: u32,
    ) -> Result<NonZeroU32, WsaError> {
        if process_id != std::process::id() {
            return Err(WsaError::INVAL);
        }
        let mut parked = lock(&self.parked);
        let token = loop {
            let candidate = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
            match NonZeroU32::new(candidate) {
                Some(token) if !parked.contains_key(&candidate) => break token,
                _ => continue,
            }
        };
        sock.core.holds.fetch_add(1, Ordering::AcqRel);
        parked.insert(token.get(), (sock.core.clone(), socket_type));
        Ok(token)
    }

    /// `WSPSocket` from a duplicate: the socket parked under `token`, as a new descriptor,
    /// once. A token not parked here (never issued by this instance, or already taken) or for
    /// another socket type is `WSAEINVAL`.
    pub fn take(&self, token: NonZeroU32, socket_type: i32) -> Result<Shared<S>, WsaError> {
        let mut parked = lock(&self.parked);
        match parked.get(&token.get()) {
            Some((_, t)) if *t == socket_type => {}
            _ => return Err(WsaError::INVAL),
        }
        let (core, _) = parked.remove(&token.get()).ok_or(WsaError::INVAL)?;
        // The hold parked with the duplicate becomes the new descriptor's.
        Ok(Shared { core })
    }

    /// The provider's last clean-up: drops the duplicates nobody took (closing sockets they
    /// alone held open, outside this registry's lock).
    pub fn forget(&self) {
        let dropped: Vec<_> = lock(&self.parked)
            .drain()
            .map(|(_, (core, _))| core)
            .collect();
        for core in dropped {
            core.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[derive(Default)]
    struct Probe(AtomicBool);

    impl Close for Probe {
        fn close(&self) {
            assert!(!self.0.swap(true, Ordering::SeqCst), "closed twice");
        }
    }

    fn closed(s: &Shared<Probe>) -> bool {
        s.0.load(Ordering::SeqCst)
    }

    #[test]
    fn closes_with_the_last_descriptor() {
        let dups = Duplicates::default();
        let a = Shared::new(Probe::default());
        let me = std::process::id();
        assert_eq!(
            dups.park(&a, 1, me.wrapping_add(1)).err(),
            Some(WsaError::INVAL)
        );
        let token = dups.park(&a, 1, me).unwrap();
        assert_eq!(a.holds(), 2);
        assert_eq!(dups.take(token, 2).err(), Some(WsaError::INVAL));
        let b = dups.take(token, 1).ok().unwrap();
        assert_eq!(dups.take(token, 1).err(), Some(WsaError::INVAL));
        a.close();
        assert!(!closed(&b));
        b.close();
        assert!(closed(&b));
    }

    #[test]
    fn forgotten_duplicates_release_their_hold() {
        let dups = Duplicates::default();
        let other = Duplicates::<Probe>::default();
        let a = Shared::new(Probe::default());
        let token = dups.park(&a, 1, std::process::id()).unwrap();
        assert_eq!(other.take(token, 1).err(), Some(WsaError::INVAL));
        a.close();
        assert!(!closed(&a));
        dups.forget();
        assert!(closed(&a));
    }

    #[test]
    fn concurrent_descriptors() {
        let dups = Arc::new(Duplicates::default());
        let a = Shared::new(Probe::default());
        let tokens: Vec<_> = (0..8)
            .map(|_| dups.park(&a, 1, std::process::id()).unwrap())
            .collect();
        a.close();
        let threads: Vec<_> = tokens
            .into_iter()
            .map(|t| {
                let dups = dups.clone();
                std::thread::spawn(move || dups.take(t, 1).ok().unwrap().close())
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(closed(&a));
    }
}
