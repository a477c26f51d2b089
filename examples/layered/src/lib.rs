//! A layered service provider over any TCP, UDP or `AF_UNIX` stream provider: it counts the bytes each socket
//! sends and receives, and redirects connects by a small rule table, as proxifiers do.
//! Every other call goes down to the next provider unchanged.
//!
//! The rules come from the environment variable `WSP_LAYERED_REDIRECT` when the layer starts:
//! `FROM=TO` pairs separated by `,`, each an IPv4 `address:port`
//! (`127.0.0.9:80=127.0.0.1:8080`). A connect (or `ConnectEx`) to `FROM` goes to `TO`.
//!
//! The counters are read with `WSAIoctl` on any of the layer's sockets:
//! [`SIO_LAYERED_COUNTS`] answers that socket's `[sent, received]` and [`SIO_LAYERED_TOTALS`]
//! the whole process's, as two little-endian `u64`s.
//!
//! Built by this package, the layer is non-IFS (it hands out its own handles, over any
//! provider). The package `layered-ifs-provider` (`examples/layered-ifs`) builds this same file
//! with its feature `ifs`: an IFS layer under another name and GUID, which hands out the
//! handles of the provider below and can only sit over IFS providers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use winsock_provider::{
    winsock_provider, Bufs, BufsMut, IoctlRequest, Layer, LayerContext, LayerSock, MsgFlags,
    SockAddr, WsaError,
};

/// `WSAIoctl` code answering the socket's bytes `[sent, received]` (a vendor-defined code:
/// `IOC_OUT | IOC_VENDOR | 1`).
pub const SIO_LAYERED_COUNTS: u32 = 0x5800_0001;
/// `WSAIoctl` code answering the process's bytes `[sent, received]` through the layer.
pub const SIO_LAYERED_TOTALS: u32 = 0x5800_0002;
/// The environment variable holding the redirect rules.
pub const REDIRECT_ENV: &str = "WSP_LAYERED_REDIRECT";

static TOTAL_SENT: AtomicU64 = AtomicU64::new(0);
static TOTAL_RECEIVED: AtomicU64 = AtomicU64::new(0);

/// The counting, redirecting layer.
#[cfg_attr(
    not(feature = "ifs"),
    winsock_provider(
        layered,
        name = "Counting layer",
        description = "Counts bytes per socket and redirects connects (winsock-provider example)",
        guid = "2f0e9a4c-5b7d-4e18-a3c6-91d2e4f8b705",
        non_ifs,
        protocol(name = "Counting TCP", family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
        protocol(name = "Counting UDP", family = AF_INET, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP),
        protocol(name = "Counting Unix stream", family = AF_UNIX, socket_type = SOCK_STREAM, protocol = 0)
    )
)]
#[cfg_attr(
    feature = "ifs",
    winsock_provider(
        layered,
        name = "Counting IFS layer",
        description = "Counts bytes per socket and redirects connects, handing out the handles of the provider below (winsock-provider example)",
        guid = "2f0e9a4c-5b7d-4e18-a3c6-91d2e4f8b707",
        ifs,
        protocol(name = "Counting IFS TCP", family = AF_INET, socket_type = SOCK_STREAM, protocol = IPPROTO_TCP),
        protocol(name = "Counting IFS UDP", family = AF_INET, socket_type = SOCK_DGRAM, protocol = IPPROTO_UDP),
        protocol(name = "Counting IFS Unix stream", family = AF_UNIX, socket_type = SOCK_STREAM, protocol = 0)
    )
)]
pub struct Counting {
    rules: Vec<(SocketAddr, SocketAddr)>,
}

/// One socket's counters.
#[derive(Default)]
pub struct Counts {
    sent: AtomicU64,
    received: AtomicU64,
}

impl Counts {
    fn sent(&self, n: usize) {
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
        TOTAL_SENT.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn received(&self, n: usize) {
        self.received.fetch_add(n as u64, Ordering::Relaxed);
        TOTAL_RECEIVED.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Parses `FROM=TO,FROM=TO`; malformed pairs are skipped.
pub fn parse_rules(text: &str) -> Vec<(SocketAddr, SocketAddr)> {
    text.split(',')
        .filter_map(|pair| {
            let (from, to) = pair.split_once('=')?;
            Some((from.trim().parse().ok()?, to.trim().parse().ok()?))
        })
        .collect()
}

fn answer(output: &mut [u8], sent: u64, received: u64) -> Result<usize, WsaError> {
    if output.len() < 16 {
        return Err(WsaError::FAULT);
    }
    output[..8].copy_from_slice(&sent.to_le_bytes());
    output[8..16].copy_from_slice(&received.to_le_bytes());
    Ok(16)
}

impl Layer for Counting {
    type Socket = Counts;

    fn startup(_: &LayerContext) -> Result<Self, WsaError> {
        let rules = std::env::var(REDIRECT_ENV)
            .map(|t| parse_rules(&t))
            .unwrap_or_default();
        Ok(Counting { rules })
    }

    fn connect(&self, sock: &LayerSock<Self>, addr: &SockAddr) -> Result<(), WsaError> {
        let target = match addr {
            SockAddr::Inet(a) => self
                .rules
                .iter()
                .find(|(from, _)| from == a)
                .map(|(_, to)| SockAddr::Inet(*to)),
            SockAddr::Raw { .. } => None,
        };
        sock.next().connect(target.as_ref().unwrap_or(addr))
    }

    fn send(
        &self,
        sock: &LayerSock<Self>,
        bufs: &Bufs<'_>,
        flags: MsgFlags,
    ) -> Result<usize, WsaError> {
        let n = sock.next().send(bufs, flags)?;
        sock.sent(n);
        Ok(n)
    }

    fn send_to(
        &self,
        sock: &LayerSock<Self>,
        bufs: &Bufs<'_>,
        flags: MsgFlags,
        to: &SockAddr,
    ) -> Result<usize, WsaError> {
        let n = sock.next().send_to(bufs, flags, to)?;
        sock.sent(n);
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
            sock.received(n);
        }
        Ok((n, out))
    }

    fn recv_from(
        &self,
        sock: &LayerSock<Self>,
        bufs: &mut BufsMut<'_>,
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags, SockAddr), WsaError> {
        let (n, out, from) = sock.next().recv_from(bufs, flags)?;
        if !flags.contains(MsgFlags::PEEK) {
            sock.received(n);
        }
        Ok((n, out, from))
    }

    fn ioctl(&self, sock: &LayerSock<Self>, request: IoctlRequest<'_>) -> Result<usize, WsaError> {
        match request.code {
            SIO_LAYERED_COUNTS => answer(
                request.output,
                sock.sent.load(Ordering::Relaxed),
                sock.received.load(Ordering::Relaxed),
            ),
            SIO_LAYERED_TOTALS => answer(
                request.output,
                TOTAL_SENT.load(Ordering::Relaxed),
                TOTAL_RECEIVED.load(Ordering::Relaxed),
            ),
            _ => sock.next().ioctl(request),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_skip_malformed_pairs() {
        let rules = parse_rules("127.0.0.9:80=127.0.0.1:8080, nonsense ,1.2.3.4:1=5.6.7.8:2");
        assert_eq!(
            rules,
            vec![
                (
                    "127.0.0.9:80".parse().unwrap(),
                    "127.0.0.1:8080".parse().unwrap()
                ),
                ("1.2.3.4:1".parse().unwrap(), "5.6.7.8:2".parse().unwrap()),
            ]
        );
    }
}
