// Mistakes: the item is kept, a stand-in `Binding` impl keeps code naming it compiling, no
// export is emitted, and each mistake is one `compile_error!`.
#[winsock_provider(
    nmae = "Loopback",
    guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5",
    non_ifs,
    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = TCP),
)]
pub struct Loopback;
