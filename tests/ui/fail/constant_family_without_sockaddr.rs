use winsock_provider::{winsock_provider, Provider};
use winsock_provider::{SocketRequest, StartupContext, WsaError};

pub const AF_VSOCKISH: u16 = 40;

#[winsock_provider(
    name = "Vsockish",
    guid = "3c2b1a09-8f7e-4d6c-9b5a-493827161504",
    non_ifs,
    protocol(family = AF_VSOCKISH, socket_type = SOCK_STREAM),
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

fn main() {}
