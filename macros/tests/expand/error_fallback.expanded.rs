// The expansion of error_fallback.rs. Generated; do not edit. Regenerate with:
// WSP_BLESS=1 cargo test -p winsock-provider-macros snapshots
pub struct Loopback;
const _: () = {
    #[automatically_derived]
    impl ::winsock_provider::__private::Binding for Loopback
    where
        Loopback: ::winsock_provider::__private::Provider,
    {
        type Mode = ::winsock_provider::__private::NonIfs;
        const INFO: ::winsock_provider::__private::ProviderInfo = ::winsock_provider::__private::ProviderInfo {
            name: "",
            description: "",
            guid: ::winsock_provider::__private::Guid(0),
            protocols: &[],
        };
        fn state() -> &'static ::winsock_provider::__private::State<Self> {
            ::core::unreachable!("#[winsock_provider] failed to expand")
        }
    }
};
::core::compile_error! {
    "unknown option `nmae`; did you mean `name`?"
}
::core::compile_error! {
    "`6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5` is not a GUID: write 8-4-4-4-12 hexadecimal digits, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (generate a fresh one with `uuidgen`)"
}
::core::compile_error! {
    "unknown protocol `TCP`; did you mean `IPPROTO_TCP`?"
}
