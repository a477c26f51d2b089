use winsock_provider::{winsock_provider, Binding, Provider};
use winsock_provider::{SocketRequest, StartupContext, WsaError};

#[winsock_provider(
    name = "Everything",
    description = "Every option of the attribute",
    guid = "00000000-0000-0000-0000-000000000001",
    non_ifs,
    protocol(
        name = "Everything RDM",
        family = 17,
        socket_type = SOCK_RDM,
        protocol = 1000,
        service_flags(
            connectionless,
            guaranteed_delivery,
            guaranteed_order,
            message_oriented,
            pseudo_stream,
            graceful_close,
            expedited_data,
            connect_data,
            disconnect_data,
            support_broadcast,
            support_multipoint,
            multipoint_control_plane,
            multipoint_data_plane,
            qos_supported,
            uni_send,
            uni_recv,
            partial_message,
        ),
        provider_flags(multiple_proto_entries, recommended_proto_entry, hidden, matches_protocol_zero),
        max_message_size = 0x1_0000,
        min_sockaddr = 4,
        max_sockaddr = 64,
    ),
    protocol(family = AF_UNIX, socket_type = SOCK_SEQPACKET, service_flags(), provider_flags()),
    protocol(family = AF_UNSPEC, socket_type = SOCK_RAW, protocol = 255, min_sockaddr = 0, max_sockaddr = 0),
    protocol(family = AF_INET, socket_type = 9, protocol = IPPROTO_UDP),
    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP, service_flags(message_oriented), max_message_size = 1500),
    crate = "winsock_provider",
)]
pub struct Everything(#[allow(dead_code)] u32);

impl Provider for Everything {
    type Socket = ();
    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Everything(0))
    }
    fn socket(&self, _: &SocketRequest) -> Result<(), WsaError> {
        Ok(())
    }
}

fn main() {
    let info = Everything::INFO;
    assert_eq!(info.name, "Everything");
    assert_eq!(info.description, "Every option of the attribute");
    assert_eq!(info.guid.0, 1);
    let p = info.protocols;
    assert_eq!(p.len(), 5);

    assert_eq!(p[0].name, "Everything RDM");
    assert_eq!(
        (p[0].family, p[0].socket_type, p[0].protocol),
        (17, 4, 1000)
    );
    assert_eq!(p[0].service_flags, 0x5_FFFF & !0x4000);
    assert_eq!(p[0].provider_flags, 0xF);
    assert_eq!(p[0].max_message_size, 0x1_0000);
    assert_eq!((p[0].min_sockaddr, p[0].max_sockaddr), (4, 64));

    assert_eq!(p[1].name, "Everything SOCK_SEQPACKET");
    assert_eq!((p[1].service_flags, p[1].provider_flags), (0, 0));
    assert_eq!(p[1].max_message_size, 0xFFFF_FFFF);
    assert_eq!((p[1].min_sockaddr, p[1].max_sockaddr), (2, 110));

    assert_eq!((p[2].family, p[2].socket_type, p[2].protocol), (0, 3, 255));
    assert_eq!((p[2].service_flags, p[2].provider_flags), (0x8, 8));
    assert_eq!((p[2].min_sockaddr, p[2].max_sockaddr), (0, 0));

    assert_eq!(p[3].name, "Everything 9");
    assert_eq!(
        (p[3].service_flags, p[3].max_message_size),
        (0x8, 0xFFFF_FFFF)
    );

    assert_eq!((p[4].service_flags, p[4].max_message_size), (0x8, 1500));
}
