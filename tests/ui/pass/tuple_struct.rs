// A tuple struct is a provider like any other.
use std::sync::atomic::{AtomicU32, Ordering};
use winsock_provider::{winsock_provider, Binding, Provider};
use winsock_provider::{SocketRequest, StartupContext, WsaError};

#[winsock_provider(
    name = "Counter",
    guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
    non_ifs,
    protocol(family = AF_INET, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP),
)]
pub struct Counter(AtomicU32, pub(crate) String);

impl Provider for Counter {
    type Socket = u32;
    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Counter(AtomicU32::new(0), String::new()))
    }
    fn socket(&self, _: &SocketRequest) -> Result<u32, WsaError> {
        Ok(self.0.fetch_add(1, Ordering::Relaxed) + self.1.len() as u32)
    }
}

fn main() {
    assert_eq!(Counter::INFO.name, "Counter");
    assert_eq!(Counter::INFO.protocols.len(), 1);
    let _ = winsock_provider::entry_points::<Counter>();
}
