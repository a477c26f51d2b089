//! Tracing of every exported call (cargo feature `trace`, off by default).
//!
//! With the feature, the trampoline logs each call of an exported function through the
//! `tracing` facade: entry name, arguments in short, return value, WSA code and duration, as
//! one `DEBUG` event of target `winsock_provider::spi`. It is switched on at run time by the
//! `WSP_TRACE` environment variable, read at the first `WSPStartup`: `1` (or `all`, `*`)
//! traces every function, otherwise a comma-separated list of names (`WSPRecv,WSPSend`; the
//! `WSP` prefix may be left out; case does not matter). The runtime then installs its own sink
//! as the `tracing` default of its copy of the facade, which writes each event as one line to
//! `OutputDebugStringA` on Windows (DebugView; Wine prints it under `WINEDEBUG=+debugstr`) and
//! to stderr elsewhere; where another subscriber is the default already, the events go to it.
//!
//! Unset, a call costs one relaxed load and a branch; without the feature, nothing.

/// Declares [`Site`] from the SPI's one list of entries (`for_each_wsp_proc!`), and the
/// entries' names for the trace lines.
macro_rules! sites {
    ([] $($field:ident : $entry:ty => $name:ident,)*) => {
        /// The exported functions, for the trace filter (one bit each) and the trace lines: the
        /// 30 SPI entries, named as the runtime's functions behind them and in
        /// `WSPPROC_TABLE`'s order, then the provider's other exports and the extension
        /// functions.
        #[allow(non_camel_case_types)]
        #[derive(Copy, Clone, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub(crate) enum Site {
            $($name,)*
            startup,
            enum_protocols,
            set_host_hooks,
            accept_ex,
            connect_ex,
            disconnect_ex,
            recv_msg,
            send_msg,
            transmit_file,
        }

        /// The SPI entries' `WSPPROC_TABLE` fields (`lpWSPRecv`), in [`Site`]'s order.
        #[cfg(feature = "trace")]
        const TABLE_FIELDS: &[&str] = &[$(stringify!($field)),*];
    };
}
crate::for_each_wsp_proc!(sites);

/// The names of the exported functions after the SPI entries, in [`Site`]'s order.
#[cfg(feature = "trace")]
const OTHER_NAMES: [&str; 9] = [
    "WSPStartup",
    "WspEnumProviderProtocols",
    "WspSetHostHooks",
    "AcceptEx",
    "ConnectEx",
    "DisconnectEx",
    "WSARecvMsg",
    "WSASendMsg",
    "TransmitFile",
];

#[cfg(feature = "trace")]
pub(crate) use on::*;

#[cfg(not(feature = "trace"))]
pub(crate) use off::*;

#[cfg(not(feature = "trace"))]
mod off {
    use super::Site;
    use crate::types::error::WsaError;

    /// A call, not traced: tracing is compiled out.
    pub(crate) struct Untraced;

    /// Tracing is compiled out: nothing to read.
    #[inline(always)]
    pub(crate) fn init() {}

    /// Tracing is compiled out: no call is traced.
    #[inline(always)]
    pub(crate) const fn enabled(_: Site) -> bool {
        false
    }

    /// Tracing is compiled out: nothing is started.
    #[inline(always)]
    pub(crate) fn start(_: Site, _: impl FnOnce(&mut String)) -> Untraced {
        Untraced
    }

    /// Tracing is compiled out: nothing is written.
    #[inline(always)]
    pub(crate) fn finish<R>(_: Untraced, _: &R, _: Option<WsaError>) {}
}

/// An argument as a trace line shows it: ` name=value` (pointers as `null` or an address).
pub(crate) trait Arg {
    /// Appends ` name=value` to `out`.
    fn write(&self, out: &mut String, name: &str);
}

/// Writes ` name=value` with `value`'s `Display`.
fn write_shown(out: &mut String, name: &str, value: impl core::fmt::Display) {
    use core::fmt::Write;
    let _ = write!(out, " {}={}", name, value);
}

macro_rules! shown_args {
    ($($ty:ty),*) => {$(
        impl Arg for $ty {
            fn write(&self, out: &mut String, name: &str) {
                write_shown(out, name, self);
            }
        }
    )*};
}
shown_args!(i32, u32, u16, usize, isize);

impl<T> Arg for *const T {
    fn write(&self, out: &mut String, name: &str) {
        if self.is_null() {
            write_shown(out, name, "null");
        } else {
            write_shown(out, name, format_args!("{:p}", *self));
        }
    }
}

impl<T> Arg for *mut T {
    fn write(&self, out: &mut String, name: &str) {
        (*self as *const T).write(out, name);
    }
}

impl<F> Arg for Option<F> {
    fn write(&self, out: &mut String, name: &str) {
        write_shown(out, name, if self.is_some() { "set" } else { "null" });
    }
}

/// The arguments of an exported function, in short, for its trace line: a closure the
/// trampoline calls only when the call is traced.
macro_rules! args {
    ($($name:ident),* $(,)?) => {
        move |_out: &mut String| {
            $( $crate::spi::trace::Arg::write(&$name, _out, stringify!($name)); )*
        }
    };
}
pub(crate) use args;

#[cfg(feature = "trace")]
mod on {
    use super::Site;
    use crate::types::error::WsaError;
    use core::fmt::{self, Write};
    use core::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Once;
    use std::time::Instant;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::subscriber::Interest;
    use tracing::{Event, Metadata};

    use super::{OTHER_NAMES, TABLE_FIELDS};

    /// How many functions there are ([`Site`]'s variants).
    const SITES: usize = TABLE_FIELDS.len() + OTHER_NAMES.len();

    /// The name of function `i` (`Site as usize`) as the trace shows it: an SPI entry's table
    /// field less its `lp` (`WSPRecv`), or the export's or extension function's own name.
    fn name_of(i: usize) -> &'static str {
        match TABLE_FIELDS.get(i) {
            Some(field) => field.trim_start_matches("lp"),
            None => OTHER_NAMES[i - TABLE_FIELDS.len()],
        }
    }

    impl Site {
        /// The function's name.
        pub(crate) fn name(self) -> &'static str {
            name_of(self as usize)
        }
    }

    /// The functions traced: bit `Site as u8` (0: tracing off).
    static MASK: AtomicU64 = AtomicU64::new(0);
    static INIT: Once = Once::new();

    /// Reads `WSP_TRACE` once; when it names anything, installs the sink and turns tracing on.
    pub(crate) fn init() {
        INIT.call_once(|| {
            let mask = std::env::var("WSP_TRACE").map_or(0, |v| parse(&v));
            if mask != 0 {
                // Fails when this copy of the facade has a default already: events go there.
                let _ = tracing::subscriber::set_global_default(Sink::new(crate::host::debug_line));
                MASK.store(mask, Ordering::Relaxed);
            }
        });
    }

    /// Turns tracing on for the functions of `mask` (0: off), whatever `WSP_TRACE` says.
    #[cfg(test)]
    pub(crate) fn set_mask(mask: u64) {
        MASK.store(mask, Ordering::Relaxed);
    }

    /// The filter `WSP_TRACE` names: every function, some, or none.
    pub(crate) fn parse(filter: &str) -> u64 {
        let filter = filter.trim();
        if filter == "1" || filter == "*" || filter.eq_ignore_ascii_case("all") {
            return (1u64 << SITES) - 1;
        }
        let mut mask = 0;
        for word in filter.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            for (i, name) in (0..SITES).map(|i| (i, name_of(i))) {
                let short = name
                    .get(3..)
                    .filter(|_| name.starts_with("WSP") || name.starts_with("Wsp"));
                if name.eq_ignore_ascii_case(word)
                    || short.map_or(false, |s| s.eq_ignore_ascii_case(word))
                {
                    mask |= 1 << i;
                }
            }
        }
        mask
    }

    /// A call being traced.
    pub(crate) struct Started {
        site: Site,
        args: String,
        at: Instant,
    }

    /// Whether calls of `site` are traced: one relaxed load and a test.
    #[inline(always)]
    pub(crate) fn enabled(site: Site) -> bool {
        MASK.load(Ordering::Relaxed) & (1 << site as u8) != 0
    }

    /// The start of a traced call: its arguments, and the time.
    pub(crate) fn start(site: Site, args: impl FnOnce(&mut String)) -> Started {
        let mut text = String::new();
        args(&mut text);
        Started {
            site,
            args: text,
            at: Instant::now(),
        }
    }

    /// The end of a traced call: one event with what it returned.
    pub(crate) fn finish<R: fmt::Debug>(started: Started, ret: &R, error: Option<WsaError>) {
        emit(started, ret, error);
    }

    fn emit(started: Started, ret: &dyn fmt::Debug, error: Option<WsaError>) {
        let micros = started.at.elapsed().as_secs_f64() * 1e6;
        let error = match error {
            Some(e) => format!("{:?}", e),
            None => String::new(),
        };
        tracing::debug!(
            target: "winsock_provider::spi",
            entry = started.site.name(),
            args = started.args.trim_start(),
            result = ?ret,
            error = error.as_str(),
            micros = micros,
        );
    }

    /// The runtime's own `tracing` subscriber: each event as one line, to `write`.
    pub(crate) struct Sink {
        write: fn(&str),
    }

    impl Sink {
        pub(crate) fn new(write: fn(&str)) -> Sink {
            Sink { write }
        }
    }

    /// The fields of one event, as the line shows them.
    #[derive(Default)]
    struct Line {
        entry: String,
        args: String,
        result: String,
        error: String,
        micros: f64,
        other: String,
    }

    impl Visit for Line {
        fn record_str(&mut self, field: &Field, value: &str) {
            match field.name() {
                "entry" => self.entry = value.to_owned(),
                "args" => self.args = value.to_owned(),
                "error" => self.error = value.to_owned(),
                _ => self.record_debug(field, &value),
            }
        }

        fn record_f64(&mut self, field: &Field, value: f64) {
            if field.name() == "micros" {
                self.micros = value;
            } else {
                self.record_debug(field, &value);
            }
        }

        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            if field.name() == "result" {
                self.result = format!("{:?}", value);
            } else {
                let _ = write!(self.other, " {}={:?}", field.name(), value);
            }
        }
    }

    impl Line {
        /// `wsp: WSPBind(s=4 name=0x… namelen=16) -> -1 WSAEFAULT(10014) in 1.2 us`.
        fn text(&self) -> String {
            let mut out = format!("wsp: {}({}) -> {}", self.entry, self.args, self.result);
            if !self.error.is_empty() {
                let _ = write!(out, " {}", self.error);
            }
            let _ = write!(out, " in {:.1} us{}", self.micros, self.other);
            out.push('\n');
            out
        }
    }

    impl tracing::Subscriber for Sink {
        fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
            Interest::always()
        }

        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }

        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }

        fn record(&self, _: &Id, _: &Record<'_>) {}

        fn record_follows_from(&self, _: &Id, _: &Id) {}

        fn event(&self, event: &Event<'_>) {
            let mut line = Line::default();
            event.record(&mut line);
            (self.write)(&line.text());
        }

        fn enter(&self, _: &Id) {}

        fn exit(&self, _: &Id) {}
    }
}

#[cfg(all(test, feature = "trace"))]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert_eq!(parse(""), 0);
        assert_eq!(parse("0"), 0);
        assert_eq!(parse("1").count_ones(), 39);
        assert_eq!(parse("all"), parse("*"));
        let two = parse("WSPRecv, send");
        assert_eq!(two, (1 << Site::recv as u8) | (1 << Site::send as u8));
        assert_eq!(parse("acceptex"), 1 << Site::accept_ex as u8);
        assert_eq!(parse("WSPGetQOSByName"), 1 << Site::get_qos_by_name as u8);
        assert_eq!(parse("startup"), 1 << Site::startup as u8);
    }

    #[test]
    fn names_follow_the_table_then_the_other_exports() {
        assert_eq!(Site::accept.name(), "WSPAccept");
        assert_eq!(Site::get_qos_by_name.name(), "WSPGetQOSByName");
        assert_eq!(Site::string_to_address.name(), "WSPStringToAddress");
        assert_eq!(Site::startup.name(), "WSPStartup");
        assert_eq!(Site::enum_protocols.name(), "WspEnumProviderProtocols");
        assert_eq!(Site::transmit_file.name(), "TransmitFile");
    }
}
