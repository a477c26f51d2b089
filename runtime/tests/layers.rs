//! No module cycle in the runtime's `src/`, at any level.
//!
//! `top_level_modules_form_no_cycle`: reads every file of `src/`, assigns it to its top-level
//! module (`src/io/ops.rs` to `io`, `src/sys/mod.rs` to `sys`; `lib.rs`, the crate's facade, to
//! none), and collects the `crate::<module>` paths its code names (comments are skipped; `use
//! crate::{a, b}` lists count each name). A `crate::` path must name a module: reaching an item
//! through the root's re-exports would hide the dependency. The test fails on any cycle between
//! modules, printing it, and prints the order it found.
//!
//! `modules_inside_each_folder_form_no_cycle`: the same one-way rule inside every folder
//! (`io/ops.rs` against `io/sock_io.rs`, ...). Every file is read for the paths it uses (`use`
//! trees and paths in code: `crate::...`, `super::...`, `self::...`, and a `use` of a child
//! module by its name). A path is charged to the module it names; a name a module re-exports to
//! the module it comes from. Inside a folder, a use between two of its modules (or their
//! descendants, inline test modules included) is an edge between those two; uses of the
//! folder's own root (`mod.rs`) do not count.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().map_or(false, |e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its comments and without the contents of its string and
/// character literals.
fn code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '"' => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                out.push_str("\"\"");
            }
            '\'' if next == Some('\\') => {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
            }
            '\'' if chars.get(i + 2) == Some(&'\'') => i += 2,
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                out.push('\n');
            }
            '/' if next == Some('*') => {
                i += 2;
                while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                    i += 1;
                }
                i += 1;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first path segments after each `crate::` in `code` (not `$crate::`, which macros
/// expand at the caller).
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        let after = &rest[at + "crate::".len()..];
        rest = after;
        if matches!(before, Some(c) if c == '$' || c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(list) = after.strip_prefix('{') {
            // `crate::{a, b::c}`: the first segment of each entry at depth 1.
            let mut depth = 1;
            let mut start = true;
            for (i, c) in list.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => start = true,
                    c if start && depth == 1 && !c.is_whitespace() => {
                        out.push(ident(&list[i..]).to_owned());
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(after).to_owned());
        }
    }
    out
}

/// The `#[macro_export]` macros a file defines: they live at the crate root whatever module
/// defines them, so `crate::name!` is their only path.
fn exported_macros(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut marked = false;
    for line in text.lines().map(str::trim) {
        if line == "#[macro_export]" {
            marked = true;
        } else if let Some(rest) = line.strip_prefix("macro_rules! ") {
            if marked {
                out.push(ident(rest).to_owned());
            }
            marked = false;
        } else if !line.starts_with("#[") && !line.starts_with("///") {
            marked = false;
        }
    }
    out
}

/// The top-level modules `lib.rs` declares.
fn modules(lib: &str) -> BTreeSet<String> {
    code(lib)
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("pub(crate) mod "))
                .or_else(|| l.strip_prefix("mod "))
        })
        .filter(|l| l.ends_with(';'))
        .map(|l| l.trim_end_matches(';').trim().to_owned())
        .collect()
}

/// A cycle through `node` in `graph`, if any (depth-first).
fn cycle(
    graph: &BTreeMap<String, BTreeSet<String>>,
    node: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|n| n == node) {
        let mut found = path[at..].to_vec();
        found.push(node.to_owned());
        return Some(found);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node.to_owned());
    for next in graph.get(node).into_iter().flatten() {
        if let Some(found) = cycle(graph, next, path, done) {
            return Some(found);
        }
    }
    path.pop();
    done.insert(node.to_owned());
    None
}

#[test]
fn top_level_modules_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    let mods = modules(&lib);
    assert!(mods.len() >= 5, "modules of lib.rs: {:?}", mods);
    let mut all = Vec::new();
    files(&src, &mut all);
    let exported: BTreeSet<String> = all
        .iter()
        .flat_map(|f| exported_macros(&fs::read_to_string(f).unwrap()))
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut through_root = Vec::new();
    for file in &all {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_owned();
        if module == "lib" {
            continue;
        }
        assert!(
            mods.contains(&module),
            "{} is in no module of lib.rs",
            rel.display()
        );
        let text = fs::read_to_string(file).unwrap();
        for used in crate_paths(&code(&text)) {
            if exported.contains(&used) {
                continue;
            }
            if !mods.contains(&used) {
                through_root.push(format!("{}: crate::{}", rel.display(), used));
            } else if used != module {
                graph.entry(module.clone()).or_default().insert(used);
            }
        }
        graph.entry(module).or_default();
    }
    assert!(
        through_root.is_empty(),
        "paths through the crate root's re-exports (name the defining module instead):\n{}",
        through_root.join("\n")
    );
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(found) = cycle(&graph, node, &mut Vec::new(), &mut done) {
            panic!("module cycle: {}\n{:#?}", found.join(" -> "), graph);
        }
    }
    // The order, lowest layer first, for whoever reads the test's output.
    let mut order: Vec<String> = Vec::new();
    while order.len() < graph.len() {
        let next = graph
            .iter()
            .find(|(n, deps)| !order.contains(n) && deps.iter().all(|d| order.contains(d)))
            .map(|(n, _)| n.clone())
            .unwrap();
        order.push(next);
    }
    println!("layers, lowest first: {}", order.join(" < "));
}

#[test]
fn the_checker_sees_paths_and_cycles() {
    let text = "use crate::a::B; // crate::z\n/* crate::y */ let s = \"crate::x\";\n\
                use crate::{b::C, c};\n$crate::d::E; my_crate::f;";
    assert_eq!(crate_paths(&code(text)), ["a", "b", "c"]);
    let mut graph = BTreeMap::new();
    graph.insert("a".to_owned(), ["b".to_owned()].into_iter().collect());
    graph.insert("b".to_owned(), ["a".to_owned()].into_iter().collect());
    let found = cycle(&graph, "a", &mut Vec::new(), &mut BTreeSet::new());
    assert_eq!(found.unwrap(), ["a", "b", "a"]);
    let lib = "pub mod sys;\n#[allow(x)]\nmod table;\nmod io;\nuse io::x;";
    assert_eq!(modules(lib).len(), 3);
}

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
        if before.map_or(false, is_ident) {
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
            if before.map_or(false, |c| is_ident(c) || c == '$' || c == ':') {
                continue;
            }
            let mut path = vec![prefix.trim_end_matches("::").to_owned()];
            let mut rest = &code[from..];
            loop {
                let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
                if name.is_empty() || name == "super" && path.last().map_or(false, |p| p != "super")
                {
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
        } else if path.extension().map_or(false, |e| e == "rs") {
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

#[test]
fn modules_inside_each_folder_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    read_sources(&src, &src, &mut files);
    let uses = match uses_of(&files) {
        Ok(uses) => uses,
        Err(unplaced) => panic!(
            "names used through `crate::` that no module of src/ accounts for:\n  {}",
            unplaced.join("\n  ")
        ),
    };
    let ops_uses_sock_io = (
        vec!["io".to_owned(), "ops".to_owned()],
        vec!["io".to_owned(), "sock_io".to_owned()],
    );
    assert!(
        uses.edges.contains(&ops_uses_sock_io),
        "the uses were not read:\n  {}",
        describe(&uses)
    );
    if let Some((parent, cycle)) = find_cycle(&uses) {
        panic!(
            "module cycle in runtime/src among the modules of `crate{}{}`: {}\n  {}",
            if parent.is_empty() { "" } else { "::" },
            parent.join("::"),
            cycle.join(" -> "),
            describe(&uses)
        );
    }
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
