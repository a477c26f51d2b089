//! Restoring a backup through the WSC* operations alone ([`restore_by_operations`]): how a
//! catalog is restored where the registry must not be written directly (real Windows).

use std::collections::BTreeSet;

use crate::backend::{Arch, Backend, Catalogs};
use crate::entry::Entry;
use crate::error::CatalogError;
use crate::guid::Guid;
use crate::info::ProtocolInfo;
use crate::reg::Tree;

/// An entry's place independent of catalog ids: its provider and its index among that
/// provider's entries in id (install) order.
type Symbol = (Guid, usize);

/// One catalog: its entries in catalog order.
type Catalog = (Arch, Vec<Entry>);

fn symbol_of(entries: &[Entry], id: u32) -> Option<Symbol> {
    let e = entries.iter().find(|e| e.info.catalog_entry_id() == id)?;
    let g = e.info.provider_id();
    let k = of_provider(entries, &g)
        .iter()
        .position(|x| x.info.catalog_entry_id() == id)?;
    Some((g, k))
}

fn id_of(entries: &[Entry], s: &Symbol) -> Option<u32> {
    of_provider(entries, &s.0)
        .get(s.1)
        .map(|e| e.info.catalog_entry_id())
}

/// The entries of provider `g`, by catalog id.
fn of_provider<'a>(entries: &'a [Entry], g: &Guid) -> Vec<&'a Entry> {
    let mut v: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.info.provider_id() == *g)
        .collect();
    v.sort_by_key(|e| e.info.catalog_entry_id());
    v
}

/// What must match for an installed provider to count as the backup's: path and every byte of
/// each entry except its catalog id, and its chain as symbols.
fn signature(entries: &[Entry], g: &Guid) -> Vec<(String, Vec<u8>, Vec<Option<Symbol>>)> {
    of_provider(entries, g)
        .into_iter()
        .map(|e| {
            let mut info = e.info.clone();
            let chain: Vec<Option<Symbol>> = if info.chain_len() >= 2 {
                info.chain_entries()
                    .iter()
                    .map(|c| symbol_of(entries, *c))
                    .collect()
            } else {
                Vec::new()
            };
            info.set_catalog_entry_id(0);
            if e.info.chain_len() >= 2 {
                info.set_chain(e.info.chain_len(), &[]);
            }
            (e.path.clone(), info.as_bytes().to_vec(), chain)
        })
        .collect()
}

fn providers(cats: &[Catalog]) -> BTreeSet<Guid> {
    cats.iter()
        .flat_map(|(_, es)| es.iter().map(|e| e.info.provider_id()))
        .collect()
}

fn find(cats: &[Catalog], arch: Arch) -> &[Entry] {
    cats.iter()
        .find(|(a, _)| *a == arch)
        .map(|(_, e)| e.as_slice())
        .unwrap_or(&[])
}

fn current(b: &dyn Backend, archs: &[Arch]) -> Result<Vec<Catalog>, CatalogError> {
    archs
        .iter()
        .map(|&a| Ok((a, b.enum_protocols(a)?)))
        .collect()
}

/// Whether provider `g` is installed as the target has it, in every catalog.
fn same(cur: &[Catalog], want: &[Catalog], archs: &[Arch], g: &Guid) -> bool {
    archs
        .iter()
        .all(|&a| signature(find(cur, a), g) == signature(find(want, a), g))
}

/// Whether an entry of another provider in `cats` chains through an entry of `g`.
fn depended_on(cats: &[Catalog], g: &Guid, among: Option<&BTreeSet<Guid>>) -> Option<Guid> {
    for (_, es) in cats {
        let ids: Vec<u32> = of_provider(es, g)
            .iter()
            .map(|e| e.info.catalog_entry_id())
            .collect();
        for e in es {
            let h = e.info.provider_id();
            if h == *g || among.map(|s| !s.contains(&h)).unwrap_or(false) {
                continue;
            }
            if e.info.chain_len() >= 2 && e.info.chain_entries().iter().any(|c| ids.contains(c)) {
                return Some(h);
            }
        }
    }
    None
}

fn catalogs_of(cats: &[Catalog], g: &Guid) -> Vec<Arch> {
    cats.iter()
        .filter(|(_, es)| es.iter().any(|e| e.info.provider_id() == *g))
        .map(|(a, _)| *a)
        .collect()
}

/// Makes the catalogs `archs` of `b` hold exactly `want`, by removing the providers that differ
/// (dependents first), installing the missing ones (what they chain through first, chains
/// renumbered to the new ids) and writing each catalog's order.
fn apply(b: &dyn Backend, archs: &[Arch], want: &[Catalog]) -> Result<(), CatalogError> {
    let cur = current(b, archs)?;
    let mut remove: BTreeSet<Guid> = providers(&cur)
        .into_iter()
        .filter(|g| !same(&cur, want, archs, g))
        .collect();
    // What chains through a provider that goes must go too (and come back if the target has it).
    loop {
        let extra: Vec<Guid> = providers(&cur)
            .into_iter()
            .filter(|h| !remove.contains(h))
            .filter(|h| remove.iter().any(|g| depends(&cur, h, g)))
            .collect();
        if extra.is_empty() {
            break;
        }
        remove.extend(extra);
    }
    let mut install: BTreeSet<Guid> = providers(want)
        .into_iter()
        .filter(|g| remove.contains(g) || !providers(&cur).contains(g))
        .collect();
    while !remove.is_empty() {
        let now = current(b, archs)?;
        let next = remove
            .iter()
            .copied()
            .find(|g| depended_on(&now, g, None).is_none())
            .ok_or_else(|| {
                CatalogError::invalid("providers chain through each other in a cycle")
            })?;
        let cats = catalogs_of(&now, &next);
        let which = if cats.len() == 2 {
            Catalogs::Both
        } else {
            Catalogs::Only(cats[0])
        };
        b.deinstall_provider(&next, which)?;
        remove.remove(&next);
    }
    while !install.is_empty() {
        let now = current(b, archs)?;
        // A provider is ready when every entry its chains name is installed.
        let ready = install.iter().copied().find(|g| {
            archs.iter().all(|&a| {
                let w = find(want, a);
                of_provider(w, g).iter().all(|e| {
                    e.info.chain_len() < 2
                        || e.info.chain_entries().iter().all(|c| {
                            symbol_of(w, *c)
                                .map(|s| s.0 != *g && id_of(find(&now, a), &s).is_some())
                                .unwrap_or(false)
                        })
                })
            })
        });
        let g = ready.ok_or_else(|| {
            CatalogError::invalid(
                "the backup has protocol chains through entries it does not hold; nothing more can be installed",
            )
        })?;
        let mut per_arch: Vec<(Arch, String, Vec<ProtocolInfo>)> = Vec::new();
        for &a in archs {
            let w = find(want, a);
            let es = of_provider(w, &g);
            if es.is_empty() {
                continue;
            }
            let mut infos = Vec::new();
            for e in &es {
                let mut info = e.info.clone();
                if info.chain_len() >= 2 {
                    let mapped: Vec<u32> = info
                        .chain_entries()
                        .iter()
                        .filter_map(|c| symbol_of(w, *c))
                        .filter_map(|s| id_of(find(&now, a), &s))
                        .collect();
                    info.set_chain(info.chain_len(), &mapped);
                }
                infos.push(info);
            }
            per_arch.push((a, es[0].path.clone(), infos));
        }
        if per_arch.len() == 2 && per_arch[0].1 == per_arch[1].1 && per_arch[0].2 == per_arch[1].2 {
            b.install_provider(&g, &per_arch[0].1, &per_arch[0].2, Catalogs::Both)?;
        } else {
            for (a, path, infos) in &per_arch {
                b.install_provider(&g, path, infos, Catalogs::Only(*a))?;
            }
        }
        install.remove(&g);
    }
    let now = current(b, archs)?;
    for &a in archs {
        let w = find(want, a);
        let order: Vec<u32> = w
            .iter()
            .filter_map(|e| symbol_of(w, e.info.catalog_entry_id()))
            .filter_map(|s| id_of(find(&now, a), &s))
            .collect();
        let have: Vec<u32> = find(&now, a)
            .iter()
            .map(|e| e.info.catalog_entry_id())
            .collect();
        if order != have {
            b.write_provider_order(a, &order)?;
        }
    }
    Ok(())
}

/// Whether provider `h` chains through an entry of provider `g` in `cats`.
fn depends(cats: &[Catalog], h: &Guid, g: &Guid) -> bool {
    let mut only = BTreeSet::new();
    only.insert(*h);
    depended_on(cats, g, Some(&only)).is_some()
}

/// Restores `backup` (`.reg` text of the `Parameters` tree) through `b`'s WSC* operations
/// alone: the providers that differ from the backup are removed (layers before what they sit
/// on), the backup's missing providers installed (what they chain through first, chains
/// renumbered to the new catalog ids) and each catalog's order written. Catalog ids are new for
/// re-installed entries; everything else matches the backup.
///
/// This is several operations, not one: if one fails, the catalog is put back the same way and
/// the error says whether that worked. A backup that does not parse or holds a corrupted entry
/// changes nothing. `Wsc`'s `restore` is this function.
pub fn restore_by_operations(b: &dyn Backend, backup: &str) -> Result<(), CatalogError> {
    let tree = Tree::from_reg(backup).map_err(|e| e.context("backup"))?;
    let archs = b.catalogs()?;
    let mut want = Vec::new();
    for &a in &archs {
        let entries = crate::catalog::entries_in(&tree, a).map_err(|e| {
            CatalogError::invalid(format!(
                "backup holds a corrupted catalog, nothing restored: {}",
                e.message()
            ))
        })?;
        want.push((a, entries));
    }
    let original = current(b, &archs)?;
    match apply(b, &archs, &want) {
        Ok(()) => Ok(()),
        Err(e) => match apply(b, &archs, &original) {
            Ok(()) => Err(e.context("restore failed; the catalog was put back as it was")),
            Err(e2) => Err(e.context(format!(
                "restore failed, and putting the catalog back failed too ({})",
                e2
            ))),
        },
    }
}
