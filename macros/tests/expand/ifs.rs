// An IFS provider: the socket type must implement `IfsSocket`, which the bounds check.
#[winsock_provider(
    name = "Pipes",
    guid = "0A1B2C3D-4E5F-4061-8293-A4B5C6D7E8F9",
    ifs,
    protocol(family = AF_UNIX, socket_type = SOCK_STREAM),
)]
pub struct Pipes;
