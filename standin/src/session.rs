//! One-call set-up for tests: a [`Session`] loads a provider, is used as a [`Ws2`], and when it
//! is dropped checks that the test closed what it opened and runs the balanced clean-up.

use crate::api::Ws2;
use crate::host::registry;
use crate::loader::LoadError;
use std::ops::Deref;
use std::path::Path;
use winsock_provider::sys::SOCKET;
use winsock_provider::EntryPoints;

/// A stand-in session with its provider loaded, for one test.
///
/// ```
/// # use winsock_provider::{winsock_provider, Provider, SocketRequest, StartupContext, WsaError};
/// # use ws2_standin::sys::{AF_INET, IPPROTO_TCP, SOCK_STREAM};
/// # #[winsock_provider(name = "Mine", guid = "2b7f0c94-5e1a-4d36-8c92-a0e6f3d1b458", non_ifs,
/// #     protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP))]
/// # pub struct MyProvider;
/// # impl Provider for MyProvider {
/// #     type Socket = ();
/// #     fn startup(_: &StartupContext) -> Result<Self, WsaError> { Ok(MyProvider) }
/// #     fn socket(&self, _: &SocketRequest) -> Result<(), WsaError> { Ok(()) }
/// # }
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ws = ws2_standin::Session::load(winsock_provider::entry_points::<MyProvider>())?;
/// let s = ws.socket(AF_INET as i32, SOCK_STREAM, IPPROTO_TCP)?;   // any `Ws2` call
/// ws.closesocket(s)?;
/// // dropped: fails the test if a socket this session opened is still open, then runs
/// // WSPCleanup and, at the provider's last clean-up in the process, its leak check
/// # Ok(())
/// # }
/// ```
///
/// Each session hands out its non-IFS handle values from a range of its own (on Windows, where
/// the values are real kernel handles from the process's one table, the handles it closed stay
/// open for it alone until it ends), so tests running in parallel in one binary never see each
/// other's handles: a closed value is reused at once, but only by the session that closed it.
pub struct Session {
    ws: Ws2,
}

impl Session {
    /// A session with a provider linked into this binary:
    /// `Session::load(winsock_provider::entry_points::<MyProvider>())`.
    pub fn load(entry: EntryPoints) -> Result<Session, LoadError> {
        let ws = Ws2::new();
        ws.load(entry)?;
        Ok(Session { ws })
    }

    /// A session with a built provider library (`.dll`, `.so`) loaded by path.
    pub fn load_library(path: impl AsRef<Path>) -> Result<Session, LoadError> {
        let ws = Ws2::new();
        ws.load_library(path)?;
        Ok(Session { ws })
    }

    /// A session over the system's catalog ([`Ws2::from_system_catalog`]).
    pub fn from_system_catalog() -> Result<Session, LoadError> {
        Ok(Session {
            ws: Ws2::from_system_catalog()?,
        })
    }

    /// The session as a `Ws2`, to hand to threads or to scenarios that keep a clone.
    pub fn ws2(&self) -> &Ws2 {
        &self.ws
    }
}

impl Deref for Session {
    type Target = Ws2;

    fn deref(&self) -> &Ws2 {
        &self.ws
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let open = self.ws.open_handles();
        self.ws.clone().cleanup();
        if !open.is_empty() && !std::thread::panicking() {
            let list: Vec<String> = open.iter().map(|h| format!("{:#x}", h)).collect();
            panic!(
                "ws2-standin: the test ended with {} socket(s) of its session still open: {} \
                 (close every socket it opens; WSPCleanup closed them now)",
                open.len(),
                list.join(", ")
            );
        }
    }
}

impl Ws2 {
    /// The sockets of this session's providers that are still open and were created in this
    /// session (by their handle range; in a session without a range of its own, or on Windows,
    /// every open socket of its providers).
    pub(crate) fn open_handles(&self) -> Vec<SOCKET> {
        let ids = self.catalog_ids();
        let range = self.inner.range;
        let mut reg = registry::lock();
        let mut open: Vec<SOCKET> = reg
            .handles()
            .iter()
            .filter(|(_, e)| ids.contains(&e.catalog_id))
            .map(|(h, _)| *h)
            .collect();
        open.retain(|h| range == 0 || reg.range_of(*h) == range);
        open.sort_unstable();
        open
    }
}
