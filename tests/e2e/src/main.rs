//! `wsp-e2e <provider-library> <suite>...`: loads a built provider library by path (a `.dll`
//! under Wine or Windows, a `.so` on Linux) into a `ws2_standin::Ws2`, which plays ws2_32's part
//! of the SPI, and runs the shared `ws2_standin::scenarios` against it.
//!
//! `wsp-e2e --catalog <suite>...` finds the providers in the system's Winsock catalog instead,
//! as ws2_32 does (the registry on Windows and under Wine; the file named by `WSP_CATALOG`
//! elsewhere); `wsp-e2e --register|--unregister <library>` does what `regsvr32 [/u]` does.
//!
//! Suites:
//! * `loopback` — AF_INET streams (TCP) and datagrams (UDP) on 127.0.0.1 (examples/loopback),
//!   including overlapped I/O (an IOCP echo server, completion routes, close with operations
//!   pending) and network event notification (event-select, select and async-select);
//! * `pipe` — AF_UNIX streams over named pipes / Unix sockets (examples/pipe), including
//!   closing and shutting down with overlapped requests pending (which complete by event or
//!   completion routine: no completion-port packets for IFS sockets), and network event
//!   notification (event-select, select and async-select) driven by the readiness the provider
//!   signals (read from its OS handles on Unix, counted from its own sends and receives on
//!   Windows);
//! * `pipe-non-ifs` — the `pipe` suite without its `ifs::` scenarios, for the pipe provider
//!   reached through a non-IFS layer (the application then holds the layer's handles, which
//!   are not OS handles);
//! * `startup` — any provider loaded by path: `WSPStartup`'s version checks and the clean-up
//!   only (`cargo wsp test --wine` runs it with `WSP_TRACE` set against a DLL built with the
//!   `trace` feature, to see the trace lines reach Wine's debug output);
//! * `conformance` — any provider: the scenarios for each protocol entry the library reports
//!   through `WspEnumProviderProtocols`, chosen by socket type, with addresses from
//!   `--address PATTERN` (`inet:IP:PORT`, or `raw:FAMILY:HEX` where each `xx` byte pair is
//!   filled with a number unique in the run; see `conformance.rs`). `cargo wsp test --wine`
//!   runs this suite against an author's DLL. `wsp-e2e --catalog conformance --entries LIB`
//!   tests the entries of `LIB` through the catalog: with a layer installed over `LIB`'s
//!   entries, every socket goes through the layer (`cargo wsp test --wine` in a layer's crate).
//!
//! Every suite starts with `layout::bindings`: the ws2spi bindings' sizes and offsets against the
//! Windows SDK's for this build's pointer width (so the 32-bit build checks them in a 32-bit
//! process).
//!
//! Prints `PASS <suite>/<scenario>` or `FAIL <suite>/<scenario>: <what went wrong>` per scenario,
//! then `N passed, M failed`; exits 1 if anything failed, 2 on bad usage.
//!
//! Each scenario runs on its own thread under `catch_unwind`, so a broken SPI convention (which
//! the stand-in reports by panicking) is a FAIL line with the panic's message, and a scenario
//! that hangs is reported as timed out (after `WSP_E2E_SCENARIO_TIMEOUT` seconds, default 120)
//! instead of stalling the run.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ws2_standin::scenarios::{
    churn, datagram, duplicate, errors, ifs, layout, lifecycle, notify, overlapped, stream, Target,
};
use ws2_standin::{SockAddr, Ws2};

mod conformance;
mod dgram;

const AF_UNIX: i32 = 1;
const AF_INET: i32 = 2;
const SOCK_STREAM: i32 = 1;
const SOCK_DGRAM: i32 = 2;
const IPPROTO_TCP: i32 = 6;
const IPPROTO_UDP: i32 = 17;

type SessionFn = Arc<dyn Fn(&Ws2) -> Result<(), String> + Send + Sync>;
type AloneFn = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;
type Job = Box<dyn FnOnce() -> Result<(), String> + Send>;

/// One step of a suite.
enum Step {
    /// A scenario run against the suite's `Ws2`.
    Session(&'static str, SessionFn),
    /// The suite's `Ws2::cleanup`, checking that the scenarios left no handle behind.
    Cleanup,
    /// A scenario that makes its own sessions; runs after `Cleanup`, as it needs to observe
    /// the provider's last clean-up in the process.
    Alone(&'static str, AloneFn),
}

fn scenario(
    name: &'static str,
    run: impl Fn(&Ws2) -> Result<(), String> + Send + Sync + 'static,
) -> Step {
    Step::Session(name, Arc::new(run))
}

fn alone(name: &'static str, run: impl Fn() -> Result<(), String> + Send + Sync + 'static) -> Step {
    Step::Alone(name, Arc::new(run))
}

fn loopback_stream() -> Target {
    Target {
        af: AF_INET,
        ty: SOCK_STREAM,
        protocol: IPPROTO_TCP,
        addr: localhost,
    }
}

fn loopback_datagram() -> Target {
    Target {
        af: AF_INET,
        ty: SOCK_DGRAM,
        protocol: IPPROTO_UDP,
        addr: localhost,
    }
}

fn localhost(_n: u32) -> SockAddr {
    SockAddr::Inet(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)))
}

fn pipe_stream() -> Target {
    Target {
        af: AF_UNIX,
        ty: SOCK_STREAM,
        protocol: 0,
        addr: pipe_name,
    }
}

/// A pipe provider address no other listener in this or any concurrent run uses: the name
/// `wsp-e2e-<pid>-<n>-<counter>`, NUL-terminated, laid out like `sockaddr_un` (examples/pipe
/// keeps bound names in an in-process registry on Windows and in Linux's abstract namespace).
fn pipe_name(n: u32) -> SockAddr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "wsp-e2e-{}-{}-{}\0",
        std::process::id(),
        n,
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    SockAddr::Raw {
        family: AF_UNIX as u16,
        data: name.into_bytes(),
    }
}

/// `steps` without the scenarios whose names start with `prefix` (none left out when it is
/// empty).
fn leave_out(steps: Vec<Step>, prefix: &str) -> Vec<Step> {
    steps
        .into_iter()
        .filter(|s| match s {
            Step::Session(n, _) | Step::Alone(n, _) => prefix.is_empty() || !n.starts_with(prefix),
            Step::Cleanup => true,
        })
        .collect()
}

/// The scenarios of suite `name`, run in this order against one `Ws2` that loaded `library`
/// (then its clean-up is checked, then the scenarios that need the provider's last clean-up).
fn suite(name: &str, library: &str) -> Option<Vec<Step>> {
    // Suites through layers: the base provider's suite without the scenarios whose premise
    // the layers change (see the module's list of suites).
    let (base, left_out) = match name {
        "pipe-non-ifs" => ("pipe", "ifs::"),
        _ => ("", ""),
    };
    if !base.is_empty() {
        return Some(leave_out(suite(base, library)?, left_out));
    }
    let lib = library.to_owned();
    let main_target = if name == "pipe" {
        pipe_stream()
    } else {
        loopback_stream()
    };
    let entry = move || {
        let path = match lib.as_str() {
            FROM_CATALOG => open_session(&lib)?
                .library_for(main_target.af, main_target.ty, main_target.protocol)
                .map_err(|e| format!("no catalog entry for the suite: {}", e))?,
            _ => lib.clone(),
        };
        ws2_standin::entry_points_of(&path).map_err(|e| e.to_string())
    };
    let lib = library.to_owned();
    let session = move || match open_session(&lib) {
        Ok(ws) => ws,
        Err(e) => panic!("{} again: {}", lib, e),
    };
    let (tcp, udp, pipe) = (loopback_stream, loopback_datagram, pipe_stream);
    match name {
        "loopback" => Some(vec![
            scenario("layout::bindings", |_| layout::bindings()),
            scenario("stream::echo", move |ws| {
                stream::echo(ws, &tcp(), 16, 1 << 20)
            }),
            scenario("stream::graceful_shutdown", move |ws| {
                stream::graceful_shutdown(ws, &tcp())
            }),
            scenario("stream::refused", move |ws| stream::refused(ws, &tcp())),
            scenario("stream::wrong_state", move |ws| {
                stream::wrong_state(ws, &tcp())
            }),
            scenario("stream::nonblocking", move |ws| {
                stream::nonblocking(ws, &tcp())
            }),
            scenario("stream::options", move |ws| stream::options(ws, &tcp())),
            scenario("datagram::boundaries", move |ws| {
                datagram::boundaries(ws, &udp())
            }),
            scenario("errors::bad_input(tcp)", move |ws| {
                errors::bad_input(ws, &tcp())
            }),
            scenario("errors::bad_input(udp)", move |ws| {
                errors::bad_input(ws, &udp())
            }),
            scenario("errors::startup_version", move |_| {
                errors::startup_version(&entry()?)
            }),
            scenario("churn::create_close(tcp)", move |ws| {
                churn::create_close(ws, &tcp(), 10_000)
            }),
            scenario("churn::create_close(udp)", move |ws| {
                churn::create_close(ws, &udp(), 2_000)
            }),
            scenario("churn::close_races_calls(tcp)", move |ws| {
                churn::close_races_calls(ws, &tcp(), 50)
            }),
            scenario("churn::close_races_calls(udp)", move |ws| {
                churn::close_races_calls(ws, &udp(), 30)
            }),
            scenario("duplicate::same_process", move |ws| {
                duplicate::same_process(ws, &tcp())
            }),
            scenario("overlapped::routes", move |ws| {
                overlapped::routes(ws, &tcp())
            }),
            scenario("overlapped::close_with_pending", move |ws| {
                overlapped::close_with_pending(ws, &tcp())
            }),
            scenario("overlapped::shutdown_with_pending", move |ws| {
                overlapped::shutdown_with_pending(ws, &tcp())
            }),
            scenario("overlapped::extensions", move |ws| {
                overlapped::extensions(ws, &tcp(), &udp())
            }),
            scenario(
                "overlapped::iocp_echo(4 workers, 64 clients, 64 MB)",
                move |ws| overlapped::iocp_echo(ws, &tcp(), 4, 64, 1 << 20),
            ),
            scenario("notify::event_select_echo(16 clients, 4 MB)", move |ws| {
                notify::event_select_echo(ws, &tcp(), 16, 256 << 10)
            }),
            scenario("notify::select_echo(16 clients, 4 MB)", move |ws| {
                notify::select_echo(ws, &tcp(), 16, 256 << 10)
            }),
            scenario("notify::async_select_order", move |ws| {
                notify::async_select_order(ws, &tcp())
            }),
            Step::Cleanup,
            alone("lifecycle::cleanup_closes_everything", move || {
                lifecycle::cleanup_closes_everything(&session, &tcp())?;
                lifecycle::cleanup_closes_everything(&session, &udp())
            }),
        ]),
        "pipe" => Some(vec![
            scenario("layout::bindings", |_| layout::bindings()),
            scenario("stream::echo", move |ws| {
                stream::echo(ws, &pipe(), 8, 256 << 10)
            }),
            scenario("stream::graceful_shutdown", move |ws| {
                stream::graceful_shutdown(ws, &pipe())
            }),
            scenario("stream::refused", move |ws| stream::refused(ws, &pipe())),
            scenario("stream::wrong_state", move |ws| {
                stream::wrong_state(ws, &pipe())
            }),
            scenario("stream::nonblocking", move |ws| {
                stream::nonblocking(ws, &pipe())
            }),
            scenario("stream::options", move |ws| stream::options(ws, &pipe())),
            scenario("ifs::file_io_interleave", move |ws| {
                ifs::file_io_interleave(ws, &pipe())
            }),
            scenario("ifs::handle_is_os_handle", move |ws| {
                ifs::handle_is_os_handle(ws, &pipe())
            }),
            scenario("errors::bad_input", move |ws| {
                errors::bad_input(ws, &pipe())
            }),
            scenario("errors::startup_version", move |_| {
                errors::startup_version(&entry()?)
            }),
            scenario("churn::create_close", move |ws| {
                churn::create_close(ws, &pipe(), 2_000)
            }),
            scenario("churn::close_races_calls", move |ws| {
                churn::close_races_calls(ws, &pipe(), 30)
            }),
            scenario("duplicate::same_process", move |ws| {
                duplicate::same_process(ws, &pipe())
            }),
            scenario("overlapped::close_with_pending", move |ws| {
                overlapped::close_with_pending(ws, &pipe())
            }),
            scenario("overlapped::shutdown_with_pending", move |ws| {
                overlapped::shutdown_with_pending(ws, &pipe())
            }),
            scenario("notify::event_select_echo(8 clients, 2 MB)", move |ws| {
                notify::event_select_echo(ws, &pipe(), 8, 256 << 10)
            }),
            scenario("notify::select_echo(8 clients, 2 MB)", move |ws| {
                notify::select_echo(ws, &pipe(), 8, 256 << 10)
            }),
            scenario("notify::async_select_order", move |ws| {
                notify::async_select_order(ws, &pipe())
            }),
            {
                let lib = library.to_owned();
                scenario("duplicate::across_processes", move |ws| {
                    duplicate::across_processes(ws, &pipe(), &mut || spawn_dup_child(&lib))
                })
            },
            Step::Cleanup,
            alone("lifecycle::cleanup_closes_everything", move || {
                lifecycle::cleanup_closes_everything(&session, &pipe())
            }),
        ]),
        "startup" => Some(vec![
            scenario("errors::startup_version", move |_| {
                errors::startup_version(&entry()?)
            }),
            Step::Cleanup,
        ]),
        _ => None,
    }
}

const SUITES: &[&str] = &["loopback", "pipe", "pipe-non-ifs", "conformance", "startup"];

thread_local! {
    /// Set on scenario threads: their panics are reported as FAIL lines, not on stderr.
    static CAPTURE: Cell<bool> = const { Cell::new(false) };
    /// The last captured panic of this thread, with its location.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// What the running scenario wants said on its PASS line (for example that an optional
/// feature is not supported); see [`note`].
static NOTE: Mutex<Option<String>> = Mutex::new(None);

/// Adds `text` to the PASS line of the scenario running now.
fn note(text: String) {
    *NOTE.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
}

/// Panics on threads the scenarios spawned, since the last scenario started: a scenario that
/// reports "client 3 panicked" gets the panic's own words appended to its FAIL line.
static OTHER_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

fn install_panic_hook() {
    panic::set_hook(Box::new(|info| {
        let msg = payload_text(info.payload());
        let at = info
            .location()
            .map(|l| format!(" (at {}:{})", l.file(), l.line()))
            .unwrap_or_default();
        if CAPTURE.with(|c| c.get()) {
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("panicked: {}{}", msg, at)));
        } else {
            let current = thread::current();
            let name = current.name().unwrap_or("<unnamed>");
            let text = format!("thread '{}' panicked{}: {}", name, at, msg);
            eprintln!("{}", text);
            OTHER_PANICS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(text);
        }
    }));
}

/// Runs `f` on a fresh thread, catching panics; `None` if it did not finish within `limit`.
fn run_guarded<T: Send + 'static>(
    label: &str,
    limit: Duration,
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Option<Result<T, String>> {
    OTHER_PANICS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    let (tx, rx) = mpsc::channel();
    let spawned = thread::Builder::new()
        .name(label.to_owned())
        .stack_size(8 << 20)
        .spawn(move || {
            CAPTURE.with(|c| c.set(true));
            let result = match panic::catch_unwind(AssertUnwindSafe(f)) {
                Ok(r) => r,
                Err(payload) => Err(LAST_PANIC
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_else(|| format!("panicked: {}", payload_text(&*payload)))),
            };
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        return Some(Err(format!("could not start the scenario thread: {}", e)));
    }
    match rx.recv_timeout(limit) {
        Ok(Err(e)) => {
            let others =
                std::mem::take(&mut *OTHER_PANICS.lock().unwrap_or_else(|e| e.into_inner()));
            if others.is_empty() {
                Some(Err(e))
            } else {
                let shown: Vec<&str> = others.iter().take(3).map(|s| s.as_str()).collect();
                Some(Err(format!("{} [{}]", e, shown.join("; "))))
            }
        }
        Ok(Ok(value)) => Some(Ok(value)),
        Err(mpsc::RecvTimeoutError::Timeout) => None,
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Some(Err("the scenario thread ended without a result".to_owned()))
        }
    }
}

struct Tally {
    passed: u32,
    failed: u32,
}

impl Tally {
    fn report(&mut self, label: &str, result: &Result<(), String>, elapsed: Duration) {
        let note = NOTE.lock().unwrap_or_else(|e| e.into_inner()).take();
        match result {
            Ok(()) => {
                self.passed += 1;
                match note {
                    Some(note) => println!("PASS {} ({})", label, note),
                    None => println!("PASS {}", label),
                }
            }
            Err(e) => {
                self.failed += 1;
                // One line per scenario: fold any newlines of the description.
                println!("FAIL {}: {}", label, e.trim_end().replace('\n', " | "));
            }
        }
        let _ = std::io::stdout().flush();
        // Timings go to stderr so stdout stays exactly one PASS/FAIL line per scenario.
        eprintln!("wsp-e2e: {} took {:.1} s", label, elapsed.as_secs_f64());
    }

    fn timed_out(&mut self, label: &str, limit: Duration, elapsed: Duration) {
        let e = format!(
            "did not finish within {} s (left running; set WSP_E2E_SCENARIO_TIMEOUT to allow more)",
            limit.as_secs()
        );
        self.report(label, &Err(e), elapsed);
    }

    fn summary_and_exit(&self) -> ! {
        println!("{} passed, {} failed", self.passed, self.failed);
        let _ = std::io::stdout().flush();
        // `exit` rather than returning: a timed-out scenario's thread may still be blocked.
        std::process::exit(if self.failed == 0 { 0 } else { 1 });
    }
}

/// The library argument that means "find the providers in the system's Winsock catalog".
const FROM_CATALOG: &str = "--catalog";

/// A session over `library`: the provider loaded by path, or (for `--catalog`) the system's
/// catalog (the registry on Windows and under Wine, the file named by `WSP_CATALOG`
/// elsewhere), whose providers load at their first socket.
fn open_session(library: &str) -> Result<Ws2, String> {
    if library == FROM_CATALOG {
        return Ws2::from_system_catalog().map_err(|e| format!("the system catalog: {}", e));
    }
    let ws = Ws2::new();
    ws.load_library(library)
        .map_err(|e| format!("load_library({}): {}", library, e))?;
    Ok(ws)
}

fn usage() -> ! {
    eprintln!("usage: wsp-e2e <provider-library-path | --catalog> <suite>...");
    eprintln!("       wsp-e2e <provider-library-path> conformance [--address PATTERN]...");
    eprintln!("       wsp-e2e --catalog conformance --entries <provider-library-path> [--address PATTERN]...");
    eprintln!("       wsp-e2e --register|--unregister <provider-library-path>");
    eprintln!("suites: {}", SUITES.join(", "));
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() == 2 && args[1] == CHILD_DUP {
        child_dup(&args[0]);
    }
    if args.len() == 2 && (args[0] == "--register" || args[0] == "--unregister") {
        // What `regsvr32 [/u] library` does, on any OS.
        match ws2_standin::regsvr32(&args[1], args[0] == "--register") {
            Ok(()) => std::process::exit(0),
            Err(e) => {
                eprintln!("wsp-e2e {} {}: {}", args[0], args[1], e);
                std::process::exit(1);
            }
        }
    }
    if args.len() < 2 || args.iter().any(|a| a == "-h" || a == "--help") {
        usage();
    }
    let library = args[0].clone();
    let mut patterns = Vec::new();
    let mut names = Vec::new();
    let mut rest = args[1..].iter();
    let mut entries_from = None;
    while let Some(a) = rest.next() {
        if a != "--address" && a != "--entries" {
            names.push(a.clone());
            continue;
        }
        if a == "--entries" {
            match rest.next() {
                Some(lib) => entries_from = Some(lib.clone()),
                None => usage(),
            }
            continue;
        }
        match rest.next().map(|p| conformance::Pattern::parse(p)) {
            Some(Ok(p)) => patterns.push(p),
            Some(Err(e)) => {
                eprintln!("wsp-e2e: {}", e);
                usage();
            }
            None => usage(),
        }
    }
    let mut suites = Vec::new();
    for name in &names {
        if name == "conformance" {
            let entries = match (&entries_from, library == FROM_CATALOG) {
                (Some(lib), true) => lib.clone(),
                (None, false) => library.clone(),
                _ => {
                    eprintln!(
                        "wsp-e2e: the conformance suite reads the entries of a library given by path, or with --catalog of the one given by --entries"
                    );
                    usage();
                }
            };
            suites.push((
                name.clone(),
                conformance::suite(&library, &entries, &patterns),
            ));
            continue;
        }
        match suite(name, &library) {
            Some(steps) => suites.push((name.clone(), steps)),
            None => {
                eprintln!("wsp-e2e: unknown suite '{}'", name);
                usage();
            }
        }
    }
    let limit = Duration::from_secs(
        std::env::var("WSP_E2E_SCENARIO_TIMEOUT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(120),
    );
    install_panic_hook();

    let mut tally = Tally {
        passed: 0,
        failed: 0,
    };
    for (suite_name, steps) in suites {
        // One Ws2 per suite: load, run the scenarios, then the clean-up's balance check.
        let label = format!("{}/load", suite_name);
        let start = Instant::now();
        let loaded = {
            let library = library.clone();
            run_guarded(&label, limit, move || open_session(&library))
        };
        let ws = match loaded {
            Some(Ok(ws)) => ws,
            Some(Err(e)) => {
                tally.report(&label, &Err(e), start.elapsed());
                continue;
            }
            None => {
                tally.timed_out(&label, limit, start.elapsed());
                continue;
            }
        };

        let mut ws = Some(ws);
        for step in steps {
            let (name, job): (&str, Job) = match step {
                Step::Session(name, run) => match &ws {
                    Some(ws) => {
                        let ws = ws.clone();
                        (name, Box::new(move || run(&ws)))
                    }
                    None => (
                        name,
                        Box::new(|| Err("runs before the suite's clean-up".to_owned())),
                    ),
                },
                Step::Cleanup => match ws.take() {
                    Some(ws) => ("cleanup", Box::new(move || cleanup(ws))),
                    None => continue,
                },
                Step::Alone(name, run) => (name, Box::new(move || run())),
            };
            let label = format!("{}/{}", suite_name, name);
            let start = Instant::now();
            match run_guarded(&label, limit, job) {
                Some(result) => tally.report(&label, &result, start.elapsed()),
                None => tally.timed_out(&label, limit, start.elapsed()),
            }
        }
    }
    tally.summary_and_exit();
}

/// The suite's clean-up: no handle may be left registered, and `Ws2::cleanup` runs
/// `WSPCleanup`, checking at the provider's last clean-up that it released every handle
/// (panicking with the details otherwise).
fn cleanup(ws: Ws2) -> Result<(), String> {
    let live = ws.live_handles();
    ws.cleanup();
    if live != 0 {
        return Err(format!(
            "{} socket handle(s) were still registered after the scenarios closed theirs",
            live
        ));
    }
    Ok(())
}

// ---- Shared sockets across processes (duplicate::across_processes) ----

/// `wsp-e2e <library> --child-dup`: the child process of `duplicate::across_processes`.
const CHILD_DUP: &str = "--child-dup";

/// Starts this driver again as the child of `duplicate::across_processes`: it loads the same
/// library and reads the structure from its standard input.
fn spawn_dup_child(library: &str) -> Result<std::process::Child, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {}", e))?;
    std::process::Command::new(&exe)
        .arg(library)
        .arg(CHILD_DUP)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{} {} {}: {}", exe.display(), library, CHILD_DUP, e))
}

/// The child's side: rebuild the shared socket from standard input, exchange data, close,
/// clean up; exits 0 on success, 1 (with the reason on stderr) on failure.
fn child_dup(library: &str) -> ! {
    let result = open_session(library)
        .map_err(|e| format!("child: {}", e))
        .and_then(|ws| {
            let result = duplicate::child(&ws, &mut std::io::stdin());
            ws.cleanup();
            result
        });
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("wsp-e2e {}: {}", CHILD_DUP, e);
            std::process::exit(1);
        }
    }
}
