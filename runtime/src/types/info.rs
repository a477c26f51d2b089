//! What a provider declares about itself: name, GUID, descriptor mode and protocol entries.
//!
//! `#[winsock_provider(...)]` writes a [`ProviderInfo`] for the struct it is applied to; the
//! runtime turns its entries into `WSAPROTOCOL_INFOW` records for `SO_PROTOCOL_INFOW`, and the
//! exported `WSPEnumProviderProtocols` hands them to an installer or to the ws2_32 stand-in.

use crate::sys;

/// A GUID, laid out as the Win32 `GUID`.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct Guid(pub u128);

impl Guid {
    /// The Win32 `GUID` structure.
    pub const fn to_sys(self) -> sys::GUID {
        sys::GUID::from_u128(self.0)
    }

    /// Reads a Win32 `GUID` structure.
    pub fn from_sys(g: &sys::GUID) -> Guid {
        let mut v = (g.data1 as u128) << 96 | (g.data2 as u128) << 80 | (g.data3 as u128) << 64;
        for (i, b) in g.data4.iter().enumerate() {
            v |= (*b as u128) << (56 - 8 * i);
        }
        Guid(v)
    }
}

/// How the provider's socket handles are allocated (the seeds' "descriptor allocation").
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum DescriptorMode {
    /// Each socket is an OS handle the provider created (a file-system object), registered with
    /// `WPUModifyIFSHandle`; applications may use `ReadFile`/`WriteFile` on it at no cost.
    Ifs,
    /// Each handle comes from ws2_32's `WPUCreateSocketHandle`; the provider needs no kernel
    /// objects of its own.
    NonIfs,
}

/// One protocol entry the provider serves (one catalog entry once installed).
#[derive(Copy, Clone, Debug)]
pub struct ProtocolSpec {
    /// `szProtocol`: the entry's display name.
    pub name: &'static str,
    /// `iAddressFamily`.
    pub family: i32,
    /// `iSocketType`.
    pub socket_type: i32,
    /// `iProtocol`.
    pub protocol: i32,
    /// `dwServiceFlags1` as declared; `XP1_IFS_HANDLES` is added for IFS providers.
    pub service_flags: u32,
    /// `dwProviderFlags`.
    pub provider_flags: u32,
    /// `dwMessageSize`.
    pub max_message_size: u32,
    /// `iMinSockAddr`.
    pub min_sockaddr: i32,
    /// `iMaxSockAddr`.
    pub max_sockaddr: i32,
}

/// Everything `#[winsock_provider(...)]` declares.
#[derive(Copy, Clone, Debug)]
pub struct ProviderInfo {
    /// The provider's name (used by installers as the catalog's provider name).
    pub name: &'static str,
    /// `WSPDATA.szDescription`.
    pub description: &'static str,
    /// The provider GUID (`ProviderId` of every entry).
    pub guid: Guid,
    /// The protocol entries, in catalog order.
    pub protocols: &'static [ProtocolSpec],
}

/// Copies `text` into a fixed UTF-16 field, truncating to leave a terminating NUL.
pub(crate) fn write_wide(dst: &mut [u16], text: &str) {
    let room = dst.len().saturating_sub(1);
    let mut n = 0;
    for (slot, unit) in dst.iter_mut().zip(text.encode_utf16().take(room)) {
        *slot = unit;
        n += 1;
    }
    for slot in &mut dst[n..] {
        *slot = 0;
    }
}

impl ProviderInfo {
    /// The `WSAPROTOCOL_INFOW` of entry `index` under the attribute's GUID, with
    /// `dwCatalogEntryId = catalog_id`, for sockets whose handles are allocated in `mode`
    /// (IFS entries carry `XP1_IFS_HANDLES`).
    pub fn protocol_info(
        &self,
        mode: DescriptorMode,
        index: usize,
        catalog_id: u32,
    ) -> sys::WSAPROTOCOL_INFOW {
        let spec = &self.protocols[index];
        let ifs = match mode {
            DescriptorMode::Ifs => sys::XP1_IFS_HANDLES,
            DescriptorMode::NonIfs => 0,
        };
        let mut info = sys::WSAPROTOCOL_INFOW {
            dwServiceFlags1: spec.service_flags | ifs,
            dwProviderFlags: spec.provider_flags,
            ProviderId: self.guid.to_sys(),
            dwCatalogEntryId: catalog_id,
            ProtocolChain: sys::WSAPROTOCOLCHAIN {
                ChainLen: sys::BASE_PROTOCOL as i32,
                ChainEntries: [0; 7],
            },
            iVersion: 2,
            iAddressFamily: spec.family,
            iMaxSockAddr: spec.max_sockaddr,
            iMinSockAddr: spec.min_sockaddr,
            iSocketType: spec.socket_type,
            iProtocol: spec.protocol,
            iNetworkByteOrder: sys::BIGENDIAN as i32,
            iSecurityScheme: sys::SECURITY_PROTOCOL_NONE as i32,
            dwMessageSize: spec.max_message_size,
            ..Default::default()
        };
        write_wide(&mut info.szProtocol, spec.name);
        info
    }

    /// The index of the entry matching a `WSAPROTOCOL_INFOW` given by ws2_32: same family,
    /// socket type and protocol, whatever GUID the catalog lists it under (an installer chooses
    /// the GUID; the attribute's is only the default).
    pub fn find(&self, info: &sys::WSAPROTOCOL_INFOW) -> Option<usize> {
        self.protocols.iter().position(|p| {
            p.family == info.iAddressFamily
                && p.socket_type == info.iSocketType
                && p.protocol == info.iProtocol
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_round_trips_through_sys() {
        let g = Guid(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        assert_eq!(Guid::from_sys(&g.to_sys()), g);
    }

    #[test]
    fn wide_strings_are_truncated_and_terminated() {
        let mut buf = [7u16; 4];
        write_wide(&mut buf, "abcdef");
        assert_eq!(buf, [97, 98, 99, 0]);
    }
}
