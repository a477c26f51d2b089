// Every option of the attribute, given explicitly, on a tuple struct.
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
        service_flags(connectionless, guaranteed_delivery, partial_message),
        provider_flags(multiple_proto_entries, recommended_proto_entry, hidden, matches_protocol_zero),
        max_message_size = 0x1_0000,
        min_sockaddr = 4,
        max_sockaddr = 64,
    ),
    protocol(family = AF_INET6, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP, service_flags(), provider_flags()),
    crate = "my_toolkit::wp",
)]
pub struct Everything(u32);
