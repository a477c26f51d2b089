//! Expansion snapshots: each `tests/expand/NAME.rs` holds an item with `#[winsock_provider]`;
//! its expansion, pretty-printed, must equal `tests/expand/NAME.expanded.rs`.
//!
//! Regenerate after a deliberate change (then read the diff):
//! `WSP_BLESS=1 cargo test -p winsock-provider-macros snapshots`.

use proc_macro2::TokenStream;
use quote::ToTokens;
use std::fs;
use std::path::{Path, PathBuf};

const REGENERATE: &str = "WSP_BLESS=1 cargo test -p winsock-provider-macros snapshots";
const OUTPUT_SUFFIX: &str = ".expanded.rs";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("expand")
}

/// `source` with each `#[winsock_provider(...)]` item replaced by the attribute's expansion,
/// pretty-printed, under a header naming the input.
fn expand_file(name: &str, source: &str) -> String {
    let file = syn::parse_file(source).unwrap_or_else(|e| panic!("{}: {}", name, e));
    let mut items = Vec::new();
    for mut item in file.items {
        let args = take_attribute(&mut item);
        match args {
            Some(args) => {
                let out = crate::expand::winsock_provider(args, item.into_token_stream());
                let expanded: syn::File = syn::parse2(out)
                    .unwrap_or_else(|e| panic!("{}: the expansion does not parse: {}", name, e));
                items.extend(expanded.items);
            }
            None => items.push(item),
        }
    }
    let pretty = prettyplease::unparse(&syn::File {
        shebang: None,
        attrs: file.attrs,
        items,
    });
    format!(
        "// The expansion of {}.rs. Generated; do not edit. Regenerate with:\n// {}\n{}",
        name, REGENERATE, pretty
    )
}

/// Removes the first `#[winsock_provider...]` attribute of `item` and returns its arguments.
fn take_attribute(item: &mut syn::Item) -> Option<TokenStream> {
    let attrs = match item {
        syn::Item::Struct(s) => &mut s.attrs,
        syn::Item::Enum(e) => &mut e.attrs,
        syn::Item::Union(u) => &mut u.attrs,
        syn::Item::Fn(f) => &mut f.attrs,
        _ => return None,
    };
    let at = attrs.iter().position(crate::valid::is_this_attribute)?;
    let attr = attrs.remove(at);
    Some(match attr.meta {
        syn::Meta::List(list) => list.tokens,
        _ => TokenStream::new(),
    })
}

/// The first line where `expected` and `actual` differ, for the failure message.
fn first_difference(expected: &str, actual: &str) -> String {
    let mut expected_lines = expected.lines();
    let mut actual_lines = actual.lines();
    let mut line = 1;
    loop {
        match (expected_lines.next(), actual_lines.next()) {
            (Some(e), Some(a)) if e == a => line += 1,
            (None, None) => return "(line endings differ)".to_owned(),
            (e, a) => {
                return format!(
                    "line {}:\n    expected: {}\n    actual:   {}",
                    line,
                    e.unwrap_or("(end of file)"),
                    a.unwrap_or("(end of file)")
                )
            }
        }
    }
}

#[test]
fn snapshots() {
    let bless = std::env::var_os("WSP_BLESS").map_or(false, |v| !v.is_empty() && v != "0");
    let mut inputs: Vec<PathBuf> = fs::read_dir(dir())
        .expect("macros/tests/expand")
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    inputs.sort();
    let mut problems = Vec::new();
    let mut checked = 0;
    for path in &inputs {
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(stem) = file_name.strip_suffix(OUTPUT_SUFFIX) {
            if !dir().join(format!("{}.rs", stem)).exists() {
                problems.push(format!("{}: no input {}.rs (delete it)", file_name, stem));
            }
            continue;
        }
        let name = match file_name.strip_suffix(".rs") {
            Some(name) => name,
            None => continue,
        };
        checked += 1;
        let source = fs::read_to_string(path).expect("input");
        let actual = expand_file(name, &source);
        let out = dir().join(format!("{}{}", name, OUTPUT_SUFFIX));
        let expected = fs::read_to_string(&out).ok();
        if expected.as_deref() == Some(actual.as_str()) {
            continue;
        }
        if bless {
            fs::write(&out, &actual).expect("write snapshot");
            eprintln!("wrote {}", out.display());
            continue;
        }
        problems.push(match expected {
            None => format!("{}{}: missing", name, OUTPUT_SUFFIX),
            Some(expected) => format!(
                "{}{}: differs from the expansion at {}",
                name,
                OUTPUT_SUFFIX,
                first_difference(&expected, &actual)
            ),
        });
    }
    assert!(checked > 0, "no inputs in {}", dir().display());
    assert!(
        problems.is_empty(),
        "expansion snapshots in macros/tests/expand are out of date:\n  {}\n\nIf the change is \
         intended, regenerate them with\n    {}\nand review `git diff macros/tests/expand`.",
        problems.join("\n  "),
        REGENERATE
    );
}

#[test]
fn differences_name_the_line() {
    assert_eq!(
        first_difference("a\nb\n", "a\nc\n"),
        "line 2:\n    expected: b\n    actual:   c"
    );
    assert!(first_difference("a\n", "a\nb\n").contains("expected: (end of file)"));
}
