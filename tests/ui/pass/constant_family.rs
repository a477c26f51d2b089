use winsock_provider::{winsock_provider, Binding, Provider};
use winsock_provider::{SocketRequest, StartupContext, WsaError};

/// The author's own address family and protocol numbers.
pub const AF_VSOCKISH: u16 = 40;
mod numbers {
    pub const VSOCKISH_STREAM: i32 = 7;
}

#[winsock_provider(
    name = "Vsockish",
    guid = "3c2b1a09-8f7e-4d6c-9b5a-493827161504",
    non_ifs,
    protocol(
        family = AF_VSOCKISH,
        socket_type = SOCK_STREAM,
        protocol = numbers::VSOCKISH_STREAM,
        min_sockaddr = 16,
        max_sockaddr = 16,
    ),
    protocol(family = AF_VSOCKISH, socket_type = SOCK_DGRAM, min_sockaddr = 16, max_sockaddr = 16),
)]
pub struct Vsockish;

impl Provider for Vsockish {
    type Socket = ();
    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Vsockish)
    }
    fn socket(&self, _: &SocketRequest) -> Result<(), WsaError> {
        Ok(())
    }
}

fn main() {
    let stream = &Vsockish::INFO.protocols[0];
    assert_eq!((stream.family, stream.socket_type, stream.protocol), (40, 1, 7));
    assert_eq!((stream.min_sockaddr, stream.max_sockaddr), (16, 16));
    let dgram = &Vsockish::INFO.protocols[1];
    assert_eq!((dgram.family, dgram.socket_type, dgram.protocol), (40, 2, 0));
}
