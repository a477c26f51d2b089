//! The chaos suite: randomised, adversarial calls to a Winsock provider from many threads,
//! checking the SPI's conventions on every call (see `docs/chaos.md`).
//!
//! A run loads a provider (a built library by path, or one linked into the binary) into a
//! `ws2_standin::Ws2`, which plays ws2_32's side (handles, contexts, events, APCs, ports,
//! `WPUCompleteOverlappedRequest`), and then calls the provider's dispatch table and extension
//! functions *raw*, so that every return value and `*lpErrno` is seen and judged here:
//!
//! * a failure returns the failure value with a WSA code in `*lpErrno` (never 0 or unset); a
//!   success leaves `*lpErrno` alone (it is pre-filled with a sentinel);
//! * a handle that is not a socket (closed, reserved by another object, garbage) is always
//!   `WSAENOTSOCK`; a null or short buffer on a live socket is `WSAEFAULT`;
//! * every request left pending (or finished at once) is notified exactly once through its
//!   route (event, completion routine, completion port), one that failed at once never; a
//!   port packet carries its own socket's key (no completion names another socket), and the
//!   stand-in records completions on released handles;
//! * `WSPSelect`'s count matches its sets; handles and descriptors balance at clean-up; calls
//!   after the last clean-up are `WSANOTINITIALISED`;
//! * a watchdog turns any call longer than the limit (10 s) into a reported hang, and a crash
//!   prints every thread's current call.
//!
//! Each thread's choices come from the run's seed, so a seed replays the same sequence per
//! thread (the interleaving between threads is the scheduler's).

#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod caller;
mod ops;
pub mod rng;
mod watch;
mod worker;

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, RwLock};
use std::time::{Duration, Instant};
use winsock_provider::sys::*;
use ws2_standin::{EntryPoints, LoadError, SockAddr, Spi, Ws2, WsaError};

pub use watch::Board;

/// One configuration: a provider's protocol the suite drives.
#[derive(Copy, Clone, Debug)]
pub struct Config {
    /// Its name on the command line and in reports.
    pub name: &'static str,
    /// Address family.
    pub af: i32,
    /// Socket type.
    pub ty: i32,
    /// Protocol.
    pub protocol: i32,
    /// Whether the provider's handles are OS handles (IFS).
    pub ifs: bool,
    /// Whether this is the panic-injecting provider (its start-up may fail by design).
    pub panicky: bool,
}

impl Config {
    /// A connection-oriented protocol.
    pub fn stream(&self) -> bool {
        self.ty == SOCK_STREAM
    }
}

const AF_UNIX: i32 = 1;

/// Every configuration the suite knows.
pub const CONFIGS: &[Config] = &[
    Config {
        name: "loopback-tcp",
        af: AF_INET as i32,
        ty: SOCK_STREAM,
        protocol: IPPROTO_TCP,
        ifs: false,
        panicky: false,
    },
    Config {
        name: "loopback-udp",
        af: AF_INET as i32,
        ty: SOCK_DGRAM,
        protocol: IPPROTO_UDP,
        ifs: false,
        panicky: false,
    },
    Config {
        name: "pipe",
        af: AF_UNIX,
        ty: SOCK_STREAM,
        protocol: 0,
        ifs: true,
        panicky: false,
    },
    Config {
        name: "panicky-tcp",
        af: AF_INET as i32,
        ty: SOCK_STREAM,
        protocol: IPPROTO_TCP,
        ifs: false,
        panicky: true,
    },
    Config {
        name: "panicky-udp",
        af: AF_INET as i32,
        ty: SOCK_DGRAM,
        protocol: IPPROTO_UDP,
        ifs: false,
        panicky: true,
    },
];

/// The configuration called `name`.
pub fn config(name: &str) -> Option<&'static Config> {
    CONFIGS.iter().find(|c| c.name == name)
}

/// Where the provider comes from.
#[derive(Clone)]
pub enum Source {
    /// A built library (`.so`, `.dll`) loaded by path.
    Library(PathBuf),
    /// A provider linked into this binary (`winsock_provider::entry_points::<P>()`).
    Linked(EntryPoints),
}

impl Source {
    fn load(&self, ws: &Ws2) -> Result<(), LoadError> {
        match self {
            Source::Library(path) => ws.load_library(path),
            Source::Linked(entry) => ws.load(*entry),
        }
    }
}

/// How long and how wide a run is.
#[derive(Clone, Debug)]
pub struct Options {
    /// SPI calls to make (all threads together).
    pub calls: u64,
    /// Worker threads (2–8); 0 picks from the seed.
    pub threads: usize,
    /// A call running longer than this is a hang.
    pub hang_limit: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            calls: 350_000,
            threads: 0,
            hang_limit: Duration::from_secs(10),
        }
    }
}

/// What a run found.
#[derive(Debug)]
pub struct Outcome {
    /// Calls made.
    pub calls: u64,
    /// Worker threads used.
    pub threads: usize,
    /// Violations found (the first ones, each with the thread's recent calls).
    pub violations: Vec<String>,
    /// How many violations in all.
    pub total_violations: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// Calls made, by entry or extension function, most first.
    pub entries: Vec<(String, u64)>,
}

/// The table fields of the 30 dispatch entries (`lpWSPRecv`), from the SPI's one list.
macro_rules! table_fields {
    ([] $($field:ident : $entry:ty => $name:ident,)*) => {
        [$(stringify!($field)),*]
    };
}
const TABLE_FIELDS: [&str; 30] = winsock_provider::for_each_wsp_proc!(table_fields);

/// The extension functions every long run must reach.
const EXTENSIONS: [&str; 6] = [
    "AcceptEx",
    "ConnectEx",
    "DisconnectEx",
    "TransmitFile",
    "WSARecvMsg",
    "WSASendMsg",
];

/// The 30 dispatch entries (`WSPRecv`) and the extension functions every long run must reach.
fn entries_to_reach() -> impl Iterator<Item = &'static str> {
    let spi = TABLE_FIELDS
        .iter()
        .map(|field| field.trim_start_matches("lp"));
    spi.chain(EXTENSIONS.iter().copied())
}

/// Runs at least this long must reach every entry [`entries_to_reach`] names.
const COVERAGE_RUN: u64 = 100_000;

/// Violations kept in full (the rest are only counted).
const KEPT: usize = 25;

/// What every thread of a run shares.
pub(crate) struct Shared {
    pub ws: Ws2,
    pub spi: Spi,
    pub cfg: &'static Config,
    pub source: Source,
    pub label: String,
    pub board: Arc<Board>,
    /// Calls that may allocate a handle take it shared; a call on a value that must not be a
    /// socket takes it exclusively, so the value cannot become one during that call.
    pub gate: RwLock<()>,
    /// Sockets any thread may query or close.
    pub pool: Mutex<Vec<SOCKET>>,
    violations: Mutex<Vec<(String, String)>>,
    nviolations: AtomicUsize,
    pub calls: AtomicU64,
    pub budget: u64,
    /// For unique pipe names.
    pub names: AtomicU32,
    /// The pool is being emptied; no new entries.
    pub closing: AtomicBool,
    /// Calls made, by entry.
    pub counts: Mutex<HashMap<String, u64>>,
}

impl Shared {
    /// Records a violation of kind `kind` (what went wrong, without numbers): kept in full
    /// while fewer than [`KEPT`] are, and beyond that the first of each kind, so one frequent
    /// violation does not hide a rare one.
    pub fn violation_of(&self, kind: &str, text: String) {
        self.nviolations.fetch_add(1, Ordering::Relaxed);
        let kind = without_numbers(kind);
        let mut kept = lock(&self.violations);
        if kept.len() < KEPT || (kept.len() < 4 * KEPT && !kept.iter().any(|(k, _)| *k == kind)) {
            kept.push((kind, text));
        }
    }

    /// Records a violation found by the run itself (not by one call).
    pub fn violation(&self, text: String) {
        let kind = text.lines().next().unwrap_or("").to_owned();
        self.violation_of(&kind, text);
    }

    pub fn spent(&self) -> bool {
        self.calls.load(Ordering::Relaxed) >= self.budget
    }

    /// A fresh address to bind: loopback with port 0, or a unique pipe name.
    pub fn fresh_addr(&self) -> SockAddr {
        if self.cfg.af == AF_UNIX {
            let name = format!(
                "wsp-chaos-{}-{}\0",
                std::process::id(),
                self.names.fetch_add(1, Ordering::Relaxed)
            );
            SockAddr::Raw {
                family: AF_UNIX as u16,
                data: name.into_bytes(),
            }
        } else {
            SockAddr::Inet("127.0.0.1:0".parse().expect("a valid address"))
        }
    }
}

/// `text` without its numbers (decimal, and hexadecimal after `0x`).
pub(crate) fn without_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '0' && chars.peek() == Some(&'x') {
            chars.next();
            while chars.peek().map_or(false, |c| c.is_ascii_hexdigit()) {
                chars.next();
            }
            out.push('#');
        } else if c.is_ascii_digit() {
            while chars.peek().map_or(false, |c| c.is_ascii_digit()) {
                chars.next();
            }
            out.push('#');
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    /// The last panic caught on this thread (the stand-in reports a broken convention by
    /// panicking).
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// Runs `f`, turning a panic (the stand-in's way of reporting a broken rule) into its text.
pub(crate) fn guard<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| payload_text(&*payload))
    })
}

/// Open file descriptors of this process (Linux), for the balance check.
#[cfg(unix)]
fn open_fds() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count())
}

/// Windows has no descriptors to count (and under Wine, `/proc/self/fd` counts Wine's own).
#[cfg(not(unix))]
fn open_fds() -> Option<usize> {
    None
}

/// One run: loads the provider, drives it from the worker threads for `opts.calls` calls,
/// closes everything, cleans up and checks the balance. A hang ends the process (reported
/// on stdout by the watchdog); everything else is in the returned outcome.
pub fn run(source: &Source, cfg: &'static Config, seed: u64, opts: &Options) -> Outcome {
    let started = Instant::now();
    let mut seeds = rng::Rng::new(seed);
    let threads = if opts.threads == 0 {
        2 + seeds.below(7)
    } else {
        opts.threads.max(1)
    };
    let label = format!("{} seed={:#018x}", cfg.name, seed);
    let board = Arc::new(Board::default());
    watch::on_crash(board.clone(), label.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let dog = watch::watchdog(board.clone(), opts.hang_limit, label.clone(), stop.clone());
    // This thread's own calls (start-ups and clean-ups) are watched too.
    let me = board.join("main".to_owned());
    let load = |ws: &Ws2| {
        me.begin("WSPStartup (load)".to_owned());
        let r = guard(|| source.load(ws));
        me.end(if matches!(r, Ok(Ok(()))) {
            "ok"
        } else {
            "failed"
        });
        r
    };
    let cleanup = |ws: Ws2| {
        me.begin("WSPCleanup (session clean-up)".to_owned());
        let r = guard(|| ws.cleanup());
        me.end(if r.is_ok() { "ok" } else { "failed" });
        r
    };

    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" (at {}:{})", l.file(), l.line()))
            .unwrap_or_default();
        let text = format!("{}{}", payload_text(info.payload()), at);
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
    }));

    let mut early: Vec<String> = Vec::new();
    let fds_before = open_fds();
    // Whole lives first: start-up and last clean-up, again and again (the panic provider's
    // `startup` and `cleanup` panic now and then; a failed start-up must leave nothing).
    for _ in 0..if cfg.panicky { 40 } else { 4 } {
        let ws = Ws2::new();
        match load(&ws) {
            Ok(Ok(())) => {}
            Ok(Err(LoadError::Startup(e))) if cfg.panicky && e == WsaError::NETDOWN => {}
            Ok(Err(e)) => early.push(format!("{}: a start-up before the run: {}", label, e)),
            Err(p) => early.push(format!("{}: a start-up before the run: {}", label, p)),
        }
        if let Some(p) = cleanup(ws).err().and_then(|p| cleanup_problems(cfg, p)) {
            early.push(format!("{}: a clean-up before the run: {}", label, p));
        }
    }
    let ws = Ws2::new();
    // The panic provider's start-up panics on purpose now and then: try again.
    let mut loaded = Err("not tried".to_owned());
    for _ in 0..50 {
        match load(&ws) {
            Ok(Ok(())) => {
                loaded = Ok(());
                break;
            }
            Ok(Err(LoadError::Startup(e))) if cfg.panicky && e.is_valid_failure() => {
                loaded = Err(format!("WSPStartup failed with {:?}", e));
            }
            Ok(Err(e)) => {
                loaded = Err(e.to_string());
                break;
            }
            Err(p) => {
                loaded = Err(p);
                break;
            }
        }
    }
    let spi = loaded.and_then(|()| {
        ws.spi(cfg.af, cfg.ty, cfg.protocol)
            .map_err(|e| format!("no protocol entry for {}: {:?}", cfg.name, e))
    });
    let spi = match spi {
        Ok(spi) => spi,
        Err(e) => {
            stop.store(true, Ordering::Release);
            let _ = dog.join();
            panic::set_hook(previous_hook);
            return Outcome {
                calls: 0,
                threads,
                violations: vec![format!("{}: loading the provider: {}", label, e)],
                total_violations: 1,
                elapsed: started.elapsed(),
                entries: Vec::new(),
            };
        }
    };
    let thread_handles_before = ws.open_thread_handles();

    let sh = Shared {
        ws: ws.clone(),
        spi,
        cfg,
        source: source.clone(),
        label: label.clone(),
        board: board.clone(),
        gate: RwLock::new(()),
        pool: Mutex::new(Vec::new()),
        violations: Mutex::new(Vec::new()),
        nviolations: AtomicUsize::new(0),
        calls: AtomicU64::new(0),
        budget: opts.calls,
        names: AtomicU32::new(0),
        closing: AtomicBool::new(false),
        counts: Mutex::new(HashMap::new()),
    };
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (sh, barrier) = (&sh, &barrier);
            let thread_seed = seeds.next_u64();
            std::thread::Builder::new()
                .name(format!("worker {}", t))
                .spawn_scoped(scope, move || {
                    worker::Worker::new(sh, t, thread_seed).run(barrier)
                })
                .expect("spawning a worker");
        }
    });

    // Everything the stand-in's upcalls recorded (e.g. a completion on a released handle).
    if let Err(e) = guard(|| ws2_standin::check_int("(recorded by upcalls)", |_| 0)) {
        sh.violation(format!("{}: {}", label, e));
    }
    let thread_handles = ws.open_thread_handles();
    if thread_handles != thread_handles_before {
        sh.violation(format!(
            "{}: {} WPUOpenCurrentThread handles open before the run, {} after it",
            label, thread_handles_before, thread_handles
        ));
    }
    if let Some(e) = cleanup(ws).err().and_then(|p| cleanup_problems(cfg, p)) {
        sh.violation(format!("{}: clean-up: {}", label, e));
    }
    me.begin("calls after the last clean-up".to_owned());
    after_cleanup(&sh, &mut early);
    me.end("checked");
    stop.store(true, Ordering::Release);
    let _ = dog.join();
    if let (Some(before), Some(after)) = (fds_before, open_fds()) {
        if after != before {
            sh.violation(format!(
                "{}: {} file descriptors open before loading the provider, {} after its last \
                 clean-up",
                label, before, after
            ));
        }
    }
    panic::set_hook(previous_hook);
    for e in early {
        sh.violation(e);
    }
    let mut entries: Vec<(String, u64)> = lock(&sh.counts).drain().collect();
    entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if opts.calls >= COVERAGE_RUN {
        let missed: Vec<&str> = entries_to_reach()
            .filter(|e| !entries.iter().any(|(n, _)| n == e))
            .collect();
        if !missed.is_empty() {
            sh.violation(format!(
                "{}: a run of {} calls never called {} (the suite no longer reaches them)",
                label,
                opts.calls,
                missed.join(", ")
            ));
        }
    }
    let violations = std::mem::take(&mut *lock(&sh.violations))
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    Outcome {
        calls: sh.calls.load(Ordering::Relaxed),
        threads,
        violations,
        total_violations: sh.nviolations.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        entries,
    }
}

/// What the stand-in's clean-up check reported, less what the panic provider does by design:
/// its `cleanup` panics now and then, and the runtime then fails that `WSPCleanup` with
/// `WSAENETDOWN` (the stand-in still checks, and reports, every handle left open).
fn cleanup_problems(cfg: &Config, report: String) -> Option<String> {
    if !cfg.panicky {
        return Some(report);
    }
    let by_design = format!(
        "returned {} with *lpErrno {} (a balanced clean-up must succeed)",
        SOCKET_ERROR, WSAENETDOWN
    );
    let rest: Vec<&str> = report
        .lines()
        .skip(1)
        .filter(|l| !(l.trim_start().starts_with("WSPCleanup of") && l.contains(&by_design)))
        .collect();
    if rest.is_empty() {
        None
    } else {
        Some(report)
    }
}

/// After the last clean-up every entry must fail with `WSANOTINITIALISED`.
fn after_cleanup(sh: &Shared, found: &mut Vec<String>) {
    let t = sh.spi.table;
    let info = sh.spi.info;
    let mut check = |name: &str, ret: i64, failure: i64, errno: i32| {
        if ret != failure || errno != WSANOTINITIALISED {
            found.push(format!(
                "{}: {} after the last clean-up returned {} with *lpErrno {}; expected \
                 WSANOTINITIALISED",
                sh.label, name, ret, errno
            ));
        }
    };
    let mut errno = 0;
    if let Some(f) = t.lpWSPSocket {
        // SAFETY: WSPSocket with the provider's own protocol entry.
        let s = unsafe {
            f(
                sh.cfg.af,
                sh.cfg.ty,
                sh.cfg.protocol,
                &info,
                0,
                WSA_FLAG_OVERLAPPED,
                &mut errno,
            )
        };
        check("WSPSocket", s as i64, INVALID_SOCKET as i64, errno);
    }
    errno = 0;
    if let Some(f) = t.lpWSPCloseSocket {
        // SAFETY: plain arguments.
        let r = unsafe { f(0x1_0000, &mut errno) };
        check("WSPCloseSocket", r as i64, SOCKET_ERROR as i64, errno);
    }
    errno = 0;
    if let Some(f) = t.lpWSPGetSockName {
        let mut name = [0u8; 128];
        let mut len = 128i32;
        // SAFETY: a writable buffer of `len` bytes.
        let r = unsafe { f(0x1_0000, name.as_mut_ptr().cast(), &mut len, &mut errno) };
        check("WSPGetSockName", r as i64, SOCKET_ERROR as i64, errno);
    }
    errno = 0;
    if let Some(f) = t.lpWSPCleanup {
        // SAFETY: plain arguments.
        let r = unsafe { f(&mut errno) };
        check("WSPCleanup", r as i64, SOCKET_ERROR as i64, errno);
    }
}

/// The short run `cargo test` makes: each configuration in `names`, for the seeds in
/// `WSP_CHAOS_SEEDS` (comma-separated, decimal or 0x-hex) or two fixed ones, `calls` calls
/// each. `Err` lists every violation found, with its seed.
pub fn short_run(source: &Source, names: &[&str], calls: u64) -> Result<(), String> {
    let seeds: Vec<u64> = match std::env::var("WSP_CHAOS_SEEDS") {
        Ok(list) => list
            .split(',')
            .filter_map(|s| {
                let s = s.trim();
                match s.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16).ok(),
                    None => s.parse().ok(),
                }
            })
            .collect(),
        Err(_) => vec![0x5EED_0001, 0x5EED_0002],
    };
    let opts = Options {
        calls,
        ..Options::default()
    };
    let mut found = Vec::new();
    for name in names {
        let cfg = config(name).ok_or_else(|| format!("unknown configuration {}", name))?;
        for &seed in &seeds {
            let out = run(source, cfg, seed, &opts);
            eprintln!(
                "wsp-chaos: {} seed={:#x}: {} calls, {} threads, {} violations, {:.1} s",
                name,
                seed,
                out.calls,
                out.threads,
                out.total_violations,
                out.elapsed.as_secs_f64()
            );
            if out.total_violations > 0 {
                found.push(format!(
                    "{} seed={:#x}: {} violation(s):\n{}",
                    name,
                    seed,
                    out.total_violations,
                    out.violations.join("\n")
                ));
            }
        }
    }
    if found.is_empty() {
        Ok(())
    } else {
        Err(found.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::without_numbers;

    #[test]
    fn kinds_ignore_numbers() {
        assert_eq!(
            without_numbers("WSPSelect: returned 5 while its sets hold 4 at 0x1a2b"),
            "WSPSelect: returned # while its sets hold # at #"
        );
        assert_eq!(without_numbers("no numbers"), "no numbers");
    }
}
