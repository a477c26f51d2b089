//! A provider made with the toolkit whose methods do as little as possible, so that what a call
//! costs from outside is the toolkit's own overhead: `socket` → `()`, `bind`/`connect`/
//! `shutdown` → `Ok`, `recv` → would block, `send` → `Ok(len)`, `bytes_readable` (`FIONREAD`)
//! → 0; `SO_TYPE` and `FIONBIO` are answered by the runtime.

use winsock_provider::*;

/// The provider (UDP-shaped, so `SO_TYPE` is `SOCK_DGRAM`).
#[winsock_provider(
    name = "Outside bench: minimal",
    guid = "6d1f0b7e-4b57-4c1a-9d0e-5a2b3c4d5e01",
    non_ifs,
    protocol(family = AF_INET, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP),
)]
pub struct Minimal;

impl Provider for Minimal {
    type Socket = ();

    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Minimal)
    }

    fn socket(&self, _: &SocketRequest) -> Result<(), WsaError> {
        Ok(())
    }

    fn bind(&self, _: &Sock<Self>, _: &SockAddr) -> Result<(), WsaError> {
        Ok(())
    }

    fn connect(&self, _: &Sock<Self>, _: &SockAddr) -> Result<(), WsaError> {
        Ok(())
    }

    fn shutdown(&self, _: &Sock<Self>, _: Shutdown) -> Result<(), WsaError> {
        Ok(())
    }

    fn send(&self, _: &Sock<Self>, bufs: &Bufs<'_>, _: MsgFlags) -> Result<usize, WsaError> {
        Ok(bufs.len())
    }

    fn recv(
        &self,
        _: &Sock<Self>,
        _: &mut BufsMut<'_>,
        _: MsgFlags,
    ) -> Result<(usize, MsgFlags), WsaError> {
        Err(WsaError::WOULDBLOCK)
    }

    fn bytes_readable(&self, _: &Sock<Self>) -> Result<usize, WsaError> {
        Ok(0)
    }
}
