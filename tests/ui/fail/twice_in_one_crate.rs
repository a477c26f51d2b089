use winsock_provider::{winsock_provider, Provider, SocketRequest, StartupContext, WsaError};

#[winsock_provider(
    name = "Loopback",
    guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
    non_ifs,
    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
)]
pub struct Loopback;

mod second {
    use super::*;

    // A DLL has one `WSPStartup`: a second provider needs a crate of its own.
    #[winsock_provider(
        name = "Second",
        guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e60",
        non_ifs,
        protocol(family = AF_INET, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP),
    )]
    pub struct Second;

    impl Provider for Second {
        type Socket = ();
        fn startup(_: &StartupContext) -> Result<Self, WsaError> {
            Ok(Second)
        }
        fn socket(&self, _: &SocketRequest) -> Result<(), WsaError> {
            Ok(())
        }
    }
}

impl Provider for Loopback {
    type Socket = ();
    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Loopback)
    }
    fn socket(&self, _: &SocketRequest) -> Result<(), WsaError> {
        Ok(())
    }
}

fn main() {}
