//! Scenarios that drive a loaded provider the way applications do, shared by `cargo test`
//! (provider linked in) and the Wine end-to-end driver (provider DLL loaded by path).
//!
//! Each returns `Err(description)` naming the scenario, the step, the call and the WSA code
//! when something is wrong, so a failure reads as words, not as an exit status.

use crate::SockAddr;

pub mod churn;
pub mod datagram;
pub mod duplicate;
pub mod errors;
pub mod ifs;
pub mod layout;
pub mod lifecycle;
pub mod notify;
pub mod overlapped;
pub mod stream;
mod support;

/// Which protocol entry a scenario uses, and how to make addresses for it.
#[derive(Clone, Debug)]
pub struct Target {
    /// Address family passed to `socket`.
    pub af: i32,
    /// Socket type passed to `socket`.
    pub ty: i32,
    /// Protocol passed to `socket`.
    pub protocol: i32,
    /// A bindable address for listener or receiver number `n` (scenarios call `getsockname`
    /// after `bind` to learn the address peers should use, so port 0 is fine).
    pub addr: fn(u32) -> SockAddr,
}
