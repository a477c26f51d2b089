// The provider may live in any module; the exports are crate-wide all the same.
mod transport {
    pub mod provider {
        use winsock_provider::{winsock_provider, Provider};
        use winsock_provider::{SocketRequest, StartupContext, WsaError};

        #[winsock_provider(
            name = "Nested",
            guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
            non_ifs,
            protocol(family = AF_INET6, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
        )]
        pub(crate) struct Nested {
            _private: (),
        }

        impl Provider for Nested {
            type Socket = ();
            fn startup(_: &StartupContext) -> Result<Self, WsaError> {
                Ok(Nested { _private: () })
            }
            fn socket(&self, _: &SocketRequest) -> Result<(), WsaError> {
                Ok(())
            }
        }
    }
}

fn main() {
    use winsock_provider::Binding;
    assert_eq!(transport::provider::Nested::INFO.name, "Nested");
}
