//! Compile-time behaviour of `#[winsock_provider(...)]`: the forms that must build, and one
//! clear error for each mistake (`ui/fail/*.stderr`; regenerate with `TRYBUILD=overwrite`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
