//! The IFS mode of a layer (`#[winsock_provider(layered, ifs, ...)]`): the application gets
//! the handles of the provider below, registered with `WPUModifyIFSHandle` under the layer's
//! chain entry, so ws2_32 sends the calls on them to the layer; the layer's own table (the
//! runtime's, as for an IFS base provider) maps each such handle to its layer socket.
//!
//! Microsoft's `WPUModifyIFSHandle` page allows this for a layer over a base IFS provider
//! only, and its sample installer keeps every non-IFS layer above an IFS one: the handle the
//! layer passes on must be a real IFS handle. So an IFS layer refuses a provider below whose
//! entry lacks `XP1_IFS_HANDLES` (a non-IFS base, or a chain through a non-IFS layer, whose
//! entries clear the flag).

use super::{Layer, LayerBinding, Layered};
use crate::registry::provider::Sock;
use crate::registry::state::Mode;
use crate::sys::{self, SOCKET, WSAPROTOCOL_INFOW, WSPUPCALLTABLE};
use crate::types::error::WsaError;
use crate::types::info::DescriptorMode;
use std::sync::Arc;

/// The descriptor mode of an IFS layer: a layer socket's handle is the socket below's,
/// registered with `WPUModifyIFSHandle` under the socket's chain entry. (The runtime's own
/// [`Ifs`](crate::Ifs) mode asks the socket state for its OS handle through `IfsSocket`; a
/// layer's is the handle below, which only the layer knows.)
pub enum IfsLayer {}

impl<L: Layer> Mode<Layered<L>> for IfsLayer {
    const KIND: DescriptorMode = DescriptorMode::Ifs;

    unsafe fn publish(
        upcalls: &WSPUPCALLTABLE,
        sock: &Arc<Sock<Layered<L>>>,
    ) -> Result<SOCKET, WsaError> {
        let modify = upcalls
            .lpWPUModifyIFSHandle
            .ok_or(WsaError::SYSCALLFAILURE)?;
        let mut err = 0;
        // SAFETY: a ws2_32 upcall, given the layer's chain entry and the handle of the socket
        // below, which that socket owns until the layer closes it.
        let handle = unsafe { modify(sock.catalog_id(), sock.state().lower().handle(), &mut err) };
        if handle == sys::INVALID_SOCKET {
            return Err(WsaError::from_upcall(err));
        }
        Ok(handle)
    }

    /// Nothing to give back: closing the socket below (the layer's close) closes the handle.
    unsafe fn release(_: &WSPUPCALLTABLE, _: SOCKET) -> Result<(), WsaError> {
        Ok(())
    }
}

/// Whether layer `L` was declared `ifs`.
pub(crate) fn is_ifs<L: LayerBinding>() -> bool {
    matches!(<L::Mode as Mode<Layered<L>>>::KIND, DescriptorMode::Ifs)
}

/// Whether an IFS layer can sit on `next` (catalog id `id`), the next entry of its chain: only
/// if that entry's handles are IFS handles.
pub(crate) fn check_next(id: u32, next: &WSAPROTOCOL_INFOW) -> Result<(), String> {
    if next.dwServiceFlags1 & sys::XP1_IFS_HANDLES != 0 {
        return Ok(());
    }
    Err(format!(
        "an IFS layer cannot sit over entry {}, whose handles are not IFS handles (no \
         XP1_IFS_HANDLES): declare the layer `non_ifs`, or install it over IFS entries only",
        id
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_entries_with_ifs_handles_can_be_below() {
        let mut next = WSAPROTOCOL_INFOW::default();
        let refused = check_next(1002, &next).unwrap_err();
        assert!(refused.contains("entry 1002"), "{}", refused);
        assert!(refused.contains("XP1_IFS_HANDLES"), "{}", refused);
        next.dwServiceFlags1 = sys::XP1_IFS_HANDLES;
        assert_eq!(check_next(1002, &next), Ok(()));
    }
}
