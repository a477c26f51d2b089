// The runtime reached through a re-export, as a crate wrapping this toolkit would offer it.
mod toolkit {
    pub use winsock_provider as wp;
}

use toolkit::wp;

#[wp::winsock_provider(
    crate = "wp",
    name = "Renamed",
    guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e60",
    ifs,
    protocol(family = AF_INET, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP),
)]
struct Renamed;

struct Fd(wp::sys::SOCKET);

impl wp::IfsSocket for Fd {
    fn os_handle(&self) -> wp::sys::SOCKET {
        self.0
    }
}

impl wp::Provider for Renamed {
    type Socket = Fd;
    fn startup(_: &wp::StartupContext) -> Result<Self, wp::WsaError> {
        Ok(Renamed)
    }
    fn socket(&self, _: &wp::SocketRequest) -> Result<Fd, wp::WsaError> {
        Ok(Fd(7))
    }
}

fn main() {
    use wp::Binding;
    assert_eq!(Renamed::INFO.name, "Renamed");
    assert_eq!(Renamed::INFO.protocols[0].max_message_size, 65467);
}
