// The expansion of non_ifs_two_protocols.rs. Generated; do not edit. Regenerate with:
// WSP_BLESS=1 cargo test -p winsock-provider-macros snapshots
pub struct Loopback {
    greeting: String,
}
const _: () = {
    #[automatically_derived]
    impl ::winsock_provider::__private::Binding for Loopback
    where
        Loopback: ::winsock_provider::__private::Provider,
    {
        type Mode = ::winsock_provider::__private::NonIfs;
        const INFO: ::winsock_provider::__private::ProviderInfo = ::winsock_provider::__private::ProviderInfo {
            name: "Loopback",
            description: "Loopback",
            guid: ::winsock_provider::__private::Guid(
                0x6f1c2a3e_8d4b_4c5a_9e7f_0a1b2c3d4e5fu128,
            ),
            protocols: &[
                ::winsock_provider::__private::ProtocolSpec {
                    name: "Loopback SOCK_STREAM",
                    family: 2,
                    socket_type: 1,
                    protocol: 6,
                    service_flags: 0x26,
                    provider_flags: 0x8,
                    max_message_size: 0,
                    min_sockaddr: 16,
                    max_sockaddr: 16,
                },
                ::winsock_provider::__private::ProtocolSpec {
                    name: "Loopback SOCK_DGRAM",
                    family: 2,
                    socket_type: 2,
                    protocol: 17,
                    service_flags: 0x9,
                    provider_flags: 0x8,
                    max_message_size: 65467,
                    min_sockaddr: 16,
                    max_sockaddr: 16,
                },
            ],
        };
        #[inline(always)]
        fn state() -> &'static ::winsock_provider::__private::State<Self> {
            static STATE: ::winsock_provider::__private::StateSlot<Loopback> = ::winsock_provider::__private::StateSlot::new();
            STATE.get()
        }
    }
    ::winsock_provider::__private::export_provider_where!(
        Loopback where Loopback : ::winsock_provider::__private::Provider,
    );
};
#[doc(hidden)]
#[allow(unknown_lints)]
#[allow(non_local_definitions)]
#[macro_export]
macro_rules! only_one_winsock_provider_per_crate_because_each_exports_WSPStartup {
    () => {};
}
