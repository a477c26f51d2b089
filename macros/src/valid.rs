//! Checks across options, defaults, and the shape of the item: turns the parsed arguments into
//! the [`Model`] that `expand.rs` writes out, or into every error found at once.

use crate::attr::{
    self, Args, Constant, FlagList, Int, ProtocolArg, ProtocolFields, Table, Text, FAMILIES,
    PROTOCOLS, SOCKET_TYPES,
};
use darling::ast::NestedMeta;
use darling::{Error, FromMeta, Result};
use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{Ident, Item};

/// Everything the expansion needs, checked.
pub struct Model {
    /// The path of the runtime crate.
    pub krate: syn::Path,
    /// The provider struct.
    pub ident: Ident,
    /// The descriptor mode, with the span of its word.
    pub mode: Mode,
    /// `ProviderInfo::name`.
    pub name: String,
    /// `ProviderInfo::description`.
    pub description: String,
    /// `ProviderInfo::guid`.
    pub guid: u128,
    /// The protocol entries, in order.
    pub protocols: Vec<Entry>,
    /// `layered`, where it was written: the struct is a layer.
    pub layered: Option<Span>,
    /// A layer's LSP categories (`categories = ...`; only with `layered`).
    pub categories: Option<LspCategories>,
}

/// `categories = ...`, checked: the bits known at expansion time and the author's constants.
pub struct LspCategories {
    /// The `LSP_*` names and literals, or-ed together.
    pub bits: u32,
    /// The author's constants.
    pub paths: Vec<syn::Path>,
}

/// The descriptor mode and where it was written.
#[derive(Copy, Clone)]
pub enum Mode {
    /// `ifs`.
    Ifs(Span),
    /// `non_ifs`.
    NonIfs(Span),
}

/// A field given as a number or as the path of the author's own constant (compared by its
/// tokens, e.g. to find duplicate entries).
#[derive(Clone, Debug)]
pub enum Value {
    /// Known at expansion time.
    Int(i32),
    /// Read where the generated code is compiled.
    Path(syn::Path),
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Path(a), Value::Path(b)) => {
                quote::ToTokens::to_token_stream(a).to_string()
                    == quote::ToTokens::to_token_stream(b).to_string()
            }
            _ => false,
        }
    }
}

impl Eq for Value {}

impl From<&Constant> for Value {
    fn from(c: &Constant) -> Value {
        match c {
            Constant::Int(v) => Value::Int(*v),
            Constant::Path(p) => Value::Path(p.clone()),
        }
    }
}

/// One `ProtocolSpec`, with defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `szProtocol`.
    pub name: String,
    /// `iAddressFamily`: a number, or the author's constant.
    pub family: Value,
    /// `iSocketType`.
    pub socket_type: i32,
    /// `iProtocol`: a number, or the author's constant.
    pub protocol: Value,
    /// `dwServiceFlags1`.
    pub service_flags: u32,
    /// `dwProviderFlags`.
    pub provider_flags: u32,
    /// `dwMessageSize`.
    pub max_message_size: u32,
    /// `iMinSockAddr`.
    pub min_sockaddr: i32,
    /// `iMaxSockAddr`.
    pub max_sockaddr: i32,
}

const SOCK_STREAM: i32 = 1;
const SOCK_DGRAM: i32 = 2;
const XP1_CONNECTIONLESS: u32 = 0x1;
const XP1_GUARANTEED_DELIVERY: u32 = 0x2;
const XP1_GUARANTEED_ORDER: u32 = 0x4;
const XP1_MESSAGE_ORIENTED: u32 = 0x8;
const XP1_GRACEFUL_CLOSE: u32 = 0x20;
const PFL_MATCHES_PROTOCOL_ZERO: u32 = 8;
/// `WSAPROTOCOL_LEN`: the characters of `szProtocol`, without its NUL.
const PROTOCOL_NAME_MAX: usize = 255;
/// `WSADESCRIPTION_LEN`: the characters of `WSPDATA.szDescription`, without its NUL.
const DESCRIPTION_MAX: usize = 256;
const EXAMPLE: &str = "#[winsock_provider(name = \"...\", guid = \"...\", non_ifs, \
                       protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP))]";

/// `dwServiceFlags1` of a socket type when `service_flags` is not given.
pub fn default_service_flags(socket_type: i32) -> u32 {
    match socket_type {
        SOCK_STREAM => XP1_GUARANTEED_DELIVERY | XP1_GUARANTEED_ORDER | XP1_GRACEFUL_CLOSE,
        SOCK_DGRAM => XP1_CONNECTIONLESS | XP1_MESSAGE_ORIENTED,
        _ => XP1_MESSAGE_ORIENTED,
    }
}

/// `dwProviderFlags` when `provider_flags` is not given.
pub const DEFAULT_PROVIDER_FLAGS: u32 = PFL_MATCHES_PROTOCOL_ZERO;

/// `dwMessageSize` of a socket type when `max_message_size` is not given.
pub fn default_max_message_size(socket_type: i32) -> u32 {
    match socket_type {
        SOCK_STREAM => 0,
        SOCK_DGRAM => 65467,
        _ => 0xFFFF_FFFF,
    }
}

/// `iMinSockAddr`/`iMaxSockAddr` of the families that have defaults.
pub fn default_sockaddr(family: i32) -> Option<(i32, i32)> {
    match family {
        2 => Some((16, 16)),  // AF_INET: sizeof(SOCKADDR_IN)
        23 => Some((28, 28)), // AF_INET6: sizeof(SOCKADDR_IN6)
        1 => Some((2, 110)),  // AF_UNIX: family only .. sizeof(SOCKADDR_UN)
        _ => None,
    }
}

/// The name of a value in messages: its constant name, or the number.
fn describe(table: &Table, value: i32) -> String {
    match table.name_of(value) {
        Some(name) => name.to_owned(),
        None => value.to_string(),
    }
}

/// Checks the item and the arguments together, reporting every problem at once.
pub fn check(args: TokenStream, item: &Item) -> Result<Model> {
    let mut errors = Error::accumulator();
    let ident = errors.handle(check_item(item));
    let declared = if args.is_empty() {
        errors.push(
            Error::custom(format!(
                "`#[winsock_provider]` needs arguments: write `{}`",
                EXAMPLE
            ))
            .with_span(&Span::call_site()),
        );
        None
    } else {
        match NestedMeta::parse_meta_list(args) {
            Ok(items) => {
                let items = attr::options_only(items, "`name = \"...\"`", &mut errors);
                check_presence(&items, &mut errors);
                let items = attr::known_options_only(items, OPTIONS, "option", &mut errors);
                let parsed = errors.handle(Args::from_list(&items));
                parsed.and_then(|args| errors.handle(check_args(args)))
            }
            Err(e) => {
                errors.push(e.into());
                None
            }
        }
    };
    let model = match (ident, declared) {
        (Some(ident), Some(declared)) => Some(Model {
            krate: declared.krate,
            ident,
            mode: declared.mode,
            name: declared.name,
            description: declared.description,
            guid: declared.guid,
            protocols: declared.protocols,
            layered: declared.layered,
            categories: declared.categories,
        }),
        _ => None,
    };
    errors.finish()?;
    // Without errors, both halves were produced.
    model.ok_or_else(|| Error::custom("internal error in #[winsock_provider]"))
}

/// The ident of the provider struct; the item must be a non-generic struct.
pub fn check_item(item: &Item) -> Result<Ident> {
    let (what, span) = match item {
        Item::Struct(s) => {
            if let Some(again) = s.attrs.iter().find(|a| is_this_attribute(a)) {
                return Err(Error::custom(
                    "`#[winsock_provider]` is given twice on this struct: a provider has one set \
                     of options; merge them into one attribute",
                )
                .with_span(again.path()));
            }
            return match s.generics.params.first() {
                None => Ok(s.ident.clone()),
                Some(param) => Err(Error::custom(
                    "a provider struct cannot be generic: `#[winsock_provider]` exports one \
                     `WSPStartup` for one process-wide provider instance; remove the parameters \
                     and name concrete types in the fields",
                )
                .with_span(param)),
            };
        }
        Item::Enum(e) => ("an enum", e.enum_token.span),
        Item::Union(u) => ("a union", u.union_token.span),
        Item::Fn(f) => ("a function", f.sig.fn_token.span),
        Item::Impl(i) => ("an impl block", i.impl_token.span),
        Item::Trait(t) => ("a trait", t.trait_token.span),
        Item::Mod(m) => ("a module", m.mod_token.span),
        Item::Type(t) => ("a type alias", t.type_token.span),
        Item::Const(c) => ("a constant", c.const_token.span),
        Item::Static(s) => ("a static", s.static_token.span),
        Item::Use(u) => ("a `use` item", u.use_token.span),
        other => ("this item", other.span()),
    };
    Err(Error::custom(format!(
        "`#[winsock_provider]` goes on the provider struct, not on {}: write it on the `struct` \
         that implements `winsock_provider::Provider`",
        what
    ))
    .with_span(&span))
}

/// Whether `attr` is `#[winsock_provider(...)]` (by any path ending in that name).
pub fn is_this_attribute(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .map_or(false, |s| s.ident == "winsock_provider")
}

/// What the arguments declare.
struct Declared {
    krate: syn::Path,
    mode: Mode,
    name: String,
    description: String,
    guid: u128,
    protocols: Vec<Entry>,
    layered: Option<Span>,
    categories: Option<LspCategories>,
}

/// The options every provider needs, found by name among the raw arguments, so they are
/// reported along with any malformed value (which stops darling from producing [`Args`]).
fn check_presence(items: &[NestedMeta], errors: &mut darling::error::Accumulator) {
    // A misspelt option is reported with a suggestion (by `attr::known_options_only`); the
    // option it was meant to be is not also called missing.
    let misspelt: Vec<&str> = items
        .iter()
        .filter_map(|item| match item {
            NestedMeta::Meta(meta) => meta.path().get_ident().map(|i| i.to_string()),
            NestedMeta::Lit(_) => None,
        })
        .filter(|key| !OPTIONS.contains(&key.as_str()))
        .filter_map(|key| attr::did_you_mean(&key, OPTIONS.iter().copied()))
        .collect();
    let present = |key: &str| position(items, key).is_some() || misspelt.contains(&key);

    if !present("name") {
        errors.push(
            Error::custom("missing `name = \"...\"`: the provider's display name")
                .with_span(&Span::call_site()),
        );
    }
    if !present("guid") {
        errors.push(
            Error::custom(format!(
                "missing `guid = \"{}\"`: the provider's GUID \
                 (generate a fresh one with `uuidgen`)",
                attr::GUID_PATTERN
            ))
            .with_span(&Span::call_site()),
        );
    }
    match (position(items, "ifs"), position(items, "non_ifs")) {
        (Some(ifs), Some(non_ifs)) => {
            let later = &items[ifs.max(non_ifs)];
            errors.push(
                Error::custom(
                    "`ifs` and `non_ifs` exclude each other: keep the one that says how the \
                     provider's socket handles are made",
                )
                .with_span(later),
            );
        }
        (None, None) if !present("ifs") && !present("non_ifs") => errors.push(
            Error::custom(
                "missing descriptor mode: add `non_ifs` (socket handles come from ws2_32) or \
                 `ifs` (each socket is an OS handle; the socket type implements \
                 `winsock_provider::IfsSocket`)",
            )
            .with_span(&Span::call_site()),
        ),
        _ => {}
    }
    if !present("protocol") {
        errors.push(
            Error::custom(
                "missing `protocol(...)`: declare at least one protocol entry, like \
                 `protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP)`",
            )
            .with_span(&Span::call_site()),
        );
    }
}

/// The top-level options, as `Args` names them.
const OPTIONS: &[&str] = &[
    "name",
    "description",
    "guid",
    "ifs",
    "non_ifs",
    "layered",
    "categories",
    "protocol",
    "crate",
];

/// Where option `key` first appears among the arguments, in whatever form.
fn position(items: &[NestedMeta], key: &str) -> Option<usize> {
    items.iter().position(|item| match item {
        NestedMeta::Meta(meta) => meta.path().is_ident(key),
        _ => false,
    })
}

/// Defaults and cross-option checks; missing options were reported by [`check_presence`].
fn check_args(args: Args) -> Result<Declared> {
    let mut errors = Error::accumulator();

    let name = match &args.name {
        Some(name) => {
            if let Err(e) = check_text(name, "the provider name", None) {
                errors.push(e);
            }
            name.value.clone()
        }
        None => String::new(),
    };

    let description = match &args.description {
        Some(text) => {
            if let Err(e) = check_text(text, "the description", Some(DESCRIPTION_MAX)) {
                errors.push(e);
            }
            text.value.clone()
        }
        None => {
            if let Some(text) = &args.name {
                if utf16_len(&text.value) > DESCRIPTION_MAX {
                    errors.push(
                        Error::custom(format!(
                            "the provider name doubles as the description, which \
                             `WSPDATA.szDescription` limits to {} UTF-16 units: add a shorter \
                             `description = \"...\"`",
                            DESCRIPTION_MAX
                        ))
                        .with_span(&text.span),
                    );
                }
            }
            name.clone()
        }
    };

    let guid = match &args.guid {
        Some(guid) => guid.value,
        None => 0,
    };

    let mode = match (&args.ifs, &args.non_ifs) {
        (Some(ifs), None) => Mode::Ifs(ifs.span),
        (_, Some(non_ifs)) => Mode::NonIfs(non_ifs.span),
        (None, None) => Mode::NonIfs(Span::call_site()),
    };

    let mut protocols: Vec<Entry> = Vec::new();
    let mut seen: Vec<(Value, Value, Value)> = Vec::new();
    for arg in &args.protocols {
        let fields = &arg.fields;
        if let (Some(family), Some(socket_type)) = (&fields.family, &fields.socket_type) {
            let protocol = fields
                .protocol
                .as_ref()
                .map_or(Value::Int(0), |p| Value::from(&p.0));
            let key = (
                Value::from(&family.0),
                Value::from(&socket_type.0),
                protocol,
            );
            if seen.contains(&key) {
                let protocol = fields
                    .protocol
                    .as_ref()
                    .map_or_else(|| "0".to_owned(), |p| p.0.describe(&PROTOCOLS));
                errors.push(
                    Error::custom(format!(
                        "duplicate protocol entry: family {}, socket type {}, protocol {} is \
                         declared above; ws2_32 tells entries apart by these three, so remove \
                         one or change it",
                        family.0.describe(&FAMILIES),
                        socket_type.0.describe(&SOCKET_TYPES),
                        protocol,
                    ))
                    .with_span(&arg.span),
                );
                continue;
            }
            seen.push(key);
        }
        if let Some(entry) = errors.handle(check_protocol(arg, &name)) {
            protocols.push(entry);
        }
    }

    let krate = match args.krate {
        Some(krate) => krate.path,
        None => syn::parse_quote!(::winsock_provider),
    };

    let layered = args.layered.as_ref().map(|w| w.span);
    let categories = args.categories.map(|c| {
        if layered.is_none() {
            errors.push(
                Error::custom(
                    "`categories` are LSP categories, which only a layered provider has: add \
                     `layered` to make this struct a layer, or remove `categories`",
                )
                .with_span(&c.key_span),
            );
        }
        LspCategories {
            bits: c.bits,
            paths: c.paths,
        }
    });
    errors.finish_with(Declared {
        krate,
        mode,
        name,
        description,
        guid,
        protocols,
        layered,
        categories,
    })
}

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// A display string must be non-empty, NUL-free, and fit its fixed-size field.
fn check_text(text: &Text, what: &str, max: Option<usize>) -> Result<()> {
    let message = if text.value.is_empty() {
        format!("{} cannot be empty", what)
    } else if text.value.contains('\0') {
        format!("{} cannot contain NUL characters", what)
    } else {
        match max {
            Some(max) if utf16_len(&text.value) > max => format!(
                "{} is {} UTF-16 units long; its Winsock field holds at most {}",
                what,
                utf16_len(&text.value),
                max
            ),
            _ => return Ok(()),
        }
    };
    Err(Error::custom(message).with_span(&text.span))
}

fn int_field<T: TryFrom<u128>>(int: &Int, key: &str, range: &str) -> Result<T> {
    T::try_from(int.value)
        .map_err(|_| Error::custom(format!("`{}` must be in {}", key, range)).with_span(&int.span))
}

fn check_protocol(arg: &ProtocolArg, provider_name: &str) -> Result<Entry> {
    let fields: &ProtocolFields = &arg.fields;
    let mut errors = Error::accumulator();

    let family = fields.family.as_ref().map(|f| &f.0);
    if family.is_none() {
        errors.push(
            Error::custom(
                "`protocol(...)` needs `family = ...`: AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC or \
                 an integer literal",
            )
            .with_span(&arg.span),
        );
    }
    let socket_type = fields.socket_type.as_ref().and_then(|s| s.0.known());
    if socket_type.is_none() {
        errors.push(
            Error::custom(
                "`protocol(...)` needs `socket_type = ...`: SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, \
                 SOCK_RDM, SOCK_SEQPACKET or an integer literal",
            )
            .with_span(&arg.span),
        );
    }
    let (family, socket_type) = match (family, socket_type) {
        (Some(family), Some(socket_type)) => (family, socket_type),
        _ => {
            // At least one error was pushed just above.
            errors.finish()?;
            return Err(Error::custom(
                "`protocol(...)` needs `family` and `socket_type`",
            ));
        }
    };
    let protocol = fields
        .protocol
        .as_ref()
        .map_or(Value::Int(0), |p| Value::from(&p.0));

    let name = match &fields.name {
        Some(text) => {
            if let Err(e) = check_text(text, "the protocol name", Some(PROTOCOL_NAME_MAX)) {
                errors.push(e);
            }
            text.value.clone()
        }
        None => {
            let name = format!("{} {}", provider_name, describe(&SOCKET_TYPES, socket_type));
            if utf16_len(&name) > PROTOCOL_NAME_MAX {
                errors.push(
                    Error::custom(format!(
                        "the default protocol name (the provider name and the socket type) is \
                         longer than the {} UTF-16 units `szProtocol` holds: add \
                         `name = \"...\"`",
                        PROTOCOL_NAME_MAX
                    ))
                    .with_span(&arg.span),
                );
            }
            name
        }
    };

    let bits = |list: Option<&FlagList>, default: u32| list.map_or(default, |l| l.bits);
    let service_flags = bits(
        fields.service_flags.as_ref().map(|f| &f.0),
        default_service_flags(socket_type),
    );
    let provider_flags = bits(
        fields.provider_flags.as_ref().map(|f| &f.0),
        DEFAULT_PROVIDER_FLAGS,
    );

    let max_message_size = match &fields.max_message_size {
        Some(int) => {
            if socket_type == SOCK_STREAM && service_flags & XP1_MESSAGE_ORIENTED == 0 {
                errors.push(
                    Error::custom(
                        "`max_message_size` applies to message-oriented protocols; a \
                         SOCK_STREAM entry has no message size (its `dwMessageSize` is 0): \
                         remove it",
                    )
                    .with_span(&int.key_span),
                );
            }
            errors
                .handle(int_field::<u32>(int, "max_message_size", "0..=0xFFFF_FFFF"))
                .unwrap_or(0)
        }
        None => default_max_message_size(socket_type),
    };

    let sockaddr = |int: &Option<Int>, key: &str| -> Result<Option<i32>> {
        match int {
            Some(int) => int_field::<i32>(int, key, "0..=2147483647").map(Some),
            None => Ok(None),
        }
    };
    let min = errors.handle(sockaddr(&fields.min_sockaddr, "min_sockaddr"));
    let max = errors.handle(sockaddr(&fields.max_sockaddr, "max_sockaddr"));
    let (min_sockaddr, max_sockaddr) = match (min, max) {
        (Some(min), Some(max)) => {
            let defaults = family.known().and_then(default_sockaddr);
            match (min.or(defaults.map(|d| d.0)), max.or(defaults.map(|d| d.1))) {
                (Some(lo), Some(hi)) => {
                    if lo > hi {
                        let (span, which) = match (&fields.min_sockaddr, &fields.max_sockaddr) {
                            (Some(given), _) => (given.span, "`min_sockaddr`"),
                            (None, Some(given)) => (given.span, "`max_sockaddr`"),
                            (None, None) => (arg.span, "the default"),
                        };
                        errors.push(
                            Error::custom(format!(
                                "`min_sockaddr` ({}) is larger than `max_sockaddr` ({}): fix {}",
                                lo, hi, which
                            ))
                            .with_span(&span),
                        );
                    }
                    (lo, hi)
                }
                (lo, hi) => {
                    let add = match (lo, hi) {
                        (None, None) => {
                            "`min_sockaddr = ..., max_sockaddr = ...` (the sizes of the \
                             smallest and largest address this protocol accepts, in bytes)"
                        }
                        (None, Some(_)) => {
                            "`min_sockaddr = ...` (the size of the smallest address this \
                             protocol accepts, in bytes)"
                        }
                        _ => {
                            "`max_sockaddr = ...` (the size of the largest address this \
                             protocol accepts, in bytes)"
                        }
                    };
                    errors.push(
                        Error::custom(format!(
                            "address family {} has no default sockaddr lengths: add {}",
                            family.describe(&FAMILIES),
                            add
                        ))
                        .with_span(&arg.span),
                    );
                    (0, 0)
                }
            }
        }
        _ => (0, 0),
    };

    errors.finish_with(Entry {
        name,
        family: Value::from(family),
        socket_type,
        protocol,
        service_flags,
        provider_flags,
        max_message_size,
        min_sockaddr,
        max_sockaddr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn model(args: TokenStream) -> Result<Model> {
        check(
            args,
            &syn::parse_quote!(
                struct P;
            ),
        )
    }

    #[test]
    fn defaults_follow_the_socket_type_and_family() {
        let m = model(quote!(
            name = "P",
            guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
            non_ifs,
            protocol(
                family = AF_INET,
                socket_type = SOCK_STREAM,
                protocol = IPPROTO_TCP
            ),
            protocol(
                family = AF_INET6,
                socket_type = SOCK_DGRAM,
                protocol = IPPROTO_UDP
            ),
            protocol(family = AF_UNIX, socket_type = SOCK_SEQPACKET),
            protocol(
                family = 99,
                socket_type = 7,
                min_sockaddr = 4,
                max_sockaddr = 8
            ),
        ))
        .unwrap_or_else(|e| panic!("{}", e));
        assert_eq!(m.description, "P");
        assert_eq!(m.guid, 0x6f1c2a3e_8d4b_4c5a_9e7f_0a1b2c3d4e5f);
        let p = &m.protocols;
        assert_eq!(p.len(), 4);
        assert_eq!(
            p[0],
            Entry {
                name: "P SOCK_STREAM".into(),
                family: Value::Int(2),
                socket_type: 1,
                protocol: Value::Int(6),
                service_flags: 0x26,
                provider_flags: 8,
                max_message_size: 0,
                min_sockaddr: 16,
                max_sockaddr: 16,
            }
        );
        assert_eq!(
            p[1],
            Entry {
                name: "P SOCK_DGRAM".into(),
                family: Value::Int(23),
                socket_type: 2,
                protocol: Value::Int(17),
                service_flags: 0x9,
                provider_flags: 8,
                max_message_size: 65467,
                min_sockaddr: 28,
                max_sockaddr: 28,
            }
        );
        assert_eq!(
            (p[2].service_flags, p[2].max_message_size),
            (0x8, 0xFFFF_FFFF)
        );
        assert_eq!(
            (p[2].min_sockaddr, p[2].max_sockaddr, p[2].protocol.clone()),
            (2, 110, Value::Int(0))
        );
        assert_eq!(p[3].name, "P 7");
        assert_eq!((p[3].min_sockaddr, p[3].max_sockaddr), (4, 8));
    }

    #[test]
    fn given_values_replace_the_defaults() {
        let m = model(quote!(
            name = "P",
            description = "D",
            guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
            ifs,
            protocol(
                name = "N",
                family = AF_INET,
                socket_type = SOCK_DGRAM,
                service_flags(connectionless),
                provider_flags(),
                max_message_size = 512,
                max_sockaddr = 32,
            ),
        ))
        .unwrap_or_else(|e| panic!("{}", e));
        assert_eq!(m.description, "D");
        assert!(matches!(m.mode, Mode::Ifs(_)));
        let p = &m.protocols[0];
        assert_eq!(p.name, "N");
        assert_eq!((p.service_flags, p.provider_flags), (1, 0));
        assert_eq!(p.max_message_size, 512);
        assert_eq!((p.min_sockaddr, p.max_sockaddr), (16, 32));
    }

    #[test]
    fn problems_are_reported_together() {
        let err = model(quote!(
            protocol(
                family = AF_INET,
                socket_type = SOCK_STREAM,
                max_message_size = 9
            ),
            protocol(family = 2, socket_type = 1, protocol = 0),
            protocol(family = AF_UNSPEC, socket_type = SOCK_RAW, min_sockaddr = 3),
        ))
        .err()
        .expect("errors");
        let text: Vec<String> = err.flatten().into_iter().map(|e| e.to_string()).collect();
        let all = text.join("\n");
        for expected in [
            "missing `name",
            "missing `guid",
            "missing descriptor mode",
            "`max_message_size` applies to message-oriented protocols",
            "duplicate protocol entry",
            "add `max_sockaddr = ...`",
        ] {
            assert!(all.contains(expected), "{} not in:\n{}", expected, all);
        }
        assert_eq!(text.len(), 6, "{}", all);
    }

    #[test]
    fn a_misspelt_option_is_not_also_missing() {
        let err = model(quote!(
            nmae = "P",
            guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
            nonifs,
            protocl(family = AF_INET, socket_type = SOCK_STREAM),
        ))
        .err()
        .expect("errors");
        let text: Vec<String> = err.flatten().into_iter().map(|e| e.to_string()).collect();
        assert_eq!(text.len(), 3, "{:?}", text);
        assert!(
            text.iter()
                .all(|t| t.starts_with("unknown option `") && t.contains("did you mean")),
            "{:?}",
            text
        );
    }

    #[test]
    fn the_option_list_matches_args() {
        for option in OPTIONS {
            let item: NestedMeta = syn::parse_str(&format!("{} = 0", option)).unwrap();
            // `categories = 0` is valid (no category); every other option refuses 0.
            if let Err(err) = Args::from_list(&[item]) {
                assert!(!err.to_string().contains("Unknown field"), "{}", err);
            } else {
                assert_eq!(*option, "categories");
            }
        }
    }

    #[test]
    fn the_protocol_option_list_matches_protocol_fields() {
        for option in attr::PROTOCOL_OPTIONS {
            let item: NestedMeta = syn::parse_str(&format!("{} = 0", option)).unwrap();
            let err = ProtocolFields::from_list(&[item]).err();
            let text = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(!text.contains("Unknown field"), "{}", text);
        }
        let err = model(quote!(
            name = "P",
            guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
            non_ifs,
            colour = 1,
            protocol(family = AF_INET, socket_type = SOCK_STREAM, famly = AF_INET),
        ))
        .err()
        .expect("errors");
        // `to_string` appends darling's location (` at protocol[0]`); errors in the code do not.
        let text: Vec<String> = err
            .flatten()
            .into_iter()
            .map(|e| {
                e.to_string()
                    .split(" at protocol[")
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            text,
            [
                "unknown option `colour`: the options are `name`, `description`, `guid`, \
                 `ifs`, `non_ifs`, `layered`, `categories`, `protocol`, `crate`",
                "unknown `protocol(...)` option `famly`; did you mean `family`?",
            ],
        );
    }

    #[test]
    fn odd_arguments_are_errors_not_panics() {
        let ok = r#"name = "P", guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f", non_ifs"#;
        for args in [
            r#""P""#.to_owned(),
            "name".to_owned(),
            "name(x)".to_owned(),
            "name = 1".to_owned(),
            "name = \"\"".to_owned(),
            "name = \"a\\0b\"".to_owned(),
            "guid = 5".to_owned(),
            "crate = 5".to_owned(),
            "a::b = 1".to_owned(),
            format!("{}, protocol", ok),
            format!("{}, protocol = 1", ok),
            format!("{}, protocol(1)", ok),
            format!("{}, protocol(family = -2, socket_type = 1)", ok),
            format!("{}, protocol(family = 99999999999, socket_type = 1)", ok),
            format!("{}, protocol(family = sys::AF_INET, socket_type = 1)", ok),
            format!("{}, protocol(family = AF_INET, socket_type = 1, min_sockaddr = -1)", ok),
            format!("{}, protocol(family = AF_INET, socket_type = 1, max_sockaddr = 1.5)", ok),
            format!("{}, protocol(family = AF_INET, socket_type = 1, max_sockaddr = 3000000000)", ok),
            format!("{}, protocol(family = AF_INET, socket_type = 1, service_flags(a = 1, \"x\"))", ok),
            format!("{}, protocol(family = AF_INET, socket_type = 1, service_flags(uni_send, uni_send))", ok),
            format!("{}, protocol(family = AF_INET, socket_type = 1, name = \"{}\")", ok, "x".repeat(300)),
        ] {
            let tokens: TokenStream = args.parse().unwrap();
            match model(tokens) {
                Ok(_) => panic!("accepted: {}", args),
                Err(e) => {
                    for e in e.flatten() {
                        let text = e.to_string();
                        assert!(!text.is_empty() && !text.contains("internal"), "{}", args);
                    }
                }
            }
        }
    }

    #[test]
    fn only_plain_structs_qualify() {
        assert!(check_item(&syn::parse_quote!(
            struct P(u8);
        ))
        .is_ok());
        assert!(check_item(&syn::parse_quote!(
            struct P<T>(T);
        ))
        .is_err());
        assert!(check_item(&syn::parse_quote!(
            enum P {}
        ))
        .is_err());
        assert!(check_item(&syn::parse_quote!(
            fn p() {}
        ))
        .is_err());
    }
}
