use winsock_provider::winsock_provider;

#[winsock_provider(
    name = "Loopback",
    guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
    non_ifs,
    categories = [LSP_PROXY],
    protocol(family = AF_INET, socket_type = SOCK_STREAM),
)]
pub struct Loopback;

impl winsock_provider::Provider for Loopback {
    type Socket = ();
    fn startup(_: &winsock_provider::StartupContext) -> Result<Self, winsock_provider::WsaError> {
        Ok(Loopback)
    }
    fn socket(
        &self,
        _: &winsock_provider::SocketRequest,
    ) -> Result<(), winsock_provider::WsaError> {
        Ok(())
    }
}

fn main() {}
