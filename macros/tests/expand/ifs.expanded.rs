// The expansion of ifs.rs. Generated; do not edit. Regenerate with:
// WSP_BLESS=1 cargo test -p winsock-provider-macros snapshots
pub struct Pipes;
const _: () = {
    #[automatically_derived]
    impl ::winsock_provider::__private::Binding for Pipes
    where
        Pipes: ::winsock_provider::__private::Provider,
        <Pipes as ::winsock_provider::__private::Provider>::Socket: ::winsock_provider::__private::IfsSocket,
    {
        type Mode = ::winsock_provider::__private::Ifs;
        const INFO: ::winsock_provider::__private::ProviderInfo = ::winsock_provider::__private::ProviderInfo {
            name: "Pipes",
            description: "Pipes",
            guid: ::winsock_provider::__private::Guid(
                0x0a1b2c3d_4e5f_4061_8293_a4b5c6d7e8f9u128,
            ),
            protocols: &[
                ::winsock_provider::__private::ProtocolSpec {
                    name: "Pipes SOCK_STREAM",
                    family: 1,
                    socket_type: 1,
                    protocol: 0,
                    service_flags: 0x26,
                    provider_flags: 0x8,
                    max_message_size: 0,
                    min_sockaddr: 2,
                    max_sockaddr: 110,
                },
            ],
        };
        #[inline(always)]
        fn state() -> &'static ::winsock_provider::__private::State<Self> {
            static STATE: ::winsock_provider::__private::StateSlot<Pipes> = ::winsock_provider::__private::StateSlot::new();
            STATE.get()
        }
    }
    ::winsock_provider::__private::export_provider_where!(
        Pipes where Pipes : ::winsock_provider::__private::Provider, < Pipes as
        ::winsock_provider::__private::Provider > ::Socket :
        ::winsock_provider::__private::IfsSocket,
    );
};
#[doc(hidden)]
#[allow(unknown_lints)]
#[allow(non_local_definitions)]
#[macro_export]
macro_rules! only_one_winsock_provider_per_crate_because_each_exports_WSPStartup {
    () => {};
}
