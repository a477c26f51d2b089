use winsock_provider::winsock_provider;

// A mistake in the attribute is reported once; the code below that uses the provider as a
// `Binding` is not flagged as well.
#[winsock_provider(
    name = "Loopback",
    guid = "not-a-guid",
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

fn main() {
    use winsock_provider::Binding;
    let _ = winsock_provider::entry_points::<Loopback>();
    let _ = Loopback::INFO.protocols.len();
}
