//! Readiness and network events: `select`, `WSAEventSelect`, `WSAEnumNetworkEvents`,
//! `WSAAsyncSelect`.

use super::Ws2;
use crate::host::messages::Window;
use crate::loader::check_int;
use std::time::Duration;
use winsock_provider::sys::*;
use winsock_provider::WsaError;

/// `FD_SETSIZE`: at most this many sockets in each set given to `select`.
pub const FD_SETSIZE: usize = 64;

impl Ws2 {
    /// `select(0, read, write, except, timeout)` over sockets of one provider (ws2_32 hands
    /// `WSPSelect` the sets of one provider only: mixing providers is `WSAEINVAL`, as are three
    /// empty sets and a set larger than `FD_SETSIZE`). `timeout` `None` waits forever. On
    /// return each vector holds the sockets that are ready; the result is their total. Panics
    /// if the provider reported a count that does not match the sets, or a socket it was not
    /// given.
    pub fn select(
        &self,
        read: &mut Vec<SOCKET>,
        write: &mut Vec<SOCKET>,
        except: &mut Vec<SOCKET>,
        timeout: Option<Duration>,
    ) -> Result<usize, WsaError> {
        self.not_cleaned()?;
        let all: Vec<SOCKET> = read
            .iter()
            .chain(write.iter())
            .chain(except.iter())
            .copied()
            .collect();
        if all.is_empty()
            || [&*read, &*write, &*except]
                .iter()
                .any(|v| v.len() > FD_SETSIZE)
        {
            return Err(WsaError::INVAL);
        }
        let mut select = None;
        for &s in &all {
            let (d, _) = self.route(s)?;
            match select {
                None => select = Some(d.procs.select),
                Some(f) if f as usize != d.procs.select as usize => return Err(WsaError::INVAL),
                Some(_) => {}
            }
        }
        let f = select.expect("at least one socket");
        let to_set = |v: &Vec<SOCKET>| {
            let mut set = FD_SET::default();
            set.fd_array[..v.len()].copy_from_slice(v);
            set.fd_count = v.len() as u32;
            set
        };
        let (mut r, mut w, mut e) = (to_set(read), to_set(write), to_set(except));
        let ptr = |v: &Vec<SOCKET>, set: &mut FD_SET| -> *mut FD_SET {
            if v.is_empty() {
                core::ptr::null_mut()
            } else {
                set
            }
        };
        let (rp, wp, ep) = (ptr(read, &mut r), ptr(write, &mut w), ptr(except, &mut e));
        let tv = timeout.map(|t| TIMEVAL {
            tv_sec: t.as_secs().min(i32::MAX as u64) as i32,
            tv_usec: t.subsec_micros() as i32,
        });
        let tvp = tv
            .as_ref()
            .map_or(core::ptr::null(), |t| t as *const TIMEVAL);
        // SAFETY: each non-null set is a valid FD_SET we own; the timeout is readable.
        let n = check_int("WSPSelect", |errno| unsafe { f(0, rp, wp, ep, tvp, errno) })?;
        let mut total = 0usize;
        for (name, v, set, given) in [
            ("read", &mut *read, &r, !rp.is_null()),
            ("write", &mut *write, &w, !wp.is_null()),
            ("except", &mut *except, &e, !ep.is_null()),
        ] {
            if !given {
                continue;
            }
            let count = set.fd_count as usize;
            if count > v.len() {
                panic!(
                    "ws2-standin: WSPSelect left {} sockets in the {} set, which held {}",
                    count,
                    name,
                    v.len()
                );
            }
            let ready: Vec<SOCKET> = set.fd_array[..count].to_vec();
            if let Some(stranger) = ready.iter().find(|s| !v.contains(s)) {
                panic!(
                    "ws2-standin: WSPSelect returned socket {:#x} in the {} set, which was not \
                     given there",
                    stranger, name
                );
            }
            total += count;
            *v = ready;
        }
        if n < 0 || n as usize != total {
            panic!(
                "ws2-standin: WSPSelect returned {} but left {} sockets in the sets",
                n, total
            );
        }
        Ok(total)
    }

    /// `WSAEventSelect(s, event, events)` (`event` 0 with `events` 0 cancels).
    pub fn wsa_event_select(
        &self,
        s: SOCKET,
        event: WSAEVENT,
        events: u32,
    ) -> Result<(), WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.event_select;
        // SAFETY: plain arguments.
        check_int("WSPEventSelect", |errno| unsafe {
            f(s, event, events as i32, errno)
        })
        .map(drop)
    }

    /// `WSAEnumNetworkEvents(s, event)`: the network events recorded since the last call (and
    /// their error codes), resetting `event` when it is not 0.
    pub fn wsa_enum_network_events(
        &self,
        s: SOCKET,
        event: WSAEVENT,
    ) -> Result<WSANETWORKEVENTS, WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.enum_network_events;
        let mut out = WSANETWORKEVENTS::default();
        // SAFETY: a writable WSANETWORKEVENTS.
        check_int("WSPEnumNetworkEvents", |errno| unsafe {
            f(s, event as HANDLE, &mut out, errno)
        })?;
        Ok(out)
    }

    /// `WSAAsyncSelect(s, window, msg, events)`: network events are posted to `window` as
    /// messages `msg` with wParam = `s` and lParam = `WSAMAKESELECTREPLY(event, error)`
    /// (`events` 0 cancels).
    pub fn wsa_async_select(
        &self,
        s: SOCKET,
        window: Window,
        msg: u32,
        events: u32,
    ) -> Result<(), WsaError> {
        let (d, _) = self.route(s)?;
        let f = d.procs.async_select;
        // SAFETY: plain arguments.
        check_int("WSPAsyncSelect", |errno| unsafe {
            f(s, window.hwnd(), msg, events as i32, errno)
        })
        .map(drop)
    }
}
