//! Parsing of the attribute's arguments with darling: every value as written, with its span.
//! Nothing here knows about defaults or cross-option rules; see `valid.rs`.

use darling::ast::NestedMeta;
use darling::{Error, FromMeta, Result};
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Expr, Lit, Meta};

/// The arguments of `#[winsock_provider(...)]`, as written.
#[derive(FromMeta)]
pub struct Args {
    /// `name = "..."`.
    pub name: Option<Text>,
    /// `description = "..."`.
    pub description: Option<Text>,
    /// `guid = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"`.
    pub guid: Option<GuidArg>,
    /// `ifs`.
    pub ifs: Option<Word>,
    /// `non_ifs`.
    pub non_ifs: Option<Word>,
    /// `layered`: the struct is a layer (`winsock_provider::Layer`).
    pub layered: Option<Word>,
    /// `categories = [LSP_...]`: a layer's LSP categories.
    pub categories: Option<Categories>,
    /// Each `protocol(...)`, in order.
    #[darling(multiple, rename = "protocol")]
    pub protocols: Vec<ProtocolArg>,
    /// `crate = "path"`: where the runtime crate is.
    #[darling(rename = "crate")]
    pub krate: Option<CratePath>,
}

/// One `protocol(...)`.
pub struct ProtocolArg {
    /// The `protocol` keyword, where entry-level errors point.
    pub span: Span,
    /// Its settings.
    pub fields: ProtocolFields,
}

/// The settings inside `protocol(...)`.
#[derive(FromMeta)]
pub struct ProtocolFields {
    /// `name = "..."` (`szProtocol`).
    pub name: Option<Text>,
    /// `family = AF_...`.
    pub family: Option<Family>,
    /// `socket_type = SOCK_...`.
    pub socket_type: Option<SocketType>,
    /// `protocol = IPPROTO_...`.
    pub protocol: Option<Protocol>,
    /// `service_flags(...)` (`XP1_*`).
    pub service_flags: Option<ServiceFlags>,
    /// `provider_flags(...)` (`PFL_*`).
    pub provider_flags: Option<ProviderFlags>,
    /// `max_message_size = N`.
    pub max_message_size: Option<Int>,
    /// `min_sockaddr = N`.
    pub min_sockaddr: Option<Int>,
    /// `max_sockaddr = N`.
    pub max_sockaddr: Option<Int>,
}

impl FromMeta for ProtocolArg {
    fn from_meta(item: &Meta) -> Result<Self> {
        match item {
            Meta::List(list) => {
                let mut errors = Error::accumulator();
                let nested = NestedMeta::parse_meta_list(list.tokens.clone())?;
                let nested = options_only(nested, "`family = AF_INET`", &mut errors);
                let nested = known_options_only(
                    nested,
                    PROTOCOL_OPTIONS,
                    "`protocol(...)` option",
                    &mut errors,
                );
                let fields = errors
                    .handle(ProtocolFields::from_list(&nested).map_err(|e| e.with_span(item)));
                match errors.finish_with(fields)? {
                    Some(fields) => Ok(ProtocolArg {
                        span: list.path.span(),
                        fields,
                    }),
                    None => Err(Error::custom("invalid `protocol(...)`").with_span(item)),
                }
            }
            _ => Err(Error::custom(
                "`protocol` takes its settings in parentheses: write \
                 `protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP)`",
            )
            .with_span(item)),
        }
    }
}

/// `items` without bare literals, each reported: options are `key = value`, like `example`.
pub fn options_only(
    items: Vec<NestedMeta>,
    example: &str,
    errors: &mut darling::error::Accumulator,
) -> Vec<NestedMeta> {
    items
        .into_iter()
        .filter(|item| match item {
            NestedMeta::Lit(lit) => {
                errors.push(
                    Error::custom(format!(
                        "expected an option, not a literal: write options like {}",
                        example
                    ))
                    .with_span(lit),
                );
                false
            }
            NestedMeta::Meta(_) => true,
        })
        .collect()
}

/// The options of `protocol(...)`, as `ProtocolFields` names them.
pub const PROTOCOL_OPTIONS: &[&str] = &[
    "name",
    "family",
    "socket_type",
    "protocol",
    "service_flags",
    "provider_flags",
    "max_message_size",
    "min_sockaddr",
    "max_sockaddr",
];

/// `items` without the options not in `known`, each reported in our words (darling's own
/// "Unknown field" would otherwise name them): with the closest known option, or the list.
/// `what` names an option in messages (`option`, `` `protocol(...)` option ``).
pub fn known_options_only(
    items: Vec<NestedMeta>,
    known: &[&str],
    what: &str,
    errors: &mut darling::error::Accumulator,
) -> Vec<NestedMeta> {
    items
        .into_iter()
        .filter(|item| {
            let meta = match item {
                NestedMeta::Meta(meta) => meta,
                NestedMeta::Lit(_) => return true,
            };
            let name = key(meta);
            if known.contains(&name.as_str()) {
                return true;
            }
            let message = match did_you_mean(&name, known.iter().copied()) {
                Some(close) => format!("unknown {} `{}`; did you mean `{}`?", what, name, close),
                None => {
                    let names: Vec<String> = known.iter().map(|k| format!("`{}`", k)).collect();
                    format!(
                        "unknown {} `{}`: the options are {}",
                        what,
                        name,
                        names.join(", ")
                    )
                }
            };
            errors.push(Error::custom(message).with_span(meta.path()));
            false
        })
        .collect()
}

/// The option's name as written (`family`, `crate`, ...).
fn key(item: &Meta) -> String {
    let path = item.path();
    match path.get_ident() {
        Some(ident) => ident.to_string(),
        None => quote::quote!(#path).to_string().replace(' ', ""),
    }
}

/// The value of a `key = value` option; `example` is what to write, for the error when the
/// option has no value or a list.
fn value<'a>(item: &'a Meta, example: &str) -> Result<&'a Expr> {
    match item {
        Meta::NameValue(nv) => {
            let mut expr = &nv.value;
            // Tokens passed through `macro_rules!` arrive wrapped in invisible groups.
            while let Expr::Group(group) = expr {
                expr = &group.expr;
            }
            Ok(expr)
        }
        Meta::Path(_) => Err(Error::custom(format!(
            "`{}` needs a value: write `{}`",
            key(item),
            example
        ))
        .with_span(item)),
        Meta::List(_) => Err(Error::custom(format!(
            "`{}` takes a value, not a list: write `{}`",
            key(item),
            example
        ))
        .with_span(item)),
    }
}

/// A string option.
pub struct Text {
    /// The string.
    pub value: String,
    /// The literal.
    pub span: Span,
}

impl FromMeta for Text {
    fn from_meta(item: &Meta) -> Result<Self> {
        let example = format!("{} = \"...\"", key(item));
        match value(item, &example)? {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok(Text {
                value: s.value(),
                span: s.span(),
            }),
            other => Err(Error::custom(format!(
                "`{}` takes a string: write `{}`",
                key(item),
                example
            ))
            .with_span(other)),
        }
    }
}

/// A word option without value (`ifs`, `non_ifs`).
pub struct Word {
    /// The word.
    pub span: Span,
}

impl FromMeta for Word {
    fn from_meta(item: &Meta) -> Result<Self> {
        match item {
            Meta::Path(path) => Ok(Word { span: path.span() }),
            _ => Err(
                Error::custom(format!("`{0}` takes no value: write just `{0}`", key(item)))
                    .with_span(item),
            ),
        }
    }
}

/// `crate = "path"`.
pub struct CratePath {
    /// The path to the runtime crate.
    pub path: syn::Path,
}

impl FromMeta for CratePath {
    fn from_meta(item: &Meta) -> Result<Self> {
        const EXAMPLE: &str = "crate = \"my_crate::winsock_provider\"";
        let bad = |span: Span| {
            Error::custom(format!(
                "`crate` takes the path of the `winsock_provider` crate as a string: write `{}`",
                EXAMPLE
            ))
            .with_span(&span)
        };
        match value(item, EXAMPLE)? {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) => match s.parse::<syn::Path>() {
                Ok(path) => Ok(CratePath { path }),
                Err(_) => Err(bad(s.span())),
            },
            Expr::Path(p) if p.qself.is_none() => Ok(CratePath {
                path: p.path.clone(),
            }),
            other => Err(bad(other.span())),
        }
    }
}

/// The form of a GUID, in messages (never a concrete GUID, which would get copied).
pub const GUID_PATTERN: &str = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

/// `guid = "..."`, parsed.
pub struct GuidArg {
    /// The GUID as the runtime's `Guid(u128)` holds it.
    pub value: u128,
}

impl FromMeta for GuidArg {
    fn from_meta(item: &Meta) -> Result<Self> {
        let example = format!("guid = \"{}\"", GUID_PATTERN);
        match value(item, &example)? {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) => match parse_guid(&s.value()) {
                Ok(value) => Ok(GuidArg { value }),
                Err(message) => Err(Error::custom(message).with_span(s)),
            },
            other => Err(
                Error::custom(format!("`guid` takes a string: write `{}`", example))
                    .with_span(other),
            ),
        }
    }
}

/// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (hex digits, either case) into the `u128` whose
/// hex digits read the same; rejects the nil GUID. The error says what to write.
pub fn parse_guid(text: &str) -> std::result::Result<u128, String> {
    const LENGTHS: [usize; 5] = [8, 4, 4, 4, 12];
    let trimmed = text.trim();
    if trimmed.starts_with('{') && trimmed.ends_with('}') && trimmed.len() >= 2 {
        let inner = &trimmed[1..trimmed.len() - 1];
        return Err(if parse_guid(inner).is_ok() {
            format!("write the GUID without braces: `\"{}\"`", inner)
        } else {
            bad_guid(text)
        });
    }
    let groups: Vec<&str> = text.split('-').collect();
    let well_formed = groups.len() == LENGTHS.len()
        && groups
            .iter()
            .zip(LENGTHS.iter())
            .all(|(g, &n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if !well_formed {
        return Err(bad_guid(text));
    }
    let digits: String = groups.concat();
    let value = u128::from_str_radix(&digits, 16).map_err(|_| bad_guid(text))?;
    if value == 0 {
        return Err(
            "the nil GUID cannot identify a provider: generate a fresh GUID (e.g. with `uuidgen`)"
                .to_owned(),
        );
    }
    Ok(value)
}

fn bad_guid(text: &str) -> String {
    format!(
        "`{}` is not a GUID: write 8-4-4-4-12 hexadecimal digits, `{}` \
         (generate a fresh one with `uuidgen`)",
        text, GUID_PATTERN
    )
}

/// The best match for `word` among `candidates` (compared without case), if close enough.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(&word, &candidate.to_ascii_lowercase());
        if score > 0.8 && best.map_or(true, |(b, _)| score > b) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// The Winsock constants one option accepts by name.
pub struct Table {
    /// The option (`family`).
    pub key: &'static str,
    /// What a value is, in messages (`address family`).
    pub what: &'static str,
    /// Names and values.
    pub entries: &'static [(&'static str, i32)],
}

impl Table {
    /// The name of `value`, if it has one.
    pub fn name_of(&self, value: i32) -> Option<&'static str> {
        self.entries.iter().find(|e| e.1 == value).map(|e| e.0)
    }

    fn names(&self) -> String {
        let names: Vec<String> = self.entries.iter().map(|e| format!("`{}`", e.0)).collect();
        names.join(", ")
    }
}

/// `AF_*`.
pub const FAMILIES: Table = Table {
    key: "family",
    what: "address family",
    entries: &[
        ("AF_UNSPEC", 0),
        ("AF_UNIX", 1),
        ("AF_INET", 2),
        ("AF_INET6", 23),
    ],
};

/// `SOCK_*`.
pub const SOCKET_TYPES: Table = Table {
    key: "socket_type",
    what: "socket type",
    entries: &[
        ("SOCK_STREAM", 1),
        ("SOCK_DGRAM", 2),
        ("SOCK_RAW", 3),
        ("SOCK_RDM", 4),
        ("SOCK_SEQPACKET", 5),
    ],
};

/// `IPPROTO_*`.
pub const PROTOCOLS: Table = Table {
    key: "protocol",
    what: "protocol",
    entries: &[("IPPROTO_TCP", 6), ("IPPROTO_UDP", 17)],
};

/// A value given by a Winsock constant's name, as an integer literal, or (where the option
/// accepts one) as the path of a constant of the author's own.
#[derive(Clone, Debug)]
pub enum Constant {
    /// A known value.
    Int(i32),
    /// The author's constant, read where the generated code is compiled.
    Path(syn::Path),
}

impl Constant {
    /// The value, when known at expansion time.
    pub fn known(&self) -> Option<i32> {
        match self {
            Constant::Int(v) => Some(*v),
            Constant::Path(_) => None,
        }
    }

    /// How messages name it: the Winsock name, the number, or the author's path.
    pub fn describe(&self, table: &Table) -> String {
        match self {
            Constant::Int(v) => match table.name_of(*v) {
                Some(name) => name.to_owned(),
                None => v.to_string(),
            },
            Constant::Path(p) => {
                let segments: Vec<String> =
                    p.segments.iter().map(|s| s.ident.to_string()).collect();
                format!("`{}`", segments.join("::"))
            }
        }
    }

    /// Parses `key = value`; `paths` says whether the option accepts a constant of the
    /// author's own (any path that is not a Winsock name or close to one).
    fn from_meta(item: &Meta, table: &Table, paths: bool) -> Result<Constant> {
        let example = format!("{} = {}", table.key, table.entries[0].0);
        let expr = value(item, &example)?;
        let expected = || {
            format!(
                "`{}` takes {}, a non-negative integer literal{}",
                table.key,
                table.names(),
                if paths {
                    " or the path of a constant of yours"
                } else {
                    ""
                }
            )
        };
        match expr {
            Expr::Path(p) if p.qself.is_none() => {
                let ident = match p.path.get_ident() {
                    Some(ident) => ident,
                    None => {
                        let last = p.path.segments.last().map(|s| s.ident.to_string());
                        let hint = match last.as_deref().and_then(|l| lookup(table, l)) {
                            Some((name, _)) => format!("write the bare name: `{}`", name),
                            None if paths => return Ok(Constant::Path(p.path.clone())),
                            None => expected(),
                        };
                        return Err(Error::custom(hint).with_span(&p.path));
                    }
                };
                let name = ident.to_string();
                match lookup(table, &name) {
                    Some((_, value)) => Ok(Constant::Int(value)),
                    None if paths && suggest(table, &name).is_none() => {
                        Ok(Constant::Path(p.path.clone()))
                    }
                    None => {
                        let message = match suggest(table, &name) {
                            Some(close) => format!(
                                "unknown {} `{}`; did you mean `{}`?",
                                table.what, name, close
                            ),
                            None => format!(
                                "unknown {} `{}`: write {} or an integer literal",
                                table.what,
                                name,
                                table.names()
                            ),
                        };
                        Err(Error::custom(message).with_span(ident))
                    }
                }
            }
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(int), ..
            }) if !int.base10_digits().starts_with('-') => match int.base10_parse::<i32>() {
                Ok(value) => Ok(Constant::Int(value)),
                Err(_) => Err(Error::custom(format!(
                    "{} {} does not fit the 32-bit signed `{}` field",
                    table.what,
                    int.base10_digits(),
                    table.key
                ))
                .with_span(int)),
            },
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) => {
                let message = match lookup(table, &s.value()) {
                    Some((name, _)) => format!("write `{}` without quotes", name),
                    None => expected(),
                };
                Err(Error::custom(message).with_span(s))
            }
            other => Err(Error::custom(expected()).with_span(other)),
        }
    }
}

/// The name in `table` closest to the unknown `name`: a close spelling, or the one `name`
/// abbreviates (`TCP` for `IPPROTO_TCP`).
fn suggest(table: &Table, name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    let suffix = format!("_{}", upper);
    let by_suffix = table.entries.iter().find(|e| e.0.ends_with(&suffix));
    match by_suffix {
        Some(entry) => Some(entry.0),
        None => did_you_mean(name, table.entries.iter().map(|e| e.0)),
    }
}

/// The entry of `table` named exactly `name`.
fn lookup(table: &Table, name: &str) -> Option<(&'static str, i32)> {
    table.entries.iter().find(|e| e.0 == name).copied()
}

/// `family = ...`.
pub struct Family(pub Constant);
/// `socket_type = ...`.
pub struct SocketType(pub Constant);
/// `protocol = ...`.
pub struct Protocol(pub Constant);

impl FromMeta for Family {
    fn from_meta(item: &Meta) -> Result<Self> {
        Constant::from_meta(item, &FAMILIES, true).map(Family)
    }
}

impl FromMeta for SocketType {
    fn from_meta(item: &Meta) -> Result<Self> {
        Constant::from_meta(item, &SOCKET_TYPES, false).map(SocketType)
    }
}

impl FromMeta for Protocol {
    fn from_meta(item: &Meta) -> Result<Self> {
        Constant::from_meta(item, &PROTOCOLS, true).map(Protocol)
    }
}

/// A non-negative integer literal.
pub struct Int {
    /// The value.
    pub value: u128,
    /// The literal.
    pub span: Span,
    /// The option's name.
    pub key_span: Span,
}

impl FromMeta for Int {
    fn from_meta(item: &Meta) -> Result<Self> {
        let example = format!("{} = 16", key(item));
        let expr = value(item, &example)?;
        match expr {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(int), ..
            }) if !int.base10_digits().starts_with('-') => match int.base10_parse::<u128>() {
                Ok(value) => Ok(Int {
                    value,
                    span: int.span(),
                    key_span: item.path().span(),
                }),
                Err(e) => Err(Error::from(e)),
            },
            other => Err(Error::custom(format!(
                "`{}` takes a non-negative integer literal: write `{}`",
                key(item),
                example
            ))
            .with_span(other)),
        }
    }
}

/// The flags one list option accepts.
pub struct FlagTable {
    /// The option (`service_flags`).
    pub key: &'static str,
    /// What an entry is, in messages (`service flag`).
    pub what: &'static str,
    /// The prefix of the C names (`XP1_`).
    pub prefix: &'static str,
    /// Names (snake case, without the prefix) and bits.
    pub entries: &'static [(&'static str, u32)],
}

/// `XP1_*`, without `XP1_IFS_HANDLES` (the runtime sets it from `ifs`).
pub const SERVICE_FLAGS: FlagTable = FlagTable {
    key: "service_flags",
    what: "service flag",
    prefix: "XP1_",
    entries: &[
        ("connectionless", 0x1),
        ("guaranteed_delivery", 0x2),
        ("guaranteed_order", 0x4),
        ("message_oriented", 0x8),
        ("pseudo_stream", 0x10),
        ("graceful_close", 0x20),
        ("expedited_data", 0x40),
        ("connect_data", 0x80),
        ("disconnect_data", 0x100),
        ("support_broadcast", 0x200),
        ("support_multipoint", 0x400),
        ("multipoint_control_plane", 0x800),
        ("multipoint_data_plane", 0x1000),
        ("qos_supported", 0x2000),
        ("uni_send", 0x8000),
        ("uni_recv", 0x10000),
        ("partial_message", 0x40000),
    ],
};

/// `PFL_*`.
pub const PROVIDER_FLAGS: FlagTable = FlagTable {
    key: "provider_flags",
    what: "provider flag",
    prefix: "PFL_",
    entries: &[
        ("multiple_proto_entries", 1),
        ("recommended_proto_entry", 2),
        ("hidden", 4),
        ("matches_protocol_zero", 8),
    ],
};

/// A list of flag names, or-ed together.
pub struct FlagList {
    /// The flags.
    pub bits: u32,
}

impl FlagList {
    fn from_meta(item: &Meta, table: &FlagTable) -> Result<FlagList> {
        let list = match item {
            Meta::List(list) => list,
            _ => {
                return Err(Error::custom(format!(
                    "`{0}` takes a list of flag names: write `{0}({1}, ...)`",
                    table.key, table.entries[1].0
                ))
                .with_span(item))
            }
        };
        let nested = NestedMeta::parse_meta_list(list.tokens.clone())?;
        let mut errors = Error::accumulator();
        let mut bits = 0u32;
        for entry in &nested {
            let ident = match entry {
                NestedMeta::Meta(Meta::Path(path)) => path.get_ident(),
                _ => None,
            };
            let ident = match ident {
                Some(ident) => ident,
                None => {
                    errors.push(
                        Error::custom(format!(
                            "`{}` lists flag names, like `{}`",
                            table.key, table.entries[1].0
                        ))
                        .with_span(entry),
                    );
                    continue;
                }
            };
            match flag_bit(table, &ident.to_string()) {
                Ok(bit) if bits & bit != 0 => errors
                    .push(Error::custom(format!("`{}` is listed twice", ident)).with_span(ident)),
                Ok(bit) => bits |= bit,
                Err(message) => errors.push(Error::custom(message).with_span(ident)),
            }
        }
        errors.finish_with(FlagList { bits })
    }
}

/// The bit of flag `name`; the error says what to write instead.
pub fn flag_bit(table: &FlagTable, name: &str) -> std::result::Result<u32, String> {
    if let Some(entry) = table.entries.iter().find(|e| e.0 == name) {
        return Ok(entry.1);
    }
    let lower = name.to_ascii_lowercase();
    let bare = lower
        .strip_prefix(&table.prefix.to_ascii_lowercase())
        .unwrap_or(&lower);
    if table.prefix == "XP1_" && bare == "ifs_handles" {
        return Err(format!(
            "do not list `{}`: the runtime sets XP1_IFS_HANDLES on every protocol entry of an \
             `ifs` provider; declare the provider `ifs` instead",
            name
        ));
    }
    if let Some(entry) = table.entries.iter().find(|e| e.0 == bare) {
        return Err(format!(
            "write `{}`: {}s are snake case, without `{}`",
            entry.0, table.what, table.prefix
        ));
    }
    match did_you_mean(bare, table.entries.iter().map(|e| e.0)) {
        Some(close) => Err(format!(
            "unknown {} `{}`; did you mean `{}`?",
            table.what, name, close
        )),
        None => {
            let names: Vec<&str> = table.entries.iter().map(|e| e.0).collect();
            Err(format!(
                "unknown {} `{}`: the {}s are {}",
                table.what,
                name,
                table.what,
                names.join(", ")
            ))
        }
    }
}

/// `service_flags(...)`.
pub struct ServiceFlags(pub FlagList);
/// `provider_flags(...)`.
pub struct ProviderFlags(pub FlagList);

impl FromMeta for ServiceFlags {
    fn from_meta(item: &Meta) -> Result<Self> {
        FlagList::from_meta(item, &SERVICE_FLAGS).map(ServiceFlags)
    }
}

impl FromMeta for ProviderFlags {
    fn from_meta(item: &Meta) -> Result<Self> {
        FlagList::from_meta(item, &PROVIDER_FLAGS).map(ProviderFlags)
    }
}

/// `LSP_*`, the categories `WSCSetProviderInfo(ProviderInfoLspCategories)` takes.
pub const LSP_CATEGORIES: &[(&str, u32)] = &[
    ("LSP_INSPECTOR", 0x0000_0001),
    ("LSP_REDIRECTOR", 0x0000_0002),
    ("LSP_PROXY", 0x0000_0004),
    ("LSP_FIREWALL", 0x0000_0008),
    ("LSP_INBOUND_MODIFY", 0x0000_0010),
    ("LSP_OUTBOUND_MODIFY", 0x0000_0020),
    ("LSP_CRYPTO_COMPRESS", 0x0000_0040),
    ("LSP_LOCAL_CACHE", 0x0000_0080),
    ("LSP_SYSTEM", 0x8000_0000),
];

/// Every bit an LSP category has.
const LSP_ALL: u32 = 0x8000_00FF;

/// What to write for `categories`, in messages.
const CATEGORIES_EXAMPLE: &str = "categories = [LSP_PROXY, LSP_SYSTEM]";

/// `categories = ...`: a layer's LSP categories, or-ed together.
pub struct Categories {
    /// The option's name, where errors about the option as a whole point.
    pub key_span: Span,
    /// The bits given by name or literal.
    pub bits: u32,
    /// The author's constants, or-ed in where the generated code is compiled.
    pub paths: Vec<syn::Path>,
}

impl FromMeta for Categories {
    fn from_meta(item: &Meta) -> Result<Self> {
        let key_span = item.path().span();
        let expr = match item {
            Meta::List(_) => {
                return Err(Error::custom(format!(
                    "`categories` takes a value: write `{}`",
                    CATEGORIES_EXAMPLE
                ))
                .with_span(item))
            }
            _ => value(item, CATEGORIES_EXAMPLE)?,
        };
        let elements: Vec<&Expr> = match expr {
            Expr::Array(array) => array.elems.iter().collect(),
            single => vec![single],
        };
        let mut errors = Error::accumulator();
        let mut out = Categories {
            key_span,
            bits: 0,
            paths: Vec::new(),
        };
        for element in elements {
            let mut element = element;
            while let Expr::Group(group) = element {
                element = &group.expr;
            }
            match category(element) {
                Ok(Category::Bits(bits, span)) if out.bits & bits != 0 => errors.push(
                    Error::custom("this category is listed twice: remove one").with_span(&span),
                ),
                Ok(Category::Bits(bits, _)) => out.bits |= bits,
                Ok(Category::Path(path)) => out.paths.push(path),
                Err(e) => errors.push(e),
            }
        }
        errors.finish_with(out)
    }
}

/// One element of `categories`.
enum Category {
    /// A name or a literal, and where it was written.
    Bits(u32, Span),
    /// The author's constant.
    Path(syn::Path),
}

fn category(expr: &Expr) -> Result<Category> {
    let names = || {
        let names: Vec<String> = LSP_CATEGORIES
            .iter()
            .map(|e| format!("`{}`", e.0))
            .collect();
        names.join(", ")
    };
    match expr {
        Expr::Path(p) if p.qself.is_none() => {
            let last = match p.path.segments.last() {
                Some(segment) => segment.ident.to_string(),
                None => return Err(Error::custom("expected a category").with_span(p)),
            };
            let known = LSP_CATEGORIES.iter().find(|e| e.0 == last);
            if p.path.get_ident().is_none() {
                // A path of several segments is the author's constant, unless it spells out
                // a Winsock name the attribute knows bare.
                return match known {
                    Some(entry) => {
                        Err(Error::custom(format!("write the bare name: `{}`", entry.0))
                            .with_span(&p.path))
                    }
                    None => Ok(Category::Path(p.path.clone())),
                };
            }
            if let Some(entry) = known {
                return Ok(Category::Bits(entry.1, p.span()));
            }
            // A name meant as a category (`PROXY`, `lsp_proxy`, `LSP_PROXI`) gets a
            // suggestion; any other name is the author's constant.
            let upper = last.to_ascii_uppercase();
            let prefixed = format!("LSP_{}", upper);
            let close = LSP_CATEGORIES
                .iter()
                .find(|e| e.0 == prefixed || e.0 == upper)
                .map(|e| e.0)
                .or_else(|| {
                    if upper.starts_with("LSP_") {
                        did_you_mean(&last, LSP_CATEGORIES.iter().map(|e| e.0))
                    } else {
                        None
                    }
                });
            match close {
                Some(close) => Err(Error::custom(format!(
                    "unknown LSP category `{}`; did you mean `{}`?",
                    last, close
                ))
                .with_span(&p.path)),
                None => Ok(Category::Path(p.path.clone())),
            }
        }
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(int), ..
        }) => match int.base10_parse::<u32>() {
            Ok(bits) if bits & !LSP_ALL == 0 => Ok(Category::Bits(bits, int.span())),
            Ok(bits) => Err(Error::custom(format!(
                "{:#x} has bits no LSP category has ({:#x}): list the categories by name, \
                 like `{}` (they are {})",
                bits,
                bits & !LSP_ALL,
                CATEGORIES_EXAMPLE,
                names()
            ))
            .with_span(int)),
            Err(_) => Err(Error::custom(format!(
                "{} does not fit the 32-bit LSP categories",
                int.base10_digits()
            ))
            .with_span(int)),
        },
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            let text = s.value();
            let message = match LSP_CATEGORIES.iter().find(|e| e.0 == text) {
                Some(entry) => format!("write `{}` without quotes", entry.0),
                None => format!(
                    "`categories` lists {}, integer literals or constants of yours, not strings",
                    names()
                ),
            };
            Err(Error::custom(message).with_span(s))
        }
        other => Err(Error::custom(format!(
            "`categories` lists {}, integer literals or constants of yours: write `{}`",
            names(),
            CATEGORIES_EXAMPLE
        ))
        .with_span(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_parse_to_the_value_their_digits_spell() {
        assert_eq!(
            parse_guid("6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f"),
            Ok(0x6f1c2a3e_8d4b_4c5a_9e7f_0a1b2c3d4e5f)
        );
        assert_eq!(
            parse_guid("6F1C2A3E-8D4B-4C5A-9E7F-0A1B2C3D4E5F"),
            Ok(0x6f1c2a3e_8d4b_4c5a_9e7f_0a1b2c3d4e5f)
        );
        assert_eq!(parse_guid("00000000-0000-0000-0000-000000000001"), Ok(1));
    }

    #[test]
    fn malformed_guids_are_rejected() {
        for bad in [
            "",
            "6f1c2a3e8d4b4c5a9e7f0a1b2c3d4e5f",
            "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5",
            "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f0",
            "6f1c2a3e-8d4b-4c5a-9e7f0-a1b2c3d4e5f",
            "6f1c2a3g-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
            "+f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
            "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f-",
        ] {
            let err = parse_guid(bad).unwrap_err();
            assert!(err.contains("is not a GUID"), "{}: {}", bad, err);
        }
    }

    #[test]
    fn braces_and_the_nil_guid_get_their_own_message() {
        let err = parse_guid("{6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f}").unwrap_err();
        assert!(err.contains("without braces"), "{}", err);
        let err = parse_guid("00000000-0000-0000-0000-000000000000").unwrap_err();
        assert!(err.contains("nil GUID"), "{}", err);
    }

    #[test]
    fn flag_names() {
        assert_eq!(flag_bit(&SERVICE_FLAGS, "partial_message"), Ok(0x40000));
        assert_eq!(flag_bit(&PROVIDER_FLAGS, "hidden"), Ok(4));
        let err = flag_bit(&SERVICE_FLAGS, "XP1_GRACEFUL_CLOSE").unwrap_err();
        assert!(err.starts_with("write `graceful_close`"), "{}", err);
        let err = flag_bit(&SERVICE_FLAGS, "ifs_handles").unwrap_err();
        assert!(err.contains("declare the provider `ifs`"), "{}", err);
        let err = flag_bit(&SERVICE_FLAGS, "XP1_IFS_HANDLES").unwrap_err();
        assert!(err.contains("declare the provider `ifs`"), "{}", err);
        let err = flag_bit(&SERVICE_FLAGS, "guaranteed_delivry").unwrap_err();
        assert!(
            err.ends_with("did you mean `guaranteed_delivery`?"),
            "{}",
            err
        );
        let err = flag_bit(&PROVIDER_FLAGS, "zzz").unwrap_err();
        assert!(err.contains("matches_protocol_zero"), "{}", err);
    }

    fn categories(text: &str) -> Result<Categories> {
        let meta: Meta = syn::parse_str(&format!("categories = {}", text)).unwrap();
        Categories::from_meta(&meta)
    }

    #[test]
    fn categories_take_names_literals_and_constants() {
        let c = categories("[LSP_PROXY, LSP_SYSTEM]").unwrap();
        assert_eq!((c.bits, c.paths.len()), (0x8000_0004, 0));
        let c = categories("LSP_INSPECTOR").unwrap();
        assert_eq!(c.bits, 1);
        let c = categories("[0x80000000, my::CATEGORIES, REDIRECTS]").unwrap();
        assert_eq!((c.bits, c.paths.len()), (0x8000_0000, 2));
        assert_eq!(categories("[]").unwrap().bits, 0);
    }

    #[test]
    fn category_mistakes_say_what_to_write() {
        let message = |text: &str| categories(text).err().expect(text).to_string();
        assert!(message("[lsp_proxy]").ends_with("did you mean `LSP_PROXY`?"));
        assert!(message("[PROXY]").ends_with("did you mean `LSP_PROXY`?"));
        assert!(message("[LSP_FIREWAL]").ends_with("did you mean `LSP_FIREWALL`?"));
        assert!(message("[LSP_PROXY, LSP_PROXY]").contains("listed twice"));
        assert!(message("[\"LSP_PROXY\"]").contains("without quotes"));
        assert!(message("[winsock::LSP_PROXY]").contains("bare name"));
        assert!(message("0x100").contains("bits no LSP category has (0x100)"));
        assert!(message("[-1]").contains("`categories` lists"));
        let list: Meta = syn::parse_str("categories(LSP_PROXY)").unwrap();
        let err = Categories::from_meta(&list).err().unwrap().to_string();
        assert!(
            err.contains("categories = [LSP_PROXY, LSP_SYSTEM]"),
            "{}",
            err
        );
    }

    #[test]
    fn the_category_names_are_the_catalogs() {
        assert_eq!(LSP_CATEGORIES.len(), 9);
        let all = LSP_CATEGORIES.iter().fold(0, |a, e| a | e.1);
        assert_eq!(all, LSP_ALL);
    }

    #[test]
    fn abbreviations_suggest_the_full_name() {
        assert_eq!(suggest(&PROTOCOLS, "tcp"), Some("IPPROTO_TCP"));
        assert_eq!(suggest(&FAMILIES, "INET6"), Some("AF_INET6"));
        assert_eq!(suggest(&SOCKET_TYPES, "SOCK_DGRM"), Some("SOCK_DGRAM"));
    }

    #[test]
    fn suggestions_ignore_case() {
        let names = FAMILIES.entries.iter().map(|e| e.0);
        assert_eq!(did_you_mean("af_inet6", names), Some("AF_INET6"));
        let names = FAMILIES.entries.iter().map(|e| e.0);
        assert_eq!(did_you_mean("banana", names), None);
    }
}
