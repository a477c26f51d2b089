//! Start-up of a layer as ws2_32 drives it: finding the layer's place in a protocol chain, the
//! next entry in the catalog, and the provider below (loaded once per lower provider); plus
//! the two entry points a layer answers differently from a base provider (`SIO_BASE_HANDLE`
//! and the `SIO_BSP_HANDLE*` codes go down; `SO_PROTOCOL_INFOW` is the chain entry).

use super::lower::LowerProvider;
use super::watch::Watcher;
use super::{LayerBinding, Layered};
use crate::registry::state::Binding;
use crate::spi::exports::EntryPoints;
use crate::spi::trace::{self, args, Site};
use crate::spi::trampoline::{entry, Code, Errno, Status};
use crate::spi::{args, control, lifecycle};
use crate::sys::{self, SOCKET, WSAPROTOCOL_INFOW, WSPDATA, WSPPROC_TABLE, WSPUPCALLTABLE};
use crate::types::error::WsaError;
use crate::types::info::Guid;
use core::cell::Cell;
use core::ffi::c_void;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// `WSAPROTOCOLCHAIN::ChainEntries` holds at most this many ids.
const MAX_CHAIN: usize = 7;
/// `SIO_BSP_HANDLE`, `SIO_BSP_HANDLE_SELECT`, `SIO_BSP_HANDLE_POLL`.
const SIO_BSP_HANDLES: [u32; 3] = [0x4800_001B, 0x4800_001C, 0x4800_001D];

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the layer's `WSPStartup` was given, handed to `Layered::startup` on the same thread.
#[derive(Copy, Clone)]
pub(crate) struct Start {
    pub(crate) upcalls: WSPUPCALLTABLE,
    pub(crate) info: WSAPROTOCOL_INFOW,
    /// The layer's own GUID (the attribute's), to find its layered entry.
    pub(crate) own: Guid,
    /// The layer hands out the handles of the provider below (IFS mode).
    pub(crate) ifs: bool,
}

thread_local! {
    static START: Cell<Option<Start>> = const { Cell::new(None) };
}

/// The start-up arguments stored by [`startup`] on this thread.
pub(crate) fn take_start() -> Option<Start> {
    START.with(|s| s.take())
}

/// How sockets of one chain entry reach the provider below.
pub(crate) struct Route {
    /// The chain entry (what `SO_PROTOCOL_INFOW` answers).
    pub(crate) chain: WSAPROTOCOL_INFOW,
    /// The entry given to the provider below (`WSPSocket`): the chain entry when it is a layer
    /// too, else its base entry.
    pub(crate) below: WSAPROTOCOL_INFOW,
    pub(crate) lower: Arc<LowerProvider>,
}

/// Everything below one layer instance.
pub(crate) struct Below {
    upcalls: WSPUPCALLTABLE,
    own: Guid,
    own_path: Option<String>,
    /// The layer is IFS: the provider below must hand out IFS handles.
    pub(crate) ifs: bool,
    pub(crate) watcher: Watcher,
    /// Chain entry id → its route.
    routes: Mutex<HashMap<u32, Arc<Route>>>,
    /// Lower providers started so far, by expanded library path.
    lowers: Mutex<Vec<Arc<LowerProvider>>>,
}

/// The ids of a chain entry's chain, checked: 2 to 7 links, none twice, not the chain entry
/// itself.
fn chain_ids(catalog_id: u32, chain: &sys::WSAPROTOCOLCHAIN) -> Result<&[u32], String> {
    let len = chain.ChainLen;
    if len < 2 || len as usize > MAX_CHAIN {
        return Err(format!("chain length {} (2..=7 expected)", len));
    }
    let ids = &chain.ChainEntries[..len as usize];
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) || *id == catalog_id {
            return Err(format!("the chain goes through entry {} twice", id));
        }
    }
    Ok(ids)
}

/// A catalog entry as ws2_32 sees it.
struct CatalogEntry {
    path: String,
    info: WSAPROTOCOL_INFOW,
}

fn read_catalog() -> Result<Vec<CatalogEntry>, WsaError> {
    let fail = |what: String| {
        crate::host::panic::log(&format!("winsock-provider: layer: {}\n", what));
        WsaError::PROVIDERFAILEDINIT
    };
    let backend = winsock_catalog::system().map_err(|e| fail(format!("the catalog: {}", e)))?;
    let entries = backend
        .enum_protocols(winsock_catalog::Arch::native())
        .map_err(|e| fail(format!("the catalog: {}", e)))?;
    Ok(entries
        .iter()
        .map(|e| {
            let bytes = e.info.to_bytes();
            let mut info = WSAPROTOCOL_INFOW::default();
            let n = bytes.len().min(core::mem::size_of::<WSAPROTOCOL_INFOW>());
            // SAFETY: copies at most size_of::<WSAPROTOCOL_INFOW>() bytes into it; any bit
            // pattern is a valid WSAPROTOCOL_INFOW (integers and integer arrays only).
            unsafe {
                core::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    (&mut info as *mut WSAPROTOCOL_INFOW).cast::<u8>(),
                    n,
                )
            };
            CatalogEntry {
                path: e.path.clone(),
                info,
            }
        })
        .collect())
}

fn same_path(a: &str, b: &str) -> bool {
    if cfg!(windows) {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

impl Below {
    pub(crate) fn new(start: &Start) -> Result<Below, WsaError> {
        Ok(Below {
            upcalls: start.upcalls,
            own: start.own,
            own_path: crate::host::module::own_path().ok(),
            ifs: start.ifs,
            watcher: Watcher::new(start.upcalls)?,
            routes: Mutex::new(HashMap::new()),
            lowers: Mutex::new(Vec::new()),
        })
    }

    /// The route of chain entry `catalog_id`, found in the catalog and started on first use;
    /// `WSAEPROVIDERFAILEDINIT` for a chain this layer is not in, a chain through itself or
    /// longer than 7, a next entry the catalog lacks (or, for an IFS layer, one without IFS
    /// handles), or a provider below that fails.
    pub(crate) fn route(&self, catalog_id: u32) -> Result<Arc<Route>, WsaError> {
        if let Some(r) = lock(&self.routes).get(&catalog_id) {
            return Ok(r.clone());
        }
        let route = Arc::new(self.find_route(catalog_id)?);
        Ok(lock(&self.routes)
            .entry(catalog_id)
            .or_insert(route)
            .clone())
    }

    fn find_route(&self, catalog_id: u32) -> Result<Route, WsaError> {
        let fail = |what: String| {
            crate::host::panic::log(&format!(
                "winsock-provider: layer: chain entry {}: {}\n",
                catalog_id, what
            ));
            WsaError::PROVIDERFAILEDINIT
        };
        let catalog = read_catalog()?;
        let by_id = |id: u32| catalog.iter().find(|e| e.info.dwCatalogEntryId == id);
        let chain = by_id(catalog_id).ok_or_else(|| fail("not in the catalog".to_owned()))?;
        let ids = chain_ids(catalog_id, &chain.info.ProtocolChain).map_err(fail)?;
        // Our place: the layered entry that is this library (by path), else the one under our
        // GUID; never the last (the base).
        let layered = |id: &u32| by_id(*id).filter(|e| e.info.ProtocolChain.ChainLen == 0);
        let mine_by_path = ids[..ids.len() - 1].iter().position(|id| {
            layered(id).map_or(false, |e| {
                self.own_path.as_ref().map_or(false, |own| {
                    same_path(&winsock_catalog::expand_env(&e.path), own)
                })
            })
        });
        let mine_by_guid = || {
            ids[..ids.len() - 1].iter().position(|id| {
                layered(id).map_or(false, |e| Guid::from_sys(&e.info.ProviderId) == self.own)
            })
        };
        let at = mine_by_path
            .or_else(mine_by_guid)
            .ok_or_else(|| fail("this layer is not in the chain".to_owned()))?;
        let next_id = ids[at + 1];
        let next = by_id(next_id)
            .ok_or_else(|| fail(format!("the next entry {} is not in the catalog", next_id)))?;
        if self.ifs {
            super::ifs::check_next(next_id, &next.info).map_err(fail)?;
        }
        let next_len = next.info.ProtocolChain.ChainLen;
        let below = if next_len == 0 {
            chain.info
        } else if next_len == 1 {
            next.info
        } else {
            return Err(fail(format!(
                "the next entry {} is itself a chain",
                next_id
            )));
        };
        let lower = self.lower(&winsock_catalog::expand_env(&next.path), &below)?;
        Ok(Route {
            chain: chain.info,
            below,
            lower,
        })
    }

    /// The provider below at `path`, started with `info` on first use.
    fn lower(&self, path: &str, info: &WSAPROTOCOL_INFOW) -> Result<Arc<LowerProvider>, WsaError> {
        if self
            .own_path
            .as_ref()
            .map_or(false, |own| same_path(own, path))
        {
            // Starting this very library again from inside its own start-up would wait for
            // itself: a chain through the same library twice.
            crate::host::panic::log(&format!(
                "winsock-provider: layer: the provider below is this library ({})\n",
                path
            ));
            return Err(WsaError::PROVIDERFAILEDINIT);
        }
        let mut lowers = lock(&self.lowers);
        if let Some(l) = lowers.iter().find(|l| same_path(&l.path, path)) {
            return Ok(l.clone());
        }
        let started = LowerProvider::start(path, info, self.upcalls)?;
        lowers.push(started.clone());
        Ok(started)
    }

    /// Stops the watchers and cleans up every provider below (the layer's last clean-up).
    pub(crate) fn shutdown(&self) {
        self.watcher.stop();
        lock(&self.routes).clear();
        for lower in lock(&self.lowers).drain(..) {
            lower.cleanup();
        }
    }
}

/// The layer instance of `L`'s current start-up.
fn below_of<L: LayerBinding>() -> Result<Arc<Below>, WsaError> {
    Ok(<Layered<L> as Binding>::state()
        .active()?
        .provider
        .below
        .clone())
}

/// The layer's `WSPStartup`: the runtime's start-up of [`Layered<L>`] (which finds and starts
/// the provider below for the chain entry given), then the two layer-specific dispatch entries.
///
/// # Safety
/// Called as ws2_32 calls `WSPStartup`.
pub unsafe extern "system" fn startup<L: LayerBinding>(
    version: u16,
    data: *const WSPDATA,
    info: *const WSAPROTOCOL_INFOW,
    upcalls: WSPUPCALLTABLE,
    table: *mut WSPPROC_TABLE,
) -> i32 {
    trace::init();
    entry!(
        Code,
        Site::startup,
        Errno::NONE,
        args!(version, data, info, table),
        move || {
            // SAFETY: the caller's arguments, as ws2_32 passes them to `WSPStartup`.
            unsafe { start_layer::<L>(version, data, info, upcalls, table) }
        }
    )
}

/// [`START`] for the runtime's start-up on this thread, emptied again when dropped (a start-up
/// that fails or panics leaves nothing behind).
struct Starting;

impl Starting {
    fn set(start: Start) -> Starting {
        START.with(|s| s.set(Some(start)));
        Starting
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        START.with(|s| s.take());
    }
}

/// The body of the layer's [`startup`].
///
/// # Safety
/// The arguments are `WSPStartup`'s, as ws2_32 passes them.
unsafe fn start_layer<L: LayerBinding>(
    version: u16,
    data: *const WSPDATA,
    info: *const WSAPROTOCOL_INFOW,
    upcalls: WSPUPCALLTABLE,
    table: *mut WSPPROC_TABLE,
) -> Result<(), WsaError> {
    if info.is_null() {
        return Err(WsaError::FAULT);
    }
    // SAFETY: non-null; ws2_32 passes the chain entry it starts the layer for.
    let given = unsafe { *info };
    {
        let _start = Starting::set(Start {
            upcalls,
            info: given,
            own: <Layered<L> as Binding>::INFO.guid,
            ifs: super::ifs::is_ifs::<L>(),
        });
        // SAFETY: the caller's arguments (this function's contract).
        unsafe { lifecycle::start::<Layered<L>>(version, data, info, upcalls, table) }?;
    }
    // Later start-ups (other chains) find their route here; the first found it already.
    if let Err(e) = below_of::<L>().and_then(|b| b.route(given.dwCatalogEntryId)) {
        let mut errno = 0;
        // SAFETY: balances the runtime's start-up that just succeeded.
        unsafe { lifecycle::cleanup::<Layered<L>>(&mut errno) };
        return Err(e);
    }
    // SAFETY: the runtime filled the caller's table (so it is valid and writable); two
    // entries are replaced.
    let table = unsafe { &mut *table };
    table.lpWSPIoctl = Some(ioctl::<L>);
    table.lpWSPGetSockOpt = Some(get_sock_opt::<L>);
    Ok(())
}

/// The entry points of layer `L` (the functions its DLL exports), for loading a layer linked
/// into a test binary.
pub fn entry_points<L: LayerBinding>() -> EntryPoints {
    EntryPoints {
        startup: startup::<L>,
        ..crate::spi::exports::entry_points::<Layered<L>>()
    }
}

/// The route of layer socket `s`.
fn route_of<L: LayerBinding>(s: SOCKET) -> Result<Arc<Route>, WsaError> {
    let sock = args::sock::<Layered<L>>(s)?;
    sock.shared.provider.below.route(sock.catalog_id())
}

/// `WSPIoctl` of a layer: `SIO_BASE_HANDLE` and `SIO_BSP_HANDLE*` are asked of the provider
/// below for the socket below (so applications polling the base handle see the base
/// provider's); everything else is the runtime's, and so are overlapped requests (their
/// completion belongs to the layer's handle).
#[allow(clippy::too_many_arguments)]
unsafe extern "system" fn ioctl<L: LayerBinding>(
    s: SOCKET,
    code: u32,
    input: *const c_void,
    input_len: u32,
    output: *mut c_void,
    output_len: u32,
    returned: *mut u32,
    overlapped: *mut sys::OVERLAPPED,
    routine: sys::LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    thread: *const sys::WSATHREADID,
    errno: *mut i32,
) -> i32 {
    let handle_code = code == sys::SIO_BASE_HANDLE || SIO_BSP_HANDLES.contains(&code);
    if !handle_code || !overlapped.is_null() {
        // SAFETY: the runtime's own entry, given the caller's arguments unchanged.
        return unsafe {
            control::ioctl::<Layered<L>>(
                s, code, input, input_len, output, output_len, returned, overlapped, routine,
                thread, errno,
            )
        };
    }
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::ioctl,
        errno,
        args!(s, code, input, input_len, output, output_len, returned),
        move || {
            let sock = args::sock::<Layered<L>>(s)?;
            // Every handle code answers one SOCKET.
            args::need(output, output_len, core::mem::size_of::<SOCKET>() as u32)?;
            if returned.is_null() {
                return Err(WsaError::FAULT);
            }
            // Under the socket below's read lock, as every call below is: a concurrent close
            // cannot hand the provider below a handle it has closed (or reissued) meanwhile.
            sock.state().lower().with(|table, lower| {
                let down = table.lpWSPIoctl.ok_or(WsaError::NETDOWN)?;
                let mut below = 0;
                // SAFETY: the provider below's WSPIoctl on its own open socket, with the
                // caller's buffers (checked above, valid for their lengths by the caller's
                // contract) and no overlapped structure.
                let r = unsafe {
                    down(
                        lower,
                        code,
                        input,
                        input_len,
                        output,
                        output_len,
                        returned,
                        core::ptr::null_mut(),
                        None,
                        core::ptr::null(),
                        &mut below,
                    )
                };
                match r {
                    0 => Ok(()),
                    _ => Err(WsaError::from_upcall(below)),
                }
            })
        }
    )
}

/// `WSPGetSockOpt` of a layer: `SO_PROTOCOL_INFOW` answers the chain entry the socket was made
/// for; everything else is the runtime's.
unsafe extern "system" fn get_sock_opt<L: LayerBinding>(
    s: SOCKET,
    level: i32,
    name: i32,
    value: sys::PSTR,
    len: *mut i32,
    errno: *mut i32,
) -> i32 {
    if (level, name) != (sys::SOL_SOCKET, sys::SO_PROTOCOL_INFOW) {
        // SAFETY: the runtime's own entry, given the caller's arguments unchanged.
        return unsafe { control::get_sock_opt::<Layered<L>>(s, level, name, value, len, errno) };
    }
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::get_sock_opt,
        errno,
        args!(s, level, name, value, len),
        move || {
            let route = route_of::<L>(s)?;
            if len.is_null() {
                return Err(WsaError::FAULT);
            }
            // SAFETY: non-null; the caller's length slot (SPI contract).
            let room = unsafe { *len };
            let needed = core::mem::size_of::<WSAPROTOCOL_INFOW>();
            args::need(value as *const c_void, room.max(0) as u32, needed as u32)?;
            // SAFETY: checked: room for a WSAPROTOCOL_INFOW (unaligned callers are allowed),
            // and `len` is the caller's writable length slot.
            unsafe {
                core::ptr::write_unaligned(value.cast::<WSAPROTOCOL_INFOW>(), route.chain);
                *len = needed as i32;
            }
            Ok(())
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(len: i32, ids: &[u32]) -> sys::WSAPROTOCOLCHAIN {
        let mut entries = [0; 7];
        entries[..ids.len()].copy_from_slice(ids);
        sys::WSAPROTOCOLCHAIN {
            ChainLen: len,
            ChainEntries: entries,
        }
    }

    #[test]
    fn chains_are_checked() {
        assert_eq!(chain_ids(9, &chain(2, &[5, 1])), Ok(&[5, 1][..]));
        let seven = [1, 2, 3, 4, 5, 6, 7];
        assert_eq!(chain_ids(9, &chain(7, &seven)), Ok(&seven[..]));
        // A base entry, a layered entry, and a chain longer than the structure holds.
        assert!(chain_ids(9, &chain(1, &[5])).is_err());
        assert!(chain_ids(9, &chain(0, &[])).is_err());
        assert!(chain_ids(9, &chain(8, &seven)).is_err());
        // Through itself: the same layer twice, or the chain entry in its own chain.
        assert!(chain_ids(9, &chain(3, &[5, 5, 1])).is_err());
        assert!(chain_ids(9, &chain(2, &[9, 1])).is_err());
    }
}
