// The attribute also works on a struct declared inside a function body.
use winsock_provider::{winsock_provider, Binding, Provider};
use winsock_provider::{SocketRequest, StartupContext, WsaError};

fn main() {
    #[winsock_provider(
        name = "Local",
        guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
        non_ifs,
        protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
    )]
    struct Local;

    impl Provider for Local {
        type Socket = ();
        fn startup(_: &StartupContext) -> Result<Self, WsaError> {
            Ok(Local)
        }
        fn socket(&self, _: &SocketRequest) -> Result<(), WsaError> {
            Ok(())
        }
    }

    assert_eq!(Local::INFO.name, "Local");
    assert!(std::ptr::eq(Local::state(), Local::state()));
    let _ = winsock_provider::entry_points::<Local>();
}
