use winsock_provider::sys::SOCKET;
use winsock_provider::{winsock_provider, Binding, DescriptorMode, IfsSocket, Mode, Provider};
use winsock_provider::{SocketRequest, StartupContext, WsaError};

/// An OS handle the provider owns.
pub struct Handle(SOCKET);

impl IfsSocket for Handle {
    fn os_handle(&self) -> SOCKET {
        self.0
    }
}

#[winsock_provider(
    name = "Pipes",
    guid = "0A1B2C3D-4E5F-4061-8293-A4B5C6D7E8F9",
    ifs,
    protocol(family = AF_INET6, socket_type = SOCK_STREAM),
)]
pub struct Pipes;

impl Provider for Pipes {
    type Socket = Handle;
    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Pipes)
    }
    fn socket(&self, _: &SocketRequest) -> Result<Handle, WsaError> {
        Ok(Handle(3))
    }
}

fn main() {
    let info = Pipes::INFO;
    assert_eq!(info.guid.0, 0x0a1b2c3d_4e5f_4061_8293_a4b5c6d7e8f9);
    assert_eq!(
        <<Pipes as Binding>::Mode as Mode<Pipes>>::KIND,
        DescriptorMode::Ifs
    );
    let entry = &info.protocols[0];
    assert_eq!(
        (entry.family, entry.socket_type, entry.protocol),
        (23, 1, 0)
    );
    assert_eq!((entry.min_sockaddr, entry.max_sockaddr), (28, 28));
    // The runtime adds XP1_IFS_HANDLES (0x20000) for IFS providers.
    assert_eq!(entry.service_flags, 0x26);
    assert_eq!(info.protocol_info(DescriptorMode::Ifs, 0, 1).dwServiceFlags1, 0x20026);
}
