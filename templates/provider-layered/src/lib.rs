//! A small layered provider to start from: a layer over the TCP entries of whatever base
//! provider is installed under it, counting the bytes each socket sends and receives. Every
//! call it does not override goes down the chain unchanged ([`Layer`]'s defaults).
//!
//! The counts are read with `WSAIoctl(SIO_COUNTS)` on any socket of the layer: that socket's
//! `[sent, received]` as two little-endian `u64`s.
//!
//! `cargo wsp new --layered` copies this crate, replacing its name and GUID. Its tests install a
//! base provider and the layer in a catalog file, as `regsvr32` installs them on Windows, and
//! drive sockets through the chain (`tests/chain.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use winsock_provider::{
    winsock_provider, Bufs, BufsMut, IoctlRequest, Layer, LayerContext, LayerSock, MsgFlags,
    WsaError,
};

/// `WSAIoctl` code answering the socket's bytes `[sent, received]` (a vendor-defined code:
/// `IOC_OUT | IOC_VENDOR | 1`).
pub const SIO_COUNTS: u32 = 0x5800_0001;

/// The layer. `#[winsock_provider(layered, ...)]` turns this crate into a layered provider DLL
/// whose `DllRegisterServer` chains it over every installed entry of the protocols it lists.
#[winsock_provider(
    layered,
    name = "Template counting layer",
    guid = "9c4b2e71-0a3d-4f6e-b852-7d1e3c9a4f60",
    non_ifs,
    protocol(family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
)]
pub struct Counting;

/// One socket's counters (the layer's per-socket state).
#[derive(Default)]
pub struct Counts {
    sent: AtomicU64,
    received: AtomicU64,
}

impl Layer for Counting {
    type Socket = Counts;

    fn startup(_: &LayerContext) -> Result<Self, WsaError> {
        Ok(Counting)
    }

    fn send(
        &self,
        sock: &LayerSock<Self>,
        bufs: &Bufs<'_>,
        flags: MsgFlags,
    ) -> Result<usize, WsaError> {
        let n = sock.next().send(bufs, flags)?;
        sock.sent.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn recv(
        &self,
        sock: &LayerSock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags), WsaError> {
        let (n, out) = sock.next().recv(bufs, flags)?;
        if !flags.contains(MsgFlags::PEEK) {
            sock.received.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok((n, out))
    }

    fn ioctl(&self, sock: &LayerSock<Self>, request: IoctlRequest<'_>) -> Result<usize, WsaError> {
        if request.code != SIO_COUNTS {
            return sock.next().ioctl(request);
        }
        if request.output.len() < 16 {
            return Err(WsaError::FAULT);
        }
        let sent = sock.sent.load(Ordering::Relaxed);
        let received = sock.received.load(Ordering::Relaxed);
        request.output[..8].copy_from_slice(&sent.to_le_bytes());
        request.output[8..16].copy_from_slice(&received.to_le_bytes());
        Ok(16)
    }
}
