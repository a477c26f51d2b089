//! Placeholder: replaced by the real attribute.
use proc_macro::TokenStream;
/// The attribute.
#[proc_macro_attribute]
pub fn winsock_provider(_a: TokenStream, item: TokenStream) -> TokenStream { item }
