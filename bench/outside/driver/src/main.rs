//! `wsp-outside LABEL=LIBRARY...`: the dispatch path measured from outside, as ws2_32 pays it.
//!
//! Each library (a provider `.so`, or a `.dll` under Wine) is loaded by path into its own
//! `ws2_standin::Ws2` (which resolves `WSPStartup`, passes its upcall table and checks the
//! table it gets back). The driver opens 1,024 UDP-shaped sockets per provider (bound to
//! 127.0.0.1, non-blocking, each connected to a sink socket of its own that shut down receiving,
//! so a send is dropped at the sink) and then calls the provider's raw `WSPPROC_TABLE` pointers,
//! without the stand-in in between, on sockets picked from a precomputed random sequence:
//!
//! * `recv`: `WSPRecv` of a 64-byte buffer, nothing queued: `WSAEWOULDBLOCK`;
//! * `send`: `WSPSend` of 64 bytes: 64 sent;
//! * `getsockopt`: `WSPGetSockOpt(SOL_SOCKET, SO_TYPE)`: `SOCK_DGRAM`;
//! * `ioctl`: `WSPIoctl(FIONREAD)`: 0 bytes.
//!
//! A subject `LABEL=LAYER@BASE` is a layered provider over a base provider: both are installed
//! in the system's catalog by their `DllRegisterServer` (off Windows, in a catalog file of the
//! run's own, named by `WSP_CATALOG`), the sockets are opened through the catalog, as ws2_32
//! opens them, so every measured call goes through the layer's table and on to the base's, and
//! the entries are removed again (`DllUnregisterServer`) once the providers are started. When the
//! base library is also measured on its own, the report adds what the layer costs per call.
//!
//! Every result is checked (set-up: each call on each socket; measured loops: the return value
//! and the value written), and the run fails on any mismatch.
//!
//! For 1 thread and every thread count up to the machine's cores (threads on distinct sockets:
//! thread `t` of `T` uses sockets `t, t + T, ...`), every call is measured in interleaved rounds:
//! a warm-up run of each provider, then round 1 of each, round 2 of each, and so on; each cell is
//! the median of the rounds, in ns per call as one thread sees it (the slowest thread's time
//! divided by its calls). Prints a Markdown report: the medians (min–max), ratios to the
//! providers labelled `ideal` and `global-lock`, and issue 10's targets for the one labelled
//! `minimal`.
//!
//! `wsp-outside --count CALL N LABEL=LIBRARY` sets up the same way and makes `N` calls of `CALL`
//! on one thread, printing nothing: `bench/outside/callgrind.sh` runs it under callgrind and
//! memcheck to count instructions and allocations per call.
//!
//! Environment: `WSP_OUTSIDE_CALLS` (calls per thread per run, default 500000),
//! `WSP_OUTSIDE_ROUNDS` (default 7), `WSP_OUTSIDE_CLOCK` (`wall`, the default, or `thread-cpu`
//! on Linux: each thread's CPU time, for a machine too busy for wall time),
//! `WSP_OUTSIDE_THREADS` (comma-separated thread counts, default 1..=available_parallelism),
//! `WSP_OUTSIDE_SOCKETS` (default 1024).
#![deny(unsafe_op_in_unsafe_fn)]

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::exit;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use winsock_provider::sys::*;
use winsock_provider::WsaError;
use ws2_standin::{SockAddr, Ws2};

/// One measured call.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Call {
    Recv,
    Send,
    GetSockOpt,
    Ioctl,
}

const CALLS: [Call; 4] = [Call::Recv, Call::Send, Call::GetSockOpt, Call::Ioctl];

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Recv => "recv",
            Call::Send => "send",
            Call::GetSockOpt => "getsockopt",
            Call::Ioctl => "ioctl",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Call::Recv => "`WSPRecv`, non-blocking, would block",
            Call::Send => "`WSPSend` of 64 bytes",
            Call::GetSockOpt => "`WSPGetSockOpt(SO_TYPE)`",
            Call::Ioctl => "`WSPIoctl(FIONREAD)`",
        }
    }

    fn parse(name: &str) -> Option<Call> {
        CALLS.iter().copied().find(|c| c.name() == name)
    }
}

/// A loaded provider and its open sockets.
struct Subject {
    label: String,
    /// For a layer (`LAYER@BASE`), the base provider's library path.
    over: Option<String>,
    /// The library path (the layer's, for a layer).
    path: String,
    table: WSPPROC_TABLE,
    sockets: Vec<SOCKET>,
    sinks: Vec<SOCKET>,
    ws: Ws2,
}

impl Drop for Subject {
    /// Closes every socket, so the session's clean-up finds none left open.
    fn drop(&mut self) {
        for &s in self.sockets.iter().chain(&self.sinks) {
            if let Err(e) = self.ws.closesocket(s) {
                eprintln!("wsp-outside: {}: closesocket({:#x}): {}", self.label, s, e);
            }
        }
    }
}

fn localhost() -> SockAddr {
    SockAddr::Inet(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)))
}

/// Loads `path` and opens `count` measured sockets (and their sinks). A path of the form
/// `LAYER@BASE` is a layer over a base provider, reached through the catalog (see
/// [`Installed`]).
fn set_up(label: &str, path: &str, count: usize) -> Result<Subject, String> {
    let installed = match path.split_once('@') {
        Some((layer, base)) => Some(Installed::new(layer, base)?),
        None => None,
    };
    let ws = match &installed {
        Some(installed) => installed.session()?,
        None => {
            let ws = Ws2::new();
            ws.load_library(path)
                .map_err(|e| format!("loading {}: {}", path, e))?;
            ws
        }
    };
    // From here on, dropping the subject closes what was opened.
    let mut subject = Subject {
        label: label.to_owned(),
        over: path.split_once('@').map(|(_, base)| base.to_owned()),
        path: path.split('@').next().unwrap_or(path).to_owned(),
        table: WSPPROC_TABLE::default(),
        sockets: Vec::with_capacity(count),
        sinks: Vec::with_capacity(count),
        ws,
    };
    for _ in 0..count {
        let ws = &subject.ws;
        let s = udp(ws, &mut subject.sockets)?;
        let sink = udp(ws, &mut subject.sinks)?;
        ws.shutdown(sink, SD_RECEIVE)
            .map_err(|e| format!("shutdown: {}", e))?;
        // A provider that cannot name the sink (the toolkit's default `sock_name` is
        // `WSAEINVAL`, the hand-written ones have none) gets any address: its send ignores it.
        let to = match ws.getsockname(sink) {
            Ok(addr) => addr,
            Err(e) if e == WsaError::OPNOTSUPP || e == WsaError::INVAL => {
                SockAddr::Inet(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9)))
            }
            Err(e) => return Err(format!("getsockname: {}", e)),
        };
        ws.connect(s, &to).map_err(|e| format!("connect: {}", e))?;
        let mut on = 1u32;
        ws.ioctlsocket(s, FIONBIO, &mut on)
            .map_err(|e| format!("FIONBIO: {}", e))?;
    }
    // The providers are loaded and started: the catalog entries can go.
    drop(installed);
    subject.table = subject
        .ws
        .spi_for(subject.sockets[0])
        .map_err(|e| format!("spi_for: {}", e))?
        .table;
    for &call in &CALLS {
        let bad = run(
            &subject.table,
            call,
            &subject.sockets,
            subject.sockets.len(),
        );
        if bad != 0 {
            return Err(format!(
                "{}: {} of {} calls did not return what was expected",
                call.name(),
                bad,
                subject.sockets.len()
            ));
        }
    }
    Ok(subject)
}

/// A layer and the base provider under it, installed in the system's catalog the way
/// `regsvr32` installs them (the base's `DllRegisterServer`, then the layer's, which chains
/// itself over the base's UDP entry), for as long as this value lives: dropping it runs both
/// `DllUnregisterServer`s, layer first. Off Windows the catalog is a file of this run's own
/// (`WSP_CATALOG`, [`catalog_file`]), so nothing outside the run changes.
struct Installed {
    layer: String,
    base: String,
}

impl Installed {
    fn new(layer: &str, base: &str) -> Result<Installed, String> {
        if !cfg!(windows) {
            let file = catalog_file();
            if !file.exists() {
                winsock_catalog::FileStore::create(&file, true)
                    .map_err(|e| format!("creating the catalog file {}: {}", file.display(), e))?;
            }
            std::env::set_var(winsock_catalog::CATALOG_ENV, &file);
        }
        ws2_standin::regsvr32(base, true)
            .map_err(|e| format!("DllRegisterServer of {}: {}", base, e))?;
        let installed = Installed {
            layer: layer.to_owned(),
            base: base.to_owned(),
        };
        ws2_standin::regsvr32(layer, true)
            .map_err(|e| format!("DllRegisterServer of {}: {}", layer, e))?;
        Ok(installed)
    }

    /// A session over the entries of the layer and the base only (a Windows catalog holds
    /// others, which may match the same `socket()` arguments), as ws2_32 finds them.
    fn session(&self) -> Result<Ws2, String> {
        let backend = winsock_catalog::system().map_err(|e| format!("the catalog: {}", e))?;
        let ours = [file_name(&self.layer), file_name(&self.base)];
        let entries = backend
            .enum_protocols(winsock_catalog::Arch::native())
            .map_err(|e| format!("the catalog: {}", e))?
            .iter()
            .filter(|e| ours.contains(&file_name(&e.path)))
            .map(ws2_standin::CatalogEntry::from_catalog)
            .collect();
        Ok(Ws2::with_catalog(entries))
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        for lib in [&self.layer, &self.base] {
            if let Err(e) = ws2_standin::regsvr32(lib, false) {
                eprintln!("wsp-outside: DllUnregisterServer of {}: {}", lib, e);
            }
        }
    }
}

/// The catalog file of this run, off Windows: one for the whole run, as catalog entry ids name
/// providers process-wide and each installation must get ids of its own.
fn catalog_file() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("wsp-outside-{}.reg", std::process::id()))
}

/// Removes this run's catalog file and its lock file, if there are any.
fn remove_catalog_file() {
    let file = catalog_file();
    let mut lock = file.clone().into_os_string();
    lock.push(".lock");
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(lock);
}

/// The last component of a library path, either separator, in lower case (the catalog keeps
/// the path `DllRegisterServer` found its module at).
fn file_name(path: &str) -> String {
    path.rsplit(&['/', '\\'][..])
        .next()
        .unwrap_or(path)
        .to_ascii_lowercase()
}

/// A socket bound to 127.0.0.1, recorded in `opened` as soon as it exists.
fn udp(ws: &Ws2, opened: &mut Vec<SOCKET>) -> Result<SOCKET, String> {
    let s = ws
        .socket(AF_INET as i32, SOCK_DGRAM, IPPROTO_UDP)
        .map_err(|e| format!("socket: {}", e))?;
    opened.push(s);
    ws.bind(s, &localhost())
        .map_err(|e| format!("bind: {}", e))?;
    Ok(s)
}

/// `n` calls of `call` on the sockets of `seq` in turn (cycling); returns how many calls did
/// not return what was expected.
fn run(table: &WSPPROC_TABLE, call: Call, seq: &[SOCKET], n: usize) -> usize {
    // SAFETY (all four): the provider's own entry points, called as ws2_32 calls them on its
    // open sockets, with buffers that outlive the calls.
    match call {
        Call::Recv => unsafe { recv_loop(table.lpWSPRecv.expect("checked at load"), seq, n) },
        Call::Send => unsafe { send_loop(table.lpWSPSend.expect("checked at load"), seq, n) },
        Call::GetSockOpt => unsafe {
            getsockopt_loop(table.lpWSPGetSockOpt.expect("checked at load"), seq, n)
        },
        Call::Ioctl => unsafe { ioctl_loop(table.lpWSPIoctl.expect("checked at load"), seq, n) },
    }
}

type RecvFn = unsafe extern "system" fn(
    SOCKET,
    *const WSABUF,
    u32,
    *mut u32,
    *mut u32,
    *mut OVERLAPPED,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    *const WSATHREADID,
    *const i32,
) -> i32;
type SendFn = unsafe extern "system" fn(
    SOCKET,
    *const WSABUF,
    u32,
    *mut u32,
    u32,
    *mut OVERLAPPED,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    *const WSATHREADID,
    *mut i32,
) -> i32;
type GetSockOptFn = unsafe extern "system" fn(SOCKET, i32, i32, PSTR, *mut i32, *mut i32) -> i32;
type IoctlFn = unsafe extern "system" fn(
    SOCKET,
    u32,
    *const core::ffi::c_void,
    u32,
    *mut core::ffi::c_void,
    u32,
    *mut u32,
    *mut OVERLAPPED,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    *const WSATHREADID,
    *mut i32,
) -> i32;

#[inline(never)]
unsafe fn recv_loop(f: RecvFn, seq: &[SOCKET], n: usize) -> usize {
    let mut data = [0u8; 64];
    let buf = WSABUF {
        len: 64,
        buf: data.as_mut_ptr(),
    };
    let mut bad = 0;
    for &s in seq.iter().cycle().take(n) {
        let (mut got, mut flags, mut errno) = (0u32, 0u32, 0i32);
        let null = core::ptr::null_mut();
        // SAFETY: see `run`.
        let r = unsafe {
            f(
                s,
                &buf,
                1,
                &mut got,
                &mut flags,
                null,
                None,
                core::ptr::null(),
                // The binding types lpErrno as const; the provider writes it.
                &mut errno as *mut i32 as *const i32,
            )
        };
        bad += (r != SOCKET_ERROR || errno != WSAEWOULDBLOCK) as usize;
    }
    bad
}

#[inline(never)]
unsafe fn send_loop(f: SendFn, seq: &[SOCKET], n: usize) -> usize {
    let mut data = [0x5au8; 64];
    let buf = WSABUF {
        len: 64,
        buf: data.as_mut_ptr(),
    };
    let mut bad = 0;
    for &s in seq.iter().cycle().take(n) {
        let (mut sent, mut errno) = (0u32, 0i32);
        let null = core::ptr::null_mut();
        // SAFETY: see `run`.
        let r = unsafe {
            f(
                s,
                &buf,
                1,
                &mut sent,
                0,
                null,
                None,
                core::ptr::null(),
                &mut errno,
            )
        };
        bad += (r != 0 || sent != 64) as usize;
    }
    bad
}

#[inline(never)]
unsafe fn getsockopt_loop(f: GetSockOptFn, seq: &[SOCKET], n: usize) -> usize {
    let mut bad = 0;
    for &s in seq.iter().cycle().take(n) {
        let (mut value, mut len, mut errno) = (0i32, 4i32, 0i32);
        // SAFETY: see `run`.
        let r = unsafe {
            f(
                s,
                SOL_SOCKET,
                SO_TYPE,
                (&mut value as *mut i32).cast(),
                &mut len,
                &mut errno,
            )
        };
        bad += (r != 0 || value != SOCK_DGRAM || len != 4) as usize;
    }
    bad
}

#[inline(never)]
unsafe fn ioctl_loop(f: IoctlFn, seq: &[SOCKET], n: usize) -> usize {
    let mut bad = 0;
    for &s in seq.iter().cycle().take(n) {
        let (mut out, mut returned, mut errno) = (u32::MAX, 0u32, 0i32);
        let out_ptr = (&mut out as *mut u32).cast();
        let null = core::ptr::null_mut();
        // SAFETY: see `run`.
        let r = unsafe {
            f(
                s,
                FIONREAD as u32,
                core::ptr::null(),
                0,
                out_ptr,
                4,
                &mut returned,
                null,
                None,
                core::ptr::null(),
                &mut errno,
            )
        };
        bad += (r != 0 || out != 0 || returned != 4) as usize;
    }
    bad
}

/// xorshift64*: the random socket sequences (seeded, so every run picks the same sockets).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as usize * n) >> 32
    }
}

/// Sequence length per thread: 4096 picks, cycled.
const SEQ_LEN: usize = 4096;

/// Thread `t` of `threads`: random picks among sockets `t, t + threads, ...`.
fn sequence(sockets: &[SOCKET], t: usize, threads: usize) -> Vec<SOCKET> {
    let mine: Vec<SOCKET> = sockets.iter().copied().skip(t).step_by(threads).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((t as u64 + 1) << 17));
    (0..SEQ_LEN).map(|_| mine[rng.below(mine.len())]).collect()
}

/// What a run's time is measured with.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Clock {
    /// Elapsed time (the default).
    Wall,
    /// The measuring thread's own CPU time (Linux; `WSP_OUTSIDE_CLOCK=thread-cpu`): immune to
    /// the thread being descheduled on a busy machine, but blind to time spent blocked (a
    /// contended lock's sleeps).
    ThreadCpu,
}

impl Clock {
    fn from_env() -> Clock {
        match std::env::var("WSP_OUTSIDE_CLOCK").as_deref() {
            Err(_) | Ok("wall") => Clock::Wall,
            Ok("thread-cpu") if cfg!(target_os = "linux") => Clock::ThreadCpu,
            Ok(other) => {
                eprintln!(
                    "wsp-outside: WSP_OUTSIDE_CLOCK={} is not supported here (wall, or thread-cpu on Linux)",
                    other
                );
                exit(2)
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            Clock::Wall => "wall-clock",
            Clock::ThreadCpu => "thread CPU",
        }
    }

    /// Runs `f`, returning how long it took by this clock and its result.
    fn time(self, f: impl FnOnce() -> usize) -> (Duration, usize) {
        match self {
            Clock::Wall => {
                let t0 = Instant::now();
                let r = f();
                (t0.elapsed(), r)
            }
            Clock::ThreadCpu => {
                let t0 = thread_cpu_time();
                let r = f();
                (thread_cpu_time().saturating_sub(t0), r)
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a writable timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        eprintln!("wsp-outside: clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        exit(1);
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_time() -> Duration {
    unreachable!("Clock::from_env accepts thread-cpu on Linux only")
}

/// One run: `threads` threads, each `calls` calls on its own sockets; the slowest thread's ns
/// per call.
fn measure(subject: &Subject, call: Call, threads: usize, calls: usize, clock: Clock) -> f64 {
    let seqs: Vec<Vec<SOCKET>> = (0..threads)
        .map(|t| sequence(&subject.sockets, t, threads))
        .collect();
    let start = Barrier::new(threads);
    let table = subject.table;
    let results: Vec<(Duration, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = seqs
            .iter()
            .map(|seq| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    clock.time(|| run(&table, call, seq, calls))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("measuring thread panicked"))
            .collect()
    });
    let bad: usize = results.iter().map(|r| r.1).sum();
    if bad != 0 {
        eprintln!(
            "wsp-outside: {} {}: {} calls did not return what was expected",
            subject.label,
            call.name(),
            bad
        );
        exit(1);
    }
    let slowest = results.iter().map(|r| r.0).max().unwrap_or_default();
    slowest.as_nanos() as f64 / calls as f64
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            eprintln!("wsp-outside: {}={} is not a number", name, v);
            exit(2)
        }),
        Err(_) => default,
    }
}

fn thread_counts() -> Vec<usize> {
    match std::env::var("WSP_OUTSIDE_THREADS") {
        Ok(v) => v
            .split(',')
            .map(|t| {
                t.trim().parse().ok().filter(|&n| n > 0).unwrap_or_else(|| {
                    eprintln!("wsp-outside: bad WSP_OUTSIDE_THREADS entry '{}'", t);
                    exit(2)
                })
            })
            .collect(),
        Err(_) => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (1..=cores).collect()
        }
    }
}

/// Median, min and max of ns/call.
#[derive(Copy, Clone)]
struct Cell {
    median: f64,
    min: f64,
    max: f64,
}

fn cell(mut samples: Vec<f64>) -> Cell {
    samples.sort_by(|a, b| a.partial_cmp(b).expect("no NaN timings"));
    Cell {
        median: samples[samples.len() / 2],
        min: samples[0],
        max: samples[samples.len() - 1],
    }
}

fn parse_subject(arg: &str) -> (String, String) {
    match arg.split_once('=') {
        Some((label, path)) if !label.is_empty() && !path.is_empty() => {
            (label.to_owned(), path.to_owned())
        }
        _ => {
            eprintln!(
                "wsp-outside: expected LABEL=LIBRARY or LABEL=LAYER@BASE, got '{}'",
                arg
            );
            exit(2)
        }
    }
}

fn set_up_or_exit(label: &str, path: &str, count: usize) -> Subject {
    set_up(label, path, count).unwrap_or_else(|e| {
        remove_catalog_file();
        eprintln!("wsp-outside: {}: {}", label, e);
        exit(1)
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sockets = env_usize("WSP_OUTSIDE_SOCKETS", 1024).max(1);
    if args.first().map(String::as_str) == Some("--count") {
        let (call, n, subject) = match &args[1..] {
            [call, n, subject] => (call, n, subject),
            _ => {
                eprintln!("usage: wsp-outside --count CALL N LABEL=LIBRARY");
                exit(2)
            }
        };
        let call = Call::parse(call).unwrap_or_else(|| {
            eprintln!(
                "wsp-outside: unknown call '{}' (recv, send, getsockopt, ioctl)",
                call
            );
            exit(2)
        });
        let n: usize = n.parse().unwrap_or_else(|_| {
            eprintln!("wsp-outside: '{}' is not a number", n);
            exit(2)
        });
        let (label, path) = parse_subject(subject);
        let subject = set_up_or_exit(&label, &path, sockets);
        remove_catalog_file();
        let seq = sequence(&subject.sockets, 0, 1);
        if run(&subject.table, call, &seq, n) != 0 {
            eprintln!("wsp-outside: {}: unexpected results", call.name());
            exit(1);
        }
        return;
    }
    if args.is_empty() || args.iter().any(|a| a.starts_with('-')) {
        eprintln!(
            "usage: wsp-outside LABEL=LIBRARY|LABEL=LAYER@BASE...   |   wsp-outside --count CALL N LABEL=LIBRARY|LABEL=LAYER@BASE"
        );
        exit(2);
    }
    let calls = env_usize("WSP_OUTSIDE_CALLS", 500_000).max(1);
    let rounds = env_usize("WSP_OUTSIDE_ROUNDS", 7).max(1);
    let threads = thread_counts();
    let clock = Clock::from_env();
    let mut subjects: Vec<Subject> = args
        .iter()
        .map(|a| {
            let (label, path) = parse_subject(a);
            set_up_or_exit(&label, &path, sockets)
        })
        .collect();
    remove_catalog_file();
    let started = Instant::now();
    // cells[call][thread index][subject]
    let mut cells: Vec<Vec<Vec<Cell>>> = Vec::new();
    for &call in &CALLS {
        let mut per_threads = Vec::new();
        for &t in &threads {
            let mut samples = vec![Vec::with_capacity(rounds); subjects.len()];
            for subject in &subjects {
                measure(subject, call, t, calls / 4, clock);
            }
            for _ in 0..rounds {
                for (i, subject) in subjects.iter().enumerate() {
                    samples[i].push(measure(subject, call, t, calls, clock));
                }
            }
            per_threads.push(samples.into_iter().map(cell).collect());
        }
        cells.push(per_threads);
    }
    report(
        &subjects,
        &threads,
        &cells,
        &format!(
            "{} sockets per provider, {} calls per thread per run, {} time, median of {} interleaved rounds ({} s)",
            sockets,
            calls,
            clock.name(),
            rounds,
            started.elapsed().as_secs()
        ),
    );
    // Layers' sessions end first: the base provider under a layer may be a library also
    // measured directly, and the stand-in checks for leaks at what it sees as a library's last
    // clean-up (it does not see the start-up a layer makes of the provider below it).
    subjects.retain(|s| s.over.is_none());
}

/// What each layer adds: for every layer whose base provider was also measured directly, the
/// call through the layer against the same call on the base.
fn layers(subjects: &[Subject], threads: &[usize], cells: &[Vec<Vec<Cell>>]) {
    let pairs: Vec<(usize, usize)> = subjects
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let base = s.over.as_ref()?;
            let b = subjects
                .iter()
                .position(|o| o.over.is_none() && &o.path == base)?;
            Some((i, b))
        })
        .collect();
    if pairs.is_empty() {
        return;
    }
    println!();
    println!("Layers: the call through the layer against the same call on its base provider.");
    println!();
    println!("| call | threads | layer | base | through the layer ns | on the base ns | layer / base | added ns |");
    println!("|---|---:|---|---|---:|---:|---:|---:|");
    for (c, &call) in CALLS.iter().enumerate() {
        for (ti, &t) in threads.iter().enumerate() {
            for &(l, b) in &pairs {
                let (through, direct) = (cells[c][ti][l].median, cells[c][ti][b].median);
                println!(
                    "| {} | {} | {} | {} | {:.1} | {:.1} | {:.2} | {:.1} |",
                    call.title(),
                    t,
                    subjects[l].label,
                    subjects[b].label,
                    through,
                    direct,
                    through / direct,
                    through - direct
                );
            }
        }
    }
}

fn find(subjects: &[Subject], label: &str) -> Option<usize> {
    subjects.iter().position(|s| s.label == label)
}

fn report(subjects: &[Subject], threads: &[usize], cells: &[Vec<Vec<Cell>>], setting: &str) {
    println!("Outside dispatch benchmark: {}.", setting);
    println!();
    let ideal = find(subjects, "ideal");
    let global = find(subjects, "global-lock");
    let mut header = String::from("| call | threads |");
    let mut rule = String::from("|---|---:|");
    for s in subjects {
        header.push_str(&format!(" {} ns |", s.label));
        rule.push_str("---:|");
    }
    for (reference, name) in [(ideal, "ideal"), (global, "global-lock")] {
        if reference.is_some() {
            for s in subjects
                .iter()
                .filter(|s| s.label != "ideal" && s.label != "global-lock")
            {
                header.push_str(&format!(" {} / {} |", s.label, name));
                rule.push_str("---:|");
            }
        }
    }
    println!("{}", header);
    println!("{}", rule);
    for (c, &call) in CALLS.iter().enumerate() {
        for (ti, &t) in threads.iter().enumerate() {
            let row = &cells[c][ti];
            let mut line = format!("| {} | {} |", call.title(), t);
            for cell in row {
                line.push_str(&format!(
                    " {:.1} ({:.1}–{:.1}) |",
                    cell.median, cell.min, cell.max
                ));
            }
            for reference in [ideal, global].iter().flatten() {
                for (i, s) in subjects.iter().enumerate() {
                    if s.label != "ideal" && s.label != "global-lock" {
                        line.push_str(&format!(" {:.2} |", row[i].median / row[*reference].median));
                    }
                }
            }
            println!("{}", line);
        }
    }
    layers(subjects, threads, cells);
    let minimal = match find(subjects, "minimal") {
        Some(m) => m,
        None => return,
    };
    println!();
    println!("Targets (issue 10) for `minimal`:");
    println!();
    println!("| call | ≤ 2x ideal, 1 thread | faster than global-lock at every thread count | flat: slowest / 1-thread ns |");
    println!("|---|---|---|---|");
    for (c, &call) in CALLS.iter().enumerate() {
        let one = cells[c][0][minimal].median;
        let vs_ideal = match ideal {
            Some(i) => {
                let r = one / cells[c][0][i].median;
                format!("{} ({:.2}x)", if r <= 2.0 { "met" } else { "missed" }, r)
            }
            None => "n/a".to_owned(),
        };
        let vs_global = match global {
            Some(g) => {
                let worst = threads
                    .iter()
                    .enumerate()
                    .map(|(ti, _)| cells[c][ti][minimal].median / cells[c][ti][g].median)
                    .fold(0.0f64, f64::max);
                format!(
                    "{} (worst {:.2}x global-lock)",
                    if worst < 1.0 { "met" } else { "missed" },
                    worst
                )
            }
            None => "n/a".to_owned(),
        };
        let slowest = (0..threads.len())
            .map(|ti| cells[c][ti][minimal].median)
            .fold(0.0f64, f64::max);
        println!(
            "| {} | {} | {} | {:.2} |",
            call.title(),
            vs_ideal,
            vs_global,
            slowest / one
        );
    }
}
