//! Socket names and their `SOCKADDR` form (`AF_UNIX`, a `sockaddr_un`-shaped structure).

use winsock_provider::{sys, SockAddr, WsaError};

/// Size of `sun_path`: the name, its terminating NUL included, fits in this many bytes.
pub const SUN_PATH_LEN: usize = 108;

/// The longest name: `sun_path` less the terminating NUL.
pub const MAX_NAME_LEN: usize = SUN_PATH_LEN - 1;

/// The family of the provider's addresses: `AF_UNIX` (1).
pub const FAMILY: u16 = sys::AF_UNIX;

/// Size of the largest address: the 2-byte family plus `sun_path`.
pub const MAX_SOCKADDR_LEN: usize = 2 + SUN_PATH_LEN;

/// The name carried by an address: the bytes after the family up to the first NUL (or the
/// end). Another family is `WSAEAFNOSUPPORT`; a name longer than [`MAX_NAME_LEN`] (no NUL
/// within `sun_path`) is `WSAEFAULT`, as Winsock reports a malformed address.
pub fn name_of(addr: &SockAddr) -> Result<&[u8], WsaError> {
    match addr {
        SockAddr::Raw { family, data } if *family == FAMILY => {
            let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
            if end > MAX_NAME_LEN {
                return Err(WsaError::FAULT);
            }
            Ok(&data[..end])
        }
        _ => Err(WsaError::AFNOSUPPORT),
    }
}

/// The address of `name`: `AF_UNIX`, the name and a terminating NUL. An empty name is the
/// family alone (an unnamed socket, or "pick a name for me" when given to `bind`). A name with
/// a NUL byte or longer than [`MAX_NAME_LEN`] is `WSAEINVAL`.
pub fn sockaddr(name: &[u8]) -> Result<SockAddr, WsaError> {
    if name.len() > MAX_NAME_LEN || name.contains(&0) {
        return Err(WsaError::INVAL);
    }
    Ok(to_sockaddr(name))
}

/// [`sockaddr`] for names this crate produced (already checked).
pub(crate) fn to_sockaddr(name: &[u8]) -> SockAddr {
    let mut data = Vec::with_capacity(name.len() + 1);
    if !name.is_empty() {
        let end = name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(name.len())
            .min(MAX_NAME_LEN);
        data.extend_from_slice(&name[..end]);
        data.push(0);
    }
    SockAddr::Raw {
        family: FAMILY,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let a = sockaddr(b"echo").unwrap();
        assert_eq!(a.to_bytes(), [1, 0, b'e', b'c', b'h', b'o', 0]);
        assert_eq!(name_of(&a).unwrap(), b"echo");
        let unnamed = sockaddr(b"").unwrap();
        assert_eq!(unnamed.to_bytes(), [1, 0]);
        assert_eq!(name_of(&unnamed).unwrap(), b"");
    }

    #[test]
    fn padded_and_oversized_addresses() {
        let mut data = vec![0u8; SUN_PATH_LEN + 18];
        data[..3].copy_from_slice(b"abc");
        let padded = SockAddr::Raw {
            family: FAMILY,
            data,
        };
        assert_eq!(name_of(&padded).unwrap(), b"abc");
        let long = SockAddr::Raw {
            family: FAMILY,
            data: vec![b'x'; SUN_PATH_LEN],
        };
        assert_eq!(name_of(&long), Err(WsaError::FAULT));
        let longest = SockAddr::Raw {
            family: FAMILY,
            data: vec![b'x'; MAX_NAME_LEN],
        };
        assert_eq!(name_of(&longest).unwrap().len(), MAX_NAME_LEN);
        assert_eq!(sockaddr(&[b'x'; SUN_PATH_LEN]), Err(WsaError::INVAL));
        assert_eq!(sockaddr(b"a\0b"), Err(WsaError::INVAL));
        let inet = SockAddr::Inet("127.0.0.1:1".parse().unwrap());
        assert_eq!(name_of(&inet), Err(WsaError::AFNOSUPPORT));
    }
}
