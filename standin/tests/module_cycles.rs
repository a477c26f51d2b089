//! No module cycle in `standin/src`: the top-level modules (`api/`, `loader/`, `host/`,
//! `catalog.rs`, `session.rs`, `scenarios/`...) depend on each other one way only.
//!
//! Each module's files are read for the paths they use (`use crate::...`, `crate::...` in
//! code, `super::...` from a top-level module's root file); a name the crate root re-exports
//! (`crate::Ws2`) counts as a use of the module it comes from. The test fails on a cycle,
//! naming it, and on a `crate::` name it cannot place.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Module → the other top-level modules it uses.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The source without comments (line comments, block comments), keeping string literals.
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
            let end = src[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |e| i + 2 + e + 2);
            i = end;
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

/// The first segments of the paths after each `prefix` (`crate::`, `super::`): `a` for
/// `crate::a::b`, and `a`, `b` for `crate::{a::x, b}`.
fn first_segments(code: &str, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find(prefix) {
        let start = from + at;
        from = start + prefix.len();
        let before = code[..start].chars().next_back();
        if before.map_or(false, |c| is_ident(c) || c == '$' || c == ':') {
            continue;
        }
        let rest = &code[from..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => items.push(std::mem::take(&mut item)),
                    _ if depth == 0 => item.push(c),
                    _ => {}
                }
            }
            items.push(item);
            for item in items {
                let name: String = item.trim().chars().take_while(|&c| is_ident(c)).collect();
                if !name.is_empty() && name != "self" {
                    found.push(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

/// The crate root's re-exports: exported name → the top-level module (or external crate) it
/// comes from.
fn root_exports(lib: &str) -> BTreeMap<String, String> {
    let mut exports = BTreeMap::new();
    for statement in strip_comments(lib).split(';') {
        let statement = statement.trim();
        let path = match statement.strip_prefix("pub use ") {
            Some(path) => path.trim(),
            None => continue,
        };
        let module: String = path.chars().take_while(|&c| is_ident(c)).collect();
        let tail = &path[module.len()..];
        match tail.rfind("::{") {
            Some(open) => {
                let inner = &tail[open + 3..tail.rfind('}').unwrap_or(tail.len())];
                for item in inner.split(',') {
                    let last = item.trim().rsplit("::").next().unwrap_or("").trim();
                    let name = last.rsplit(" as ").next().unwrap_or(last).trim();
                    if !name.is_empty() {
                        exports.insert(name.to_owned(), module.clone());
                    }
                }
            }
            None => {
                let last = path.rsplit("::").next().unwrap_or(path);
                let name = last.rsplit(" as ").next().unwrap_or(last).trim();
                exports.insert(name.to_owned(), module.clone());
            }
        }
    }
    exports
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {}", dir.display(), e))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().map_or(false, |e| e == "rs") {
            out.push(path);
        }
    }
}

/// The graph of `src`'s top-level modules, or the `crate::` names no module accounts for.
fn module_graph(src: &Path) -> Result<Graph, Vec<String>> {
    let lib = fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let exports = root_exports(&lib);
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in fs::read_dir(src).expect("src") {
        let path = entry.expect("directory entry").path();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if path.is_dir() {
            let mut files = Vec::new();
            rust_files(&path, &mut files);
            modules.insert(stem.to_owned(), files);
        } else if path.extension().map_or(false, |e| e == "rs") && stem != "lib" {
            modules.insert(stem.to_owned(), vec![path.clone()]);
        }
    }
    // Exported macros are reached through the crate root too.
    let mut macros = BTreeMap::new();
    for (module, files) in &modules {
        for file in files {
            let code = strip_comments(&fs::read_to_string(file).expect("source file"));
            let mut rest = code.as_str();
            while let Some(at) = rest.find("#[macro_export]") {
                rest = &rest[at..];
                if let Some(m) = rest.find("macro_rules!") {
                    let name: String = rest[m + "macro_rules!".len()..]
                        .trim_start()
                        .chars()
                        .take_while(|&c| is_ident(c))
                        .collect();
                    macros.insert(name, module.clone());
                }
                rest = &rest["#[macro_export]".len()..];
            }
        }
    }
    let mut graph = Graph::new();
    let mut unplaced = Vec::new();
    for (module, files) in &modules {
        let uses = graph.entry(module.clone()).or_default();
        for file in files {
            let code = strip_comments(&fs::read_to_string(file).expect("source file"));
            let module_root = file.parent() == Some(src)
                || (file.file_name().map_or(false, |n| n == "mod.rs")
                    && file.parent().and_then(|p| p.parent()) == Some(src));
            let mut names = first_segments(&code, "crate::");
            if module_root {
                names.extend(first_segments(&code, "super::"));
            }
            for name in names {
                let target = if modules.contains_key(&name) {
                    Some(name.clone())
                } else if let Some(from) = exports.get(&name).or_else(|| macros.get(&name)) {
                    modules.contains_key(from).then(|| from.clone())
                } else {
                    unplaced.push(format!("{}: crate::{}", file.display(), name));
                    None
                };
                if let Some(target) = target {
                    if &target != module {
                        uses.insert(target);
                    }
                }
            }
        }
    }
    if unplaced.is_empty() {
        Ok(graph)
    } else {
        Err(unplaced)
    }
}

/// A cycle in `graph` (its modules in order, the first repeated at the end), if any.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
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

#[test]
fn standin_modules_depend_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = match module_graph(&src) {
        Ok(graph) => graph,
        Err(unplaced) => panic!(
            "names used through `crate::` that no module of src/ accounts for:\n  {}",
            unplaced.join("\n  ")
        ),
    };
    for module in ["api", "loader", "host"] {
        assert!(
            graph.contains_key(module),
            "no module {} in {:?}",
            module,
            graph
        );
    }
    if let Some(cycle) = find_cycle(&graph) {
        let edges: Vec<String> = graph
            .iter()
            .map(|(m, uses)| format!("{} -> {:?}", m, uses))
            .collect();
        panic!(
            "module cycle in standin/src: {}\n  {}",
            cycle.join(" -> "),
            edges.join("\n  ")
        );
    }
}

#[test]
fn uses_are_read_from_use_trees_and_paths() {
    let code = strip_comments(
        "use crate::{api::{Ws2, ext}, host};\n\
         // crate::commented\n\
         let x = crate::loader::check_int(\"crate::in_string\");\n\
         macro_rules! m { () => { $crate::build_library() } }\n\
         use super::catalog;\n",
    );
    assert_eq!(
        first_segments(&code, "crate::"),
        ["api", "host", "loader", "in_string"]
    );
    assert_eq!(first_segments(&code, "super::"), ["catalog"]);
    let exports = root_exports(
        "mod api;\npub use api::{ext, Ws2};\npub use loader::{\n    check_int, LoadError,\n};\n\
         pub use winsock_provider::{sys, SockAddr};\npub use session::Session;\n",
    );
    assert_eq!(exports.get("Ws2").map(String::as_str), Some("api"));
    assert_eq!(exports.get("LoadError").map(String::as_str), Some("loader"));
    assert_eq!(exports.get("Session").map(String::as_str), Some("session"));
    assert_eq!(
        exports.get("sys").map(String::as_str),
        Some("winsock_provider")
    );
}

#[test]
fn cycles_are_found() {
    let graph: Graph = [
        ("api", vec!["loader", "host"]),
        ("catalog", vec!["api", "loader"]),
        ("loader", vec!["host"]),
        ("host", vec![]),
    ]
    .iter()
    .map(|(m, uses)| (m.to_string(), uses.iter().map(|u| u.to_string()).collect()))
    .collect();
    assert_eq!(find_cycle(&graph), None);
    let mut cyclic = graph;
    cyclic
        .get_mut("host")
        .expect("host")
        .insert("catalog".to_owned());
    let cycle = find_cycle(&cyclic).expect("host -> catalog -> ... -> host is a cycle");
    assert_eq!(cycle.first(), cycle.last());
    assert!(cycle.contains(&"host".to_owned()) && cycle.contains(&"catalog".to_owned()));
}
