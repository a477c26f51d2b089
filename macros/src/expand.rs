//! Code generation: the struct unchanged, one `Binding` impl holding the declared data, and
//! the runtime's export macro.

use crate::fallback;
use crate::valid::{self, Entry, Mode, Model, Value};
use proc_macro2::{Group, Literal, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};

/// Expands `#[winsock_provider(args)] input`; on error, the input and the errors.
pub fn winsock_provider(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: syn::Item = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(e) => return fallback::expand(&args, input, None, e.into()),
    };
    match valid::check(args.clone(), &item) {
        Ok(model) => expand(input, &model),
        Err(errors) => fallback::expand(&args, input, Some(&item), errors),
    }
}

fn expand(input: TokenStream, m: &Model) -> TokenStream {
    if m.layered.is_some() {
        return crate::layered::expand(input, m);
    }
    let k = &m.krate;
    let ident = &m.ident;

    // The bounds go on the impl and on each export, all with the span of the user's token, so
    // rustc reports a missing impl once, there: the provider bound on the struct name, the IFS
    // bound on `ifs`. Inside the impl they are assumed, so nothing else repeats them.
    let provider_bound = respan(quote!(#ident: #k::__private::Provider,), ident.span());
    let (mode_ty, ifs_bound) = match m.mode {
        Mode::Ifs(span) => (
            respan(quote!(#k::__private::Ifs), span),
            respan(
                quote!(<#ident as #k::__private::Provider>::Socket: #k::__private::IfsSocket,),
                span,
            ),
        ),
        Mode::NonIfs(span) => (
            respan(quote!(#k::__private::NonIfs), span),
            TokenStream::new(),
        ),
    };
    let bounds = quote!(#provider_bound #ifs_bound);

    let name = &m.name;
    let description = &m.description;
    let guid = guid_literal(m.guid);
    let protocols = m.protocols.iter().map(|p| protocol_spec(k, p));
    let self_ty = quote_spanned!(ident.span()=> #ident);
    let once = once_per_crate(ident.span());

    quote! {
        #input

        const _: () = {
            #[automatically_derived]
            impl #k::__private::Binding for #self_ty
            where
                #bounds
            {
                type Mode = #mode_ty;

                const INFO: #k::__private::ProviderInfo = #k::__private::ProviderInfo {
                    name: #name,
                    description: #description,
                    guid: #k::__private::Guid(#guid),
                    protocols: &[#(#protocols),*],
                };

                #[inline(always)]
                fn state() -> &'static #k::__private::State<Self> {
                    static STATE: #k::__private::StateSlot<#ident> =
                        #k::__private::StateSlot::new();
                    STATE.get()
                }
            }

            #k::__private::export_provider_where!(#ident where #bounds);
        };

        #once
    }
}

/// The name of the marker [`once_per_crate`] defines, worded as the explanation rustc shows
/// when it is "defined multiple times".
pub const ONCE_PER_CRATE: &str =
    "only_one_winsock_provider_per_crate_because_each_exports_WSPStartup";

/// A `#[macro_export]` macro, which lives at the crate root wherever the attribute is: a second
/// `#[winsock_provider]` in the crate (whose `#[no_mangle] WSPStartup` would clash at link
/// time) is then an early, single "the name `only_one_winsock_provider_per_crate_...` is
/// defined multiple times" error at the second struct, instead of a symbol clash.
///
/// It stands beside the struct, outside the `const _` block, so the `non_local_definitions`
/// lint (Rust 1.79+) only sees it when the struct itself is in a function body, where it is
/// allowed (two attributes: `unknown_lints` first, for compilers that predate that lint).
/// Everything carries the struct name's span, where rustc then points.
pub fn once_per_crate(span: Span) -> TokenStream {
    let name = syn::Ident::new(ONCE_PER_CRATE, span);
    respan(
        quote! {
            #[doc(hidden)]
            #[allow(unknown_lints)]
            #[allow(non_local_definitions)]
            #[macro_export]
            macro_rules! #name {
                () => {};
            }
        },
        span,
    )
}

pub fn protocol_spec(k: &syn::Path, p: &Entry) -> TokenStream {
    let name = &p.name;
    let family = value(&p.family);
    let socket_type = Literal::i32_unsuffixed(p.socket_type);
    let protocol = value(&p.protocol);
    let hex = |v: u32| syn::LitInt::new(&format!("0x{:x}", v), Span::call_site());
    let service_flags = hex(p.service_flags);
    let provider_flags = hex(p.provider_flags);
    let max_message_size = Literal::u32_unsuffixed(p.max_message_size);
    let min_sockaddr = Literal::i32_unsuffixed(p.min_sockaddr);
    let max_sockaddr = Literal::i32_unsuffixed(p.max_sockaddr);
    quote! {
        #k::__private::ProtocolSpec {
            name: #name,
            family: #family,
            socket_type: #socket_type,
            protocol: #protocol,
            service_flags: #service_flags,
            provider_flags: #provider_flags,
            max_message_size: #max_message_size,
            min_sockaddr: #min_sockaddr,
            max_sockaddr: #max_sockaddr,
        }
    }
}

/// A field's value: a literal, or the author's constant converted to the field's `i32` (in a
/// `const` context, so a constant that is not an integer is an error on the author's path).
fn value(v: &Value) -> TokenStream {
    match v {
        Value::Int(v) => Literal::i32_unsuffixed(*v).into_token_stream(),
        Value::Path(path) => {
            let span = syn::spanned::Spanned::span(path);
            quote_spanned!(span=> (#path) as i32)
        }
    }
}

/// `0x6f1c2a3e_8d4b_4c5a_9e7f_0a1b2c3d4e5fu128`: the GUID's digits, grouped as it is written.
pub fn guid_literal(guid: u128) -> syn::LitInt {
    let hex = format!("{:032x}", guid);
    let text = format!(
        "0x{}_{}_{}_{}_{}u128",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    syn::LitInt::new(&text, Span::call_site())
}

/// `tokens` with every span (inside groups too) set to `span`.
pub fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Group(g) => {
                let mut group = Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                TokenTree::Group(group)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_is_the_struct_one_impl_and_the_exports() {
        let out = winsock_provider(
            quote!(
                name = "Loopback",
                guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f",
                ifs,
                protocol(
                    family = AF_INET,
                    socket_type = SOCK_STREAM,
                    protocol = IPPROTO_TCP
                ),
            ),
            quote!(
                pub struct Loopback;
            ),
        );
        let text = out.to_string();
        for expected in [
            "pub struct Loopback ;",
            "impl :: winsock_provider :: __private :: Binding for Loopback where Loopback : \
             :: winsock_provider :: __private :: Provider , < Loopback as :: winsock_provider \
             :: __private :: Provider > :: Socket : :: winsock_provider :: __private :: \
             IfsSocket ,",
            "type Mode = :: winsock_provider :: __private :: Ifs ;",
            "guid : :: winsock_provider :: __private :: Guid (0x6f1c2a3e_8d4b_4c5a_9e7f_0a1b2c3d4e5fu128)",
            "service_flags : 0x26 , provider_flags : 0x8 , max_message_size : 0 , \
             min_sockaddr : 16 , max_sockaddr : 16",
            "static STATE : :: winsock_provider :: __private :: StateSlot < Loopback >",
            ":: winsock_provider :: __private :: export_provider_where ! (Loopback where",
        ] {
            assert!(text.contains(expected), "{}\nnot in\n{}", expected, text);
        }
        assert!(!text.contains("compile_error"));
    }

    #[test]
    fn errors_keep_the_item_and_add_a_stand_in_impl() {
        let out = winsock_provider(
            quote!(name = "Loopback", crate = "wp"),
            quote!(
                pub struct Loopback;
            ),
        )
        .to_string();
        assert!(out.starts_with("pub struct Loopback ;"), "{}", out);
        assert!(
            out.contains("impl wp :: __private :: Binding for Loopback"),
            "{}",
            out
        );
        assert!(out.contains("compile_error"), "{}", out);
        assert!(!out.contains("export_provider"), "{}", out);
    }
}
