// Allowed: a non-IFS provider whose socket type happens to implement `IfsSocket` (it may wrap an
// OS handle internally, e.g. a layered transport). `non_ifs` decides: handles come from ws2_32
// and `os_handle` is never asked for.
use winsock_provider::sys::SOCKET;
use winsock_provider::{winsock_provider, Binding, DescriptorMode, IfsSocket, Mode, Provider};
use winsock_provider::{SocketRequest, StartupContext, WsaError};

pub struct Wrapped(SOCKET);

impl IfsSocket for Wrapped {
    fn os_handle(&self) -> SOCKET {
        self.0
    }
}

#[winsock_provider(
    name = "Layered",
    guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
    non_ifs,
    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
)]
pub struct Layered;

impl Provider for Layered {
    type Socket = Wrapped;
    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Layered)
    }
    fn socket(&self, _: &SocketRequest) -> Result<Wrapped, WsaError> {
        Ok(Wrapped(5))
    }
}

fn main() {
    let mode = <<Layered as Binding>::Mode as Mode<Layered>>::KIND;
    assert_eq!(mode, DescriptorMode::NonIfs);
    // No XP1_IFS_HANDLES on a non-IFS provider's entries.
    assert_eq!(Layered::INFO.protocol_info(mode, 0, 1).dwServiceFlags1 & 0x20000, 0);
}
