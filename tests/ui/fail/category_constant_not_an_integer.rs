use winsock_provider::winsock_provider;

const PROXY_NAME: &str = "LSP_PROXY";

#[winsock_provider(
    layered,
    name = "Counter",
    guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e62",
    non_ifs,
    categories = [LSP_SYSTEM, PROXY_NAME],
    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
)]
pub struct Counter;

impl winsock_provider::Layer for Counter {
    type Socket = ();
    fn startup(_: &winsock_provider::LayerContext) -> Result<Self, winsock_provider::WsaError> {
        Ok(Counter)
    }
}

fn main() {}
