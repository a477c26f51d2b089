// The expansion of every_option.rs. Generated; do not edit. Regenerate with:
// WSP_BLESS=1 cargo test -p winsock-provider-macros snapshots
pub struct Everything(u32);
const _: () = {
    #[automatically_derived]
    impl my_toolkit::wp::__private::Binding for Everything
    where
        Everything: my_toolkit::wp::__private::Provider,
    {
        type Mode = my_toolkit::wp::__private::NonIfs;
        const INFO: my_toolkit::wp::__private::ProviderInfo = my_toolkit::wp::__private::ProviderInfo {
            name: "Everything",
            description: "Every option of the attribute",
            guid: my_toolkit::wp::__private::Guid(
                0x00000000_0000_0000_0000_000000000001u128,
            ),
            protocols: &[
                my_toolkit::wp::__private::ProtocolSpec {
                    name: "Everything RDM",
                    family: 17,
                    socket_type: 4,
                    protocol: 1000,
                    service_flags: 0x40003,
                    provider_flags: 0xf,
                    max_message_size: 65536,
                    min_sockaddr: 4,
                    max_sockaddr: 64,
                },
                my_toolkit::wp::__private::ProtocolSpec {
                    name: "Everything SOCK_DGRAM",
                    family: 23,
                    socket_type: 2,
                    protocol: 17,
                    service_flags: 0x0,
                    provider_flags: 0x0,
                    max_message_size: 65467,
                    min_sockaddr: 28,
                    max_sockaddr: 28,
                },
            ],
        };
        #[inline(always)]
        fn state() -> &'static my_toolkit::wp::__private::State<Self> {
            static STATE: my_toolkit::wp::__private::StateSlot<Everything> = my_toolkit::wp::__private::StateSlot::new();
            STATE.get()
        }
    }
    my_toolkit::wp::__private::export_provider_where!(
        Everything where Everything : my_toolkit::wp::__private::Provider,
    );
};
#[doc(hidden)]
#[allow(unknown_lints)]
#[allow(non_local_definitions)]
#[macro_export]
macro_rules! only_one_winsock_provider_per_crate_because_each_exports_WSPStartup {
    () => {};
}
