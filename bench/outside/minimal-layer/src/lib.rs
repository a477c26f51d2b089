//! A layered provider made with the toolkit that overrides nothing: every call goes down the
//! chain through [`Layer`]'s defaults. Installed over `outside-minimal` (its `DllRegisterServer`
//! chains it over the installed UDP entries), what a call costs through it from outside, less
//! what the same call costs on `outside-minimal` directly, is the toolkit's cost of one layer.

use winsock_provider::*;

/// The layer (over UDP entries, as `outside-minimal` has).
#[winsock_provider(
    layered,
    name = "Outside bench: minimal layer",
    guid = "6d1f0b7e-4b57-4c1a-9d0e-5a2b3c4d5e02",
    non_ifs,
    protocol(family = AF_INET, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP),
)]
pub struct MinimalLayer;

impl Layer for MinimalLayer {
    type Socket = ();

    fn startup(_: &LayerContext) -> Result<Self, WsaError> {
        Ok(MinimalLayer)
    }
}
