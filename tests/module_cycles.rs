//! No module cycle in `runtime/src` or `standin/src`, at any level: the modules inside each
//! folder (and the top-level modules) depend on each other one way only.
//!
//! Every file is read for the paths it uses (`use` trees and paths in code: `crate::...`,
//! `super::...`, `self::...`, and a `use` of a child module by its name). A path is charged to
//! the module it names (a glob `use x::*` to `x`); a name a module re-exports to the module it
//! comes from. Inside a folder, a use between two of its modules (or their descendants, inline
//! test modules included) is an edge between those two; uses of the folder's own root
//! (`mod.rs`) do not count. The tests fail on a cycle, naming it, and on a `crate::` name they
//! cannot place.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A module path from the crate root: `[]` is the root, `["host", "registry"]` is
/// `crate::host::registry`.
type ModPath = Vec<String>;

/// The source without comments (line and block comments), keeping string literals.
fn strip_comments(src: &str) -> String {
    let bytes = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let mut in_str = false;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if in_str {
            out.push(c);
            if c == '\\' && i + 1 < bytes.len() {
                out.push(bytes[i + 1] as char);
                i += 2;
                continue;
            }
            if c == '"' {
                in_str = false;
            }
            i += 1;
        } else if src[i..].starts_with("//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if src[i..].starts_with("/*") {
            i = src[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |e| i + 2 + e + 2);
        } else {
            if c == '"' && !(i > 0 && bytes[i - 1] == b'\'') {
                in_str = true;
            }
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands a use tree (`a::{b, c::{d, e}}`, `a::b as c`, `a::*`) into its paths.
fn expand_tree(tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim();
    let (head, group) = match tree.find('{') {
        Some(open) => {
            let close = tree.rfind('}').unwrap_or(tree.len());
            (&tree[..open], Some(&tree[open + 1..close]))
        }
        None => (tree, None),
    };
    let head = head.split(" as ").next().unwrap_or(head);
    let prefix: Vec<String> = head
        .split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let group = match group {
        Some(group) => group,
        None => return vec![prefix],
    };
    let mut items = Vec::new();
    let mut depth = 0;
    let mut item = String::new();
    for c in group.chars() {
        match c {
            '{' => {
                depth += 1;
                item.push(c);
            }
            '}' => {
                depth -= 1;
                item.push(c);
            }
            ',' if depth == 0 => items.push(std::mem::take(&mut item)),
            _ => item.push(c),
        }
    }
    items.push(item);
    let mut paths = Vec::new();
    for item in items.iter().filter(|i| !i.trim().is_empty()) {
        for tail in expand_tree(item) {
            let mut path = prefix.clone();
            path.extend(tail.into_iter().filter(|s| s != "self"));
            paths.push(path);
        }
    }
    paths
}

/// The `use` statements of `code`: (is it a `pub`/`pub(...)` re-export, its paths).
fn use_statements(code: &str) -> Vec<(bool, Vec<Vec<String>>)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("use ") {
        let start = from + at;
        from = start + 4;
        let before = code[..start].chars().next_back();
        if before.is_some_and(is_ident) {
            continue;
        }
        let line_start = code[..start]
            .rfind(['\n', ';', '{', '}'])
            .map_or(0, |p| p + 1);
        let lead = code[line_start..start].trim();
        let public = lead.starts_with("pub");
        if !(lead.is_empty() || public || lead.starts_with("#[")) {
            continue;
        }
        let end = match code[from..].find(';') {
            Some(end) => from + end,
            None => break,
        };
        found.push((public, expand_tree(&code[from..end])));
        from = end;
    }
    found
}

/// The paths after `crate::`, `super::` and `self::` outside `use` statements.
fn code_paths(code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for prefix in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(prefix) {
            let start = from + at;
            from = start + prefix.len();
            let before = code[..start].chars().next_back();
            if before.is_some_and(|c| is_ident(c) || c == '$' || c == ':') {
                continue;
            }
            let mut path = vec![prefix.trim_end_matches("::").to_owned()];
            let mut rest = &code[from..];
            loop {
                let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
                if name.is_empty() || name == "super" && path.last().is_some_and(|p| p != "super") {
                    break;
                }
                rest = &rest[name.len()..];
                path.push(name);
                match rest.strip_prefix("::") {
                    Some(more) if !more.starts_with('{') && !more.starts_with('*') => rest = more,
                    _ => break,
                }
            }
            if path.len() > 1 {
                found.push(path);
            }
        }
    }
    found
}

/// One source file: its module path, and whether it is the module's root file (`lib.rs`,
/// `mod.rs`) rather than a leaf.
struct File {
    module: ModPath,
    code: String,
}

/// The module path of a file at `rel` (relative to `src`, `/`-separated).
fn module_of(rel: &str) -> ModPath {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod") | Some("lib")) {
        parts.pop();
    }
    parts
}

/// Uses between modules: (user, used), both module paths.
struct Uses {
    modules: BTreeSet<ModPath>,
    edges: BTreeSet<(ModPath, ModPath)>,
}

/// Makes `path` (as written in `module`) absolute: `crate`, `super` and `self` resolved, a
/// leading child-module name taken as relative.
fn absolute(module: &ModPath, path: &[String], modules: &BTreeSet<ModPath>) -> Option<ModPath> {
    let mut base = module.clone();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        Some(first) => {
            let mut child = module.clone();
            child.push(first.to_owned());
            if !modules.contains(&child) {
                return None;
            }
        }
        None => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The module an absolute path names, following re-exports; `Err(name)` for a name at the
/// crate root that nothing accounts for, `Ok(None)` for a name that comes from another crate.
fn resolve(
    path: &ModPath,
    modules: &BTreeSet<ModPath>,
    exports: &BTreeMap<ModPath, BTreeMap<String, Option<ModPath>>>,
    depth: usize,
) -> Result<Option<ModPath>, String> {
    let mut owner = Vec::new();
    for n in 0..=path.len() {
        if modules.contains(&path[..n].to_vec()) {
            owner = path[..n].to_vec();
        } else {
            break;
        }
    }
    let item = match path.get(owner.len()) {
        Some(item) => item,
        None => return Ok(Some(owner)),
    };
    if item == "*" {
        // A glob names the module it reads.
        return Ok(Some(owner));
    }
    match exports.get(&owner).and_then(|e| e.get(item)) {
        Some(Some(target)) if depth < 8 => {
            let mut next = target.clone();
            next.extend(path[owner.len() + 1..].iter().cloned());
            resolve(&next, modules, exports, depth + 1)
        }
        Some(Some(_)) => Ok(Some(owner)),
        Some(None) => Ok(None),
        None if owner.is_empty() => Err(item.clone()),
        None => Ok(Some(owner)),
    }
}

/// The uses between the modules of `files` (paths relative to `src`, and their sources), or
/// the `crate::` names nothing accounts for.
fn uses_of(files: &[(String, String)]) -> Result<Uses, Vec<String>> {
    let files: Vec<(String, File)> = files
        .iter()
        .map(|(rel, src)| {
            (
                rel.clone(),
                File {
                    module: module_of(rel),
                    code: strip_comments(src),
                },
            )
        })
        .collect();
    let modules: BTreeSet<ModPath> = files.iter().map(|(_, f)| f.module.clone()).collect();
    // Re-exports and exported macros: module → name → where it comes from (None: another
    // crate).
    let mut exports: BTreeMap<ModPath, BTreeMap<String, Option<ModPath>>> = BTreeMap::new();
    for (_, f) in &files {
        for (public, paths) in use_statements(&f.code) {
            if !public {
                continue;
            }
            for path in paths {
                let name = match path.last() {
                    Some(name) if name != "*" => name.clone(),
                    _ => continue,
                };
                let source = absolute(&f.module, &path[..path.len() - 1], &modules);
                exports
                    .entry(f.module.clone())
                    .or_default()
                    .insert(name, source);
            }
        }
        let mut rest = f.code.as_str();
        while let Some(at) = rest.find("#[macro_export]") {
            rest = &rest[at + "#[macro_export]".len()..];
            if let Some(m) = rest.find("macro_rules!") {
                let name: String = rest[m + "macro_rules!".len()..]
                    .trim_start()
                    .chars()
                    .take_while(|&c| is_ident(c))
                    .collect();
                exports
                    .entry(Vec::new())
                    .or_default()
                    .insert(name, Some(f.module.clone()));
            }
        }
    }
    let mut edges = BTreeSet::new();
    let mut unplaced = Vec::new();
    for (rel, f) in &files {
        let mut paths: Vec<Vec<String>> = use_statements(&f.code)
            .into_iter()
            .flat_map(|(_, paths)| paths)
            .collect();
        paths.extend(code_paths(&f.code));
        for path in paths {
            let target = match absolute(&f.module, &path, &modules) {
                Some(abs) => resolve(&abs, &modules, &exports, 0),
                None => continue,
            };
            match target {
                Ok(Some(target)) if target != f.module => {
                    edges.insert((f.module.clone(), target));
                }
                Ok(_) => {}
                Err(name) => unplaced.push(format!("{}: crate::{}", rel, name)),
            }
        }
    }
    if unplaced.is_empty() {
        Ok(Uses { modules, edges })
    } else {
        Err(unplaced)
    }
}

/// A cycle among the children of some module (that module, and the children in order with
/// the first repeated at the end), if any.
fn find_cycle(uses: &Uses) -> Option<(ModPath, Vec<String>)> {
    for parent in &uses.modules {
        let child_of = |m: &ModPath| -> Option<String> {
            (m.len() > parent.len() && m.starts_with(parent)).then(|| m[parent.len()].clone())
        };
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in &uses.edges {
            if let (Some(a), Some(b)) = (child_of(from), child_of(to)) {
                if a != b {
                    graph.entry(a).or_default().insert(b);
                }
            }
        }
        if let Some(cycle) = cycle_in(&graph) {
            return Some((parent.clone(), cycle));
        }
    }
    None
}

/// A cycle in a directed graph, its nodes in order with the first repeated at the end.
fn cycle_in(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

/// Every `.rs` file under `dir`, as (path relative to `root` with `/`, source).
fn read_sources(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {}", dir.display(), e))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_sources(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under src");
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let src = fs::read_to_string(&path).expect("source file");
            out.push((rel.join("/"), src));
        }
    }
}

fn describe(uses: &Uses) -> String {
    let lines: Vec<String> = uses
        .edges
        .iter()
        .map(|(a, b)| format!("{} -> {}", a.join("::"), b.join("::")))
        .collect();
    lines.join("\n  ")
}

/// The uses of crate `dir` (a crate's `src/`, relative to this package), panicking on names
/// it cannot place.
fn crate_uses(dir: &str) -> Uses {
    let src: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files = Vec::new();
    read_sources(&src, &src, &mut files);
    match uses_of(&files) {
        Ok(uses) => uses,
        Err(unplaced) => panic!(
            "names used through `crate::` that no module of {} accounts for:\n  {}",
            dir,
            unplaced.join("\n  ")
        ),
    }
}

/// Panics, naming it, on a cycle among the modules of one folder of crate `dir`.
fn assert_no_cycle(dir: &str, uses: &Uses) {
    if let Some((parent, cycle)) = find_cycle(uses) {
        panic!(
            "module cycle in {} among the modules of `crate{}{}`: {}\n  {}",
            dir,
            if parent.is_empty() { "" } else { "::" },
            parent.join("::"),
            cycle.join(" -> "),
            describe(uses)
        );
    }
}

#[test]
fn runtime_modules_depend_one_way() {
    let uses = crate_uses("../runtime/src");
    let ops_uses_sock_io = (
        vec!["io".to_owned(), "ops".to_owned()],
        vec!["io".to_owned(), "sock_io".to_owned()],
    );
    assert!(
        uses.edges.contains(&ops_uses_sock_io),
        "the uses were not read:\n  {}",
        describe(&uses)
    );
    assert_no_cycle("runtime/src", &uses);
}

#[test]
fn standin_modules_depend_one_way() {
    let uses = crate_uses("../standin/src");
    for module in ["api", "loader", "host"] {
        assert!(
            uses.modules.contains(&vec![module.to_owned()]),
            "no module {}",
            module
        );
    }
    let api_uses_loader = (vec!["api".to_owned()], vec!["loader".to_owned()]);
    assert!(
        uses.edges
            .iter()
            .any(|(a, b)| a.starts_with(&api_uses_loader.0) && b.starts_with(&api_uses_loader.1)),
        "the uses were not read:\n  {}",
        describe(&uses)
    );
    assert_no_cycle("standin/src", &uses);
}

#[test]
fn use_trees_and_paths_are_read() {
    let code = strip_comments(
        "use crate::{api::{Ws2, ext}, host as h};\n\
         // crate::commented\n\
         pub(crate) use child::Thing;\n\
         let x = crate::loader::check_int(\"crate::in_string\");\n\
         macro_rules! m { () => { $crate::build_library() } }\n\
         let y = super::super::catalog::f();\n",
    );
    let uses: Vec<(bool, Vec<Vec<String>>)> = use_statements(&code);
    let words = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(uses.len(), 2);
    assert_eq!(
        uses[0],
        (
            false,
            vec![
                words(&["crate", "api", "Ws2"]),
                words(&["crate", "api", "ext"]),
                words(&["crate", "host"]),
            ]
        )
    );
    assert_eq!(uses[1], (true, vec![words(&["child", "Thing"])]));
    let paths = code_paths(&code);
    assert!(paths.contains(&words(&["crate", "loader", "check_int"])));
    assert!(paths.contains(&words(&["crate", "in_string"])));
    assert!(paths.contains(&words(&["super", "super", "catalog", "f"])));
    assert!(!paths
        .iter()
        .any(|p| p.contains(&"build_library".to_owned())));
    assert!(!paths.iter().any(|p| p.contains(&"commented".to_owned())));
}

fn tree(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .collect()
}

#[test]
fn cycles_are_found_at_every_level() {
    let sound = [
        (
            "lib.rs",
            "mod api; mod host; pub use api::Ws2; pub use other::Thing;",
        ),
        ("api/mod.rs", "mod a; mod b; pub use b::Open;"),
        ("api/a.rs", "use super::Open; use crate::host::x;"),
        ("api/b.rs", "pub struct Open;"),
        ("host/mod.rs", "pub mod x;"),
        ("host/x.rs", ""),
        ("session.rs", "use crate::Ws2;"),
    ];
    let uses = uses_of(&tree(&sound)).unwrap_or_else(|e| panic!("{:?}", e));
    assert!(uses
        .edges
        .contains(&(module_of("api/a.rs"), module_of("api/b.rs"))));
    assert!(uses
        .edges
        .contains(&(module_of("session.rs"), module_of("api/mod.rs"))));
    assert_eq!(find_cycle(&uses), None, "{}", describe(&uses));

    // host::x uses api: a cycle between the top-level modules.
    let mut top = sound;
    top[5] = ("host/x.rs", "fn f() { crate::api::thing(); }");
    let uses = uses_of(&tree(&top)).unwrap_or_else(|e| panic!("{:?}", e));
    let (parent, cycle) = find_cycle(&uses).expect("api -> host -> api");
    assert!(parent.is_empty());
    assert_eq!(cycle.first(), cycle.last());

    // b uses a, a uses b: a cycle inside api/.
    let mut inner = sound;
    inner[3] = ("api/b.rs", "pub struct Open; use super::a::f;");
    let uses = uses_of(&tree(&inner)).unwrap_or_else(|e| panic!("{:?}", e));
    let (parent, cycle) = find_cycle(&uses).expect("a -> b -> a");
    assert_eq!(parent, module_of("api/mod.rs"));
    assert_eq!(cycle.len(), 3);

    // A crate-root name nothing accounts for.
    let mut unknown = sound;
    unknown[6] = ("session.rs", "use crate::Missing;");
    assert!(uses_of(&tree(&unknown)).is_err());
}
