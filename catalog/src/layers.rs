//! Removing a layer: its layered entry and chain entries go, and the chains of other layers
//! that pass through it are rewritten to skip it. The plan is computed here on the entries of
//! one catalog; each back end carries it out its own way.

use crate::backend::Arch;
use crate::error::CatalogError;
use crate::guid::Guid;
use crate::info::ProtocolInfo;

/// What removing a layer does to one catalog.
#[derive(Debug)]
pub(crate) struct Removal {
    /// Catalog ids of the entries that go: the layered entry, its chains, and a rewritten
    /// chain that would duplicate another entry's chain (when its GUID has no other entry).
    pub remove: Vec<u32>,
    /// The chains of other layers that went through it: catalog id and the rewritten entry
    /// (chain without the layer, name following the new chain when it followed the old one).
    pub rewrite: Vec<(u32, ProtocolInfo)>,
}

fn entry(infos: &[ProtocolInfo], id: u32) -> Option<&ProtocolInfo> {
    infos.iter().find(|i| i.catalog_entry_id() == id)
}

/// The name a chain `chain` gets by the `"<layer> over [<below>]"` rule: an entry with exactly
/// that chain (not in `skip`) gives its own name, a single id its entry's name.
fn chain_name(infos: &[ProtocolInfo], chain: &[u32], skip: &[u32]) -> String {
    if chain.len() == 1 {
        return entry(infos, chain[0])
            .map(|i| i.name())
            .unwrap_or_else(|| format!("#{}", chain[0]));
    }
    if let Some(i) = infos.iter().find(|i| {
        i.chain_len() >= 2 && i.chain_entries() == chain && !skip.contains(&i.catalog_entry_id())
    }) {
        return i.name();
    }
    over_name(infos, chain, skip)
}

/// `"<name of chain[0]> over [<name of the rest>]"`.
fn over_name(infos: &[ProtocolInfo], chain: &[u32], skip: &[u32]) -> String {
    let top = entry(infos, chain[0])
        .map(|i| i.name())
        .unwrap_or_else(|| format!("#{}", chain[0]));
    format!("{} over [{}]", top, chain_name(infos, &chain[1..], skip))
}

fn describe(i: &ProtocolInfo) -> String {
    format!(
        "{} \"{}\" {}",
        i.catalog_entry_id(),
        i.name(),
        i.provider_id()
    )
}

/// Plans the removal of layer `layer` (the GUID of its hidden layered entry) from `infos`, the
/// `arch` catalog in order; `None` when the catalog does not hold it. `WSAEINVAL` when `layer`
/// is not a layered entry, or when a GUID to remove also has entries that stay (removing it
/// would take them along).
pub(crate) fn plan_removal(
    infos: &[ProtocolInfo],
    layer: &Guid,
    arch: Arch,
) -> Result<Option<Removal>, CatalogError> {
    let mine: Vec<&ProtocolInfo> = infos.iter().filter(|i| i.provider_id() == *layer).collect();
    if mine.is_empty() {
        return Ok(None);
    }
    if let Some(i) = mine.iter().find(|i| !i.is_layered()) {
        return Err(CatalogError::invalid(format!(
            "provider {} is not a layered provider in the {}-bit catalog (entry {} has ChainLen {}); remove it as a provider",
            layer,
            arch.bits(),
            describe(i),
            i.chain_len()
        )));
    }
    let lids: Vec<u32> = mine.iter().map(|i| i.catalog_entry_id()).collect();
    let mut remove: Vec<u32> = lids.clone();
    for i in infos {
        if i.chain_len() >= 2 && lids.contains(&i.chain_entries()[0]) {
            remove.push(i.catalog_entry_id());
        }
    }
    let mut rewrite: Vec<(u32, ProtocolInfo)> = Vec::new();
    for i in infos {
        let id = i.catalog_entry_id();
        if remove.contains(&id) || i.chain_len() < 2 {
            continue;
        }
        if !i.chain_entries().iter().any(|c| lids.contains(c)) {
            continue;
        }
        let old: Vec<u32> = i.chain_entries().to_vec();
        let new: Vec<u32> = old.iter().copied().filter(|c| !lids.contains(c)).collect();
        if new.len() < 2 {
            return Err(CatalogError::invalid(format!(
                "entry {} has the chain {:?}, which would be left without a layer or a base",
                describe(i),
                old
            )));
        }
        let mut info = i.clone();
        info.set_chain(new.len() as i32, &new);
        if i.name() == over_name(infos, &old, &[id]) {
            info.set_name(&over_name(infos, &new, &remove));
        }
        let duplicate = infos.iter().any(|o| {
            o.catalog_entry_id() != id
                && !remove.contains(&o.catalog_entry_id())
                && o.chain_len() >= 2
                && o.chain_entries() == new.as_slice()
        }) || rewrite
            .iter()
            .any(|(_, r)| r.chain_entries() == new.as_slice());
        let alone = infos
            .iter()
            .filter(|o| o.provider_id() == i.provider_id())
            .count()
            == 1;
        if duplicate && alone {
            remove.push(id);
        } else {
            rewrite.push((id, info));
        }
    }
    for id in &remove {
        let g = entry(infos, *id)
            .map(|i| i.provider_id())
            .unwrap_or(Guid::NIL);
        if let Some(o) = infos
            .iter()
            .find(|o| o.provider_id() == g && !remove.contains(&o.catalog_entry_id()))
        {
            return Err(CatalogError::invalid(format!(
                "cannot remove layer {} from the {}-bit catalog: its entries share provider {} with entry {}, which does not go through the layer",
                layer,
                arch.bits(),
                g,
                describe(o)
            )));
        }
    }
    Ok(Some(Removal { remove, rewrite }))
}

/// The refusal of removing provider `id` (entries `removed` of `infos`, the `arch` catalog)
/// while chains of other providers go through it, naming those chains and what to remove
/// first; `None` when nothing depends on it.
pub(crate) fn dependents_error(
    infos: &[ProtocolInfo],
    id: &Guid,
    removed: &[u32],
    arch: Arch,
) -> Option<CatalogError> {
    let dependents: Vec<&ProtocolInfo> = infos
        .iter()
        .filter(|i| i.provider_id() != *id && i.chain_len() >= 2)
        .filter(|i| i.chain_entries().iter().any(|c| removed.contains(c)))
        .collect();
    if dependents.is_empty() {
        return None;
    }
    let mut layers: Vec<String> = Vec::new();
    for d in &dependents {
        if let Some(l) = entry(infos, d.chain_entries()[0]) {
            let s = format!("{} \"{}\"", l.provider_id(), l.name());
            if l.provider_id() != *id && !layers.contains(&s) {
                layers.push(s);
            }
        }
    }
    let is_layer = infos
        .iter()
        .any(|i| i.provider_id() == *id && i.is_layered());
    let hint = if is_layer {
        " (or remove this layer as a layer, `wsp-catalog remove --layer`, which removes its chains and rewrites the chains above it)"
    } else {
        ""
    };
    let names: Vec<String> = dependents.iter().map(|d| describe(d)).collect();
    Some(CatalogError::invalid(format!(
        "cannot remove provider {} from the {}-bit catalog: protocol chains of other providers go through it ({}); remove those providers first: the layers {} (`wsp-catalog remove --layer GUID`){}",
        id,
        arch.bits(),
        names.join("; "),
        layers.join(", "),
        hint
    )))
}
