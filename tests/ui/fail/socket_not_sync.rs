use std::cell::Cell;
use winsock_provider::{winsock_provider, Provider, SocketRequest, StartupContext, WsaError};

#[winsock_provider(
    name = "Loopback",
    guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
    non_ifs,
    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
)]
pub struct Loopback;

/// Shared between the threads calling on one socket, yet not `Sync`.
pub struct Connection {
    pub peer: Cell<u32>,
}

impl Provider for Loopback {
    type Socket = Connection;
    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Loopback)
    }
    fn socket(&self, _: &SocketRequest) -> Result<Connection, WsaError> {
        Ok(Connection { peer: Cell::new(0) })
    }
}

fn main() {}
