//! The `conformance` suite: the shared scenarios for any provider, chosen from the protocol
//! entries its library reports through `WspEnumProviderProtocols`, with addresses made from
//! patterns given on the command line (`--address PATTERN`, as many as there are families).
//!
//! Patterns:
//! * `inet:IP:PORT` (e.g. `inet:127.0.0.1:0`, `inet:[::1]:0`): every socket binds exactly that
//!   address (port 0: the provider picks one). The default for `AF_INET` and `AF_INET6`
//!   entries when no pattern of their family is given.
//! * `raw:FAMILY:HEX`: a `SockAddr::Raw` of that family whose bytes after the 2-byte family
//!   field are `HEX`, two hex digits a byte; each `xx` pair is replaced by a byte of a number
//!   unique in the run (least significant first), so every socket binds an address no other
//!   socket has. With no `xx`, every socket binds the same address (the provider's wildcard).
//!
//! Per entry:
//! * datagram entries (`XP1_CONNECTIONLESS`): `datagram::boundaries`, `datagram::notify`
//!   (select, WSAEventSelect, WSAAsyncSelect), `datagram::overlapped` (event, completion
//!   routine, and completion port for non-IFS providers; close with a receive pending),
//!   `datagram::duplicate`;
//! * stream entries: the `stream::*` scenarios, `notify::event_select_echo`,
//!   `notify::select_echo`, `notify::async_select_order`, `duplicate::same_process`,
//!   `duplicate::across_processes`, `overlapped::close_with_pending` and
//!   `overlapped::shutdown_with_pending` (for IFS providers, requests complete by event or
//!   routine and completion ports get no packets), and for non-IFS providers
//!   `overlapped::routes`, `overlapped::iocp_echo` and `overlapped::extensions` when the
//!   family also has a datagram entry; for IFS providers (`XP1_IFS_HANDLES`) `ifs::*`
//!   instead;
//! * both: `errors::bad_input`, `churn::create_close`, `churn::close_races_calls`, and after
//!   the suite's clean-up `lifecycle::cleanup_closes_everything`;
//! * entries of other socket types: `churn::create_close`.
//!
//! `errors::startup_version` runs once. A provider that does not share sockets
//! (`WSAEOPNOTSUPP` from `WSPDuplicateSocket`, the trait's default) passes the duplication
//! scenarios with a note saying so. A failing scenario's line ends with what to check in the
//! provider (`[to fix: ...]`).

use crate::{alone, dgram, note, open_session, scenario, spawn_dup_child, Step};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use winsock_provider::sys::{
    GUID, SOCK_DGRAM, SOCK_STREAM, WSAPROTOCOL_INFOW, XP1_CONNECTIONLESS, XP1_IFS_HANDLES,
};
use ws2_standin::scenarios::{
    churn, datagram, duplicate, errors, ifs, lifecycle, notify, overlapped, stream, Target,
};
use ws2_standin::{SockAddr, WsaError};

/// An address pattern (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    /// `inet:IP:PORT`.
    Inet(SocketAddr),
    /// `raw:FAMILY:HEX`: the bytes, with `None` where a unique byte goes.
    Raw(u16, Vec<Option<u8>>),
}

impl Pattern {
    /// Parses `inet:...` or `raw:...`.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        if let Some(addr) = text.strip_prefix("inet:") {
            return addr
                .parse()
                .map(Pattern::Inet)
                .map_err(|_| format!("address pattern {}: expected inet:IP:PORT", text));
        }
        let bad = || {
            format!(
                "address pattern {}: expected inet:IP:PORT or raw:FAMILY:HEX (hex byte pairs, xx for a unique byte)",
                text
            )
        };
        let rest = text.strip_prefix("raw:").ok_or_else(bad)?;
        let (family, hex) = rest.split_once(':').ok_or_else(bad)?;
        let family = family.parse::<u16>().map_err(|_| bad())?;
        if hex.len() % 2 != 0 || !hex.is_ascii() {
            return Err(bad());
        }
        let mut bytes = Vec::new();
        for i in (0..hex.len()).step_by(2) {
            let pair = &hex[i..i + 2];
            if pair.eq_ignore_ascii_case("xx") {
                bytes.push(None);
            } else {
                bytes.push(Some(u8::from_str_radix(pair, 16).map_err(|_| bad())?));
            }
        }
        Ok(Pattern::Raw(family, bytes))
    }

    /// The address family the pattern makes addresses of.
    pub fn family(&self) -> i32 {
        match self {
            Pattern::Inet(SocketAddr::V4(_)) => 2,
            Pattern::Inet(SocketAddr::V6(_)) => 23,
            Pattern::Raw(f, _) => i32::from(*f),
        }
    }

    /// The address for a socket, `unique` filling the `xx` bytes.
    pub fn make(&self, unique: u32) -> SockAddr {
        match self {
            Pattern::Inet(a) => SockAddr::Inet(*a),
            Pattern::Raw(family, bytes) => {
                let mut next = 0;
                let data = bytes
                    .iter()
                    .map(|b| {
                        b.unwrap_or_else(|| {
                            let v = (unique >> (8 * (next % 4))) as u8;
                            next += 1;
                            v
                        })
                    })
                    .collect();
                SockAddr::Raw {
                    family: *family,
                    data,
                }
            }
        }
    }
}

/// The pattern the running scenario's addresses come from (a scenario's `Target` holds a
/// plain function, so it reads the pattern from here; scenarios run one at a time).
static CURRENT: Mutex<Option<Pattern>> = Mutex::new(None);

fn current_address(_n: u32) -> SockAddr {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let pattern = CURRENT.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match pattern {
        Some(p) => p.make(NEXT.fetch_add(1, Ordering::Relaxed)),
        None => SockAddr::Raw {
            family: 0,
            data: Vec::new(),
        },
    }
}

/// One protocol entry to test, with its pattern.
#[derive(Clone)]
struct Entry {
    label: String,
    target: Target,
    pattern: Pattern,
    connectionless: bool,
    ifs: bool,
    /// Cleared when `notify::readiness` failed: the notification scenarios would only wait
    /// for their time-outs.
    signals: Arc<AtomicBool>,
}

impl Entry {
    /// The target, with this entry's pattern made current.
    fn target(&self) -> Target {
        *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.pattern.clone());
        self.target.clone()
    }
}

/// The provider's protocol entries, read through `WspEnumProviderProtocols`.
fn entries_of(library: &str) -> Result<Vec<WSAPROTOCOL_INFOW>, String> {
    let entry =
        ws2_standin::entry_points_of(library).map_err(|e| format!("loading {}: {}", library, e))?;
    let size = core::mem::size_of::<WSAPROTOCOL_INFOW>();
    let mut infos = vec![WSAPROTOCOL_INFOW::default(); 32];
    let mut len = (infos.len() * size) as u32;
    let mut errno = 0;
    let mut guid = GUID::from_u128(0);
    // SAFETY: `infos` holds `len` bytes of entries, as WspEnumProviderProtocols takes.
    let n = unsafe { (entry.enum_protocols)(&mut guid, infos.as_mut_ptr(), &mut len, &mut errno) };
    if n <= 0 {
        return Err(format!(
            "WspEnumProviderProtocols returned {} (error {}{})",
            n,
            errno,
            if errno == WsaError::NOBUFS.code() {
                ": more than 32 entries"
            } else {
                ""
            }
        ));
    }
    infos.truncate(n as usize);
    Ok(infos)
}

fn entries(library: &str, patterns: &[Pattern]) -> Result<Vec<Entry>, String> {
    let mut out: Vec<Entry> = Vec::new();
    for info in entries_of(library)? {
        let (af, ty, protocol) = (info.iAddressFamily, info.iSocketType, info.iProtocol);
        if out
            .iter()
            .any(|e| (e.target.af, e.target.ty, e.target.protocol) == (af, ty, protocol))
        {
            continue;
        }
        let pattern = match patterns.iter().find(|p| p.family() == af) {
            Some(p) => p.clone(),
            None if af == 2 => Pattern::Inet(([127, 0, 0, 1], 0).into()),
            None if af == 23 => Pattern::Inet("[::1]:0".parse().map_err(|_| "[::1]:0")?),
            None => {
                return Err(format!(
                    "no address pattern for family {} (the entry af={} type={} protocol={}): give --address raw:{}:HEX (cargo wsp: `address` in [package.metadata.wsp])",
                    af, af, ty, protocol, af
                ))
            }
        };
        out.push(Entry {
            label: format!("af={} type={} protocol={}", af, ty, protocol),
            target: Target {
                af,
                ty,
                protocol,
                addr: current_address,
            },
            pattern,
            connectionless: info.dwServiceFlags1 & XP1_CONNECTIONLESS != 0,
            ifs: info.dwServiceFlags1 & XP1_IFS_HANDLES != 0,
            signals: Arc::new(AtomicBool::new(true)),
        });
    }
    Ok(out)
}

/// A step named `name(entry)` running `run` on the entry's target. (Step names are
/// `&'static str`; these few are made once per run and live as long as it.)
fn on(
    name: &str,
    e: &Entry,
    run: impl Fn(&ws2_standin::Ws2, &Target) -> Result<(), String> + Send + Sync + 'static,
) -> Step {
    let e2 = e.clone();
    let label: &'static str = Box::leak(format!("{}({})", name, e.label).into_boxed_str());
    let hint = hint(name);
    scenario(label, move |ws| {
        run(ws, &e2.target()).map_err(|why| format!("{} [to fix: {}]", why, hint))
    })
}

/// Like [`on`], for a scenario that needs readiness signals: when `notify::readiness` failed
/// for the entry, it fails at once instead of waiting for its time-outs.
fn on_signals(
    name: &str,
    e: &Entry,
    run: impl Fn(&ws2_standin::Ws2, &Target) -> Result<(), String> + Send + Sync + 'static,
) -> Step {
    let signals = e.signals.clone();
    on(name, e, move |ws, t| {
        if signals.load(Ordering::Relaxed) {
            run(ws, t)
        } else {
            Err("not run: notify::readiness failed for this entry".to_owned())
        }
    })
}

/// A listener with a connection waiting is readable for `select` within 5 s: the provider
/// signals readiness at all. Clears `signals` when not.
fn readiness(ws: &ws2_standin::Ws2, t: &Target, signals: &AtomicBool) -> Result<(), String> {
    const S: &str = "notify::readiness";
    fn at<T>(r: Result<T, WsaError>, step: &str) -> Result<T, String> {
        r.map_err(|e| format!("{}: {}: failed with {}", S, step, e))
    }
    let l = at(ws.socket(t.af, t.ty, t.protocol), "socket")?;
    let c = match ws.socket(t.af, t.ty, t.protocol) {
        Ok(c) => c,
        Err(e) => {
            let _ = ws.closesocket(l);
            return Err(format!("{}: socket: failed with {}", S, e));
        }
    };
    let result = (|| {
        at(ws.bind(l, &(t.addr)(0)), "bind")?;
        at(ws.listen(l, 4), "listen")?;
        let addr = at(ws.getsockname(l), "getsockname")?;
        at(ws.connect(c, &addr), "connect")?;
        let mut read = vec![l];
        let n = at(
            ws.select(
                &mut read,
                &mut Vec::new(),
                &mut Vec::new(),
                Some(Duration::from_secs(5)),
            ),
            "select",
        )?;
        if n != 1 {
            signals.store(false, Ordering::Relaxed);
            return Err(format!(
                "{}: a listener with a connection waiting is not readable for select within 5 s: the provider signals no readiness (the notification scenarios of this entry are not run)",
                S
            ));
        }
        let (a, _) = at(ws.accept(l), "accept")?;
        at(ws.closesocket(a), "closesocket (accepted)")
    })();
    let closed = at(ws.closesocket(c), "closesocket (client)")
        .and(at(ws.closesocket(l), "closesocket (listener)"));
    result.and(closed)
}

/// What to check in the provider when scenario `name` fails.
fn hint(name: &str) -> &'static str {
    const READY: &str = "keep `s.notifier()` from `attached` and call `ready(Ready::READ)` when data or a datagram arrives, `WRITE` when a send can proceed (at once for a new socket), `ACCEPT` when a connection is queued, `CONNECT` when a connect completes, `CLOSE` when the peer finished; `readiness` must describe the socket's state now";
    const RETRY: &str = "the runtime serves overlapped requests by calling your method again with `s.nonblocking()` true whenever the socket signals readiness: return WsaError::WOULDBLOCK then, never wait; signal READ/WRITE/ACCEPT so pending requests are retried; `close` must wake blocked work";
    match name.split('(').next().unwrap_or(name) {
        "datagram::boundaries" => "send_to must deliver each datagram whole to the socket bound to the destination; recv_from returns one datagram per call (`BufsMut::copy_from`; a short buffer is WsaError::MSGSIZE, the rest discarded) with its sender's address",
        "datagram::notify" | "notify::readiness" | "notify::event_select_echo" | "notify::select_echo" | "notify::async_select_order" => READY,
        "datagram::overlapped" | "overlapped::routes" | "overlapped::close_with_pending" | "overlapped::shutdown_with_pending" => RETRY,
        "overlapped::iocp_echo" | "overlapped::extensions" => "AcceptEx needs Provider::adopt (move the accepted connection's state into the application's socket, and send its readiness signals to that socket's notifier); then as for every overlapped request: with `s.nonblocking()` true return WsaError::WOULDBLOCK, never wait, and signal readiness so pending requests are retried",
        "datagram::duplicate" | "duplicate::same_process" | "duplicate::across_processes" => "Provider::duplicate_socket returns a token for the target process; socket_from_duplicate rebuilds a second descriptor of the same underlying socket from it, once; each descriptor is closed on its own",
        "stream::echo" | "stream::graceful_shutdown" => "accept/connect pair sockets; send/recv move bytes in order, recv waits unless the socket is non-blocking and returns 0 once the peer shut down sending and everything was read",
        "stream::refused" => "connect to an address nobody listens on is WsaError::CONNREFUSED",
        "stream::wrong_state" => "calls in the wrong state fail as Winsock documents (send before connect: NOTCONN, listen on a connected socket: ISCONN, accept on a socket not listening: INVAL, ...)",
        "stream::nonblocking" => "with `s.nonblocking()` true, accept/recv/send fail with WsaError::WOULDBLOCK instead of waiting, and connect may return WOULDBLOCK and signal CONNECT later",
        "stream::options" => "get_option/set_option: SO_RCVBUF and SO_SNDBUF read back what was set, SO_ACCEPTCONN (OptValue::Bool) says whether the socket listens; sock_name/peer_name on both ends of a connection; a second bind to a listener's address is WsaError::ADDRINUSE",
        "ifs::file_io_interleave" | "ifs::handle_is_os_handle" => "each socket's `IfsSocket::os_handle` is a real OS handle whose file reads and writes see the same byte stream as send/recv",
        "errors::bad_input" => "refuse what Winsock refuses (a closed handle is the runtime's; bad addresses, flags and states are yours) with the documented WSA code",
        "churn::create_close" | "churn::close_races_calls" => "`close` must release everything the socket holds and wake calls blocked in it (they fail with WsaError::INTR); nothing may outlive the socket",
        _ => "see the scenario's documentation (`cargo doc -p ws2-standin`, module `scenarios`)",
    }
}

/// A duplication scenario's result, where `WSAEOPNOTSUPP` from `WSADuplicateSocket` (the
/// trait's default: the provider does not share sockets) is a pass with a note.
fn unsupported_is_a_note(result: Result<(), String>) -> Result<(), String> {
    match result {
        Err(why) if why.contains("WSADuplicateSocket") && why.contains("WSAEOPNOTSUPP") => {
            note("not supported: WSADuplicateSocket fails with WSAEOPNOTSUPP (implement Provider::duplicate_socket and socket_from_duplicate to share sockets)".to_owned());
            Ok(())
        }
        other => other,
    }
}

/// The conformance suite for the entries of the provider library `entries_from`, run in
/// sessions over `library` (the same library, or `--catalog`: then every socket goes through
/// whatever the catalog puts first for the entry, a layer's chain for instance), or a single
/// failing step saying why there is none.
pub(crate) fn suite(library: &str, entries_from: &str, patterns: &[Pattern]) -> Vec<Step> {
    let entries = match entries(entries_from, patterns) {
        Ok(e) => e,
        Err(why) => return vec![scenario("entries", move |_| Err(why.clone()))],
    };
    let mut steps = Vec::new();
    let lib = entries_from.to_owned();
    steps.push(scenario("errors::startup_version", move |_| {
        let entry = ws2_standin::entry_points_of(&lib).map_err(|e| e.to_string())?;
        errors::startup_version(&entry)
    }));
    for e in &entries {
        if e.connectionless {
            steps.push(on("datagram::boundaries", e, datagram::boundaries));
            steps.push(on("datagram::notify", e, dgram::notify));
            let port = !e.ifs;
            steps.push(on("datagram::overlapped", e, move |ws, t| {
                dgram::overlapped(ws, t, port)
            }));
            steps.push(on("datagram::duplicate", e, |ws, t| {
                dgram::duplicate(ws, t).map(|n| n.map_or((), note))
            }));
        } else if e.target.ty == SOCK_STREAM {
            steps.push(on("stream::echo", e, |ws, t| {
                stream::echo(ws, t, 8, 256 << 10)
            }));
            steps.push(on(
                "stream::graceful_shutdown",
                e,
                stream::graceful_shutdown,
            ));
            steps.push(on("stream::refused", e, stream::refused));
            steps.push(on("stream::wrong_state", e, stream::wrong_state));
            steps.push(on("stream::nonblocking", e, stream::nonblocking));
            steps.push(on("stream::options", e, stream::options));
            let signals = e.signals.clone();
            steps.push(on("notify::readiness", e, move |ws, t| {
                readiness(ws, t, &signals)
            }));
            steps.push(on_signals("notify::event_select_echo", e, |ws, t| {
                notify::event_select_echo(ws, t, 8, 64 << 10)
            }));
            steps.push(on_signals("notify::select_echo", e, |ws, t| {
                notify::select_echo(ws, t, 8, 64 << 10)
            }));
            steps.push(on_signals(
                "notify::async_select_order",
                e,
                notify::async_select_order,
            ));
            steps.push(on_signals(
                "overlapped::close_with_pending",
                e,
                overlapped::close_with_pending,
            ));
            steps.push(on_signals(
                "overlapped::shutdown_with_pending",
                e,
                overlapped::shutdown_with_pending,
            ));
            if e.ifs {
                steps.push(on("ifs::file_io_interleave", e, ifs::file_io_interleave));
                steps.push(on("ifs::handle_is_os_handle", e, ifs::handle_is_os_handle));
            } else {
                steps.push(on_signals("overlapped::routes", e, overlapped::routes));
                steps.push(on_signals("overlapped::iocp_echo", e, |ws, t| {
                    overlapped::iocp_echo(ws, t, 2, 8, 64 << 10)
                }));
                let dgram_entry = entries
                    .iter()
                    .find(|d| d.connectionless && d.target.af == e.target.af);
                if let Some(d) = dgram_entry {
                    let d = d.target.clone();
                    steps.push(on_signals("overlapped::extensions", e, move |ws, t| {
                        overlapped::extensions(ws, t, &d)
                    }));
                }
            }
            steps.push(on("duplicate::same_process", e, |ws, t| {
                unsupported_is_a_note(duplicate::same_process(ws, t))
            }));
            let lib = library.to_owned();
            steps.push(on("duplicate::across_processes", e, move |ws, t| {
                match duplicate::across_processes(ws, t, &mut || spawn_dup_child(&lib)) {
                    Err(why)
                        if why.contains("WSADuplicateSocket (for the child's process)")
                            && why.contains("WSAEINVAL") =>
                    {
                        note("not supported: WSADuplicateSocket for another process fails with WSAEINVAL (a transport that lives in one process cannot share its sockets with another)".to_owned());
                        Ok(())
                    }
                    other => unsupported_is_a_note(other),
                }
            }));
        }
        if e.connectionless || e.target.ty == SOCK_STREAM || e.target.ty == SOCK_DGRAM {
            steps.push(on("errors::bad_input", e, errors::bad_input));
            steps.push(on("churn::create_close", e, |ws, t| {
                churn::create_close(ws, t, 2_000)
            }));
            steps.push(on("churn::close_races_calls", e, |ws, t| {
                churn::close_races_calls(ws, t, 30)
            }));
        } else {
            steps.push(on("churn::create_close", e, |ws, t| {
                churn::create_close(ws, t, 500)
            }));
        }
    }
    steps.push(Step::Cleanup);
    for e in entries {
        if !(e.connectionless || e.target.ty == SOCK_STREAM) {
            continue;
        }
        let lib = library.to_owned();
        let label: &'static str = Box::leak(
            format!("lifecycle::cleanup_closes_everything({})", e.label).into_boxed_str(),
        );
        steps.push(alone(label, move || {
            let session = || match open_session(&lib) {
                Ok(ws) => ws,
                Err(why) => panic!("{} again: {}", lib, why),
            };
            lifecycle::cleanup_closes_everything(&session, &e.target())
        }));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::Pattern;
    use ws2_standin::SockAddr;

    #[test]
    fn patterns_fill_unique_bytes() {
        let p = Pattern::parse("raw:40:0102xxxx").unwrap();
        assert_eq!(p.family(), 40);
        assert_eq!(
            p.make(0x0a0b),
            SockAddr::Raw {
                family: 40,
                data: vec![1, 2, 0x0b, 0x0a]
            }
        );
        assert_eq!(Pattern::parse("inet:127.0.0.1:0").unwrap().family(), 2);
        assert_eq!(Pattern::parse("inet:[::1]:0").unwrap().family(), 23);
        for bad in [
            "raw:40:1",
            "raw:x:00",
            "raw:40:zz",
            "tcp:1",
            "inet:localhost",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{}", bad);
        }
    }
}
