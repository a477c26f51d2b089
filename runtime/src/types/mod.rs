//! Plain types of the SPI as the provider's trait sees them: addresses, buffers, flags and
//! options, errors, what a provider declares, and address text.

pub(crate) mod addr;
pub(crate) mod buf;
pub(crate) mod error;
pub(crate) mod flags;
pub(crate) mod info;
pub(crate) mod text;
