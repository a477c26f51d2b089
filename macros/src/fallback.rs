//! What to emit when the attribute is wrong: the item as written, a stand-in `Binding` impl
//! (`LayerBinding` for a layer) so code naming the provider does not fail a second time, and
//! the errors.

use darling::ast::NestedMeta;
use darling::Error;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{Expr, Item, Lit, Meta};

/// The item unchanged, a stand-in impl (when the item can carry one), and `compile_error!`s.
pub fn expand(
    args: &TokenStream,
    input: TokenStream,
    item: Option<&Item>,
    errors: Error,
) -> TokenStream {
    let stub = match (item, krate(args)) {
        (Some(Item::Struct(s)), Some(k)) if is_layered(args) => {
            if s.generics.params.is_empty() {
                layer_stub(&s.ident, &k)
            } else {
                TokenStream::new()
            }
        }
        (Some(item), Some(k)) => stub(item, &k),
        _ => TokenStream::new(),
    };
    let errors = errors.write_errors();
    // A repeated `#[winsock_provider]` (an error of its own) must not expand too: its expansion
    // would clash with the stand-in below.
    let input = match item {
        Some(Item::Struct(s)) if s.attrs.iter().any(crate::valid::is_this_attribute) => {
            let mut s = s.clone();
            s.attrs.retain(|a| !crate::valid::is_this_attribute(a));
            quote!(#s)
        }
        _ => input,
    };
    quote! {
        #input
        #stub
        #errors
    }
}

/// The runtime path the arguments name, leniently: `None` when `crate = ...` is there but
/// unusable (then no stand-in is emitted, rather than one naming a crate that is not there).
fn krate(args: &TokenStream) -> Option<syn::Path> {
    let items = NestedMeta::parse_meta_list(args.clone()).unwrap_or_default();
    for item in &items {
        if let NestedMeta::Meta(Meta::NameValue(nv)) = item {
            if nv.path.is_ident("crate") {
                return match &nv.value {
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Str(s), ..
                    }) => s.parse().ok(),
                    Expr::Path(p) if p.qself.is_none() => Some(p.path.clone()),
                    _ => None,
                };
            }
        }
    }
    Some(syn::parse_quote!(::winsock_provider))
}

/// Whether the arguments declare a layer (a bare `layered` among them).
fn is_layered(args: &TokenStream) -> bool {
    let items = NestedMeta::parse_meta_list(args.clone()).unwrap_or_default();
    items
        .iter()
        .any(|item| matches!(item, NestedMeta::Meta(Meta::Path(p)) if p.is_ident("layered")))
}

/// A `LayerBinding` impl with no protocols, bounded on the `Layer` impl the author writes (a
/// struct that has one then gets no second error). A generic layer struct (an error of its
/// own) gets none.
fn layer_stub(ident: &syn::Ident, k: &syn::Path) -> TokenStream {
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #k::__private::LayerBinding for #ident
            where
                #ident: #k::Layer,
            {
                type Mode = #k::__private::NonIfs;
                const INFO: #k::__private::ProviderInfo = #k::__private::ProviderInfo {
                    name: "",
                    description: "",
                    guid: #k::__private::Guid(0),
                    protocols: &[],
                };
                fn state() -> &'static #k::__private::State<#k::__private::Layered<Self>> {
                    ::core::unreachable!("#[winsock_provider] failed to expand")
                }
            }
        };
    }
}

/// A `Binding` impl with no protocols, for the types a provider can be.
fn stub(item: &Item, k: &syn::Path) -> TokenStream {
    let (ident, generics) = match item {
        Item::Struct(s) => (&s.ident, &s.generics),
        Item::Enum(e) => (&e.ident, &e.generics),
        Item::Union(u) => (&u.ident, &u.generics),
        _ => return TokenStream::new(),
    };
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let mut predicates = match where_clause {
        Some(w) => {
            let p = w.predicates.iter();
            quote!(#(#p,)*)
        }
        None => TokenStream::new(),
    };
    predicates.extend(quote!(#ident #ty_generics: #k::__private::Provider));
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #k::__private::Binding for #ident #ty_generics
            where
                #predicates
            {
                type Mode = #k::__private::NonIfs;
                const INFO: #k::__private::ProviderInfo = #k::__private::ProviderInfo {
                    name: "",
                    description: "",
                    guid: #k::__private::Guid(0),
                    protocols: &[],
                };
                fn state() -> &'static #k::__private::State<Self> {
                    ::core::unreachable!("#[winsock_provider] failed to expand")
                }
            }
        };
    }
}
