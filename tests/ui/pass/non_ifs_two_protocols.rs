use winsock_provider::{winsock_provider, Binding, DescriptorMode, Mode, Provider};
use winsock_provider::{SocketRequest, StartupContext, WsaError};

#[winsock_provider(
    name = "Loopback",
    guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
    non_ifs,
    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
    protocol(family = AF_INET, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP),
)]
pub struct Loopback {
    _greeting: String,
}

impl Provider for Loopback {
    type Socket = ();
    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Loopback {
            _greeting: String::new(),
        })
    }
    fn socket(&self, _: &SocketRequest) -> Result<(), WsaError> {
        Ok(())
    }
}

fn main() {
    let info = Loopback::INFO;
    assert_eq!(info.name, "Loopback");
    assert_eq!(info.description, "Loopback");
    assert_eq!(info.guid.0, 0x6f1c2a3e_8d4b_4c5a_9e7f_0a1b2c3d4e5f);
    assert_eq!(
        <<Loopback as Binding>::Mode as Mode<Loopback>>::KIND,
        DescriptorMode::NonIfs
    );

    let [tcp, udp] = match info.protocols {
        [tcp, udp] => [tcp, udp],
        other => panic!("{} protocols", other.len()),
    };
    assert_eq!(tcp.name, "Loopback SOCK_STREAM");
    assert_eq!((tcp.family, tcp.socket_type, tcp.protocol), (2, 1, 6));
    assert_eq!(
        (tcp.service_flags, tcp.provider_flags, tcp.max_message_size),
        (0x26, 8, 0)
    );
    assert_eq!((tcp.min_sockaddr, tcp.max_sockaddr), (16, 16));
    assert_eq!(udp.name, "Loopback SOCK_DGRAM");
    assert_eq!((udp.family, udp.socket_type, udp.protocol), (2, 2, 17));
    assert_eq!(
        (udp.service_flags, udp.provider_flags, udp.max_message_size),
        (0x9, 8, 65467)
    );
    assert_eq!((udp.min_sockaddr, udp.max_sockaddr), (16, 16));

    assert!(std::ptr::eq(Loopback::state(), Loopback::state()));
    let _ = winsock_provider::entry_points::<Loopback>();
}
