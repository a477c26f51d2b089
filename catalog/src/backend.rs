//! The WSC* operations ([`Backend`]) and the types they take.

use crate::entry::Entry;
use crate::error::CatalogError;
use crate::guid::Guid;
use crate::info::{ProtocolInfo, LAYERED_PROTOCOL, PFL_HIDDEN, XP1_IFS_HANDLES};

/// Which of the two protocol catalogs.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Arch {
    /// The 64-bit catalog (`Catalog_Entries64`), read by 64-bit processes.
    X64,
    /// The 32-bit catalog (`Catalog_Entries`): WOW64 processes on 64-bit Windows, every process
    /// on 32-bit Windows.
    X86,
}

impl Arch {
    /// The catalog this process's ws2_32 reads.
    pub fn native() -> Arch {
        if cfg!(target_pointer_width = "64") {
            Arch::X64
        } else {
            Arch::X86
        }
    }

    /// The registry subkey of `Protocol_Catalog9` (and `NameSpace_Catalog5`) holding it.
    pub fn entries_key(self) -> &'static str {
        match self {
            Arch::X64 => "Catalog_Entries64",
            Arch::X86 => "Catalog_Entries",
        }
    }

    /// The `Protocol_Catalog9` value counting its entries.
    pub fn count_value(self) -> &'static str {
        match self {
            Arch::X64 => "Num_Catalog_Entries64",
            Arch::X86 => "Num_Catalog_Entries",
        }
    }

    /// `64` or `32`.
    pub fn bits(self) -> u32 {
        match self {
            Arch::X64 => 64,
            Arch::X86 => 32,
        }
    }
}

/// Which catalogs an install or removal touches.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Catalogs {
    /// The catalog of this process ([`Arch::native`]).
    Native,
    /// Both catalogs (`WSCInstallProvider64_32`); refused where there is no 64-bit catalog.
    Both,
    /// One catalog; refused if the system has no such catalog.
    Only(Arch),
}

impl Catalogs {
    /// Every catalog of a system that has `available` (what [`Backend::catalogs`] returns):
    /// [`Catalogs::Both`] where there are two, the only one otherwise. What an installer that
    /// wants its provider seen by every process passes (`DllRegisterServer`, `wsp-catalog
    /// install` without `--arch`).
    pub fn all_of(available: &[Arch]) -> Catalogs {
        if available.contains(&Arch::X64) && available.contains(&Arch::X86) {
            Catalogs::Both
        } else {
            Catalogs::Only(available.first().copied().unwrap_or_else(Arch::native))
        }
    }

    /// The catalogs meant, given the catalogs the system has; `WSAEINVAL` when one of them
    /// does not exist there (a 64-bit catalog on a 32-bit system, ...).
    pub fn resolve(self, available: &[Arch]) -> Result<Vec<Arch>, CatalogError> {
        let wanted = match self {
            Catalogs::Native => vec![Arch::native()],
            Catalogs::Both => vec![Arch::X64, Arch::X86],
            Catalogs::Only(a) => vec![a],
        };
        for a in &wanted {
            if !available.contains(a) {
                return Err(CatalogError::invalid(format!(
                    "this system has no {}-bit catalog (it has: {})",
                    a.bits(),
                    describe_archs(available)
                )));
            }
        }
        Ok(wanted)
    }
}

pub(crate) fn describe_archs(archs: &[Arch]) -> String {
    let v: Vec<String> = archs.iter().map(|a| format!("{}-bit", a.bits())).collect();
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

/// A layered provider to install with its protocol chains
/// ([`Backend::install_provider_and_chains`], after `WSCInstallProviderAndChains`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LayerSpec {
    /// GUID of the hidden layered ("dummy") entry, `ChainLen` 0: the layer's own identity.
    /// Each chain entry gets its own GUID derived from it and the entry below
    /// ([`LayerSpec::chain_guid`]), so installing again gives the same GUIDs.
    pub layer_id: Guid,
    /// The layer's DLL (unexpanded path), used for the dummy and every chain entry.
    pub path: String,
    /// The layer's name: the dummy's `szProtocol`; chain entries are named
    /// `"<name> over [<entry below>]"`.
    pub name: String,
    /// Catalog ids of the entries to layer over (base protocols or existing chains); empty
    /// means every visible entry (`ChainLen` ≥ 1, not `PFL_HIDDEN`).
    pub over: Vec<u32>,
    /// An IFS layer keeps `XP1_IFS_HANDLES` of the entries below; a non-IFS layer clears it.
    pub ifs: bool,
    /// The layer's LSP categories (`LSP_*`, [`crate::parse_categories`]), set on the layered
    /// entry and every chain entry as `WSCSetProviderInfo(ProviderInfoLspCategories)` does; 0
    /// leaves the layer uncategorized.
    pub categories: u32,
}

/// Something that carries a protocol entry: what [`LayerSpec::targets`] chooses among.
pub(crate) trait HasInfo {
    /// The entry.
    fn info(&self) -> &ProtocolInfo;
}

impl HasInfo for ProtocolInfo {
    fn info(&self) -> &ProtocolInfo {
        self
    }
}

impl LayerSpec {
    /// The GUID of the chain entry of layer `layer` over `below` (a base entry or another
    /// chain): a name-based GUID (version 8, RFC 4122 variant) from a 128-bit FNV-1a hash of
    /// the layer's GUID, `below`'s provider GUID, address family, socket type and protocol.
    /// Deterministic, so a re-registration gives the same GUIDs and `regsvr32 /u` finds them.
    pub fn chain_guid(layer: &Guid, below: &ProtocolInfo) -> Guid {
        chain_guid_nth(layer, below, 0)
    }

    /// The layer's hidden layered entry (`ChainLen` 0, `PFL_HIDDEN`, named after the layer),
    /// made from `first`, an entry it goes over; the caller sets its GUID and catalog id.
    pub(crate) fn layered_entry(&self, first: &ProtocolInfo) -> ProtocolInfo {
        let mut info = first.clone();
        info.set_chain(LAYERED_PROTOCOL, &[]);
        info.set_provider_flags(PFL_HIDDEN);
        info.set_name(&self.name);
        self.keep_ifs(&mut info);
        info
    }

    /// The chain entry of the layer (layered entry `layer_cid`) over `below` (catalog id
    /// `below_id`): `ChainEntries` = [layer, `below`'s own chain or id], visible, named
    /// `"<name> over [<below>]"`; the caller sets its GUID and catalog id.
    pub(crate) fn chain_entry(
        &self,
        layer_cid: u32,
        below_id: u32,
        below: &ProtocolInfo,
    ) -> ProtocolInfo {
        let mut info = below.clone();
        let mut chain = vec![layer_cid];
        if below.chain_len() == 1 {
            chain.push(below_id);
        } else {
            chain.extend_from_slice(below.chain_entries());
        }
        info.set_chain(chain.len() as i32, &chain);
        info.set_provider_flags(below.provider_flags() & !PFL_HIDDEN);
        info.set_name(&format!("{} over [{}]", self.name, below.name()));
        self.keep_ifs(&mut info);
        info
    }

    /// A non-IFS layer clears `XP1_IFS_HANDLES`; an IFS one keeps the flag of the entry below.
    fn keep_ifs(&self, info: &mut ProtocolInfo) {
        if !self.ifs {
            info.set_service_flags1(info.service_flags1() & !XP1_IFS_HANDLES);
        }
    }

    /// The entries the layer goes over among `entries` (the `arch` catalog, in order): those
    /// `over` names, in its order, or every visible one (`ChainLen` ≥ 1, not `PFL_HIDDEN`) when
    /// it is empty; `WSAEINVAL` for an id the catalog lacks.
    ///
    /// An IFS layer hands out the handles of the provider below, so it can only sit over
    /// entries with `XP1_IFS_HANDLES`: chosen among every visible entry it skips the others,
    /// and a non-IFS entry named in `over` is `WSAEINVAL`.
    pub(crate) fn targets<T: HasInfo + Clone>(
        &self,
        entries: &[T],
        arch: Arch,
    ) -> Result<Vec<T>, CatalogError> {
        if self.over.is_empty() {
            return Ok(entries
                .iter()
                .filter(|e| e.info().chain_len() >= 1 && !e.info().is_hidden())
                .filter(|e| !self.ifs || e.info().service_flags1() & XP1_IFS_HANDLES != 0)
                .cloned()
                .collect());
        }
        self.over
            .iter()
            .map(|cid| {
                let found = entries
                    .iter()
                    .find(|e| e.info().catalog_entry_id() == *cid)
                    .ok_or_else(|| {
                        CatalogError::invalid(format!(
                            "catalog id {} is not in the {}-bit catalog",
                            cid,
                            arch.bits()
                        ))
                    })?;
                if self.ifs && found.info().service_flags1() & XP1_IFS_HANDLES == 0 {
                    return Err(CatalogError::invalid(format!(
                        "an IFS layer can only sit over providers with IFS handles, and entry \
                         {} ('{}') has none (no XP1_IFS_HANDLES): install a non-IFS layer over \
                         it instead",
                        cid,
                        found.info().name()
                    )));
                }
                Ok(found.clone())
            })
            .collect()
    }
}

/// [`LayerSpec::chain_guid`] for the `nth` (from 0, by catalog id) entry of `below`'s provider
/// with `below`'s family, type and protocol (more than one is rare; `nth` 0 hashes nothing
/// more).
pub(crate) fn chain_guid_nth(layer: &Guid, below: &ProtocolInfo, nth: u32) -> Guid {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut bytes = Vec::with_capacity(48);
    bytes.extend_from_slice(&layer.0);
    bytes.extend_from_slice(&below.provider_id().0);
    for v in [
        below.address_family(),
        below.socket_type(),
        below.protocol(),
    ] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    if nth > 0 {
        bytes.extend_from_slice(&nth.to_le_bytes());
    }
    let mut h = OFFSET;
    for b in bytes {
        h ^= u128::from(b);
        h = h.wrapping_mul(PRIME);
    }
    let mut g = h.to_le_bytes();
    // Version 8 (the high nibble of data3, little-endian in memory) and variant 10.
    g[7] = (g[7] & 0x0F) | 0x80;
    g[8] = (g[8] & 0x3F) | 0x80;
    Guid(g)
}

/// The GUID of the chain entry over each of `targets`, chosen among `all` (the catalog), by
/// [`chain_guid_nth`].
pub(crate) fn chain_guids<T: HasInfo>(layer: &Guid, targets: &[T], all: &[T]) -> Vec<Guid> {
    targets
        .iter()
        .map(|t| {
            let b = t.info();
            let nth = all
                .iter()
                .filter(|e| {
                    let i = e.info();
                    i.provider_id() == b.provider_id()
                        && i.address_family() == b.address_family()
                        && i.socket_type() == b.socket_type()
                        && i.protocol() == b.protocol()
                        && i.catalog_entry_id() < b.catalog_entry_id()
                })
                .count();
            chain_guid_nth(layer, b, nth as u32)
        })
        .collect()
}

/// One namespace provider entry (`NameSpace_Catalog5\Catalog_Entries[64]\%012u`).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct NamespaceEntry {
    /// The subkey name (`000000000001`, ...).
    pub key: String,
    /// `LibraryPath` (unexpanded).
    pub path: String,
    /// `DisplayString`.
    pub display: String,
    /// `ProviderId`.
    pub provider_id: Guid,
    /// `AddressFamily`.
    pub address_family: u32,
    /// `SupportedNameSpace` (`NS_*`).
    pub namespace: u32,
    /// `Enabled`.
    pub enabled: bool,
    /// `Version`.
    pub version: u32,
}

/// The WSC* operations on a protocol catalog.
///
/// Every operation either completes or fails leaving the catalog exactly as it was; the error's
/// [`CatalogError::code`] is the one the corresponding WSC* function documents (`WSAEINVAL` for
/// bad arguments, unknown or duplicate GUIDs; `WSANO_RECOVERY` when the catalog cannot be read
/// or written; `WSATRY_AGAIN` when another writer got there first).
pub trait Backend {
    /// The catalogs this system has (`[X64, X86]` on 64-bit Windows, `[X86]` on 32-bit).
    fn catalogs(&self) -> Result<Vec<Arch>, CatalogError>;

    /// `WSCEnumProtocols[32]`: every entry of catalog `arch` in catalog order, hidden ones
    /// included, `dwCatalogEntryId` filled.
    fn enum_protocols(&self, arch: Arch) -> Result<Vec<Entry>, CatalogError>;

    /// `WSCInstallProvider[64_32]`: adds `infos` under provider `id` with library `path` at the
    /// end of each chosen catalog; each gets a fresh catalog id (the same id in both catalogs)
    /// and `ProviderId` = `id`.
    fn install_provider(
        &self,
        id: &Guid,
        path: &str,
        infos: &[ProtocolInfo],
        catalogs: Catalogs,
    ) -> Result<(), CatalogError> {
        self.install_provider_at(id, path, infos, catalogs, None)
            .map(|_| ())
    }

    /// [`Backend::install_provider`], placing the new entries at index `position` of each
    /// catalog (`None` or past the end: at the end). Returns the new catalog ids, in the order
    /// of `infos`.
    fn install_provider_at(
        &self,
        id: &Guid,
        path: &str,
        infos: &[ProtocolInfo],
        catalogs: Catalogs,
        position: Option<usize>,
    ) -> Result<Vec<u32>, CatalogError>;

    /// `WSCInstallProviderAndChains[64_32]`: one hidden layered entry (`ChainLen` 0,
    /// `PFL_HIDDEN`, GUID `spec.layer_id`, at the end) and one chain entry per entry in
    /// `spec.over` (its own GUID, [`LayerSpec::chain_guid`]; `ChainEntries` = [layer, the
    /// entry's own chain or id], put at the front of the catalog), all with `spec.categories`
    /// when not 0. Returns the new ids: the layer's, then the chains'.
    fn install_provider_and_chains(
        &self,
        spec: &LayerSpec,
        catalogs: Catalogs,
    ) -> Result<Vec<u32>, CatalogError>;

    /// `WSCDeinstallProvider[32]`: removes every entry of provider `id` from the chosen catalogs
    /// (with [`Catalogs::Both`], from each that has it). Refused (`WSAEINVAL`, naming them) while
    /// entries of another provider have a chain through one of them: remove the layers first
    /// ([`Backend::deinstall_layer`]).
    fn deinstall_provider(&self, id: &Guid, catalogs: Catalogs) -> Result<(), CatalogError>;

    /// Removes layer `layer_id` (the GUID of its hidden layered entry) from the chosen catalogs
    /// (with [`Catalogs::Both`], from each that has it), as instlsp does: its chain entries (every
    /// entry whose chain starts at the layered entry, whatever its GUID) and the layered entry
    /// go, and the chains of other layers that pass through it are rewritten to skip it (the
    /// chain one shorter, the name following the new chain when it followed the old one; a
    /// rewritten chain that another entry already has goes instead when its GUID has no other
    /// entry). `WSAEINVAL` when `layer_id` is not a layered entry or not installed.
    fn deinstall_layer(&self, layer_id: &Guid, catalogs: Catalogs) -> Result<(), CatalogError>;

    /// `WSCWriteProviderOrder[32]`: reorders catalog `arch`; `ids` must name every entry
    /// exactly once.
    fn write_provider_order(&self, arch: Arch, ids: &[u32]) -> Result<(), CatalogError>;

    /// `WSCUpdateProvider[32]`: replaces the path and protocol entries of provider `id`; `infos`
    /// must have as many entries as installed, which keep their catalog ids and order.
    fn update_provider(
        &self,
        id: &Guid,
        path: &str,
        infos: &[ProtocolInfo],
        arch: Arch,
    ) -> Result<(), CatalogError>;

    /// `WSCGetProviderPath[32]`: the (unexpanded) library path of provider `id`.
    fn get_provider_path(&self, id: &Guid, arch: Arch) -> Result<String, CatalogError>;

    /// `WSCSetApplicationCategory`: the LSP categories (`LSP_*`) application `path` (with
    /// command-line `args`) permits.
    fn set_application_category(
        &self,
        path: &str,
        args: &str,
        categories: u32,
    ) -> Result<(), CatalogError>;

    /// `WSCGetApplicationCategory`: the LSP categories application `path` (with `args`)
    /// permits; `None` when it was never categorized (it then loads every layer).
    fn application_category(&self, path: &str, args: &str) -> Result<Option<u32>, CatalogError>;

    /// `WSCSetProviderInfo[32]` with `ProviderInfoLspCategories`: the LSP categories of every
    /// entry of provider `id` in catalog `arch`.
    fn set_provider_categories(
        &self,
        id: &Guid,
        arch: Arch,
        categories: u32,
    ) -> Result<(), CatalogError>;

    /// `WSCGetProviderInfo[32]` with `ProviderInfoLspCategories`: the LSP categories of
    /// provider `id` in catalog `arch` (0 when it has none).
    fn provider_categories(&self, id: &Guid, arch: Arch) -> Result<u32, CatalogError>;

    /// The namespace providers of catalog `arch`, in order.
    fn enum_namespaces(&self, arch: Arch) -> Result<Vec<NamespaceEntry>, CatalogError>;

    /// The whole catalog (`Parameters` key) in `.reg` syntax.
    fn backup(&self) -> Result<String, CatalogError>;

    /// Replaces the whole catalog with `text` (from [`Backend::backup`] or `reg export`), all
    /// or nothing: a backup that does not parse or holds a corrupted entry changes nothing.
    fn restore(&self, text: &str) -> Result<(), CatalogError>;

    /// A short description of where the catalog lives (for messages).
    fn describe(&self) -> String;
}
