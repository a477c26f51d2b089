//! The socket registry: the provider's trait and the socket record (`Sock`), and the provider's
//! process-wide state (start-up count, the handle table, how handles are allocated).

pub(crate) mod provider;
pub(crate) mod state;
