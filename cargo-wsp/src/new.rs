//! `cargo wsp new`: a provider crate from the toolkit's templates.
//!
//! The templates are real crates of the toolkit's workspace (built and tested with it); a new
//! crate is a copy with known tokens replaced: the package name, the provider's display name,
//! its GUID, the path dependencies, and with `--family` the protocol entry and the address
//! format. A token that is no longer in its template is an error, so templates and generator
//! cannot drift apart silently.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

/// What `cargo wsp new` was asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The package name.
    pub name: String,
    /// `--family N --sockaddr MIN..MAX`.
    pub family: Option<Family>,
    /// Which template.
    pub kind: Kind,
    /// The toolkit checkout.
    pub toolkit: PathBuf,
}

/// The kinds of crate `cargo wsp new` writes, one template each.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Non-IFS datagrams (`templates/provider`), the default.
    Datagram,
    /// Non-IFS streams (`templates/provider-stream`), `--stream`.
    Stream,
    /// IFS streams: sockets that are OS handles (`templates/provider-ifs`), `--ifs`.
    Ifs,
    /// A layer over another provider's entries (`templates/provider-layered`), `--layered`.
    Layered,
}

/// A non-INET address family and its address sizes (whole `sockaddr`, family field included).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Family {
    /// `sa_family`.
    pub number: u16,
    /// `iMinSockAddr`.
    pub min: u16,
    /// `iMaxSockAddr`.
    pub max: u16,
}

/// One replacement in one template file.
struct Edit {
    file: &'static str,
    from: String,
    to: String,
}

fn edit(file: &'static str, from: &str, to: String) -> Edit {
    Edit {
        file,
        from: from.to_owned(),
        to,
    }
}

fn parse(args: &[String]) -> Result<Request, String> {
    let mut name = None;
    let mut family = None;
    let mut sockaddr = None;
    let mut toolkit = None;
    let mut stream = false;
    let mut ifs = false;
    let mut layered = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{} needs a value", what))
        };
        match a.as_str() {
            "--ifs" => ifs = true,
            "--layered" => layered = true,
            "--stream" => stream = true,
            "--family" => {
                let v = value("--family")?;
                family = Some(v.parse::<u16>().map_err(|_| {
                    format!(
                        "--family {}: expected an address family number (0-65535)",
                        v
                    )
                })?);
            }
            "--sockaddr" => {
                let v = value("--sockaddr")?;
                let (lo, hi) = v
                    .split_once("..")
                    .ok_or_else(|| format!("--sockaddr {}: expected MIN..MAX, e.g. 16..16", v))?;
                let bad = || format!("--sockaddr {}: MIN and MAX must be numbers", v);
                sockaddr = Some((
                    lo.parse::<u16>().map_err(|_| bad())?,
                    hi.parse::<u16>().map_err(|_| bad())?,
                ));
            }
            "--toolkit" => toolkit = Some(PathBuf::from(value("--toolkit")?)),
            s if s.starts_with('-') => return Err(format!("unknown option {}", s)),
            s if name.is_none() => name = Some(s.to_owned()),
            s => return Err(format!("unexpected argument {}", s)),
        }
    }
    if layered {
        let other = [
            ("--ifs", ifs),
            ("--stream", stream),
            ("--family", family.is_some()),
            ("--sockaddr", sockaddr.is_some()),
        ];
        if let Some((option, _)) = other.iter().find(|(_, given)| *given) {
            return Err(format!(
                "--layered with {}: a layer has no sockets or addresses of its own; it goes over the entries of the base provider installed under it (its protocol(...) items say which), so drop {}",
                option, option
            ));
        }
    }
    let name = name.ok_or("missing NAME (cargo wsp new NAME)")?;
    check_name(&name)?;
    let family = match (family, sockaddr) {
        (None, None) => None,
        (Some(number), Some((min, max))) => {
            if number == 2 || number == 23 {
                return Err(format!(
                    "--family {}: AF_INET and AF_INET6 are the default template's; --family is for other families",
                    number
                ));
            }
            if min < 3 || min > max || max > 128 {
                return Err(format!(
                    "--sockaddr {}..{}: need 3 <= MIN <= MAX <= 128 (the sizes count the 2-byte family field)",
                    min, max
                ));
            }
            Some(Family { number, min, max })
        }
        _ => return Err("--family and --sockaddr go together".to_owned()),
    };
    let toolkit = toolkit.unwrap_or_else(crate::default_toolkit);
    let toolkit = toolkit
        .canonicalize()
        .map_err(|e| format!("toolkit {}: {}", toolkit.display(), e))?;
    for part in ["runtime/Cargo.toml", "standin/Cargo.toml", "templates"] {
        if !toolkit.join(part).exists() {
            return Err(format!(
                "{} is not a winsock-provider checkout (no {}); pass --toolkit PATH",
                toolkit.display(),
                part
            ));
        }
    }
    // The IFS template is a stream provider: `--ifs --stream` says the same twice.
    let kind = match (ifs, stream) {
        _ if layered => Kind::Layered,
        (true, _) => Kind::Ifs,
        (false, true) => Kind::Stream,
        (false, false) => Kind::Datagram,
    };
    Ok(Request {
        name,
        family,
        kind,
        toolkit,
    })
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        return Err(format!(
            "crate name `{}`: use lower-case letters, digits, `-` and `_`, starting with a letter",
            name
        ));
    }
    Ok(())
}

/// A random (version 4) GUID in the attribute's form.
pub fn fresh_guid() -> String {
    let mut bytes = [0u8; 16];
    for (i, half) in bytes.chunks_mut(8).enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{:02x}", b)).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// One template: its folder under `templates/`, package name, provider display name, GUID,
/// socket type and protocol, and its tests' address function (body and import).
struct Template {
    dir: &'static str,
    package: &'static str,
    display: &'static str,
    guid: &'static str,
    socket_type: &'static str,
    protocol_const: &'static str,
    protocol_entry: &'static str,
    tests: &'static [&'static str],
    address_body: &'static str,
}

const DATAGRAMS: Template = Template {
    dir: "provider",
    package: "provider-template",
    display: "Template datagrams",
    guid: "0b6f3c1e-2d4a-4f5b-8c7d-9e0a1b2c3d4e",
    socket_type: "SOCK_DGRAM",
    protocol_const: "pub const PROTOCOL: i32 = 17;",
    protocol_entry: "    protocol(family = AF_INET, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP, max_message_size = 65467),",
    tests: &[
        "tests/datagrams.rs",
        "tests/conformance.rs",
        "tests/lifecycle.rs",
    ],
    address_body: "    SockAddr::Inet(SocketAddr::from(([127, 0, 0, 1], 5000 + n as u16)))\n",
};

const STREAMS: Template = Template {
    dir: "provider-stream",
    package: "provider-stream-template",
    display: "Template streams",
    guid: "6c1f0a2e-93b4-4d5e-a6f7-08192a3b4c5d",
    socket_type: "SOCK_STREAM",
    protocol_const: "pub const PROTOCOL: i32 = 6;",
    protocol_entry:
        "    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),",
    tests: &[
        "tests/streams.rs",
        "tests/conformance.rs",
        "tests/lifecycle.rs",
    ],
    address_body: "    SockAddr::Inet(SocketAddr::from(([127, 0, 0, 1], 0)))\n",
};

const IFS_STREAMS: Template = Template {
    dir: "provider-ifs",
    package: "provider-ifs-template",
    display: "Template IFS streams",
    guid: "3d7e9a41-5c2b-4e8f-9a16-b0c4d2e6f813",
    socket_type: "SOCK_STREAM",
    protocol_const: "pub const PROTOCOL: i32 = 6;",
    protocol_entry:
        "    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),",
    tests: &[
        "tests/streams.rs",
        "tests/conformance.rs",
        "tests/closed_handles.rs",
        "tests/lifecycle.rs",
    ],
    address_body: "    SockAddr::Inet(SocketAddr::from(([127, 0, 0, 1], 0)))\n",
};

const LAYER: Template = Template {
    dir: "provider-layered",
    package: "provider-layered-template",
    display: "Template counting layer",
    guid: "9c4b2e71-0a3d-4f6e-b852-7d1e3c9a4f60",
    socket_type: "",
    protocol_const: "",
    protocol_entry: "",
    tests: &[],
    address_body: "",
};

/// The template folder (under `templates/`), its package name and the edits for `req`.
fn plan(req: &Request, guid: &str) -> (&'static str, &'static str, Vec<Edit>) {
    let t = match req.kind {
        Kind::Datagram => &DATAGRAMS,
        Kind::Stream => &STREAMS,
        Kind::Ifs => &IFS_STREAMS,
        Kind::Layered => &LAYER,
    };
    let stream = t.socket_type == "SOCK_STREAM";
    let toolkit = req.toolkit.display().to_string().replace('\\', "/");
    let mut edits = vec![
        edit(
            "Cargo.toml",
            &format!("name = \"{}\"", t.package),
            format!("name = \"{}\"", req.name),
        ),
        edit(
            "Cargo.toml",
            "path = \"../../runtime\"",
            format!("path = \"{}/runtime\"", toolkit),
        ),
        edit(
            "Cargo.toml",
            "path = \"../../standin\"",
            format!("path = \"{}/standin\"", toolkit),
        ),
        edit(
            "src/lib.rs",
            &format!("    name = \"{}\",", t.display),
            format!("    name = \"{}\",", req.name),
        ),
        edit(
            "src/lib.rs",
            &format!("    guid = \"{}\",", t.guid),
            format!("    guid = \"{}\",", guid),
        ),
    ];
    if req.kind == Kind::Ifs {
        edits.push(edit(
            "Cargo.toml",
            "path = \"../../transport\"",
            format!("path = \"{}/transport\"", toolkit),
        ));
    }
    if req.kind == Kind::Layered {
        // The base provider the layer's tests install under it: the toolkit's stream template.
        // (In the toolkit's workspace the template's tests use the loopback example: building
        // a workspace member with doctests from a test would replace the library its doctests
        // link.)
        edits.push(edit(
            "Cargo.toml",
            "base = { path = \"../../examples/loopback\", package = \"loopback-provider\" }",
            format!(
                "base = {{ path = \"{}/templates/provider-stream\", package = \"provider-stream-template\" }}",
                toolkit
            ),
        ));
        edits.push(edit(
            "tests/chain.rs",
            "concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/../../examples/loopback\"),\n    \"loopback-provider\",",
            format!(
                "\"{}/templates/provider-stream\",\n    \"provider-stream-template\",",
                toolkit
            ),
        ));
    }
    if let Some(f) = req.family {
        let len = usize::from(f.min) - 2;
        edits.push(edit(
            "src/lib.rs",
            "pub const FAMILY: u16 = 2;",
            format!("pub const FAMILY: u16 = {};", f.number),
        ));
        edits.push(edit(
            "src/lib.rs",
            t.protocol_const,
            "pub const PROTOCOL: i32 = 0;".to_owned(),
        ));
        let size = if stream {
            String::new()
        } else {
            ", max_message_size = 65467".to_owned()
        };
        edits.push(edit(
            "src/lib.rs",
            t.protocol_entry,
            format!(
                "    protocol(family = {}, socket_type = {}, protocol = 0{}, min_sockaddr = {}, max_sockaddr = {}),",
                f.number, t.socket_type, size, f.min, f.max
            ),
        ));
        let unique = len.min(4);
        edits.push(edit(
            "Cargo.toml",
            "address = \"inet:127.0.0.1:0\"",
            format!(
                "address = \"raw:{}:{}{}\"",
                f.number,
                "00".repeat(len - unique),
                "xx".repeat(unique)
            ),
        ));
        for file in t.tests {
            if stream {
                // Every address different: listeners of one family bind many names.
                edits.push(edit(
                    file,
                    "use std::net::SocketAddr;\n",
                    "use std::sync::atomic::{AtomicU32, Ordering};\n".to_owned(),
                ));
                edits.push(edit(
                    file,
                    t.address_body,
                    format!(
                        "    static NEXT: AtomicU32 = AtomicU32::new(1);\n    let unique = NEXT.fetch_add(1, Ordering::Relaxed);\n    let mut data = vec![0u8; {len}];\n    for (i, b) in data.iter_mut().rev().take(4).enumerate() {{\n        *b = (unique >> (8 * i)) as u8;\n    }}\n    SockAddr::Raw {{ family: FAMILY, data }}\n",
                        len = len
                    ),
                ));
            } else {
                edits.push(edit(file, "use std::net::SocketAddr;\n", String::new()));
                edits.push(edit(
                    file,
                    t.address_body,
                    format!(
                        "    let mut data = vec![0u8; {len}];\n    for (i, b) in data.iter_mut().rev().take(4).enumerate() {{\n        *b = (n >> (8 * i)) as u8;\n    }}\n    SockAddr::Raw {{ family: FAMILY, data }}\n",
                        len = len
                    ),
                ));
            }
        }
    }
    (t.dir, t.package, edits)
}

/// The files of the new crate: (relative path, contents).
pub fn render(req: &Request, guid: &str) -> Result<Vec<(PathBuf, String)>, String> {
    let (dir, package, edits) = plan(req, guid);
    let root = req.toolkit.join("templates").join(dir);
    let mut files = Vec::new();
    collect(&root, &root, &mut files)?;
    let ident_from = package.replace('-', "_");
    let ident_to = req.name.replace('-', "_");
    let mut out = Vec::new();
    let mut used = vec![false; edits.len()];
    for (rel, mut text) in files {
        let rel_text = rel.to_string_lossy().replace('\\', "/");
        for (i, e) in edits.iter().enumerate() {
            if e.file == rel_text && text.contains(&e.from) {
                text = text.replace(&e.from, &e.to);
                used[i] = true;
            }
        }
        if rel_text.ends_with(".rs") {
            text = text.replace(&ident_from, &ident_to);
        }
        if rel_text == "Cargo.toml" {
            text.push_str(
                "\n# A workspace of its own: the crate builds alone wherever it is.\n[workspace]\n",
            );
        }
        out.push((rel, text));
    }
    if let Some(i) = used.iter().position(|u| !u) {
        return Err(format!(
            "template {} no longer contains `{}` in {} (cargo-wsp and templates/ disagree)",
            root.display(),
            edits[i].from.trim(),
            edits[i].file
        ));
    }
    out.push((
        PathBuf::from(".cargo/config.toml"),
        "# Resolve dependencies to versions that build with the crate's rust-version (1.63),\n\
         # which is what `cargo wsp build --windows` compiles with.\n\
         [resolver]\nincompatible-rust-versions = \"fallback\"\n"
            .to_owned(),
    ));
    out.push((PathBuf::from(".gitignore"), "/target\n".to_owned()));
    out.sort();
    Ok(out)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {}", dir.display(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name == "Cargo.lock" {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, out)?;
        } else {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {}", path.display(), e))?;
            let rel = path.strip_prefix(root).map_err(|e| e.to_string())?;
            out.push((rel.to_path_buf(), text));
        }
    }
    Ok(())
}

/// What `run` says it made.
fn describe(req: &Request) -> String {
    let what = match req.kind {
        Kind::Datagram => "non-IFS datagram provider",
        Kind::Stream => "non-IFS stream provider",
        Kind::Ifs => "IFS stream provider (sockets are OS handles)",
        Kind::Layered => {
            return "a layer over the AF_INET TCP entries of the provider installed under it (its tests install the toolkit's templates/provider-stream under it)".to_owned()
        }
    };
    match req.family {
        Some(f) => format!(
            "{}, family {}, {}..{}-byte addresses",
            what, f.number, f.min, f.max
        ),
        None => format!("{} (AF_INET)", what),
    }
}

/// `cargo wsp new ...`.
pub fn run(args: &[String]) -> Result<(), String> {
    let req = parse(args)?;
    let dest = PathBuf::from(&req.name);
    if dest.exists() {
        return Err(format!("{} already exists", dest.display()));
    }
    let guid = fresh_guid();
    let files = render(&req, &guid)?;
    for (rel, text) in &files {
        let path = dest.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {}", parent.display(), e))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("{}: {}", path.display(), e))?;
    }
    println!(
        "created {}: {}, GUID {}, toolkit {}",
        dest.display(),
        describe(&req),
        guid,
        req.toolkit.display()
    );
    println!(
        "next: cd {} && cargo test && cargo wsp build --windows && cargo wsp test --wine",
        req.name
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(extra: &[&str]) -> Result<Request, String> {
        let mut args = vec!["my-provider".to_owned()];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push("--toolkit".to_owned());
        args.push(crate::default_toolkit().display().to_string());
        parse(&args)
    }

    fn file<'a>(files: &'a [(PathBuf, String)], name: &str) -> &'a str {
        &files
            .iter()
            .find(|(p, _)| p == Path::new(name))
            .unwrap_or_else(|| panic!("{} not generated", name))
            .1
    }

    #[test]
    fn default_template_gets_name_guid_and_toolkit_paths() {
        let req = request(&[]).unwrap();
        let files = render(&req, "11111111-2222-4333-8444-555555555555").unwrap();
        let manifest = file(&files, "Cargo.toml");
        assert!(manifest.contains("name = \"my-provider\""));
        assert!(!manifest.contains(".workspace"), "{}", manifest);
        assert!(manifest.contains("rust-version = \"1.63\""));
        assert!(manifest.contains(&format!("path = \"{}/runtime\"", req.toolkit.display())));
        assert!(manifest.ends_with("[workspace]\n"));
        let lib = file(&files, "src/lib.rs");
        assert!(lib.contains("guid = \"11111111-2222-4333-8444-555555555555\""));
        assert!(lib.contains("name = \"my-provider\""));
        assert!(file(&files, "tests/datagrams.rs").contains("use my_provider::"));
        assert!(file(&files, ".cargo/config.toml")
            .contains("incompatible-rust-versions = \"fallback\""));
    }

    #[test]
    fn family_option_makes_a_raw_address_provider() {
        let req = request(&["--family", "40", "--sockaddr", "16..16"]).unwrap();
        let files = render(&req, &fresh_guid()).unwrap();
        let lib = file(&files, "src/lib.rs");
        assert!(lib.contains("protocol(family = 40, socket_type = SOCK_DGRAM, protocol = 0, max_message_size = 65467, min_sockaddr = 16, max_sockaddr = 16)"));
        assert!(lib.contains("pub const FAMILY: u16 = 40;"));
        assert!(file(&files, "Cargo.toml")
            .contains("address = \"raw:40:00000000000000000000xxxxxxxx\""));
        let test = file(&files, "tests/conformance.rs");
        assert!(test.contains("SockAddr::Raw { family: FAMILY, data }"));
        assert!(!test.contains("SocketAddr"));
    }

    #[test]
    fn stream_option_uses_the_stream_template() {
        let req = request(&["--stream", "--family", "40", "--sockaddr", "16..16"]).unwrap();
        let files = render(&req, &fresh_guid()).unwrap();
        let lib = file(&files, "src/lib.rs");
        assert!(lib.contains("protocol(family = 40, socket_type = SOCK_STREAM, protocol = 0, min_sockaddr = 16, max_sockaddr = 16)"), "{}", lib);
        assert!(lib.contains("pub const PROTOCOL: i32 = 0;"));
        assert!(lib.contains("name = \"my-provider\""));
        assert!(file(&files, "Cargo.toml").contains("name = \"my-provider\""));
        let test = file(&files, "tests/conformance.rs");
        assert!(test.contains("use my_provider::"), "{}", test);
        assert!(test.contains("SockAddr::Raw { family: FAMILY, data }"));
        assert!(!test.contains("SocketAddr"));
        let inet = render(&request(&["--stream"]).unwrap(), &fresh_guid()).unwrap();
        assert!(
            file(&inet, "src/lib.rs").contains("socket_type = SOCK_STREAM, protocol = IPPROTO_TCP")
        );
        assert!(file(&inet, "tests/streams.rs").contains("SocketAddr::from(([127, 0, 0, 1], 0))"));
    }

    #[test]
    fn ifs_option_uses_the_ifs_template() {
        let req = request(&["--ifs"]).unwrap();
        assert_eq!(req.kind, Kind::Ifs);
        assert_eq!(request(&["--ifs", "--stream"]).unwrap().kind, Kind::Ifs);
        let files = render(&req, "11111111-2222-4333-8444-555555555555").unwrap();
        let lib = file(&files, "src/lib.rs");
        assert!(lib.contains("    ifs,\n"), "{}", lib);
        assert!(lib.contains("guid = \"11111111-2222-4333-8444-555555555555\""));
        assert!(lib.contains("name = \"my-provider\""));
        let manifest = file(&files, "Cargo.toml");
        assert!(manifest.contains(&format!("path = \"{}/transport\"", req.toolkit.display())));
        assert!(!manifest.contains("../../"), "{}", manifest);
        assert!(file(&files, "src/os/windows.rs").contains("CreateNamedPipeW"));
        assert!(file(&files, "tests/closed_handles.rs").contains("use my_provider::"));

        let raw = request(&["--ifs", "--family", "40", "--sockaddr", "16..16"]).unwrap();
        let files = render(&raw, &fresh_guid()).unwrap();
        assert!(file(&files, "src/lib.rs").contains("protocol(family = 40, socket_type = SOCK_STREAM, protocol = 0, min_sockaddr = 16, max_sockaddr = 16)"));
        for test in [
            "tests/conformance.rs",
            "tests/closed_handles.rs",
            "tests/streams.rs",
        ] {
            let text = file(&files, test);
            assert!(
                text.contains("SockAddr::Raw { family: FAMILY, data }"),
                "{}",
                test
            );
            assert!(!text.contains("SocketAddr"), "{}", test);
        }
    }

    #[test]
    fn layered_option_uses_the_layer_template_over_the_toolkit_base() {
        let req = request(&["--layered"]).unwrap();
        assert_eq!(req.kind, Kind::Layered);
        let files = render(&req, "11111111-2222-4333-8444-555555555555").unwrap();
        let lib = file(&files, "src/lib.rs");
        assert!(lib.contains("    layered,\n"), "{}", lib);
        assert!(lib.contains("guid = \"11111111-2222-4333-8444-555555555555\""));
        assert!(lib.contains("name = \"my-provider\""));
        let base = format!("{}/templates/provider-stream", req.toolkit.display());
        assert!(file(&files, "Cargo.toml").contains(&format!("base = {{ path = \"{}\"", base)));
        let test = file(&files, "tests/chain.rs");
        assert!(test.contains(&format!("\"{}\",", base)), "{}", test);
        assert!(test.contains("use my_provider::SIO_COUNTS;"));
        assert!(!test.contains("CARGO_MANIFEST_DIR\"), \"/.."), "{}", test);
    }

    #[test]
    fn layered_refuses_socket_kinds_and_families() {
        for extra in [
            &["--layered", "--ifs"][..],
            &["--ifs", "--layered"],
            &["--layered", "--stream"],
            &["--layered", "--family", "40", "--sockaddr", "16..16"],
        ] {
            let e = request(extra).unwrap_err();
            assert!(e.starts_with("--layered with --"), "{:?}: {}", extra, e);
            assert!(e.contains("base provider"), "{}", e);
        }
    }

    #[test]
    fn bad_requests_are_refused_in_words() {
        assert!(request(&["--family", "40"])
            .unwrap_err()
            .contains("go together"));
        assert!(request(&["--family", "2", "--sockaddr", "16..16"]).is_err());
        assert!(request(&["--family", "40", "--sockaddr", "16..8"]).is_err());
        assert!(request(&["--family", "40", "--sockaddr", "2..8"]).is_err());
        assert!(request(&["--bogus"])
            .unwrap_err()
            .contains("unknown option"));
        assert!(check_name("My Provider").is_err());
        assert!(parse(&["x".into(), "--toolkit".into(), "/nonexistent".into()]).is_err());
    }

    #[test]
    fn guids_are_fresh_version_4() {
        let (a, b) = (fresh_guid(), fresh_guid());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
