use winsock_provider::winsock_provider;

#[winsock_provider(
    name = "Loopback",
    non_ifs,
    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
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
