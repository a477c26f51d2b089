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
//! Per entry: datagram entries (`XP1_CONNECTIONLESS`) get `datagram::boundaries`; stream
//! entries the `stream::*` scenarios, plus `ifs::*` when the entry has `XP1_IFS_HANDLES`; both
//! get `errors::bad_input`, `churn::create_close` and `churn::close_races_calls`, and after
//! the suite's clean-up `lifecycle::cleanup_closes_everything`. Entries of other socket types
//! get `churn::create_close`. `errors::startup_version` runs once.

use crate::{alone, open_session, scenario, Step};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use winsock_provider::sys::{
    GUID, SOCK_DGRAM, SOCK_STREAM, WSAPROTOCOL_INFOW, XP1_CONNECTIONLESS, XP1_IFS_HANDLES,
};
use ws2_standin::scenarios::{churn, datagram, errors, ifs, lifecycle, stream, Target};
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
    scenario(label, move |ws| run(ws, &e2.target()))
}

/// The conformance suite for `library`, or a single failing step saying why there is none.
pub(crate) fn suite(library: &str, patterns: &[Pattern]) -> Vec<Step> {
    let entries = match entries(library, patterns) {
        Ok(e) => e,
        Err(why) => return vec![scenario("entries", move |_| Err(why.clone()))],
    };
    let mut steps = Vec::new();
    let lib = library.to_owned();
    steps.push(scenario("errors::startup_version", move |_| {
        let entry = ws2_standin::entry_points_of(&lib).map_err(|e| e.to_string())?;
        errors::startup_version(&entry)
    }));
    for e in &entries {
        if e.connectionless {
            steps.push(on("datagram::boundaries", e, datagram::boundaries));
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
            if e.ifs {
                steps.push(on("ifs::file_io_interleave", e, ifs::file_io_interleave));
                steps.push(on("ifs::handle_is_os_handle", e, ifs::handle_is_os_handle));
            }
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
