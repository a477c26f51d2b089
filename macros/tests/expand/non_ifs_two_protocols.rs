// A non-IFS provider with a TCP and a UDP entry, defaults everywhere else.
#[winsock_provider(
    name = "Loopback",
    guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
    non_ifs,
    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
    protocol(family = AF_INET, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP),
)]
pub struct Loopback {
    greeting: String,
}
