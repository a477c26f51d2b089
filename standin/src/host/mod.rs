//! The host side: what ws2_32 and the operating system provide around a provider. ws2_32's
//! handle bookkeeping (`registry`) and the upcall table (`upcalls`), the overlapped-I/O
//! bookkeeping and host hooks (`overlapped`), window message queues (`messages`), kernel
//! objects (`kernel`: events, APCs, thread handles, completion ports) and handle values and
//! library loading (`os`).
//!
//! Nothing here knows the loader or the application-side API: they call down into it.

pub(crate) mod kernel;
pub(crate) mod messages;
pub(crate) mod os;
pub(crate) mod overlapped;
pub(crate) mod registry;
pub(crate) mod upcalls;
