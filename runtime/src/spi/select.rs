//! `WSPSelect` over the provider's sockets, driven by readiness.
//!
//! A socket is *readable* when the provider reports `READ` (data, a datagram, or end of
//! stream to receive), `ACCEPT` (a listener with a connection pending) or `CLOSE`; *writable*
//! when it reports `WRITE`; in the *except* set when its last connection attempt failed.

use crate::io::{ops, signals, sock_io, Ready};
use crate::registry::provider::Provider;
use crate::registry::provider::Sock;
use crate::registry::state::{keep, Binding};
use crate::sys::{FD_SET, SOCKET, WSPUPCALLTABLE};
use crate::types::error::WsaError;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which condition a set asks about.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Want {
    Read,
    Write,
    Except,
}

/// Whether a socket with readiness `ready` (and `connect_failed`) belongs in a `want` set.
pub(crate) fn matches(want: Want, ready: Ready, connect_failed: bool) -> bool {
    match want {
        Want::Read => ready.intersects(Ready::READ | Ready::ACCEPT | Ready::CLOSE),
        Want::Write => ready.contains(Ready::WRITE) && !connect_failed,
        Want::Except => connect_failed,
    }
}

/// The sockets of one input set.
struct Asked<P: Provider> {
    want: Want,
    socks: Vec<Arc<Sock<P>>>,
}

/// Rewrites `set` to hold `handles` (distinct, checked with `WPUFDIsSet`).
///
/// # Safety
/// `upcalls` is ws2_32's table.
unsafe fn fill(set: &mut FD_SET, handles: &[SOCKET], upcalls: &WSPUPCALLTABLE) {
    let mut out = FD_SET::default();
    for &h in handles {
        let present = match upcalls.lpWPUFDIsSet {
            // SAFETY: a ws2_32 upcall reading a set we own.
            Some(is_set) => (unsafe { is_set(h, &out) }) != 0,
            None => out.fd_array[..out.fd_count as usize].contains(&h),
        };
        if !present && (out.fd_count as usize) < out.fd_array.len() {
            out.fd_array[out.fd_count as usize] = h;
            out.fd_count += 1;
        }
    }
    *set = out;
}

/// `WSPSelect`: waits until a socket in the sets is ready or `timeout` passes, then keeps only
/// the ready sockets in each set (each once) and returns their total count (a socket in two
/// sets counts twice, a handle listed twice in one set once). Every handle must be an open
/// socket of this provider (`WSAENOTSOCK` otherwise); a panic in the provider's `readiness`
/// fails the call with [`PANIC_ERROR`](crate::host::PANIC_ERROR).
pub(crate) fn select<P: Binding>(
    upcalls: &WSPUPCALLTABLE,
    sets: [Option<&mut FD_SET>; 3],
    timeout: Option<Duration>,
) -> Result<usize, WsaError> {
    let deadline = timeout.map(|t| Instant::now().checked_add(t));
    let deadline = match deadline {
        Some(None) => None, // too far to represent: forever
        Some(Some(at)) => Some(at),
        None => None,
    };
    let wants = [Want::Read, Want::Write, Want::Except];
    let mut asked: Vec<Asked<P>> = Vec::new();
    for (set, want) in sets.iter().zip(wants) {
        let mut socks = Vec::new();
        if let Some(set) = set {
            let listed = &set.fd_array[..set.fd_count as usize];
            for (i, &h) in listed.iter().enumerate() {
                // A handle listed twice is one socket: it is kept, and counted, once.
                if listed[..i].contains(&h) {
                    continue;
                }
                let pinned = P::state().lookup(h)?;
                let sock = keep(&pinned);
                drop(pinned);
                ops::attach(&sock);
                sock.io.usable()?;
                socks.push(sock);
            }
        }
        asked.push(Asked { want, socks });
    }
    loop {
        let seen = signals::generation();
        let mut ready: Vec<Vec<SOCKET>> = Vec::with_capacity(asked.len());
        for a in &asked {
            let mut handles = Vec::new();
            for s in &a.socks {
                let now = sock_io::try_readiness(&**s)?;
                if matches(a.want, now, sock_io::connect_error(&**s).is_some()) {
                    handles.push(s.handle());
                }
            }
            ready.push(handles);
        }
        let total: usize = ready.iter().map(Vec::len).sum();
        let expired = match (timeout, deadline) {
            (Some(t), _) if t == Duration::ZERO => true,
            (_, Some(at)) => Instant::now() >= at,
            _ => false,
        };
        if total > 0 || expired {
            for (set, handles) in sets.into_iter().zip(ready.iter()) {
                if let Some(set) = set {
                    // SAFETY: the table ws2_32 passed to WSPStartup.
                    unsafe { fill(set, handles, upcalls) };
                }
            }
            return Ok(total);
        }
        // On a timeout, the next round takes one last look and returns.
        signals::wait_change(seen, deadline);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_each_set_means() {
        assert!(matches(Want::Read, Ready::READ, false));
        assert!(matches(Want::Read, Ready::ACCEPT, false));
        assert!(matches(Want::Read, Ready::CLOSE, false));
        assert!(!matches(Want::Read, Ready::WRITE, false));
        assert!(matches(Want::Write, Ready::WRITE, false));
        assert!(!matches(Want::Write, Ready::WRITE, true));
        assert!(matches(Want::Except, Ready::NONE, true));
        assert!(!matches(Want::Except, Ready::READ | Ready::WRITE, false));
    }

    #[test]
    fn fill_keeps_distinct_handles() {
        let mut set = FD_SET::default();
        // SAFETY: an empty table: the local fallback is used.
        unsafe { fill(&mut set, &[8, 4, 8, 12], &WSPUPCALLTABLE::default()) };
        assert_eq!(set.fd_count, 3);
        assert_eq!(&set.fd_array[..3], &[8, 4, 12]);
    }
}
