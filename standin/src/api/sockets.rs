//! Socket life and names: `socket`, `bind`, `listen`, `accept`, `connect`, `shutdown`,
//! `getsockname`, `getpeername`, `closesocket`, and shared sockets (`WSADuplicateSocketW`,
//! `WSASocketW(FROM_PROTOCOL_INFO)`).

use super::Ws2;
use crate::host::overlapped;
use crate::host::registry::{self, Kind};
use crate::loader::{check_int, check_socket, parse_returned, ADDR_ROOM};
use winsock_provider::sys::*;
use winsock_provider::{SockAddr, WsaError};

impl Ws2 {
    /// Panics unless `s`, just returned by `call`, is a handle ws2_32 issued to that entry;
    /// records it as one of the application's sockets ([`Ws2::live_sockets`]).
    fn check_issued(&self, call: &str, s: SOCKET, info: &WSAPROTOCOL_INFOW) {
        let mut reg = registry::lock();
        match reg.get(s) {
            Some(e) if e.catalog_id == info.dwCatalogEntryId && e.kind != Kind::Unrelated => {
                reg.hand_out(s, self.inner.id)
            }
            other => {
                drop(reg);
                panic!(
                    "ws2-standin: {} returned handle {:#x}, which ws2_32 never issued to catalog entry {} \
                     (registered as {:?}); handles must come from WPUCreateSocketHandle or WPUModifyIFSHandle",
                    call, s, info.dwCatalogEntryId, other
                )
            }
        }
    }

    /// `socket(af, type, protocol)`.
    pub fn socket(&self, af: i32, ty: i32, protocol: i32) -> Result<SOCKET, WsaError> {
        let d = self.dispatch(af, ty, protocol)?;
        let f = d.procs.socket;
        let s = check_socket("WSPSocket", |errno| {
            // SAFETY: WSPSocket called as ws2_32 calls it, with the chosen catalog entry.
            unsafe { f(af, ty, protocol, &d.info, 0, WSA_FLAG_OVERLAPPED, errno) }
        })?;
        self.check_issued("WSPSocket", s, &d.info);
        Ok(s)
    }

    /// `bind(s, addr)`.
    pub fn bind(&self, s: SOCKET, addr: &SockAddr) -> Result<(), WsaError> {
        let (d, _) = self.route(s)?;
        let bytes = addr.to_bytes();
        let f = d.procs.bind;
        // SAFETY: `bytes` is a whole socket address of the given length.
        check_int("WSPBind", |errno| unsafe {
            f(s, bytes.as_ptr().cast(), bytes.len() as i32, errno)
        })
        .map(drop)
    }

    /// `listen(s, backlog)`.
    pub fn listen(&self, s: SOCKET, backlog: i32) -> Result<(), WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.listen;
        // SAFETY: plain arguments.
        check_int("WSPListen", |errno| unsafe { f(s, backlog, errno) }).map(drop)
    }

    /// `accept(s)`: the new socket and the peer's address.
    pub fn accept(&self, s: SOCKET) -> Result<(SOCKET, SockAddr), WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.accept;
        let mut addr = [0u8; ADDR_ROOM];
        let mut len = ADDR_ROOM as i32;
        // SAFETY: a writable address buffer of `len` bytes; no condition function.
        let new = check_socket("WSPAccept", |errno| unsafe {
            f(s, addr.as_mut_ptr().cast(), &mut len, None, 0, errno)
        })?;
        self.check_issued("WSPAccept", new, &d.info);
        let peer = parse_returned("WSPAccept", &addr, len);
        Ok((new, peer))
    }

    /// `connect(s, addr)`.
    pub fn connect(&self, s: SOCKET, addr: &SockAddr) -> Result<(), WsaError> {
        let (d, _) = self.route(s)?;
        let bytes = addr.to_bytes();
        let f = d.procs.connect;
        // SAFETY: a whole socket address; no connect data or QOS.
        check_int("WSPConnect", |errno| unsafe {
            f(
                s,
                bytes.as_ptr().cast(),
                bytes.len() as i32,
                core::ptr::null(),
                core::ptr::null_mut(),
                core::ptr::null(),
                core::ptr::null(),
                errno,
            )
        })
        .map(drop)
    }

    /// `shutdown(s, how)`.
    pub fn shutdown(&self, s: SOCKET, how: i32) -> Result<(), WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.shutdown;
        // SAFETY: plain arguments.
        check_int("WSPShutdown", |errno| unsafe { f(s, how, errno) }).map(drop)
    }

    /// `getsockname(s)`.
    pub fn getsockname(&self, s: SOCKET) -> Result<SockAddr, WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.get_sock_name;
        self.name_call("WSPGetSockName", |name, len, errno| {
            // SAFETY: a writable address buffer of `*len` bytes.
            unsafe { f(s, name, len, errno) }
        })
    }

    /// `getpeername(s)`.
    pub fn getpeername(&self, s: SOCKET) -> Result<SockAddr, WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.get_peer_name;
        self.name_call("WSPGetPeerName", |name, len, errno| {
            // SAFETY: a writable address buffer of `*len` bytes.
            unsafe { f(s, name, len, errno) }
        })
    }

    fn name_call(
        &self,
        call: &str,
        f: impl FnOnce(*mut SOCKADDR, *mut i32, *mut i32) -> i32,
    ) -> Result<SockAddr, WsaError> {
        let mut addr = [0u8; ADDR_ROOM];
        let mut len = ADDR_ROOM as i32;
        check_int(call, |errno| f(addr.as_mut_ptr().cast(), &mut len, errno))?;
        Ok(parse_returned(call, &addr, len))
    }

    /// `closesocket(s)`. Checks that a non-IFS provider released the handle with
    /// `WPUCloseSocketHandle`.
    pub fn closesocket(&self, s: SOCKET) -> Result<(), WsaError> {
        let (d, entry) = self.route(s)?;
        let f = d.procs.close_socket;
        // SAFETY: plain arguments.
        check_int("WSPCloseSocket", |errno| unsafe { f(s, errno) })?;
        let mut reg = registry::lock();
        match entry.kind {
            Kind::NonIfs { .. } => {
                if reg.get(s).map_or(false, |now| now.serial == entry.serial) {
                    drop(reg);
                    panic!(
                        "ws2-standin: WSPCloseSocket({:#x}) succeeded but the provider never released the \
                         handle with WPUCloseSocketHandle (leaked handle)",
                        s
                    );
                }
            }
            Kind::Ifs => {
                // Under the registry lock, so the value cannot be reissued meanwhile (lock
                // order: registry, then tracker).
                if reg.forget_ifs(s, entry.serial) {
                    overlapped::socket_closed(s);
                }
            }
            Kind::Unrelated => {}
        }
        Ok(())
    }

    /// `WSADuplicateSocketW(s, process_id, &info)`: the `WSAPROTOCOL_INFOW` that lets process
    /// `process_id` (which may be this one) rebuild `s` with [`Ws2::socket_from_info`].
    pub fn duplicate_socket(
        &self,
        s: SOCKET,
        process_id: u32,
    ) -> Result<WSAPROTOCOL_INFOW, WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.duplicate_socket;
        let mut info = WSAPROTOCOL_INFOW::default();
        // SAFETY: a writable WSAPROTOCOL_INFOW.
        check_int("WSPDuplicateSocket", |errno| unsafe {
            f(s, process_id, &mut info, errno)
        })?;
        Ok(info)
    }

    /// `WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info, 0,
    /// WSA_FLAG_OVERLAPPED)`: a socket of the catalog entry `info` names (by
    /// `dwCatalogEntryId`; failing that, as another process's catalog may number entries
    /// differently, by provider GUID, family, type and protocol). `WSPSocket` gets `info` as
    /// given, with that entry's id, so a structure from `duplicate_socket` rebuilds a shared
    /// socket. No such entry is `WSAEINVAL`.
    pub fn socket_from_info(&self, info: &WSAPROTOCOL_INFOW) -> Result<SOCKET, WsaError> {
        self.not_cleaned()?;
        if let Some(catalog) = &self.inner.catalog {
            catalog.load_for_info(self, info)?;
        }
        let d = self.inner.providers.named_by(info).ok_or(WsaError::INVAL)?;
        let mut given = *info;
        given.dwCatalogEntryId = d.info.dwCatalogEntryId;
        let f = d.procs.socket;
        let s = check_socket("WSPSocket", |errno| {
            // SAFETY: WSPSocket called as ws2_32 calls it for FROM_PROTOCOL_INFO.
            unsafe {
                f(
                    FROM_PROTOCOL_INFO,
                    FROM_PROTOCOL_INFO,
                    FROM_PROTOCOL_INFO,
                    &given,
                    0,
                    WSA_FLAG_OVERLAPPED,
                    errno,
                )
            }
        })?;
        self.check_issued("WSPSocket", s, &given);
        Ok(s)
    }
}
