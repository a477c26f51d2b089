// A unit struct: a provider without state of its own.
use winsock_provider::{winsock_provider, Binding, Provider};
use winsock_provider::{SocketRequest, StartupContext, WsaError};

#[winsock_provider(
    name = "Loopback",
    guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
    non_ifs,
    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
)]
struct Loopback;

impl Provider for Loopback {
    type Socket = ();
    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Loopback)
    }
    fn socket(&self, _: &SocketRequest) -> Result<(), WsaError> {
        Ok(())
    }
}

fn main() {
    assert_eq!(Loopback::INFO.protocols[0].socket_type, 1);
    let _ = winsock_provider::entry_points::<Loopback>();
}
