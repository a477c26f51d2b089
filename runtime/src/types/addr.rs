//! Socket addresses: parsed from and written to the caller's `SOCKADDR` buffers.

use super::error::WsaError;
use crate::sys;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Size of a `SOCKADDR_IN`.
pub const SOCKADDR_IN_LEN: usize = 16;
/// Size of a `SOCKADDR_IN6`.
pub const SOCKADDR_IN6_LEN: usize = 28;
/// The shortest `SOCKADDR_IN6` Winsock accepts (the pre-scope-id layout).
const SOCKADDR_IN6_MIN_LEN: usize = 24;

/// A socket address as a provider sees it: IP addresses parsed into [`SocketAddr`], any other
/// family kept as its family number and the bytes that follow it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SockAddr {
    /// `AF_INET` or `AF_INET6`.
    Inet(SocketAddr),
    /// Any other family: `data` is everything after the 2-byte family field.
    Raw {
        /// The address family (`sa_family`).
        family: u16,
        /// The bytes after the family field.
        data: Vec<u8>,
    },
}

impl SockAddr {
    /// The address family (`AF_INET`, `AF_INET6`, ...).
    pub fn family(&self) -> u16 {
        match self {
            SockAddr::Inet(SocketAddr::V4(_)) => sys::AF_INET,
            SockAddr::Inet(SocketAddr::V6(_)) => sys::AF_INET6,
            SockAddr::Raw { family, .. } => *family,
        }
    }

    /// The IP socket address, or `WSAEAFNOSUPPORT` for other families.
    pub fn inet(&self) -> Result<SocketAddr, WsaError> {
        match self {
            SockAddr::Inet(addr) => Ok(*addr),
            SockAddr::Raw { .. } => Err(WsaError::AFNOSUPPORT),
        }
    }

    /// Parses an address from its wire form (a whole `SOCKADDR_*` structure).
    ///
    /// Too short for its family is `WSAEFAULT`, as Winsock reports it.
    pub fn from_bytes(bytes: &[u8]) -> Result<SockAddr, WsaError> {
        if bytes.len() < 2 {
            return Err(WsaError::FAULT);
        }
        let family = u16::from_ne_bytes([bytes[0], bytes[1]]);
        let port = || u16::from_be_bytes([bytes[2], bytes[3]]);
        match family {
            sys::AF_INET => {
                if bytes.len() < SOCKADDR_IN_LEN {
                    return Err(WsaError::FAULT);
                }
                let ip = Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]);
                Ok(SockAddr::Inet(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    port(),
                ))))
            }
            sys::AF_INET6 => {
                if bytes.len() < SOCKADDR_IN6_MIN_LEN {
                    return Err(WsaError::FAULT);
                }
                let flowinfo = u32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&bytes[8..24]);
                let scope_id = if bytes.len() >= SOCKADDR_IN6_LEN {
                    u32::from_ne_bytes([bytes[24], bytes[25], bytes[26], bytes[27]])
                } else {
                    0
                };
                let ip = Ipv6Addr::from(octets);
                Ok(SockAddr::Inet(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    port(),
                    flowinfo,
                    scope_id,
                ))))
            }
            _ => Ok(SockAddr::Raw {
                family,
                data: bytes[2..].to_vec(),
            }),
        }
    }

    /// The wire form of this address (a whole `SOCKADDR_*` structure).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SOCKADDR_IN6_LEN);
        out.extend_from_slice(&self.family().to_ne_bytes());
        match self {
            SockAddr::Inet(SocketAddr::V4(a)) => {
                out.extend_from_slice(&a.port().to_be_bytes());
                out.extend_from_slice(&a.ip().octets());
                out.extend_from_slice(&[0u8; 8]);
            }
            SockAddr::Inet(SocketAddr::V6(a)) => {
                out.extend_from_slice(&a.port().to_be_bytes());
                out.extend_from_slice(&a.flowinfo().to_ne_bytes());
                out.extend_from_slice(&a.ip().octets());
                out.extend_from_slice(&a.scope_id().to_ne_bytes());
            }
            SockAddr::Raw { data, .. } => out.extend_from_slice(data),
        }
        out
    }

    /// Reads an address from a caller's `(name, namelen)` pair.
    ///
    /// # Safety
    /// If `name` is not null it must point to `namelen` readable bytes.
    pub unsafe fn from_raw(name: *const sys::SOCKADDR, namelen: i32) -> Result<SockAddr, WsaError> {
        if name.is_null() || namelen < 2 {
            return Err(WsaError::FAULT);
        }
        // SAFETY: non-null, and the caller guarantees `namelen` readable bytes behind it.
        let bytes = unsafe { core::slice::from_raw_parts(name.cast::<u8>(), namelen as usize) };
        SockAddr::from_bytes(bytes)
    }

    /// Writes this address to a caller's `(name, namelen)` pair, setting `*namelen` to the
    /// length written. A null pointer or a buffer shorter than the address is `WSAEFAULT`
    /// and leaves both untouched.
    ///
    /// # Safety
    /// If the pointers are not null, `namelen` must be readable and writable and `name` must
    /// point to `*namelen` writable bytes.
    pub unsafe fn write_raw(
        &self,
        name: *mut sys::SOCKADDR,
        namelen: *mut i32,
    ) -> Result<(), WsaError> {
        let bytes = self.to_bytes();
        // SAFETY: `namelen` null or readable (this function's contract).
        unsafe { check_room(name, namelen, bytes.len()) }?;
        // SAFETY: check_room proved both pointers non-null and the buffer at least this long;
        // namelen is writable (this function's contract).
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), name.cast::<u8>(), bytes.len());
            *namelen = bytes.len() as i32;
        }
        Ok(())
    }
}

/// Checks that `(name, namelen)` can take an address of `needed` bytes: `WSAEFAULT` otherwise.
///
/// # Safety
/// If `namelen` is not null it must be readable.
pub unsafe fn check_room(
    name: *mut sys::SOCKADDR,
    namelen: *mut i32,
    needed: usize,
) -> Result<(), WsaError> {
    if name.is_null() || namelen.is_null() {
        return Err(WsaError::FAULT);
    }
    // SAFETY: non-null, and readable by the caller's contract.
    let room = unsafe { *namelen };
    if room < 0 || (room as usize) < needed {
        return Err(WsaError::FAULT);
    }
    Ok(())
}

impl From<SocketAddr> for SockAddr {
    fn from(addr: SocketAddr) -> Self {
        SockAddr::Inet(addr)
    }
}

impl From<SocketAddrV4> for SockAddr {
    fn from(addr: SocketAddrV4) -> Self {
        SockAddr::Inet(SocketAddr::V4(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_round_trip() {
        let a = SockAddr::from(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 9), 4242));
        let bytes = a.to_bytes();
        assert_eq!(bytes.len(), SOCKADDR_IN_LEN);
        assert_eq!(&bytes[2..4], &[0x10, 0x92]);
        assert_eq!(SockAddr::from_bytes(&bytes).unwrap(), a);
    }

    #[test]
    fn ipv6_round_trip() {
        let a = SockAddr::Inet("[::1]:80".parse().unwrap());
        let bytes = a.to_bytes();
        assert_eq!(bytes.len(), SOCKADDR_IN6_LEN);
        assert_eq!(SockAddr::from_bytes(&bytes).unwrap(), a);
    }

    #[test]
    fn short_buffers_are_faults() {
        assert_eq!(SockAddr::from_bytes(&[2]), Err(WsaError::FAULT));
        let v4 = SockAddr::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1)).to_bytes();
        assert_eq!(SockAddr::from_bytes(&v4[..15]), Err(WsaError::FAULT));
    }

    #[test]
    fn other_families_keep_their_bytes() {
        let raw = [1u8, 0, b'a', b'b', 0];
        let a = SockAddr::from_bytes(&raw).unwrap();
        assert_eq!(a.family(), sys::AF_UNIX);
        assert_eq!(a.to_bytes(), raw.to_vec());
        assert_eq!(a.inet(), Err(WsaError::AFNOSUPPORT));
    }

    #[test]
    fn write_raw_checks_room() {
        let a = SockAddr::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7));
        let mut buf = [0u8; 32];
        let mut len = 8;
        // SAFETY: buf has 32 writable bytes and len is a valid i32.
        let r = unsafe { a.write_raw(buf.as_mut_ptr().cast(), &mut len) };
        assert_eq!(r, Err(WsaError::FAULT));
        assert_eq!(len, 8);
        len = 32;
        // SAFETY: as above.
        unsafe { a.write_raw(buf.as_mut_ptr().cast(), &mut len) }.unwrap();
        assert_eq!(len, 16);
        assert_eq!(SockAddr::from_bytes(&buf[..16]).unwrap(), a);
    }
}
