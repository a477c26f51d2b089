//! [`Tree`]: the registry keys and values under `WinSock2\Parameters`, and their `.reg` text.

use std::collections::BTreeMap;

use crate::error::CatalogError;

/// The registry key a catalog tree is rooted at.
pub const PARAMETERS_KEY: &str =
    "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\WinSock2\\Parameters";

/// `REG_SZ`.
pub const REG_SZ: u32 = 1;
/// `REG_EXPAND_SZ`.
pub const REG_EXPAND_SZ: u32 = 2;
/// `REG_BINARY`.
pub const REG_BINARY: u32 = 3;
/// `REG_DWORD`.
pub const REG_DWORD: u32 = 4;

const HEADER: &str = "Windows Registry Editor Version 5.00";

/// A registry value: its type and its raw bytes (strings as NUL-terminated UTF-16LE).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Value {
    /// `REG_*` type.
    pub kind: u32,
    /// The data, as `RegQueryValueEx` returns it.
    pub data: Vec<u8>,
}

impl Value {
    /// A `REG_DWORD`.
    pub fn dword(v: u32) -> Value {
        Value {
            kind: REG_DWORD,
            data: v.to_le_bytes().to_vec(),
        }
    }

    /// A `REG_SZ` (NUL-terminated UTF-16LE).
    pub fn string(s: &str) -> Value {
        Value {
            kind: REG_SZ,
            data: utf16_bytes(s),
        }
    }

    /// A `REG_BINARY`.
    pub fn binary(b: &[u8]) -> Value {
        Value {
            kind: REG_BINARY,
            data: b.to_vec(),
        }
    }

    /// The value as a DWORD, if it is a 4-byte `REG_DWORD` (or 4-byte `REG_BINARY`).
    pub fn as_dword(&self) -> Option<u32> {
        if (self.kind == REG_DWORD || self.kind == REG_BINARY) && self.data.len() == 4 {
            Some(u32::from_le_bytes([
                self.data[0],
                self.data[1],
                self.data[2],
                self.data[3],
            ]))
        } else {
            None
        }
    }

    /// The value as a string, if it is `REG_SZ`/`REG_EXPAND_SZ` (up to the first NUL).
    pub fn as_string(&self) -> Option<String> {
        if self.kind != REG_SZ && self.kind != REG_EXPAND_SZ {
            return None;
        }
        let units: Vec<u16> = self
            .data
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .take_while(|&u| u != 0)
            .collect();
        Some(String::from_utf16_lossy(&units))
    }

    /// The string this value holds if `"..."` syntax reproduces its bytes exactly.
    fn exact_string(&self) -> Option<String> {
        if self.kind != REG_SZ || self.data.len() % 2 != 0 || self.data.len() < 2 {
            return None;
        }
        let units: Vec<u16> = self
            .data
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let (last, body) = units.split_last()?;
        if *last != 0 || body.contains(&0) {
            return None;
        }
        let s = String::from_utf16(body).ok()?;
        if s.contains('\n') || s.contains('\r') {
            return None;
        }
        Some(s)
    }
}

fn utf16_bytes(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain(Some(0))
        .flat_map(|u| u.to_le_bytes())
        .collect()
}

/// The keys (paths relative to [`PARAMETERS_KEY`], `""` for the key itself, components
/// separated by `\`) and their values, in a stable order.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Tree {
    keys: BTreeMap<String, Vec<(String, Value)>>,
}

impl Tree {
    /// An empty tree (not even the root key).
    pub fn new() -> Tree {
        Tree::default()
    }

    /// Whether key `path` exists.
    pub fn has_key(&self, path: &str) -> bool {
        self.keys.contains_key(path)
    }

    /// Creates key `path` (and its parents) if missing.
    pub fn create_key(&mut self, path: &str) {
        let mut p = String::new();
        if !self.keys.contains_key("") {
            self.keys.insert(String::new(), Vec::new());
        }
        for part in path.split('\\').filter(|s| !s.is_empty()) {
            if !p.is_empty() {
                p.push('\\');
            }
            p.push_str(part);
            self.keys.entry(p.clone()).or_default();
        }
    }

    /// Removes key `path` and everything below it.
    pub fn remove_tree(&mut self, path: &str) {
        let prefix = format!("{}\\", path);
        self.keys
            .retain(|k, _| k != path && !(path.is_empty() || k.starts_with(&prefix)));
    }

    /// Every key path, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(|k| k.as_str())
    }

    /// The names of the direct subkeys of `path`, in order.
    pub fn subkeys(&self, path: &str) -> Vec<String> {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{}\\", path)
        };
        self.keys
            .keys()
            .filter_map(|k| k.strip_prefix(prefix.as_str()))
            .filter(|rest| !rest.is_empty() && !rest.contains('\\'))
            .map(|s| s.to_owned())
            .collect()
    }

    /// The values of key `path`, in order (empty if the key is missing).
    pub fn values(&self, path: &str) -> &[(String, Value)] {
        self.keys.get(path).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// Value `name` of key `path` (names compare case-insensitively, as in the registry).
    pub fn value(&self, path: &str, name: &str) -> Option<&Value> {
        self.values(path)
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Sets value `name` of key `path` (creating the key), keeping its place if it exists.
    pub fn set_value(&mut self, path: &str, name: &str, value: Value) {
        self.create_key(path);
        let vals = self.keys.get_mut(path).expect("key just created");
        match vals.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some(slot) => slot.1 = value,
            None => vals.push((name.to_owned(), value)),
        }
    }

    /// Replaces every value of key `path` (creating the key).
    pub fn set_values(&mut self, path: &str, values: Vec<(String, Value)>) {
        self.create_key(path);
        self.keys.insert(path.to_owned(), values);
    }

    /// Removes value `name` of key `path`, if present.
    pub fn remove_value(&mut self, path: &str, name: &str) {
        if let Some(vals) = self.keys.get_mut(path) {
            vals.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        }
    }

    /// The `.reg` text of the tree (`Windows Registry Editor Version 5.00`, full key paths
    /// under [`PARAMETERS_KEY`], `hex:` lines wrapped as regedit wraps them). Written as UTF-8
    /// with `\r\n` line ends; [`Tree::from_reg`] reads it back to an equal tree.
    pub fn to_reg(&self) -> String {
        let mut out = String::new();
        out.push_str(HEADER);
        out.push_str("\r\n");
        for (key, values) in &self.keys {
            out.push_str("\r\n[");
            out.push_str(PARAMETERS_KEY);
            if !key.is_empty() {
                out.push('\\');
                out.push_str(key);
            }
            out.push_str("]\r\n");
            for (name, value) in values {
                let lhs = if name.is_empty() {
                    "@".to_owned()
                } else {
                    format!("\"{}\"", escape(name))
                };
                out.push_str(&lhs);
                out.push('=');
                if let Some(s) = value.exact_string() {
                    out.push('"');
                    out.push_str(&escape(&s));
                    out.push('"');
                } else if value.kind == REG_DWORD && value.data.len() == 4 {
                    out.push_str(&format!("dword:{:08x}", value.as_dword().unwrap_or(0)));
                } else {
                    let prefix = if value.kind == REG_BINARY {
                        "hex:".to_owned()
                    } else {
                        format!("hex({:x}):", value.kind)
                    };
                    out.push_str(&prefix);
                    let mut col = lhs.len() + 1 + prefix.len();
                    for (i, b) in value.data.iter().enumerate() {
                        out.push_str(&format!("{:02x}", b));
                        col += 2;
                        if i + 1 < value.data.len() {
                            out.push(',');
                            col += 1;
                            if col > 76 {
                                out.push_str("\\\r\n  ");
                                col = 2;
                            }
                        }
                    }
                }
                out.push_str("\r\n");
            }
        }
        out
    }

    /// Parses `.reg` text (UTF-8, or UTF-16LE with its byte-order mark as `reg export`
    /// writes it). Every key must lie under [`PARAMETERS_KEY`]; deletions (`[-key]`,
    /// `"v"=-`) are refused.
    pub fn from_reg_bytes(bytes: &[u8]) -> Result<Tree, CatalogError> {
        let text = if bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] == 0xFE {
            let units: Vec<u16> = bytes[2..]
                .chunks(2)
                .map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16(&units)
                .map_err(|_| CatalogError::invalid("the .reg text is not valid UTF-16"))?
        } else {
            let b = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(bytes);
            String::from_utf8(b.to_vec())
                .map_err(|_| CatalogError::invalid("the .reg text is not valid UTF-8"))?
        };
        Tree::from_reg(&text)
    }

    /// Parses `.reg` text (see [`Tree::from_reg_bytes`]).
    pub fn from_reg(text: &str) -> Result<Tree, CatalogError> {
        let mut lines: Vec<(usize, String)> = Vec::new();
        let mut pending: Option<(usize, String)> = None;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim_end_matches('\r');
            let (n, mut acc) = match pending.take() {
                Some((n, acc)) => (n, acc),
                None => (i + 1, String::new()),
            };
            let piece = if acc.is_empty() {
                line
            } else {
                line.trim_start()
            };
            acc.push_str(piece);
            if acc.ends_with('\\') && !acc.starts_with('[') {
                acc.pop();
                pending = Some((n, acc));
            } else {
                lines.push((n, acc));
            }
        }
        if let Some(p) = pending {
            lines.push(p);
        }
        let mut it = lines
            .into_iter()
            .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with(';'));
        match it.next() {
            Some((_, h)) if h.trim() == HEADER || h.trim() == "REGEDIT4" => {}
            _ => {
                return Err(CatalogError::invalid(format!(
                    "not a .reg file (the first line must be '{}')",
                    HEADER
                )))
            }
        }
        let mut tree = Tree::new();
        let mut current: Option<String> = None;
        for (n, line) in it {
            let err = |what: &str| CatalogError::invalid(format!("line {}: {}", n, what));
            if let Some(rest) = line.strip_prefix('[') {
                let key = rest
                    .trim_end()
                    .strip_suffix(']')
                    .ok_or_else(|| err("key line without ']'"))?;
                if key.starts_with('-') {
                    return Err(err("key deletions are not accepted in a catalog backup"));
                }
                let rel = relative_key(key).ok_or_else(|| {
                    err(&format!("key '{}' is not under {}", key, PARAMETERS_KEY))
                })?;
                tree.create_key(&rel);
                current = Some(rel);
                continue;
            }
            let key = current
                .clone()
                .ok_or_else(|| err("value before the first key"))?;
            let (name, rest) = if let Some(r) = line.strip_prefix('@') {
                (String::new(), r)
            } else if line.starts_with('"') {
                let (name, used) = unquote(&line).ok_or_else(|| err("unterminated name"))?;
                (name, &line[used..])
            } else {
                return Err(err("expected \"name\"=value"));
            };
            let data = rest
                .trim_start()
                .strip_prefix('=')
                .ok_or_else(|| err("expected '=' after the value name"))?
                .trim();
            let value = parse_value(data).map_err(|m| err(&m))?;
            tree.set_value(&key, &name, value);
        }
        Ok(tree)
    }
}

fn relative_key(key: &str) -> Option<String> {
    let lower = key.to_ascii_lowercase();
    let root = PARAMETERS_KEY.to_ascii_lowercase();
    if lower == root {
        return Some(String::new());
    }
    if lower.starts_with(&root) && key[root.len()..].starts_with('\\') {
        return Some(key[root.len() + 1..].to_owned());
    }
    None
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The unescaped string at the start of `s` (which begins with `"`) and the bytes it used.
fn unquote(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => {
                let (_, n) = chars.next()?;
                out.push(n);
            }
            c => out.push(c),
        }
    }
    None
}

fn parse_value(data: &str) -> Result<Value, String> {
    if data.starts_with('"') {
        let (s, used) = unquote(data).ok_or("unterminated string")?;
        if !data[used..].trim().is_empty() {
            return Err("text after the string".to_owned());
        }
        return Ok(Value::string(&s));
    }
    if data == "-" {
        return Err("value deletions are not accepted in a catalog backup".to_owned());
    }
    if let Some(h) = data.strip_prefix("dword:") {
        let v = u32::from_str_radix(h.trim(), 16).map_err(|_| format!("bad dword '{}'", h))?;
        return Ok(Value::dword(v));
    }
    let (kind, bytes) = if let Some(h) = data.strip_prefix("hex:") {
        (REG_BINARY, h)
    } else if let Some(rest) = data.strip_prefix("hex(") {
        let close = rest.find("):").ok_or("bad hex(type): prefix")?;
        let kind = u32::from_str_radix(&rest[..close], 16)
            .map_err(|_| format!("bad value type '{}'", &rest[..close]))?;
        (kind, &rest[close + 2..])
    } else {
        return Err(format!("unknown value syntax '{}'", data));
    };
    let mut out = Vec::new();
    for part in bytes.split(',') {
        let p = part.trim();
        if p.is_empty() {
            continue;
        }
        out.push(u8::from_str_radix(p, 16).map_err(|_| format!("bad hex byte '{}'", p))?);
    }
    Ok(Value { kind, data: out })
}
