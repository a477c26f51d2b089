//! [`ProtocolInfo`]: a `WSAPROTOCOL_INFOW` kept as its 628 bytes.

use crate::error::CatalogError;
use crate::guid::Guid;

/// Size of a `WSAPROTOCOL_INFOW` (every target: it holds no pointers).
pub const PROTOCOL_INFO_LEN: usize = 628;
/// Size of a `PackedCatalogItem`: the 260-byte ANSI library path, then a `WSAPROTOCOL_INFOW`.
pub const PACKED_ITEM_LEN: usize = 888;
/// Size of the ANSI library path field (`MAX_PATH`); a path may use 259 bytes of it.
pub const PATH_FIELD_LEN: usize = 260;
/// `MAX_PROTOCOL_CHAIN`: the number of `ChainEntries`.
pub const MAX_PROTOCOL_CHAIN: usize = 7;
/// `WSAPROTOCOL_LEN + 1`: the number of UTF-16 units of `szProtocol`.
pub const PROTOCOL_NAME_UNITS: usize = 256;

/// `ChainLen` of a layered (hidden "dummy") entry.
pub const LAYERED_PROTOCOL: i32 = 0;
/// `ChainLen` of a base protocol.
pub const BASE_PROTOCOL: i32 = 1;

/// `PFL_MULTIPLE_PROTO_ENTRIES`.
pub const PFL_MULTIPLE_PROTO_ENTRIES: u32 = 0x1;
/// `PFL_RECOMMENDED_PROTO_ENTRY`.
pub const PFL_RECOMMENDED_PROTO_ENTRY: u32 = 0x2;
/// `PFL_HIDDEN`: never returned by `WSAEnumProtocols`, never chosen by `socket`.
pub const PFL_HIDDEN: u32 = 0x4;
/// `PFL_MATCHES_PROTOCOL_ZERO`: `socket(af, type, 0)` may pick this entry.
pub const PFL_MATCHES_PROTOCOL_ZERO: u32 = 0x8;
/// `PFL_NETWORKDIRECT_PROVIDER`.
pub const PFL_NETWORKDIRECT_PROVIDER: u32 = 0x10;
/// `XP1_IFS_HANDLES` in `dwServiceFlags1`: the provider's socket handles are OS file handles.
pub const XP1_IFS_HANDLES: u32 = 0x20000;

const OFF_SERVICE_FLAGS: usize = 0;
const OFF_PROVIDER_FLAGS: usize = 16;
const OFF_PROVIDER_ID: usize = 20;
const OFF_CATALOG_ENTRY_ID: usize = 36;
const OFF_CHAIN_LEN: usize = 40;
const OFF_CHAIN_ENTRIES: usize = 44;
const OFF_VERSION: usize = 72;
const OFF_ADDRESS_FAMILY: usize = 76;
const OFF_MAX_SOCKADDR: usize = 80;
const OFF_MIN_SOCKADDR: usize = 84;
const OFF_SOCKET_TYPE: usize = 88;
const OFF_PROTOCOL: usize = 92;
const OFF_PROTOCOL_MAX_OFFSET: usize = 96;
const OFF_NETWORK_BYTE_ORDER: usize = 100;
const OFF_SECURITY_SCHEME: usize = 104;
const OFF_MESSAGE_SIZE: usize = 108;
const OFF_PROVIDER_RESERVED: usize = 112;
const OFF_PROTOCOL_NAME: usize = 116;

/// A `WSAPROTOCOL_INFOW`, stored as its 628 little-endian bytes so that any value, including
/// padding and bytes after the name's terminator, round-trips exactly. Accessors read and write
/// the fields at their documented offsets.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProtocolInfo {
    bytes: Vec<u8>,
    /// `ChainEntries` decoded from `bytes` (kept in step by every writer), so that
    /// [`ProtocolInfo::chain_entries`] can hand out a slice.
    chain: [u32; MAX_PROTOCOL_CHAIN],
}

impl Default for ProtocolInfo {
    fn default() -> ProtocolInfo {
        ProtocolInfo {
            bytes: vec![0; PROTOCOL_INFO_LEN],
            chain: [0; MAX_PROTOCOL_CHAIN],
        }
    }
}

macro_rules! field {
    ($(#[$doc:meta])* $get:ident, $set:ident, $ty:ident, $off:expr) => {
        $(#[$doc])*
        pub fn $get(&self) -> $ty {
            $ty::from_le_bytes(self.word($off))
        }

        #[doc = concat!("Sets the field `", stringify!($get), "` reads.")]
        pub fn $set(&mut self, value: $ty) {
            self.bytes[$off..$off + 4].copy_from_slice(&value.to_le_bytes());
        }
    };
}

impl ProtocolInfo {
    /// An all-zero structure.
    pub fn new() -> ProtocolInfo {
        ProtocolInfo::default()
    }

    /// The structure held in `b`, which must be exactly [`PROTOCOL_INFO_LEN`] bytes.
    pub fn from_bytes(b: &[u8]) -> Result<ProtocolInfo, CatalogError> {
        if b.len() != PROTOCOL_INFO_LEN {
            return Err(CatalogError::invalid(format!(
                "a WSAPROTOCOL_INFOW is {} bytes, not {}",
                PROTOCOL_INFO_LEN,
                b.len()
            )));
        }
        let mut info = ProtocolInfo {
            bytes: b.to_vec(),
            chain: [0; MAX_PROTOCOL_CHAIN],
        };
        info.chain = info.chain_entries_raw();
        Ok(info)
    }

    /// The 628 bytes.
    pub fn to_bytes(&self) -> [u8; PROTOCOL_INFO_LEN] {
        let mut out = [0u8; PROTOCOL_INFO_LEN];
        out.copy_from_slice(&self.bytes);
        out
    }

    /// The 628 bytes, borrowed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn word(&self, off: usize) -> [u8; 4] {
        [
            self.bytes[off],
            self.bytes[off + 1],
            self.bytes[off + 2],
            self.bytes[off + 3],
        ]
    }

    /// `dwServiceFlags1..4` (index 0..=3; other indices read 0).
    pub fn service_flags(&self, index: usize) -> u32 {
        if index < 4 {
            u32::from_le_bytes(self.word(OFF_SERVICE_FLAGS + 4 * index))
        } else {
            0
        }
    }

    /// Sets `dwServiceFlags1..4` (index 0..=3; other indices are ignored).
    pub fn set_service_flags(&mut self, index: usize, value: u32) {
        if index < 4 {
            let off = OFF_SERVICE_FLAGS + 4 * index;
            self.bytes[off..off + 4].copy_from_slice(&value.to_le_bytes());
        }
    }

    field!(
        /// `dwServiceFlags1` (`XP1_*`).
        service_flags1, set_service_flags1, u32, OFF_SERVICE_FLAGS
    );
    field!(
        /// `dwProviderFlags` (`PFL_*`).
        provider_flags, set_provider_flags, u32, OFF_PROVIDER_FLAGS
    );
    field!(
        /// `dwCatalogEntryId`.
        catalog_entry_id, set_catalog_entry_id, u32, OFF_CATALOG_ENTRY_ID
    );
    field!(
        /// `ProtocolChain.ChainLen` as stored (0 = layered, 1 = base, 2..=7 = chain; anything
        /// else is a corrupted entry).
        chain_len, set_chain_len, i32, OFF_CHAIN_LEN
    );
    field!(
        /// `iVersion`.
        version, set_version, i32, OFF_VERSION
    );
    field!(
        /// `iAddressFamily`.
        address_family, set_address_family, i32, OFF_ADDRESS_FAMILY
    );
    field!(
        /// `iMaxSockAddr`.
        max_sockaddr, set_max_sockaddr, i32, OFF_MAX_SOCKADDR
    );
    field!(
        /// `iMinSockAddr`.
        min_sockaddr, set_min_sockaddr, i32, OFF_MIN_SOCKADDR
    );
    field!(
        /// `iSocketType`.
        socket_type, set_socket_type, i32, OFF_SOCKET_TYPE
    );
    field!(
        /// `iProtocol`.
        protocol, set_protocol, i32, OFF_PROTOCOL
    );
    field!(
        /// `iProtocolMaxOffset`.
        protocol_max_offset, set_protocol_max_offset, i32, OFF_PROTOCOL_MAX_OFFSET
    );
    field!(
        /// `iNetworkByteOrder` (`BIGENDIAN` 0, `LITTLEENDIAN` 1).
        network_byte_order, set_network_byte_order, i32, OFF_NETWORK_BYTE_ORDER
    );
    field!(
        /// `iSecurityScheme`.
        security_scheme, set_security_scheme, i32, OFF_SECURITY_SCHEME
    );
    field!(
        /// `dwMessageSize`.
        message_size, set_message_size, u32, OFF_MESSAGE_SIZE
    );
    field!(
        /// `dwProviderReserved`.
        provider_reserved, set_provider_reserved, u32, OFF_PROVIDER_RESERVED
    );

    /// `ProviderId`.
    pub fn provider_id(&self) -> Guid {
        let mut g = [0u8; 16];
        g.copy_from_slice(&self.bytes[OFF_PROVIDER_ID..OFF_PROVIDER_ID + 16]);
        Guid(g)
    }

    /// Sets `ProviderId`.
    pub fn set_provider_id(&mut self, id: Guid) {
        self.bytes[OFF_PROVIDER_ID..OFF_PROVIDER_ID + 16].copy_from_slice(&id.0);
    }

    /// All seven `ChainEntries`, whatever `ChainLen` says.
    pub fn chain_entries_raw(&self) -> [u32; MAX_PROTOCOL_CHAIN] {
        let mut out = [0u32; MAX_PROTOCOL_CHAIN];
        for (i, e) in out.iter_mut().enumerate() {
            *e = u32::from_le_bytes(self.word(OFF_CHAIN_ENTRIES + 4 * i));
        }
        out
    }

    /// The first `ChainLen` entries of `ChainEntries` (`ChainLen` clamped to 0..=7).
    pub fn chain_entries(&self) -> &[u32] {
        let n = self.chain_len().clamp(0, MAX_PROTOCOL_CHAIN as i32) as usize;
        &self.chain[..n]
    }

    /// Sets `ChainLen` to `len` and `ChainEntries` to `entries` (at most 7; the rest zeroed).
    pub fn set_chain(&mut self, len: i32, entries: &[u32]) {
        self.set_chain_len(len);
        for i in 0..MAX_PROTOCOL_CHAIN {
            let v = entries.get(i).copied().unwrap_or(0);
            let off = OFF_CHAIN_ENTRIES + 4 * i;
            self.bytes[off..off + 4].copy_from_slice(&v.to_le_bytes());
            self.chain[i] = v;
        }
    }

    /// `szProtocol`, up to its first NUL (unpaired surrogates become U+FFFD).
    pub fn name(&self) -> String {
        let units: Vec<u16> = (0..PROTOCOL_NAME_UNITS)
            .map(|i| {
                let off = OFF_PROTOCOL_NAME + 2 * i;
                u16::from_le_bytes([self.bytes[off], self.bytes[off + 1]])
            })
            .take_while(|&u| u != 0)
            .collect();
        String::from_utf16_lossy(&units)
    }

    /// Sets `szProtocol` to `name`, truncated to 255 UTF-16 units, NUL-padded.
    pub fn set_name(&mut self, name: &str) {
        let units: Vec<u16> = name.encode_utf16().take(PROTOCOL_NAME_UNITS - 1).collect();
        for i in 0..PROTOCOL_NAME_UNITS {
            let u = units.get(i).copied().unwrap_or(0);
            let off = OFF_PROTOCOL_NAME + 2 * i;
            self.bytes[off..off + 2].copy_from_slice(&u.to_le_bytes());
        }
    }

    /// `PFL_HIDDEN` is set.
    pub fn is_hidden(&self) -> bool {
        self.provider_flags() & PFL_HIDDEN != 0
    }

    /// `ChainLen` is 0: a layered ("dummy") entry.
    pub fn is_layered(&self) -> bool {
        self.chain_len() == LAYERED_PROTOCOL
    }

    /// `ChainLen` is 1: a base protocol.
    pub fn is_base(&self) -> bool {
        self.chain_len() == BASE_PROTOCOL
    }

    /// `ChainLen` is 2..=7: a protocol chain (a layer over a base).
    pub fn is_chain(&self) -> bool {
        self.chain_len() > BASE_PROTOCOL && self.chain_len() <= MAX_PROTOCOL_CHAIN as i32
    }

    /// `PFL_MATCHES_PROTOCOL_ZERO` is set.
    pub fn matches_protocol_zero(&self) -> bool {
        self.provider_flags() & PFL_MATCHES_PROTOCOL_ZERO != 0
    }

    /// Whether `socket(af, type, protocol)` may pick this entry, as ws2_32 decides: visible
    /// (not `PFL_HIDDEN`, `ChainLen` ≥ 1), same family and type, and either the same protocol,
    /// a protocol within `iProtocol..=iProtocol + iProtocolMaxOffset`, or protocol 0 with
    /// `PFL_MATCHES_PROTOCOL_ZERO`.
    pub fn matches(&self, af: i32, socket_type: i32, protocol: i32) -> bool {
        if self.is_hidden() || self.chain_len() < BASE_PROTOCOL {
            return false;
        }
        if self.address_family() != af || self.socket_type() != socket_type {
            return false;
        }
        if protocol == 0 {
            return self.protocol() == 0 || self.matches_protocol_zero();
        }
        let lo = i64::from(self.protocol());
        let hi = lo + i64::from(self.protocol_max_offset().max(0));
        (lo..=hi).contains(&i64::from(protocol))
    }
}
