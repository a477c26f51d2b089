//! A minimal Winsock provider: a UDP-shaped transport that reflects every datagram back to the
//! socket that sent it. Copy this crate to start a provider of your own.

use std::collections::VecDeque;
use std::sync::Mutex;
use winsock_provider::*;

/// The provider. `#[winsock_provider]` turns this crate into a provider DLL.
#[winsock_provider(
    name = "Reflector",
    guid = "0b6f3c1e-2d4a-4f5b-8c7d-9e0a1b2c3d4e",
    non_ifs,
    protocol(family = AF_INET, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP),
)]
pub struct Reflector;

/// Per-socket state: the datagrams this socket sent, waiting to be received back.
#[derive(Default)]
pub struct Mirror(Mutex<VecDeque<(Vec<u8>, SockAddr)>>);

impl Provider for Reflector {
    type Socket = Mirror;

    fn startup(_: &StartupContext) -> Result<Self, WsaError> {
        Ok(Reflector)
    }

    fn socket(&self, _: &SocketRequest) -> Result<Mirror, WsaError> {
        Ok(Mirror::default())
    }

    fn send_to(
        &self,
        s: &Sock<Self>,
        bufs: &Bufs<'_>,
        _: MsgFlags,
        to: &SockAddr,
    ) -> Result<usize, WsaError> {
        let mut queue = s.0.lock().map_err(|_| WsaError::NETDOWN)?;
        queue.push_back((bufs.to_vec(), to.clone()));
        Ok(bufs.len())
    }

    fn recv_from(
        &self,
        s: &Sock<Self>,
        bufs: &mut BufsMut<'_>,
        _: MsgFlags,
    ) -> Result<(usize, MsgFlags, SockAddr), WsaError> {
        let mut queue = s.0.lock().map_err(|_| WsaError::NETDOWN)?;
        let (data, from) = queue.pop_front().ok_or(WsaError::WOULDBLOCK)?;
        if bufs.copy_from(&data) < data.len() {
            return Err(WsaError::MSGSIZE);
        }
        Ok((data.len(), MsgFlags::NONE, from))
    }
}
