//! [`StoreCatalog`]: the WSC* operations implemented over a [`Store`].
//!
//! Every operation reads the whole tree, decodes it into a [`Model`] (failing, with the key's
//! name, on anything corrupted), changes the model in memory, encodes it back and hands old and
//! new tree to [`Store::commit`], which writes only if nobody else wrote in between. Any error
//! before the commit leaves the store untouched.

use crate::backend::{
    chain_guids, describe_archs, Arch, Backend, Catalogs, HasInfo, LayerSpec, NamespaceEntry,
};
use crate::entry::{check_chain, encode_path, Entry};
use crate::error::CatalogError;
use crate::guid::Guid;
use crate::info::{ProtocolInfo, LAYERED_PROTOCOL, MAX_PROTOCOL_CHAIN, PATH_FIELD_LEN};
use crate::layers::{dependents_error, plan_removal};
use crate::reg::{Tree, Value, REG_BINARY};
use crate::store::Store;

/// The protocol catalog's key.
const PROTOCOLS: &str = "Protocol_Catalog9";
/// The namespace catalog's key.
const NAMESPACES: &str = "NameSpace_Catalog5";
/// `WSCSetApplicationCategory`'s key.
const APP_IDS: &str = "AppId_Catalog";
/// The first catalog id Windows hands out.
const FIRST_ID: u32 = 1001;
const ITEM_VALUE: &str = "PackedCatalogItem";
/// The REG_DWORD in an entry's key holding its LSP categories (`WSCSetProviderInfo`); absent
/// means 0.
const CATEGORIES_VALUE: &str = "LspCategories";

/// Our implementation of the WSC* functions over the registry layout in a [`Store`]: the
/// stand-in's, Wine's (over the registry store), and every test's.
#[derive(Clone, Debug)]
pub struct StoreCatalog<S> {
    store: S,
}

/// One catalog entry as stored: its decoded [`Entry`] and everything its subkey holds (the
/// `PackedCatalogItem` included), so that entries which only move keep their bytes exactly.
#[derive(Clone)]
struct Item {
    values: Vec<(String, Value)>,
    /// Keys below the entry's key (relative path, values).
    below: Vec<(String, Vec<(String, Value)>)>,
    entry: Entry,
}

impl HasInfo for Item {
    fn info(&self) -> &ProtocolInfo {
        &self.entry.info
    }
}

impl Item {
    fn new(entry: Entry) -> Result<Item, CatalogError> {
        let bytes = entry.encode()?;
        Ok(Item {
            values: vec![(ITEM_VALUE.to_owned(), Value::binary(&bytes))],
            below: Vec::new(),
            entry,
        })
    }

    fn id(&self) -> u32 {
        self.entry.info.catalog_entry_id()
    }

    /// Replaces the entry, keeping the key's other values (a `ProtocolName` follows the new
    /// name).
    fn replace(&mut self, entry: Entry) -> Result<(), CatalogError> {
        let bytes = entry.encode()?;
        for (name, value) in self.values.iter_mut() {
            if name.eq_ignore_ascii_case(ITEM_VALUE) {
                *value = Value::binary(&bytes);
            } else if name.eq_ignore_ascii_case("ProtocolName") {
                *value = Value::string(&entry.info.name());
            }
        }
        self.entry = entry;
        Ok(())
    }

    fn categories(&self) -> u32 {
        self.values
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(CATEGORIES_VALUE))
            .and_then(|(_, v)| v.as_dword())
            .unwrap_or(0)
    }

    /// Sets the LSP categories (0 removes the value).
    fn set_categories(&mut self, categories: u32) {
        self.values
            .retain(|(n, _)| !n.eq_ignore_ascii_case(CATEGORIES_VALUE));
        if categories != 0 {
            self.values
                .push((CATEGORIES_VALUE.to_owned(), Value::dword(categories)));
        }
    }

    fn provider(&self) -> Guid {
        self.entry.info.provider_id()
    }

    fn describe(&self) -> String {
        format!(
            "{} \"{}\" {}",
            self.id(),
            self.entry.info.name(),
            self.provider()
        )
    }
}

/// The decoded protocol catalogs.
struct Model {
    cats: Vec<(Arch, Vec<Item>)>,
    next_id: u32,
}

impl Model {
    fn load(tree: &Tree, archs: &[Arch]) -> Result<Model, CatalogError> {
        let mut cats = Vec::new();
        let mut max_id = 0u32;
        for &arch in archs {
            let base = format!("{}\\{}", PROTOCOLS, arch.entries_key());
            let names = tree.subkeys(&base);
            let mut items = Vec::with_capacity(names.len());
            for (i, name) in names.iter().enumerate() {
                let key = format!("{}\\{}", base, name);
                if *name != format!("{:012}", i + 1) {
                    return Err(CatalogError::no_recovery(format!(
                        "{}: catalog entry keys must be named {:012} to {:012} without gaps, found '{}' in place of {:012}",
                        key,
                        1,
                        names.len(),
                        name,
                        i + 1
                    )));
                }
                let raw = match tree.value(&key, ITEM_VALUE) {
                    Some(v) if v.kind == REG_BINARY => v,
                    Some(_) => {
                        return Err(CatalogError::no_recovery(format!(
                            "{}\\{} is not REG_BINARY",
                            key, ITEM_VALUE
                        )))
                    }
                    None => {
                        return Err(CatalogError::no_recovery(format!(
                            "{} has no {} value",
                            key, ITEM_VALUE
                        )))
                    }
                };
                let entry = Entry::decode(&raw.data)
                    .map_err(|e| e.context(format!("{}\\{}", key, ITEM_VALUE)))?;
                max_id = max_id.max(entry.info.catalog_entry_id());
                let prefix = format!("{}\\", key);
                let below = tree
                    .keys()
                    .filter_map(|k| k.strip_prefix(prefix.as_str()))
                    .map(|rel| {
                        (
                            rel.to_owned(),
                            tree.values(&format!("{}{}", prefix, rel)).to_vec(),
                        )
                    })
                    .collect();
                items.push(Item {
                    values: tree.values(&key).to_vec(),
                    below,
                    entry,
                });
            }
            if let Some(v) = tree.value(PROTOCOLS, arch.count_value()) {
                match v.as_dword() {
                    Some(n) if n as usize == items.len() => {}
                    _ => {
                        return Err(CatalogError::no_recovery(format!(
                            "{}\\{} is {:?} but {} has {} entries",
                            PROTOCOLS,
                            arch.count_value(),
                            v.as_dword(),
                            base,
                            items.len()
                        )))
                    }
                }
            }
            cats.push((arch, items));
        }
        let stored_next = tree
            .value(PROTOCOLS, "Next_Catalog_Entry_ID")
            .and_then(|v| v.as_dword())
            .unwrap_or(FIRST_ID);
        Ok(Model {
            cats,
            next_id: stored_next.max(max_id.saturating_add(1)).max(FIRST_ID),
        })
    }

    /// `old` with the protocol catalogs replaced by this model's, the counts and
    /// `Next_Catalog_Entry_ID` set and `Serial_Access_Num` moved on.
    fn save(&self, old: &Tree) -> Tree {
        let mut t = old.clone();
        for (arch, items) in &self.cats {
            let base = format!("{}\\{}", PROTOCOLS, arch.entries_key());
            t.remove_tree(&base);
            t.create_key(&base);
            for (i, item) in items.iter().enumerate() {
                let key = format!("{}\\{:012}", base, i + 1);
                t.set_values(&key, item.values.clone());
                for (rel, vals) in &item.below {
                    t.set_values(&format!("{}\\{}", key, rel), vals.clone());
                }
            }
            t.set_value(
                PROTOCOLS,
                arch.count_value(),
                Value::dword(items.len() as u32),
            );
        }
        t.set_value(
            PROTOCOLS,
            "Next_Catalog_Entry_ID",
            Value::dword(self.next_id),
        );
        bump_serial(&mut t, PROTOCOLS);
        t
    }

    fn cat(&self, arch: Arch) -> Result<&Vec<Item>, CatalogError> {
        self.cats
            .iter()
            .find(|(a, _)| *a == arch)
            .map(|(_, v)| v)
            .ok_or_else(|| no_catalog(arch, &self.archs()))
    }

    fn cat_mut(&mut self, arch: Arch) -> Result<&mut Vec<Item>, CatalogError> {
        let archs = self.archs();
        self.cats
            .iter_mut()
            .find(|(a, _)| *a == arch)
            .map(|(_, v)| v)
            .ok_or_else(|| no_catalog(arch, &archs))
    }

    fn archs(&self) -> Vec<Arch> {
        self.cats.iter().map(|(a, _)| *a).collect()
    }

    fn allocate(&mut self, n: usize) -> Result<Vec<u32>, CatalogError> {
        let first = self.next_id;
        let end = first
            .checked_add(n as u32)
            .ok_or_else(|| CatalogError::no_recovery("catalog ids exhausted"))?;
        self.next_id = end;
        Ok((first..end).collect())
    }

    fn has_provider(&self, id: &Guid) -> Option<Arch> {
        self.cats
            .iter()
            .find(|(_, items)| items.iter().any(|it| it.provider() == *id))
            .map(|(a, _)| *a)
    }
}

fn no_catalog(arch: Arch, archs: &[Arch]) -> CatalogError {
    CatalogError::invalid(format!(
        "this system has no {}-bit catalog (it has: {})",
        arch.bits(),
        describe_archs(archs)
    ))
}

fn bump_serial(t: &mut Tree, key: &str) {
    let serial = t
        .value(key, "Serial_Access_Num")
        .and_then(|v| v.as_dword())
        .unwrap_or(0);
    t.set_value(
        key,
        "Serial_Access_Num",
        Value::dword(serial.wrapping_add(1)),
    );
}

/// Checks that a chain entry's `ChainEntries` name entries of `items`.
fn check_chain_targets(
    info: &ProtocolInfo,
    items: &[Item],
    arch: Arch,
) -> Result<(), CatalogError> {
    check_chain(info)?;
    if info.chain_len() >= 2 {
        for id in info.chain_entries() {
            if !items.iter().any(|it| it.id() == *id) {
                return Err(CatalogError::invalid(format!(
                    "entry '{}' chains through catalog id {}, which is not in the {}-bit catalog",
                    info.name(),
                    id,
                    arch.bits()
                )));
            }
        }
    }
    Ok(())
}

fn check_new_path(path: &str) -> Result<(), CatalogError> {
    encode_path(path).map(|_| ())
}

/// The `AppId_Catalog` key of application `path` with `args` (compared without regard to
/// case), if it has one.
fn app_key(tree: &Tree, path: &str, args: &str) -> Option<String> {
    tree.subkeys(APP_IDS)
        .into_iter()
        .map(|k| format!("{}\\{}", APP_IDS, k))
        .find(|key| {
            let same = |name: &str, want: &str| {
                tree.value(key, name)
                    .and_then(|v| v.as_string())
                    .map(|s| s.eq_ignore_ascii_case(want))
                    .unwrap_or(want.is_empty())
            };
            same("AppFullPath", path) && same("AppArgs", args)
        })
}

fn fnv1a(data: impl Iterator<Item = u16>) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for u in data {
        for b in u.to_le_bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

impl<S: Store> StoreCatalog<S> {
    /// The catalog in `store`.
    pub fn new(store: S) -> StoreCatalog<S> {
        StoreCatalog { store }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn read(&self) -> Result<(Tree, Model), CatalogError> {
        let tree = self.store.read()?;
        let archs = self.store.catalogs(&tree);
        let model = Model::load(&tree, &archs)?;
        Ok((tree, model))
    }

    fn modify<R>(
        &self,
        f: impl FnOnce(&mut Model) -> Result<R, CatalogError>,
    ) -> Result<R, CatalogError> {
        let (old, mut model) = self.read()?;
        let r = f(&mut model)?;
        let new = model.save(&old);
        self.store.commit(&old, &new)?;
        Ok(r)
    }
}

impl<S: Store> Backend for StoreCatalog<S> {
    fn catalogs(&self) -> Result<Vec<Arch>, CatalogError> {
        let tree = self.store.read()?;
        Ok(self.store.catalogs(&tree))
    }

    fn enum_protocols(&self, arch: Arch) -> Result<Vec<Entry>, CatalogError> {
        let (_, model) = self.read()?;
        Ok(model.cat(arch)?.iter().map(|it| it.entry.clone()).collect())
    }

    fn install_provider_at(
        &self,
        id: &Guid,
        path: &str,
        infos: &[ProtocolInfo],
        catalogs: Catalogs,
        position: Option<usize>,
    ) -> Result<Vec<u32>, CatalogError> {
        self.modify(|model| {
            let archs = catalogs.resolve(&model.archs())?;
            if infos.is_empty() {
                return Err(CatalogError::invalid("no protocol entries to install"));
            }
            if *id == Guid::NIL {
                return Err(CatalogError::invalid("the provider GUID is all zeros"));
            }
            check_new_path(path)?;
            for &arch in &archs {
                if let Some(dup) = model.cat(arch)?.iter().find(|it| it.provider() == *id) {
                    return Err(CatalogError::invalid(format!(
                        "provider {} is already installed in the {}-bit catalog (entry {})",
                        id,
                        arch.bits(),
                        dup.describe()
                    )));
                }
            }
            let ids = model.allocate(infos.len())?;
            for &arch in &archs {
                let items = model.cat(arch)?;
                let mut new_items = Vec::with_capacity(infos.len());
                for (info, &cid) in infos.iter().zip(&ids) {
                    let mut info = info.clone();
                    info.set_provider_id(*id);
                    info.set_catalog_entry_id(cid);
                    check_chain_targets(&info, items, arch)?;
                    new_items.push(Item::new(Entry {
                        path: path.to_owned(),
                        info,
                    })?);
                }
                let items = model.cat_mut(arch)?;
                let at = position.unwrap_or(items.len()).min(items.len());
                items.splice(at..at, new_items);
            }
            Ok(ids)
        })
    }

    fn install_provider_and_chains(
        &self,
        spec: &LayerSpec,
        catalogs: Catalogs,
    ) -> Result<Vec<u32>, CatalogError> {
        self.modify(|model| {
            let archs = catalogs.resolve(&model.archs())?;
            if spec.layer_id == Guid::NIL {
                return Err(CatalogError::invalid("the layer GUID is all zeros"));
            }
            check_new_path(&spec.path)?;
            if let Some(a) = model.has_provider(&spec.layer_id) {
                return Err(CatalogError::invalid(format!(
                    "provider {} is already installed in the {}-bit catalog",
                    spec.layer_id,
                    a.bits()
                )));
            }
            // The entries to layer over and their chains' GUIDs, per catalog.
            let mut targets: Vec<(Arch, Vec<(Item, Guid)>)> = Vec::new();
            for &arch in &archs {
                let items = model.cat(arch)?;
                let chosen = spec.targets(items, arch)?;
                if chosen.is_empty() {
                    return Err(CatalogError::invalid(format!(
                        "the {}-bit catalog has no entry to layer over",
                        arch.bits()
                    )));
                }
                for it in &chosen {
                    let len = it.entry.info.chain_len();
                    if len == LAYERED_PROTOCOL {
                        return Err(CatalogError::invalid(format!(
                            "entry {} is a layered entry; layer over its chains instead",
                            it.describe()
                        )));
                    }
                    if len >= MAX_PROTOCOL_CHAIN as i32 {
                        return Err(CatalogError::invalid(format!(
                            "entry {} already has a chain of {} (the most is {})",
                            it.describe(),
                            len,
                            MAX_PROTOCOL_CHAIN
                        )));
                    }
                }
                let guids = chain_guids(&spec.layer_id, &chosen, items);
                for (i, g) in guids.iter().enumerate() {
                    if guids[..i].contains(g) {
                        return Err(CatalogError::invalid(format!(
                            "entry {} is named twice",
                            chosen[i].describe()
                        )));
                    }
                    if *g == spec.layer_id {
                        return Err(CatalogError::invalid(format!(
                            "the chain over entry {} would have the layer's own GUID",
                            chosen[i].describe()
                        )));
                    }
                    if let Some(a) = model.has_provider(g) {
                        return Err(CatalogError::invalid(format!(
                            "the chain entry {} over {} is already installed in the {}-bit catalog",
                            g,
                            chosen[i].describe(),
                            a.bits()
                        )));
                    }
                }
                targets.push((arch, chosen.into_iter().zip(guids).collect()));
            }
            // One id for the layer, one per distinct chain GUID (the same id in both catalogs).
            let mut distinct: Vec<Guid> = Vec::new();
            for (_, chosen) in &targets {
                for (_, g) in chosen {
                    if !distinct.contains(g) {
                        distinct.push(*g);
                    }
                }
            }
            let ids = model.allocate(1 + distinct.len())?;
            let layer_cid = ids[0];
            for (arch, chosen) in targets {
                let mut dummy = spec.layered_entry(&chosen[0].0.entry.info);
                dummy.set_provider_id(spec.layer_id);
                dummy.set_catalog_entry_id(layer_cid);
                let mut chains = Vec::with_capacity(chosen.len());
                for (it, g) in &chosen {
                    let mut info = spec.chain_entry(layer_cid, it.id(), &it.entry.info);
                    info.set_provider_id(*g);
                    let pos = distinct.iter().position(|d| d == g).unwrap_or(0);
                    info.set_catalog_entry_id(ids[1 + pos]);
                    let mut item = Item::new(Entry {
                        path: spec.path.clone(),
                        info,
                    })?;
                    item.set_categories(spec.categories);
                    chains.push(item);
                }
                let mut dummy = Item::new(Entry {
                    path: spec.path.clone(),
                    info: dummy,
                })?;
                dummy.set_categories(spec.categories);
                let items = model.cat_mut(arch)?;
                items.splice(0..0, chains);
                items.push(dummy);
            }
            Ok(ids)
        })
    }

    fn deinstall_provider(&self, id: &Guid, catalogs: Catalogs) -> Result<(), CatalogError> {
        self.modify(|model| {
            let archs = catalogs.resolve(&model.archs())?;
            let mut found = false;
            for &arch in &archs {
                let items = model.cat(arch)?;
                let removed: Vec<u32> = items
                    .iter()
                    .filter(|it| it.provider() == *id)
                    .map(|it| it.id())
                    .collect();
                if removed.is_empty() {
                    continue;
                }
                found = true;
                let infos: Vec<ProtocolInfo> =
                    items.iter().map(|it| it.entry.info.clone()).collect();
                if let Some(e) = dependents_error(&infos, id, &removed, arch) {
                    return Err(e);
                }
                model.cat_mut(arch)?.retain(|it| it.provider() != *id);
            }
            if !found {
                let names: Vec<String> =
                    archs.iter().map(|a| format!("{}-bit", a.bits())).collect();
                return Err(CatalogError::invalid(format!(
                    "provider {} is not installed in the {} catalog",
                    id,
                    names.join(" or ")
                )));
            }
            Ok(())
        })
    }

    fn deinstall_layer(&self, layer_id: &Guid, catalogs: Catalogs) -> Result<(), CatalogError> {
        self.modify(|model| {
            let archs = catalogs.resolve(&model.archs())?;
            let mut found = false;
            for &arch in &archs {
                let infos: Vec<ProtocolInfo> = model
                    .cat(arch)?
                    .iter()
                    .map(|it| it.entry.info.clone())
                    .collect();
                let plan = match plan_removal(&infos, layer_id, arch)? {
                    Some(p) => p,
                    None => continue,
                };
                found = true;
                let items = model.cat_mut(arch)?;
                for (id, info) in plan.rewrite {
                    if let Some(it) = items.iter_mut().find(|it| it.id() == id) {
                        let path = it.entry.path.clone();
                        it.replace(Entry { path, info })?;
                    }
                }
                items.retain(|it| !plan.remove.contains(&it.id()));
            }
            if !found {
                return Err(CatalogError::invalid(format!(
                    "layer {} is not installed in the {} catalog",
                    layer_id,
                    describe_archs(&archs).replace(", ", " or ")
                )));
            }
            Ok(())
        })
    }

    fn write_provider_order(&self, arch: Arch, ids: &[u32]) -> Result<(), CatalogError> {
        self.modify(|model| {
            let items = model.cat_mut(arch)?;
            if ids.len() != items.len() {
                return Err(CatalogError::invalid(format!(
                    "the new order names {} entries; the {}-bit catalog has {}",
                    ids.len(),
                    arch.bits(),
                    items.len()
                )));
            }
            let mut pool: Vec<Option<Item>> = items.drain(..).map(Some).collect();
            let mut ordered = Vec::with_capacity(ids.len());
            for cid in ids {
                let slot = pool
                    .iter_mut()
                    .find(|s| s.as_ref().map(|it| it.id()) == Some(*cid));
                match slot.and_then(|s| s.take()) {
                    Some(it) => ordered.push(it),
                    None => {
                        return Err(CatalogError::invalid(format!(
                            "catalog id {} is not in the {}-bit catalog or is named twice",
                            cid,
                            arch.bits()
                        )))
                    }
                }
            }
            *items = ordered;
            Ok(())
        })
    }

    fn update_provider(
        &self,
        id: &Guid,
        path: &str,
        infos: &[ProtocolInfo],
        arch: Arch,
    ) -> Result<(), CatalogError> {
        self.modify(|model| {
            check_new_path(path)?;
            let snapshot = model.cat(arch)?.clone();
            let positions: Vec<usize> = snapshot
                .iter()
                .enumerate()
                .filter(|(_, it)| it.provider() == *id)
                .map(|(i, _)| i)
                .collect();
            if positions.is_empty() {
                return Err(CatalogError::invalid(format!(
                    "provider {} is not installed in the {}-bit catalog",
                    id,
                    arch.bits()
                )));
            }
            if positions.len() != infos.len() {
                return Err(CatalogError::invalid(format!(
                    "provider {} has {} entries in the {}-bit catalog; the update gives {}",
                    id,
                    positions.len(),
                    arch.bits(),
                    infos.len()
                )));
            }
            let items = model.cat_mut(arch)?;
            for (&pos, info) in positions.iter().zip(infos) {
                let mut info = info.clone();
                info.set_provider_id(*id);
                info.set_catalog_entry_id(snapshot[pos].id());
                check_chain_targets(&info, &snapshot, arch)?;
                items[pos].replace(Entry {
                    path: path.to_owned(),
                    info,
                })?;
            }
            Ok(())
        })
    }

    fn get_provider_path(&self, id: &Guid, arch: Arch) -> Result<String, CatalogError> {
        let (_, model) = self.read()?;
        model
            .cat(arch)?
            .iter()
            .find(|it| it.provider() == *id)
            .map(|it| it.entry.path.clone())
            .ok_or_else(|| {
                CatalogError::invalid(format!(
                    "provider {} is not installed in the {}-bit catalog",
                    id,
                    arch.bits()
                ))
            })
    }

    fn set_application_category(
        &self,
        path: &str,
        args: &str,
        categories: u32,
    ) -> Result<(), CatalogError> {
        if path.is_empty() || path.chars().count() >= PATH_FIELD_LEN {
            return Err(CatalogError::invalid(format!(
                "application path '{}' must be 1..={} characters",
                path,
                PATH_FIELD_LEN - 1
            )));
        }
        let old = self.store.read()?;
        // Validate the protocol catalogs too: a corrupted catalog is reported, never rewritten.
        Model::load(&old, &self.store.catalogs(&old))?;
        let mut new = old.clone();
        let existing = app_key(&new, path, args);
        let key = match existing {
            Some(k) => k,
            None => {
                let upper = path.to_uppercase();
                let hash = fnv1a(
                    upper
                        .encode_utf16()
                        .chain(Some(0))
                        .chain(args.encode_utf16()),
                );
                let mut h = hash;
                while new.has_key(&format!("{}\\{:08X}", APP_IDS, h)) {
                    h = h.wrapping_add(1);
                }
                format!("{}\\{:08X}", APP_IDS, h)
            }
        };
        new.set_value(&key, "AppFullPath", Value::string(path));
        new.set_value(&key, "AppArgs", Value::string(args));
        new.set_value(&key, "PermittedLspCategories", Value::dword(categories));
        self.store.commit(&old, &new)
    }

    fn application_category(&self, path: &str, args: &str) -> Result<Option<u32>, CatalogError> {
        let (tree, _) = self.read()?;
        Ok(app_key(&tree, path, args)
            .and_then(|k| tree.value(&k, "PermittedLspCategories"))
            .and_then(|v| v.as_dword()))
    }

    fn set_provider_categories(
        &self,
        id: &Guid,
        arch: Arch,
        categories: u32,
    ) -> Result<(), CatalogError> {
        self.modify(|model| {
            let mut found = false;
            for it in model.cat_mut(arch)?.iter_mut() {
                if it.provider() == *id {
                    it.set_categories(categories);
                    found = true;
                }
            }
            if !found {
                return Err(CatalogError::invalid(format!(
                    "provider {} is not installed in the {}-bit catalog",
                    id,
                    arch.bits()
                )));
            }
            Ok(())
        })
    }

    fn provider_categories(&self, id: &Guid, arch: Arch) -> Result<u32, CatalogError> {
        let (_, model) = self.read()?;
        model
            .cat(arch)?
            .iter()
            .find(|it| it.provider() == *id)
            .map(|it| it.categories())
            .ok_or_else(|| {
                CatalogError::invalid(format!(
                    "provider {} is not installed in the {}-bit catalog",
                    id,
                    arch.bits()
                ))
            })
    }

    fn enum_namespaces(&self, arch: Arch) -> Result<Vec<NamespaceEntry>, CatalogError> {
        let tree = self.store.read()?;
        let archs = self.store.catalogs(&tree);
        if !archs.contains(&arch) {
            return Err(no_catalog(arch, &archs));
        }
        Ok(read_namespaces(&tree, arch))
    }

    fn backup(&self) -> Result<String, CatalogError> {
        let (tree, _) = self.read()?;
        Ok(tree.to_reg())
    }

    fn restore(&self, text: &str) -> Result<(), CatalogError> {
        let new = Tree::from_reg(text).map_err(|e| e.context("backup"))?;
        Model::load(&new, &self.store.catalogs(&new)).map_err(|e| {
            CatalogError::invalid(format!(
                "backup holds a corrupted catalog, nothing restored: {}",
                e.message()
            ))
        })?;
        if !new.has_key(PROTOCOLS) {
            return Err(CatalogError::invalid(format!(
                "backup has no {} key, nothing restored",
                PROTOCOLS
            )));
        }
        let old = self.store.read()?;
        self.store.commit(&old, &new)
    }

    fn describe(&self) -> String {
        self.store.describe()
    }
}

/// The entries of catalog `arch` in `tree`, in order (an error naming the key if corrupted).
pub(crate) fn entries_in(tree: &Tree, arch: Arch) -> Result<Vec<Entry>, CatalogError> {
    let model = Model::load(tree, &[arch])?;
    Ok(model.cat(arch)?.iter().map(|it| it.entry.clone()).collect())
}

/// The namespace providers of catalog `arch` in `tree` (missing values read as zero/empty).
pub(crate) fn read_namespaces(tree: &Tree, arch: Arch) -> Vec<NamespaceEntry> {
    let base = format!("{}\\{}", NAMESPACES, arch.entries_key());
    tree.subkeys(&base)
        .into_iter()
        .map(|k| {
            let key = format!("{}\\{}", base, k);
            let s = |n: &str| {
                tree.value(&key, n)
                    .and_then(|v| v.as_string())
                    .unwrap_or_default()
            };
            let d = |n: &str| tree.value(&key, n).and_then(|v| v.as_dword()).unwrap_or(0);
            let mut provider_id = Guid::NIL;
            if let Some(v) = tree.value(&key, "ProviderId") {
                if v.data.len() == 16 {
                    provider_id.0.copy_from_slice(&v.data);
                }
            }
            NamespaceEntry {
                path: s("LibraryPath"),
                display: s("DisplayString"),
                provider_id,
                address_family: d("AddressFamily"),
                namespace: d("SupportedNameSpace"),
                enabled: d("Enabled") != 0,
                version: d("Version"),
                key: k,
            }
        })
        .collect()
}
