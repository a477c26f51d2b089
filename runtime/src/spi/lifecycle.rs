//! Entry points of the provider as a whole: start-up and clean-up, the exports beside the
//! table (`WspEnumProviderProtocols`, `WspSetHostHooks`), `WSPSelect`, and address text.

use super::trace::{self, args, Site};
use super::trampoline::{entry, Code, Count, Errno, Status};
use crate::host::hooks::{self, HostHooks};
use crate::registry::provider::StartupContext;
use crate::registry::state::{Binding, Mode};
use crate::sys::*;
use crate::types::addr::SockAddr;
use crate::types::error::WsaError;
use crate::types::info::{write_wide, DescriptorMode};

/// `WSPStartup`: negotiates the version, fills `WSPDATA` and the dispatch table, and counts
/// the start-up. Returns the error code itself (0 on success), as the SPI defines.
///
/// # Safety
/// Called by ws2_32 with the arguments the SPI defines.
pub unsafe extern "system" fn startup<P: Binding>(
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
            // SAFETY: the caller's arguments, as the SPI defines them.
            unsafe { start::<P>(version, data, info, upcalls, table) }
        }
    )
}

/// The body of [`startup`], for the entry points that start a provider inside their own
/// (a layer's `WSPStartup`).
///
/// # Safety
/// The arguments are `WSPStartup`'s, as the SPI defines them.
pub(crate) unsafe fn start<P: Binding>(
    version: u16,
    data: *const WSPDATA,
    info: *const WSAPROTOCOL_INFOW,
    upcalls: WSPUPCALLTABLE,
    table: *mut WSPPROC_TABLE,
) -> Result<(), WsaError> {
    let (major, minor) = (version & 0xff, version >> 8);
    if (major, minor) < (2, 2) {
        return Err(WsaError::VERNOTSUPPORTED);
    }
    if data.is_null() || table.is_null() || info.is_null() {
        return Err(WsaError::FAULT);
    }
    let needed = match <P::Mode as Mode<P>>::KIND {
        DescriptorMode::NonIfs => {
            upcalls.lpWPUCreateSocketHandle.is_some() && upcalls.lpWPUCloseSocketHandle.is_some()
        }
        DescriptorMode::Ifs => upcalls.lpWPUModifyIFSHandle.is_some(),
    };
    if !needed {
        return Err(WsaError::INVAL);
    }
    // SAFETY: non-null; ws2_32 passes the catalog entry it loads the provider for.
    let catalog_id = unsafe { (*info).dwCatalogEntryId };
    let ctx = StartupContext {
        version: WINSOCK_VERSION_2_2,
        catalog_id,
    };
    P::state().startup(&ctx, upcalls)?;
    // SAFETY: non-null; ws2_32 passes writable WSPDATA and WSPPROC_TABLE structures.
    unsafe {
        let data = &mut *(data as *mut WSPDATA);
        data.wVersion = WINSOCK_VERSION_2_2;
        data.wHighVersion = WINSOCK_VERSION_2_2;
        write_wide(&mut data.szDescription, P::INFO.description);
        table.write(super::proc_table::<P>());
    }
    Ok(())
}

/// `WSPCleanup`.
pub(crate) unsafe extern "system" fn cleanup<P: Binding>(errno: *mut i32) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(Status, Site::cleanup, errno, args!(), move || {
        let counted = P::state().cleanup::<P::Mode>();
        if counted != Err(WsaError::NOTINITIALISED) && P::state().active().is_err() {
            // The last clean-up closed every socket: abort what they still had pending.
            crate::io::ops::abort_all_of::<crate::registry::provider::Sock<P>>();
            crate::io::deferred::quiesce();
        }
        counted
    })
}

/// `WSPCancelBlockingCall`.
pub(crate) unsafe extern "system" fn cancel_blocking_call<P: Binding>(errno: *mut i32) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::cancel_blocking_call,
        errno,
        args!(),
        move || { P::state().active()?.provider.cancel_blocking_call() }
    )
}

/// `WSPSelect`.
pub(crate) unsafe extern "system" fn select<P: Binding>(
    nfds: i32,
    read: *mut FD_SET,
    write: *mut FD_SET,
    except: *mut FD_SET,
    timeout: *const TIMEVAL,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Count,
        Site::select,
        errno,
        args!(nfds, read, write, except, timeout),
        move || {
            let shared = P::state().active()?;
            if read.is_null() && write.is_null() && except.is_null() {
                return Err(WsaError::INVAL);
            }
            let timeout = if timeout.is_null() {
                None
            } else {
                // SAFETY: non-null; the caller passes a readable TIMEVAL.
                let t = unsafe { &*timeout };
                if t.tv_sec < 0 || t.tv_usec < 0 {
                    return Err(WsaError::INVAL);
                }
                Some(
                    std::time::Duration::from_secs(t.tv_sec as u64)
                        + std::time::Duration::from_micros(t.tv_usec as u64),
                )
            };
            // SAFETY: each set, when non-null, is a writable FD_SET the caller owns; the three are
            // distinct objects by the select contract.
            let (r, w, e) = unsafe { (read.as_mut(), write.as_mut(), except.as_mut()) };
            for set in [&r, &w, &e].iter().filter_map(|s| s.as_ref()) {
                if set.fd_count as usize > set.fd_array.len() {
                    return Err(WsaError::INVAL);
                }
            }
            let n = super::select::select::<P>(&shared.upcalls, [r, w, e], timeout)?;
            Ok(n.min(i32::MAX as usize) as i32)
        }
    )
}

/// `WSPAddressToString`.
pub(crate) unsafe extern "system" fn address_to_string<P: Binding>(
    address: *const SOCKADDR,
    address_len: u32,
    _info: *const WSAPROTOCOL_INFOW,
    out: PWSTR,
    out_len: *mut u32,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::address_to_string,
        errno,
        args!(address, address_len, out, out_len),
        move || {
            let shared = P::state().active()?;
            let len = address_len.min(i32::MAX as u32) as i32;
            // SAFETY: the caller passes `address_len` readable bytes at `address`.
            let addr = unsafe { SockAddr::from_raw(address, len) }?;
            if out_len.is_null() {
                return Err(WsaError::FAULT);
            }
            // A null or short `out` still learns the length it needs (Winsock's contract), which
            // takes the provider's text.
            let text = shared.provider.address_to_string(&addr)?;
            let wide: Vec<u16> = text.encode_utf16().chain(Some(0)).collect();
            // SAFETY: non-null; the caller passes a readable and writable length.
            let room = unsafe { out_len.replace(wide.len() as u32) } as usize;
            if out.is_null() || room < wide.len() {
                return Err(WsaError::FAULT);
            }
            // SAFETY: `out` has `room >= wide.len()` writable UTF-16 units (caller's contract).
            unsafe { core::ptr::copy_nonoverlapping(wide.as_ptr(), out, wide.len()) };
            Ok(())
        }
    )
}

/// `WSPStringToAddress`.
pub(crate) unsafe extern "system" fn string_to_address<P: Binding>(
    text: PCWSTR,
    family: i32,
    _info: *const WSAPROTOCOL_INFOW,
    address: *mut SOCKADDR,
    address_len: *mut i32,
    errno: *mut i32,
) -> i32 {
    // SAFETY: the caller's lpErrno, writable for the call (SPI contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Status,
        Site::string_to_address,
        errno,
        args!(text, family, address, address_len),
        move || {
            let shared = P::state().active()?;
            if text.is_null() || address.is_null() || address_len.is_null() {
                return Err(WsaError::FAULT);
            }
            // SAFETY: the caller passes a NUL-terminated UTF-16 string.
            let units = unsafe {
                let mut len = 0;
                while *text.add(len) != 0 {
                    len += 1;
                }
                core::slice::from_raw_parts(text, len)
            };
            let text = String::from_utf16(units).map_err(|_| WsaError::INVAL)?;
            let addr = shared.provider.string_to_address(&text, family)?;
            let needed = addr.to_bytes().len() as i32;
            // SAFETY: non-null; the caller passes a readable and writable length, and
            // `*address_len` writable bytes at `address`.
            unsafe {
                if *address_len < needed {
                    // Documented: too small a buffer is WSAEFAULT with the required length stored.
                    *address_len = needed;
                    return Err(WsaError::FAULT);
                }
                addr.write_raw(address, address_len)
            }
        }
    )
}

/// `WspEnumProviderProtocols`: the provider's GUID and protocol entries, for installers and
/// the ws2_32 stand-in. Mirrors `WSCEnumProtocols`: returns the number of entries, or
/// `SOCKET_ERROR` with `WSAENOBUFS` and the required byte count in `*buffer_len` when the
/// buffer is too small (or null). Catalog entry ids are left 0 for the installer to assign.
///
/// # Safety
/// Pointers that are not null must be valid for the accesses described above.
pub unsafe extern "system" fn enum_protocols<P: Binding>(
    provider_id: *mut GUID,
    buffer: *mut WSAPROTOCOL_INFOW,
    buffer_len: *mut u32,
    errno: *mut i32,
) -> i32 {
    // SAFETY: null or the caller's writable lpErrno (this function's contract).
    let errno = unsafe { Errno::new(errno) };
    entry!(
        Count,
        Site::enum_protocols,
        errno,
        args!(provider_id, buffer, buffer_len),
        move || {
            if buffer_len.is_null() {
                return Err(WsaError::FAULT);
            }
            let count = P::INFO.protocols.len();
            let needed = (count * core::mem::size_of::<WSAPROTOCOL_INFOW>()) as u32;
            // SAFETY: non-null; the caller passes a readable and writable length.
            let room = unsafe { buffer_len.replace(needed) };
            if buffer.is_null() || room < needed {
                return Err(WsaError::NOBUFS);
            }
            // SAFETY: `provider_id` is null or a writable GUID; the buffer holds `room >= needed`
            // bytes, room for `count` entries (caller's contract).
            unsafe {
                super::args::put(provider_id, P::INFO.guid.to_sys());
                for i in 0..count {
                    buffer
                        .add(i)
                        .write_unaligned(crate::registry::state::protocol_info::<P>(i, 0));
                }
            }
            Ok(count as i32)
        }
    )
}

/// `WspSetHostHooks`: the host's `WPUCompleteOverlappedRequest` and `WSASetLastError` (see
/// [`HostHooks`]). Hooks are process-wide; `P` only ties the export to its provider.
/// Returns 0 or a WSA error code.
///
/// # Safety
/// `hooks` is null or points to a `HostHooks` of at least `(*hooks).size` readable bytes.
pub unsafe extern "system" fn set_host_hooks<P: Binding>(hooks: *const HostHooks) -> i32 {
    entry!(
        Code,
        Site::set_host_hooks,
        Errno::NONE,
        args!(hooks),
        move || {
            // SAFETY: as this function's contract.
            unsafe { hooks::set_host_hooks(hooks) }
        }
    )
}
