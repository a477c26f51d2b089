use winsock_provider::{winsock_provider, Binding, DescriptorMode, Layer, LayerContext};
use winsock_provider::{Layered, Mode, WsaError};

#[winsock_provider(
    layered,
    name = "Pass-through",
    guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e61",
    ifs,
    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
)]
pub struct PassThrough;

impl Layer for PassThrough {
    type Socket = ();
    fn startup(_: &LayerContext) -> Result<Self, WsaError> {
        Ok(PassThrough)
    }
}

fn main() {
    // The layer hands out the handles of the provider below: IFS mode, and its entries say so.
    assert_eq!(
        <<Layered<PassThrough> as Binding>::Mode as Mode<Layered<PassThrough>>>::KIND,
        DescriptorMode::Ifs
    );
    let info = <Layered<PassThrough> as Binding>::INFO;
    assert_eq!(info.name, "Pass-through");
    assert_eq!(info.protocols.len(), 1);
}
