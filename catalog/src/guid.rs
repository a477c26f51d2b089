//! [`Guid`]: a provider GUID in its in-memory (`GUID` struct) byte order.

use std::fmt;
use std::str::FromStr;

use crate::error::CatalogError;

/// A GUID as the 16 bytes of a Windows `GUID` struct (`Data1` and `Data2`/`Data3` little-endian,
/// `Data4` as is): exactly the bytes stored at `ProviderId` in a `WSAPROTOCOL_INFOW`.
///
/// Displays as `{9980498c-e732-482b-9f67-924273a56666}`; parses that form with or without the
/// braces, in either case.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// The all-zero GUID.
    pub const NIL: Guid = Guid([0; 16]);

    /// The GUID with these fields (as written in `{data1-data2-data3-data4[0..2]-data4[2..]}`).
    pub fn from_fields(data1: u32, data2: u16, data3: u16, data4: [u8; 8]) -> Guid {
        let mut b = [0u8; 16];
        b[0..4].copy_from_slice(&data1.to_le_bytes());
        b[4..6].copy_from_slice(&data2.to_le_bytes());
        b[6..8].copy_from_slice(&data3.to_le_bytes());
        b[8..16].copy_from_slice(&data4);
        Guid(b)
    }

    /// `Data1`.
    pub fn data1(&self) -> u32 {
        u32::from_le_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }

    /// `Data2`.
    pub fn data2(&self) -> u16 {
        u16::from_le_bytes([self.0[4], self.0[5]])
    }

    /// `Data3`.
    pub fn data3(&self) -> u16 {
        u16::from_le_bytes([self.0[6], self.0[7]])
    }

    /// `Data4`.
    pub fn data4(&self) -> [u8; 8] {
        let mut d = [0u8; 8];
        d.copy_from_slice(&self.0[8..16]);
        d
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d4 = self.data4();
        write!(
            f,
            "{{{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}}}",
            self.data1(),
            self.data2(),
            self.data3(),
            d4[0],
            d4[1],
            d4[2],
            d4[3],
            d4[4],
            d4[5],
            d4[6],
            d4[7]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({})", self)
    }
}

impl FromStr for Guid {
    type Err = CatalogError;

    fn from_str(s: &str) -> Result<Guid, CatalogError> {
        let bad = || {
            CatalogError::invalid(format!(
                "'{}' is not a GUID (expected {{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}})",
                s
            ))
        };
        let inner = match (s.strip_prefix('{'), s.strip_suffix('}')) {
            (Some(_), Some(_)) if s.len() >= 2 => &s[1..s.len() - 1],
            (None, None) => s,
            _ => return Err(bad()),
        };
        let parts: Vec<&str> = inner.split('-').collect();
        let lens = [8, 4, 4, 4, 12];
        if parts.len() != 5
            || parts
                .iter()
                .zip(lens.iter())
                .any(|(p, &n)| p.len() != n || !p.bytes().all(|c| c.is_ascii_hexdigit()))
        {
            return Err(bad());
        }
        let hex = |p: &str| u64::from_str_radix(p, 16).map_err(|_| bad());
        let data1 = hex(parts[0])? as u32;
        let data2 = hex(parts[1])? as u16;
        let data3 = hex(parts[2])? as u16;
        let tail = format!("{}{}", parts[3], parts[4]);
        let mut data4 = [0u8; 8];
        for (i, d) in data4.iter_mut().enumerate() {
            *d = hex(&tail[2 * i..2 * i + 2])? as u8;
        }
        Ok(Guid::from_fields(data1, data2, data3, data4))
    }
}
