//! Code generation of the layered mode (`#[winsock_provider(layered, ...)]`): the struct
//! unchanged, one `LayerBinding` impl holding the declared data, and the runtime's layer
//! export macro.

use crate::expand::{guid_literal, once_per_crate, protocol_spec, respan};
use crate::valid::{Mode, Model};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

/// Expands a valid layered model. The mode is the layer's: `non_ifs` hands out its own handles,
/// `ifs` the provider below's (the runtime's `IfsLayer` mode, which needs no bound on the
/// author's types).
pub fn expand(input: TokenStream, m: &Model) -> TokenStream {
    let k = &m.krate;
    let ident = &m.ident;
    let bounds = respan(quote!(#ident: #k::__private::LayerBinding,), ident.span());
    let layer_bound = respan(quote!(#ident: #k::Layer,), ident.span());
    let name = &m.name;
    let description = &m.description;
    let guid = guid_literal(m.guid);
    let protocols = m.protocols.iter().map(|p| protocol_spec(k, p));
    let self_ty = quote_spanned!(ident.span()=> #ident);
    let once = once_per_crate(ident.span());
    let categories = m.categories.as_ref().map(|c| {
        let bits = syn::LitInt::new(
            &format!("0x{:x}u32", c.bits),
            proc_macro2::Span::call_site(),
        );
        let paths = c.paths.iter().map(|path| {
            let span = syn::spanned::Spanned::span(path);
            quote_spanned!(span=> | (#path) as u32)
        });
        // The author's constant may be a `u32` already: the cast is for other integer types.
        quote! {
            #[allow(clippy::unnecessary_cast)]
            const LSP_CATEGORIES: u32 = #bits #(#paths)*;
        }
    });
    let mode_ty = match m.mode {
        Mode::Ifs(span) => respan(quote!(#k::__private::IfsLayer), span),
        Mode::NonIfs(span) => respan(quote!(#k::__private::NonIfs), span),
    };

    quote! {
        #input

        const _: () = {
            #[automatically_derived]
            impl #k::__private::LayerBinding for #self_ty
            where
                #layer_bound
            {
                type Mode = #mode_ty;

                #categories

                const INFO: #k::__private::ProviderInfo = #k::__private::ProviderInfo {
                    name: #name,
                    description: #description,
                    guid: #k::__private::Guid(#guid),
                    protocols: &[#(#protocols),*],
                };

                #[inline(always)]
                fn state() -> &'static #k::__private::State<#k::__private::Layered<Self>> {
                    static STATE: #k::__private::StateSlot<#k::__private::Layered<#ident>> =
                        #k::__private::StateSlot::new();
                    STATE.get()
                }
            }

            #k::__private::export_layer_where!(#ident where #bounds);
        };

        #once
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_is_the_struct_one_layer_impl_and_the_layer_exports() {
        let out = crate::expand::winsock_provider(
            quote!(
                layered,
                name = "Counter",
                guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e60",
                non_ifs,
                protocol(
                    family = AF_INET,
                    socket_type = SOCK_STREAM,
                    protocol = IPPROTO_TCP
                ),
            ),
            quote!(
                pub struct Counter;
            ),
        );
        let text = out.to_string();
        for expected in [
            "pub struct Counter ;",
            "impl :: winsock_provider :: __private :: LayerBinding for Counter where Counter \
             : :: winsock_provider :: Layer ,",
            "static STATE : :: winsock_provider :: __private :: StateSlot < :: \
             winsock_provider :: __private :: Layered < Counter >>",
            ":: winsock_provider :: __private :: export_layer_where ! (Counter where",
            "type Mode = :: winsock_provider :: __private :: NonIfs ;",
        ] {
            assert!(text.contains(expected), "{}\nnot in\n{}", expected, text);
        }
        assert!(!text.contains("compile_error"));
    }

    #[test]
    fn categories_become_the_bindings_constant() {
        let layer = |categories: TokenStream| {
            crate::expand::winsock_provider(
                quote!(
                    layered,
                    name = "L",
                    guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e60",
                    non_ifs,
                    #categories
                    protocol(family = AF_INET, socket_type = SOCK_STREAM)
                ),
                quote!(
                    pub struct L;
                ),
            )
            .to_string()
        };
        let out = layer(quote!(categories = [LSP_PROXY, crate::MINE, LSP_SYSTEM],));
        assert!(!out.contains("compile_error"), "{}", out);
        assert!(
            out.contains("const LSP_CATEGORIES : u32 = 0x80000004u32 | (crate :: MINE) as u32 ;"),
            "{}",
            out
        );
        // Without `categories`, the trait's default (0) stands.
        let out = layer(TokenStream::new());
        assert!(!out.contains("LSP_CATEGORIES"), "{}", out);
    }

    #[test]
    fn ifs_layers_take_the_ifs_mode() {
        let out = crate::expand::winsock_provider(
            quote!(
                layered,
                name = "L",
                guid = "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e60",
                ifs,
                protocol(family = AF_INET, socket_type = SOCK_STREAM)
            ),
            quote!(
                pub struct L;
            ),
        )
        .to_string();
        assert!(!out.contains("compile_error"), "{}", out);
        assert!(
            out.contains("type Mode = :: winsock_provider :: __private :: IfsLayer ;"),
            "{}",
            out
        );
        assert!(!out.contains("NonIfs"), "{}", out);
    }
}
