//! The runtime's top-level modules depend on each other one way: reads every file of `src/`,
//! assigns it to its top-level module (`src/io/ops.rs` to `io`, `src/sys/mod.rs` to `sys`;
//! `lib.rs`, the crate's facade, to none), and collects the `crate::<module>` paths its code
//! names (comments are skipped; `use crate::{a, b}` lists count each name). A `crate::` path must
//! name a module: reaching an item through the root's re-exports would hide the dependency. The
//! test fails on any cycle between modules, printing it, and prints the order it found.
//!
//! The same one-way rule inside every folder, for the runtime and the stand-in, is checked by
//! the workspace's `tests/module_cycles.rs`.

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
