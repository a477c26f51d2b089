//! The `#[winsock_provider(...)]` attribute of the [`winsock-provider`] crate, which re-exports
//! it; use it from there.
//!
//! [`winsock-provider`]: https://docs.rs/winsock-provider
//!
//! # Expansion snapshots
//!
//! `tests/expand/NAME.rs` (in this crate) holds a representative use of the attribute and
//! `tests/expand/NAME.expanded.rs` its expansion, pretty-printed; a unit test fails when they
//! differ. After a deliberate change to the generated code, regenerate them with
//!
//! ```text
//! WSP_BLESS=1 cargo test -p winsock-provider-macros snapshots
//! ```
//!
//! and review `git diff macros/tests/expand`. A new `NAME.rs` there gets its snapshot the same
//! way.

#![warn(missing_docs)]

mod attr;
mod expand;
mod fallback;
mod layered;
#[cfg(test)]
mod snapshots;
mod valid;

use proc_macro::TokenStream;

/// Makes a struct implementing `winsock_provider::Provider` a Winsock 2 service provider: the
/// crate's DLL exports `WSPStartup` (and `WspEnumProviderProtocols`) serving the declared
/// protocol entries.
///
/// ```
/// # use winsock_provider::{winsock_provider, Provider, SocketRequest, StartupContext, WsaError};
/// #[winsock_provider(
///     name = "Loopback",                      // required
///     description = "In-process TCP/UDP",     // optional; defaults to `name`
///     guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",  // required; not the nil GUID
///     non_ifs,                                // exactly one of `ifs` / `non_ifs`
///     protocol(                               // one or more
///         name = "Loopback TCP",              // optional; default "<name> <socket type>"
///         family = AF_INET,                   // AF_UNSPEC AF_UNIX AF_INET AF_INET6, integer,
///                                             // or a constant of yours (`AF_VSOCK`)
///         socket_type = SOCK_STREAM,          // SOCK_STREAM SOCK_DGRAM SOCK_RAW SOCK_RDM
///                                             // SOCK_SEQPACKET or integer
///         protocol = IPPROTO_TCP,             // IPPROTO_TCP IPPROTO_UDP, integer or a constant
///                                             // of yours; default 0
///         service_flags(guaranteed_delivery, guaranteed_order, graceful_close),
///         provider_flags(matches_protocol_zero),
///         min_sockaddr = 16, max_sockaddr = 16,
///     ),
///     protocol(
///         family = AF_INET, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP,
///         max_message_size = 65467,           // not on SOCK_STREAM entries
///     ),
///     crate = "winsock_provider",             // optional; the path of the runtime crate
/// )]
/// pub struct Loopback { /* any fields */ }
/// # impl Provider for Loopback {
/// #     type Socket = ();
/// #     fn startup(_: &StartupContext) -> Result<Self, WsaError> { Ok(Loopback {}) }
/// #     fn socket(&self, _: &SocketRequest) -> Result<(), WsaError> { Ok(()) }
/// # }
/// ```
///
/// * `non_ifs`: socket handles come from ws2_32 (`WPUCreateSocketHandle`). `ifs`: each socket
///   is an OS handle; the provider's `Socket` type must implement `winsock_provider::IfsSocket`,
///   and every entry gets `XP1_IFS_HANDLES` (never list `ifs_handles` yourself).
/// * `service_flags(...)` lists `XP1_*` flags in snake case without the prefix:
///   `connectionless guaranteed_delivery guaranteed_order message_oriented pseudo_stream
///   graceful_close expedited_data connect_data disconnect_data support_broadcast
///   support_multipoint multipoint_control_plane multipoint_data_plane qos_supported uni_send
///   uni_recv partial_message`. Default: SOCK_STREAM `guaranteed_delivery, guaranteed_order,
///   graceful_close`; SOCK_DGRAM `connectionless, message_oriented`; others `message_oriented`.
/// * `provider_flags(...)` lists `PFL_*` flags: `multiple_proto_entries
///   recommended_proto_entry hidden matches_protocol_zero`. Default: `matches_protocol_zero`.
/// * `max_message_size` (`dwMessageSize`) defaults to 0 for SOCK_STREAM, 65467 for SOCK_DGRAM
///   and `0xFFFF_FFFF` otherwise.
/// * `family` and `protocol` also take the path of an integer constant of your own
///   (`family = AF_VSOCK`, `protocol = crate::proto::MINE`): any name that is not one of the
///   Winsock names above or a misspelling of one. It is read (and cast to `i32`) where the
///   generated code is compiled, so the macro cannot check it: give `min_sockaddr` and
///   `max_sockaddr` with it.
/// * `min_sockaddr`/`max_sockaddr` default to 16/16 for AF_INET, 28/28 for AF_INET6 and 2/110
///   for AF_UNIX; other families must give both.
///
/// The struct must not be generic (there is one process-wide provider instance), and two
/// entries cannot share family, socket type and protocol. Mistakes are compile errors on the
/// offending token.
///
/// Where it goes:
///
/// * On a struct of any form: named fields, tuple (`struct P(State);`) or unit (`struct P;`),
///   in any module or inside a function body. Not on an enum, union, function or other item,
///   and only once per struct.
/// * Once per crate: each use exports `WSPStartup`, and a DLL has one. A second use is the
///   error "the name `only_one_winsock_provider_per_crate_because_each_exports_WSPStartup` is
///   defined multiple times", at the second struct; put a second provider in a crate of its own.
///
/// What the types must satisfy, each checked once with a message of this crate (from Rust 1.78
/// on, and 1.85 for `Send + Sync`; older compilers give rustc's own wording):
///
/// * the struct implements `winsock_provider::Provider` (error at the struct name);
/// * its `Socket` type is `Send + Sync` (error at `type Socket = ...`);
/// * with `ifs`, the `Socket` type implements `winsock_provider::IfsSocket` (error at `ifs`).
///
/// A `non_ifs` provider whose `Socket` type also implements `IfsSocket` is allowed: such a
/// provider may wrap OS handles internally (a layered transport, say) without making them the
/// socket handles; `non_ifs` decides, and `os_handle` is never called.
///
/// # Layers
///
/// `layered` makes the struct a layered service provider: it implements
/// `winsock_provider::Layer` instead of `Provider` (every method forwards to the next provider
/// unless overridden), and the DLL also exports `DllRegisterServer`/`DllUnregisterServer`, so
/// `regsvr32 layer.dll` installs it over the catalog's entries of the protocols it declares.
/// `ifs`/`non_ifs` say whose handles the application gets: `non_ifs` the layer's own, `ifs` the
/// provider below's. `categories` gives the layer its LSP categories, which `regsvr32` writes
/// on its layered entry and every chain entry (`WSCSetProviderInfo(ProviderInfoLspCategories)`);
/// applications that ws2_32 categorizes (`WSCSetApplicationCategory`) load the layer only when
/// the categories permit it. Without `categories` the layer is installed uncategorized.
///
/// ```
/// # use winsock_provider::{winsock_provider, Layer, LayerContext, WsaError};
/// /// A category of this crate's own, named by its path.
/// const CACHES: u32 = 0x80; // LSP_LOCAL_CACHE
///
/// #[winsock_provider(
///     layered,
///     name = "Proxifier",
///     guid = "0e4b6d2a-93c1-4f57-8a2e-5d71c9b3f046",
///     non_ifs,
///     categories = [LSP_PROXY, LSP_REDIRECTOR, CACHES],
///     protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
/// )]
/// pub struct Proxifier;
///
/// impl Layer for Proxifier {
///     type Socket = ();
///     fn startup(_: &LayerContext) -> Result<Self, WsaError> { Ok(Proxifier) }
/// }
/// ```
///
/// * `categories = [...]` lists the `LSP_*` names `LSP_INSPECTOR LSP_REDIRECTOR LSP_PROXY
///   LSP_FIREWALL LSP_INBOUND_MODIFY LSP_OUTBOUND_MODIFY LSP_CRYPTO_COMPRESS LSP_LOCAL_CACHE
///   LSP_SYSTEM`, integer literals of those bits, or paths of integer constants of yours
///   (or-ed together, each cast to `u32`); a single value needs no brackets
///   (`categories = LSP_SYSTEM`). `LSP_SYSTEM` is what lets system services load the layer.
///   Only on a `layered` struct.
#[proc_macro_attribute]
pub fn winsock_provider(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::winsock_provider(args.into(), input.into()).into()
}
