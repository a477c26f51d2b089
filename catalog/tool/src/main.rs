//! `wsp-catalog`: list, install, remove, reorder, verify, back up and restore the Winsock
//! catalog.
//!
//! ```text
//! wsp-catalog [--file PATH] COMMAND ...
//!   list [--arch 64|32]             the catalog, like `netsh winsock show catalog`
//!   install DLL [--name NAME] [--arch 64|32|both] [--position N] [--guid GUID] [--path STORED]
//!   install DLL --layer [--over ID,...] [--category CATS] [--name NAME] [--arch 64|32|both]
//!               [--guid GUID]       a layered provider: its hidden layered entry and one chain
//!                                   per entry it goes over (default: every visible entry of a
//!                                   protocol it declares; an IFS layer goes over IFS entries
//!                                   only), each with its own GUID, at the front of the order,
//!                                   with LSP categories CATS (LSP_PROXY,...)
//!   remove GUID [--arch 64|32|both]
//!   remove --layer GUID [--arch 64|32|both]   a layer: its chains and layered entry; chains of
//!                                   layers stacked on it are rewritten to skip it
//!   category APP [CATS] [--args ARGS]   the LSP categories application APP permits: show, or
//!                                   set (`none` for 0)
//!   order [--arch 64|32] ID...
//!   verify                          DLLs exist and export WSPStartup, chains resolve, no gaps
//!   backup FILE | restore FILE [--by-operations]   the whole catalog, as .reg text
//!   init [--32]                     create an empty catalog file (with --file)
//! ```
//! Without `--file` the system's catalog is used (`winsock_catalog::system`). Exit status 0 on
//! success, 1 when the operation failed, 2 on a usage error.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod dll;

use std::path::{Path, PathBuf};
use std::process::exit;

use winsock_catalog::{
    describe_categories, expand_env, parse_categories, Arch, Backend, CatalogError, Catalogs,
    Entry, FileStore, Guid, StoreCatalog, Tree, WSATRY_AGAIN,
};

const USAGE: &str = "usage: wsp-catalog [--file PATH] COMMAND
commands:
  list [--arch 64|32]
  install DLL [--name NAME] [--arch 64|32|both] [--position N] [--guid GUID] [--path STORED_PATH]
  install DLL --layer [--over ID,...] [--category CATS] [--name NAME] [--arch 64|32|both] [--guid GUID] [--path STORED_PATH]
  remove [--layer] GUID [--arch 64|32|both]
  category APP [CATS] [--args ARGS]   (CATS: LSP_SYSTEM,LSP_PROXY,... or none)
  order [--arch 64|32] ID...
  verify
  backup FILE
  restore FILE [--by-operations]
  init [--32]            (with --file: create an empty catalog file)";

/// How many times a change that lost a race with another writer (WSATRY_AGAIN) is retried.
const RETRIES: u32 = 50;

enum Failure {
    Usage(String),
    Failed(String),
}

impl From<CatalogError> for Failure {
    fn from(e: CatalogError) -> Failure {
        Failure::Failed(e.to_string())
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(args) {
        Ok(()) => {}
        Err(Failure::Usage(m)) => {
            eprintln!("wsp-catalog: {}\n{}", m, USAGE);
            exit(2);
        }
        Err(Failure::Failed(m)) => {
            eprintln!("wsp-catalog: {}", m);
            exit(1);
        }
    }
}

/// Options and positional arguments of one command line.
struct Args {
    file: Option<PathBuf>,
    arch: Option<String>,
    name: Option<String>,
    position: Option<usize>,
    guid: Option<Guid>,
    stored_path: Option<String>,
    thirty_two: bool,
    by_operations: bool,
    layer: bool,
    over: Vec<u32>,
    categories: Option<u32>,
    app_args: String,
    positional: Vec<String>,
}

fn parse(args: Vec<String>) -> Result<Args, Failure> {
    let mut a = Args {
        file: None,
        arch: None,
        name: None,
        position: None,
        guid: None,
        stored_path: None,
        thirty_two: false,
        by_operations: false,
        layer: false,
        over: Vec::new(),
        categories: None,
        app_args: String::new(),
        positional: Vec::new(),
    };
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .ok_or_else(|| Failure::Usage(format!("{} needs a value", what)))
        };
        match arg.as_str() {
            "--file" => a.file = Some(PathBuf::from(value("--file")?)),
            "--arch" => a.arch = Some(value("--arch")?),
            "--name" => a.name = Some(value("--name")?),
            "--path" => a.stored_path = Some(value("--path")?),
            "--position" => {
                let v = value("--position")?;
                a.position = Some(v.parse().map_err(|_| {
                    Failure::Usage(format!("--position wants a number, not '{}'", v))
                })?)
            }
            "--guid" => {
                let v = value("--guid")?;
                a.guid = Some(
                    v.parse()
                        .map_err(|e: CatalogError| Failure::Usage(e.to_string()))?,
                )
            }
            "--layer" => a.layer = true,
            "--over" => {
                for id in value("--over")?.split(',') {
                    a.over.push(id.trim().parse().map_err(|_| {
                        Failure::Usage(format!("--over wants catalog ids, not '{}'", id))
                    })?);
                }
            }
            "--category" => {
                let v = value("--category")?;
                a.categories =
                    Some(parse_categories(&v).map_err(|e| Failure::Usage(e.message().to_owned()))?)
            }
            "--args" => a.app_args = value("--args")?,
            "--32" => a.thirty_two = true,
            "--by-operations" => a.by_operations = true,
            "-h" | "--help" => {
                println!("{}", USAGE);
                exit(0);
            }
            s if s.starts_with("--") => {
                return Err(Failure::Usage(format!("unknown option {}", s)))
            }
            _ => a.positional.push(arg),
        }
    }
    Ok(a)
}

fn backend(a: &Args) -> Result<Box<dyn Backend>, Failure> {
    match &a.file {
        Some(p) => Ok(Box::new(StoreCatalog::new(FileStore::open(p)))),
        None => Ok(winsock_catalog::system()?),
    }
}

fn one_arch(a: &Args, cat: &dyn Backend) -> Result<Arch, Failure> {
    match a.arch.as_deref() {
        None => {
            let have = cat.catalogs()?;
            Ok(if have.contains(&Arch::native()) {
                Arch::native()
            } else {
                have.first().copied().unwrap_or(Arch::X86)
            })
        }
        Some("64") => Ok(Arch::X64),
        Some("32") => Ok(Arch::X86),
        Some(o) => Err(Failure::Usage(format!(
            "--arch wants 64 or 32, not '{}'",
            o
        ))),
    }
}

fn catalogs(a: &Args, cat: &dyn Backend) -> Result<Catalogs, Failure> {
    match a.arch.as_deref() {
        None => Ok(Catalogs::all_of(&cat.catalogs()?)),
        Some("both") => Ok(Catalogs::Both),
        Some("64") => Ok(Catalogs::Only(Arch::X64)),
        Some("32") => Ok(Catalogs::Only(Arch::X86)),
        Some(o) => Err(Failure::Usage(format!(
            "--arch wants 64, 32 or both, not '{}'",
            o
        ))),
    }
}

/// Runs a change, retrying while another writer keeps winning the race.
fn retry<T>(mut op: impl FnMut() -> Result<T, CatalogError>) -> Result<T, CatalogError> {
    let mut n = 0;
    loop {
        match op() {
            Err(e) if e.code() == WSATRY_AGAIN && n < RETRIES => {
                n += 1;
                std::thread::sleep(std::time::Duration::from_millis(5 * u64::from(n)));
            }
            r => return r,
        }
    }
}

fn run(args: Vec<String>) -> Result<(), Failure> {
    let mut a = parse(args)?;
    if a.positional.is_empty() {
        return Err(Failure::Usage("no command given".to_owned()));
    }
    let command = a.positional.remove(0);
    let pos = std::mem::take(&mut a.positional);
    let want = |n: usize| -> Result<(), Failure> {
        if pos.len() == n {
            Ok(())
        } else {
            Err(Failure::Usage(format!(
                "'{}' takes {} argument(s), got {}",
                command,
                n,
                pos.len()
            )))
        }
    };
    match command.as_str() {
        "init" => {
            want(0)?;
            let file = a
                .file
                .as_ref()
                .ok_or_else(|| Failure::Usage("init needs --file PATH".to_owned()))?;
            FileStore::create(file, !a.thirty_two)?;
            println!(
                "created an empty {}-bit catalog in {}",
                if a.thirty_two { 32 } else { 64 },
                file.display()
            );
            Ok(())
        }
        "list" => {
            want(0)?;
            let cat = backend(&a)?;
            let arch = one_arch(&a, &*cat)?;
            list(&*cat, arch)
        }
        "install" => {
            want(1)?;
            let cat = backend(&a)?;
            install(&a, &*cat, Path::new(&pos[0]))
        }
        "remove" => {
            want(1)?;
            let cat = backend(&a)?;
            let id: Guid = pos[0]
                .parse()
                .map_err(|e: CatalogError| Failure::Usage(e.to_string()))?;
            let which = catalogs(&a, &*cat)?;
            if a.layer {
                retry(|| cat.deinstall_layer(&id, which))?;
                println!("removed layer {} ({})", id, cat.describe());
            } else {
                retry(|| cat.deinstall_provider(&id, which))?;
                println!("removed provider {} ({})", id, cat.describe());
            }
            Ok(())
        }
        "category" => {
            if pos.is_empty() || pos.len() > 2 {
                return Err(Failure::Usage(format!(
                    "'category' takes APP and optionally CATS, got {} argument(s)",
                    pos.len()
                )));
            }
            let cat = backend(&a)?;
            if let Some(text) = pos.get(1) {
                let wanted =
                    parse_categories(text).map_err(|e| Failure::Usage(e.message().to_owned()))?;
                retry(|| cat.set_application_category(&pos[0], &a.app_args, wanted))?;
                println!(
                    "{} now permits the LSP categories {}",
                    pos[0],
                    describe_categories(wanted)
                );
            } else {
                match cat.application_category(&pos[0], &a.app_args)? {
                    Some(c) => println!("{}: {}", pos[0], describe_categories(c)),
                    None => println!("{}: not categorized (loads every layer)", pos[0]),
                }
            }
            Ok(())
        }
        "order" => {
            let cat = backend(&a)?;
            let arch = one_arch(&a, &*cat)?;
            let mut ids = Vec::new();
            for p in &pos {
                ids.push(p.parse::<u32>().map_err(|_| {
                    Failure::Usage(format!("catalog ids are numbers, not '{}'", p))
                })?);
            }
            cat.write_provider_order(arch, &ids)?;
            println!("wrote the order of the {}-bit catalog", arch.bits());
            Ok(())
        }
        "verify" => {
            want(0)?;
            let cat = backend(&a)?;
            verify(&*cat)
        }
        "backup" => {
            want(1)?;
            let cat = backend(&a)?;
            let text = cat.backup()?;
            std::fs::write(&pos[0], text.as_bytes())
                .map_err(|e| Failure::Failed(format!("cannot write {}: {}", pos[0], e)))?;
            println!("backed up {} to {}", cat.describe(), pos[0]);
            Ok(())
        }
        "restore" => {
            want(1)?;
            let cat = backend(&a)?;
            let bytes = std::fs::read(&pos[0])
                .map_err(|e| Failure::Failed(format!("cannot read {}: {}", pos[0], e)))?;
            let tree = Tree::from_reg_bytes(&bytes)
                .map_err(|e| Failure::Failed(format!("{}: {} (nothing restored)", pos[0], e)))?;
            if a.by_operations {
                winsock_catalog::restore_by_operations(&*cat, &tree.to_reg())?;
            } else {
                cat.restore(&tree.to_reg())?;
            }
            println!("restored {} from {}", cat.describe(), pos[0]);
            Ok(())
        }
        other => Err(Failure::Usage(format!("unknown command '{}'", other))),
    }
}

fn install(a: &Args, cat: &dyn Backend, dll: &Path) -> Result<(), Failure> {
    let lib = dll::Library::open(dll).map_err(Failure::Failed)?;
    let (own_guid, mut infos) = lib.protocols().map_err(Failure::Failed)?;
    if infos.is_empty() {
        return Err(Failure::Failed(format!(
            "{} declares no protocol entries",
            dll.display()
        )));
    }
    let id = a.guid.unwrap_or(own_guid);
    if a.layer {
        return install_layer(a, cat, dll, id, &infos);
    }
    if a.categories.is_some() {
        return Err(Failure::Usage(
            "--category is for layers (install --layer)".to_owned(),
        ));
    }
    if let Some(name) = &a.name {
        let single = infos.len() == 1;
        for info in &mut infos {
            let n = if single {
                name.clone()
            } else {
                format!("{} {}", name, info.name())
            };
            info.set_name(&n);
        }
    }
    let stored = match &a.stored_path {
        Some(p) => p.clone(),
        None => absolute(dll),
    };
    let which = catalogs(a, cat)?;
    let ids = retry(|| cat.install_provider_at(&id, &stored, &infos, which, a.position))?;
    println!(
        "installed provider {} ({} entries, ids {:?}) from {} into {}",
        id,
        infos.len(),
        ids,
        stored,
        cat.describe()
    );
    Ok(())
}

/// `install --layer`: the layer's hidden entry (GUID `id`) and its chains (each with its own
/// GUID derived from `id` and the entry below, as the layer's own `DllRegisterServer` installs
/// them) over `--over`, or over every visible entry whose family, type and protocol one of
/// `declared` has; with `--category`, the layer's LSP categories.
fn install_layer(
    a: &Args,
    cat: &dyn Backend,
    dll: &Path,
    id: Guid,
    declared: &[winsock_catalog::ProtocolInfo],
) -> Result<(), Failure> {
    let which = catalogs(a, cat)?;
    // An IFS layer (its entries carry XP1_IFS_HANDLES) sits over IFS entries only.
    let ifs = declared
        .iter()
        .any(|d| d.service_flags1() & winsock_catalog::XP1_IFS_HANDLES != 0);
    let over = if a.over.is_empty() {
        let arch = one_arch(a, cat)?;
        let found: Vec<u32> = cat
            .enum_protocols(arch)?
            .iter()
            .filter(|e| e.info.chain_len() >= 1 && !e.info.is_hidden())
            .filter(|e| {
                declared.iter().any(|d| {
                    d.address_family() == e.info.address_family()
                        && d.socket_type() == e.info.socket_type()
                        && d.protocol() == e.info.protocol()
                })
            })
            .filter(|e| !ifs || e.info.service_flags1() & winsock_catalog::XP1_IFS_HANDLES != 0)
            .map(|e| e.info.catalog_entry_id())
            .collect();
        if found.is_empty() {
            return Err(Failure::Failed(format!(
                "the catalog has no entry of a protocol {} declares{}",
                dll.display(),
                if ifs {
                    " with IFS handles (an IFS layer can only sit over IFS providers)"
                } else {
                    ""
                }
            )));
        }
        found
    } else {
        a.over.clone()
    };
    let name = match &a.name {
        Some(n) => n.clone(),
        None => dll
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Layer".to_owned()),
    };
    let spec = winsock_catalog::LayerSpec {
        layer_id: id,
        path: match &a.stored_path {
            Some(p) => p.clone(),
            None => absolute(dll),
        },
        name,
        over,
        ifs,
        categories: a.categories.unwrap_or(0),
    };
    let ids = retry(|| cat.install_provider_and_chains(&spec, which))?;
    let entries = cat.enum_protocols(which.resolve(&cat.catalogs()?)?[0])?;
    let chains: Vec<String> = entries
        .iter()
        .filter(|e| ids[1..].contains(&e.info.catalog_entry_id()))
        .map(|e| format!("{} {}", e.info.catalog_entry_id(), e.info.provider_id()))
        .collect();
    println!(
        "installed layer {} (id {}; chains {}; categories {}) from {} into {}",
        id,
        ids[0],
        chains.join(", "),
        describe_categories(spec.categories),
        spec.path,
        cat.describe()
    );
    Ok(())
}

fn absolute(p: &Path) -> String {
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    full.display().to_string()
}

fn entry_type(e: &Entry) -> &'static str {
    let i = &e.info;
    if i.is_layered() {
        "Layered Service Provider (hidden layered entry)"
    } else if i.is_base() {
        "Base Service Provider"
    } else {
        "Layered Chain Entry"
    }
}

fn list(cat: &dyn Backend, arch: Arch) -> Result<(), Failure> {
    let entries = cat.enum_protocols(arch)?;
    println!(
        "{}-bit protocol catalog of {}: {} entries",
        arch.bits(),
        cat.describe(),
        entries.len()
    );
    let name_of = |id: u32| {
        entries
            .iter()
            .find(|e| e.info.catalog_entry_id() == id)
            .map(|e| e.info.name())
            .unwrap_or_else(|| "MISSING".to_owned())
    };
    for e in &entries {
        let i = &e.info;
        println!();
        println!("Winsock Catalog Provider Entry");
        println!("------------------------------------------------------");
        println!("Entry Type:                         {}", entry_type(e));
        println!("Description:                        {}", i.name());
        println!("Provider ID:                        {}", i.provider_id());
        println!("Provider Path:                      {}", e.path);
        println!(
            "Catalog Entry ID:                   {}",
            i.catalog_entry_id()
        );
        println!("Version:                            {}", i.version());
        println!("Address Family:                     {}", i.address_family());
        println!("Max Address Length:                 {}", i.max_sockaddr());
        println!("Min Address Length:                 {}", i.min_sockaddr());
        println!("Socket Type:                        {}", i.socket_type());
        println!("Protocol:                           {}", i.protocol());
        println!(
            "Protocol Max Offset:                {}",
            i.protocol_max_offset()
        );
        println!(
            "Service Flags:                      0x{:x}",
            i.service_flags1()
        );
        println!(
            "Provider Flags:                     0x{:x}",
            i.provider_flags()
        );
        println!("Hidden:                             {}", i.is_hidden());
        if !i.is_base() {
            if let Ok(c) = cat.provider_categories(&i.provider_id(), arch) {
                println!(
                    "LSP Categories:                     {}",
                    describe_categories(c)
                );
            }
        }
        println!("Protocol Chain Length:              {}", i.chain_len());
        if i.chain_len() >= 2 {
            let chain: Vec<String> = i
                .chain_entries()
                .iter()
                .map(|c| format!("{} ({})", c, name_of(*c)))
                .collect();
            println!("Protocol Chain:                     {}", chain.join(" -> "));
        }
    }
    let ns = cat.enum_namespaces(arch)?;
    println!();
    println!(
        "{}-bit namespace catalog: {} entries",
        arch.bits(),
        ns.len()
    );
    for n in &ns {
        println!();
        println!("Name Space Provider Entry");
        println!("------------------------------------------------------");
        println!("Description:                        {}", n.display);
        println!("Provider ID:                        {}", n.provider_id);
        println!("Name Space:                         {}", n.namespace);
        println!("Address Family:                     {}", n.address_family);
        println!("Active:                             {}", n.enabled);
        println!("Version:                            {}", n.version);
        println!("Path:                               {}", n.path);
    }
    Ok(())
}

fn verify(cat: &dyn Backend) -> Result<(), Failure> {
    let mut problems: Vec<String> = Vec::new();
    let mut checked = 0;
    for arch in cat.catalogs()? {
        // Reading the catalog checks the layout: contiguous keys, counts, item sizes, chain
        // lengths.
        let entries = match cat.enum_protocols(arch) {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("{}-bit catalog: {}", arch.bits(), e));
                continue;
            }
        };
        let mut loaded: Vec<(String, Result<(), String>)> = Vec::new();
        for e in &entries {
            checked += 1;
            let who = format!(
                "{}-bit entry {} \"{}\"",
                arch.bits(),
                e.info.catalog_entry_id(),
                e.info.name()
            );
            if entries
                .iter()
                .filter(|o| o.info.catalog_entry_id() == e.info.catalog_entry_id())
                .count()
                > 1
            {
                problems.push(format!("{}: catalog id used more than once", who));
            }
            if e.info.chain_len() >= 2 {
                for (k, c) in e.info.chain_entries().iter().enumerate() {
                    match entries.iter().find(|o| o.info.catalog_entry_id() == *c) {
                        None => problems.push(format!(
                            "{}: its chain names catalog id {}, which does not exist",
                            who, c
                        )),
                        Some(o) if k == 0 && !o.info.is_layered() => problems.push(format!(
                            "{}: its chain starts at {}, which is not a layered entry",
                            who, c
                        )),
                        Some(_) => {}
                    }
                }
            }
            let expanded = expand_env(&e.path);
            if !Path::new(&expanded).is_file() {
                problems.push(format!(
                    "{}: library {} ({}) does not exist",
                    who, e.path, expanded
                ));
                continue;
            }
            if arch != Arch::native() {
                continue;
            }
            let result = match loaded.iter().find(|(p, _)| *p == expanded) {
                Some((_, r)) => r.clone(),
                None => {
                    let r = dll::Library::open(Path::new(&expanded)).and_then(|l| {
                        if l.has("WSPStartup") {
                            Ok(())
                        } else {
                            Err(format!("{} does not export WSPStartup", expanded))
                        }
                    });
                    loaded.push((expanded.clone(), r.clone()));
                    r
                }
            };
            if let Err(m) = result {
                problems.push(format!("{}: {}", who, m));
            }
        }
    }
    if problems.is_empty() {
        println!(
            "catalog OK: {} entries checked ({})",
            checked,
            cat.describe()
        );
        Ok(())
    } else {
        for p in &problems {
            println!("PROBLEM {}", p);
        }
        Err(Failure::Failed(format!(
            "{} problem(s) in {}",
            problems.len(),
            cat.describe()
        )))
    }
}
