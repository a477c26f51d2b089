//! Benchmarks of socket-handle tables and of the dispatch path of `winsock-provider`.
//!
//! `cargo bench --manifest-path bench/Cargo.toml` runs everything; see BENCHMARKS.md at the
//! repository root for the commands, the environment variables and the latest results.

pub mod dispatch;
pub mod tables;

use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The per-socket value: 64 bytes (the runtime's `Sock<P>` is larger), with an optional count of
// live values for the memory high-water mark.

static TRACK: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

/// Per-socket state stored in every table.
pub struct Val {
    /// Which socket (the handle's index).
    pub id: usize,
    /// The handle the value is published under, for tables whose records carry it (the
    /// runtime's, like its `Sock::handle`); others leave it 0.
    pub key: std::sync::atomic::AtomicUsize,
    _pad: [usize; 6],
}

impl Val {
    /// A value; counted when tracking is on.
    #[inline]
    pub fn new(id: usize) -> Val {
        if TRACK.load(Ordering::Relaxed) {
            let now = LIVE.fetch_add(1, Ordering::Relaxed) + 1;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        Val {
            id,
            key: std::sync::atomic::AtomicUsize::new(0),
            _pad: [0; 6],
        }
    }
}

impl Drop for Val {
    #[inline]
    fn drop(&mut self) {
        if TRACK.load(Ordering::Relaxed) {
            LIVE.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Live-value accounting for the long-pin workload.
pub mod live {
    use super::*;
    /// Starts counting from `base` live values.
    pub fn start(base: usize) {
        LIVE.store(base as isize, Ordering::SeqCst);
        PEAK.store(base as isize, Ordering::SeqCst);
        TRACK.store(true, Ordering::SeqCst);
    }
    /// Stops counting; returns the peak.
    pub fn stop() -> usize {
        TRACK.store(false, Ordering::SeqCst);
        PEAK.load(Ordering::SeqCst).max(0) as usize
    }
    /// The current count.
    pub fn now() -> isize {
        LIVE.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------------------------------------

/// xorshift64*: cheap enough not to hide a table's cost; the same for every subject.
pub struct Rng(u64);

impl Rng {
    /// A generator for thread `t`.
    pub fn new(t: usize) -> Rng {
        Rng(0x9E37_79B9_7F4A_7C15 ^ ((t as u64 + 1) * 0xD1B5_4A32_D192_ED03))
    }
    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (multiply-high reduction).
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// The handle of socket index `i` (`4, 8, 12, ...`: multiples of 4, as Windows hands out).
#[inline]
pub fn handle(i: usize) -> usize {
    (i + 1) * 4
}

// ---------------------------------------------------------------------------------------------
// The measuring loop.

/// Timing parameters.
#[derive(Clone, Copy, Debug)]
pub struct Cfg {
    /// Length of the discarded warm-up run.
    pub warmup: Duration,
    /// Length of each measured run.
    pub run: Duration,
    /// Measured runs; the median is reported.
    pub runs: usize,
}

impl Cfg {
    /// From `WSP_BENCH_MS` (run length, default 200) and `WSP_BENCH_RUNS` (default 5).
    pub fn from_env() -> Cfg {
        let ms = env_usize("WSP_BENCH_MS", 200) as u64;
        Cfg {
            warmup: Duration::from_millis(ms / 2),
            run: Duration::from_millis(ms),
            runs: env_usize("WSP_BENCH_RUNS", 5).max(1),
        }
    }
}

/// A numeric environment variable, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// One measured cell: aggregate operations per second over all threads.
#[derive(Clone, Copy, Debug)]
pub struct Measure {
    /// Median of the runs.
    pub median: f64,
    /// Slowest run.
    pub min: f64,
    /// Fastest run.
    pub max: f64,
}

impl Measure {
    /// Nanoseconds per operation per thread at the median (the latency one call sees).
    pub fn ns_per_op(&self, threads: usize) -> f64 {
        1e9 * threads as f64 / self.median
    }
}

/// Runs `op(thread, rng)` in a loop on `threads` threads for each run; returns ops/s.
pub fn measure<F>(threads: usize, cfg: &Cfg, op: F) -> Measure
where
    F: Fn(usize, &mut Rng) -> usize + Sync,
{
    measure_with(threads, cfg, |_| (), |t, rng, _: &mut ()| op(t, rng))
}

/// Like [`measure`], with per-thread state made by `init(thread)` for each run (dropped after
/// the run's clock has stopped).
pub fn measure_with<S, I, F>(threads: usize, cfg: &Cfg, init: I, op: F) -> Measure
where
    I: Fn(usize) -> S + Sync,
    F: Fn(usize, &mut Rng, &mut S) -> usize + Sync,
{
    run_once(threads, cfg.warmup, 0, &init, &op);
    let all: Vec<f64> = (0..cfg.runs)
        .map(|i| run_once(threads, cfg.run, i + 1, &init, &op))
        .collect();
    Measure::of(all)
}

impl Measure {
    /// Median, min and max of a set of runs (ops/s).
    pub fn of(mut all: Vec<f64>) -> Measure {
        all.sort_by(|a, b| a.partial_cmp(b).unwrap());
        Measure {
            median: all[all.len() / 2],
            min: all[0],
            max: all[all.len() - 1],
        }
    }
}

/// One run: `threads` threads loop on `op(thread, rng, state)` for `len`; returns ops/s over
/// all threads. `seed` varies the random streams between runs.
///
/// `op` returns a value that is folded into a black-boxed sum so that nothing is optimised
/// away. Threads check the stop flag every 128 operations.
pub fn run_once<S, I, F>(threads: usize, len: Duration, seed: usize, init: &I, op: &F) -> f64
where
    I: Fn(usize) -> S + Sync,
    F: Fn(usize, &mut Rng, &mut S) -> usize + Sync,
{
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(threads + 1);
    let results: Vec<(u64, Duration)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (stop, barrier) = (&stop, &barrier);
                s.spawn(move || {
                    let mut rng = Rng::new(t + 1000 * seed);
                    let mut state = init(t);
                    let mut sum = 0usize;
                    let mut n = 0u64;
                    barrier.wait();
                    let start = Instant::now();
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..128 {
                            sum = sum.wrapping_add(op(t, &mut rng, &mut state));
                        }
                        n += 128;
                    }
                    let took = start.elapsed();
                    std::hint::black_box(sum);
                    drop(state);
                    (n, took)
                })
            })
            .collect();
        barrier.wait();
        std::thread::sleep(len);
        stop.store(true, Ordering::Relaxed);
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ops: u64 = results.iter().map(|r| r.0).sum();
    let took = results.iter().map(|r| r.1).max().unwrap();
    ops as f64 / took.as_secs_f64()
}

/// Thread counts: 1 and every count up to `available_parallelism()`, or `WSP_BENCH_THREADS`
/// (comma-separated) when set.
pub fn thread_counts() -> Vec<usize> {
    if let Ok(list) = std::env::var("WSP_BENCH_THREADS") {
        let v: Vec<usize> = list
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .filter(|&n| n > 0)
            .collect();
        if !v.is_empty() {
            return v;
        }
    }
    let max = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    (1..=max).collect()
}

/// Per-operation latency: a cycle counter, log-linear histograms, and a process-wide sink that
/// the latency workload's threads merge into when a run ends.
pub mod lat {
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// Sub-buckets per power of two (12.5% resolution).
    const SUB: u32 = 8;
    const BUCKETS: usize = 64 * SUB as usize;

    /// A histogram of cycle counts.
    #[derive(Clone)]
    pub struct Hist(pub Vec<u64>);

    impl Default for Hist {
        fn default() -> Self {
            Hist(vec![0; BUCKETS])
        }
    }

    impl Hist {
        /// Counts one sample.
        #[inline]
        pub fn add(&mut self, cycles: u64) {
            let c = cycles.max(1);
            let log = 63 - c.leading_zeros();
            let sub = if log >= 3 {
                (c >> (log - 3)) & 7
            } else {
                (c << (3 - log)) & 7
            };
            self.0[(log * SUB) as usize + sub as usize] += 1;
        }
        /// Adds another histogram.
        pub fn merge(&mut self, other: &Hist) {
            for (a, b) in self.0.iter_mut().zip(&other.0) {
                *a += b;
            }
        }
        /// Samples counted.
        pub fn count(&self) -> u64 {
            self.0.iter().sum()
        }
        /// The `q` quantile (0..1) in cycles (upper edge of its bucket).
        pub fn quantile(&self, q: f64) -> f64 {
            let total = self.count();
            if total == 0 {
                return f64::NAN;
            }
            let want = ((total as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, &n) in self.0.iter().enumerate() {
                seen += n;
                if seen >= want {
                    let (log, sub) = (i as u32 / SUB, i as u32 % SUB);
                    let base = 2f64.powi(log as i32);
                    return base * (1.0 + (sub + 1) as f64 / SUB as f64);
                }
            }
            f64::NAN
        }
    }

    /// The time stamp counter (x86-64), fenced with `lfence` on both sides so that the timed
    /// operation neither starts before nor finishes after the reads; or nanoseconds from a
    /// monotonic clock elsewhere.
    #[inline(always)]
    pub fn now() -> u64 {
        #[cfg(target_arch = "x86_64")]
        {
            use core::arch::x86_64::{_mm_lfence, _rdtsc};
            // SAFETY: `lfence` and `rdtsc` exist on every x86-64 CPU and have no preconditions.
            unsafe {
                _mm_lfence();
                let t = _rdtsc();
                _mm_lfence();
                t
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            use std::sync::OnceLock;
            static START: OnceLock<Instant> = OnceLock::new();
            START.get_or_init(Instant::now).elapsed().as_nanos() as u64
        }
    }

    /// Counter ticks per nanosecond and the cost of an empty `now(); now()` pair (median, ticks).
    pub fn calibrate() -> (f64, f64) {
        let (t0, i0) = (now(), Instant::now());
        std::thread::sleep(Duration::from_millis(50));
        let (t1, i1) = (now(), Instant::now());
        let per_ns = (t1 - t0) as f64 / (i1 - i0).as_nanos() as f64;
        let mut empty: Vec<u64> = (0..10_000)
            .map(|_| {
                let a = now();
                let b = now();
                b.wrapping_sub(a)
            })
            .collect();
        empty.sort_unstable();
        (per_ns, empty[empty.len() / 2] as f64)
    }

    static SINK: Mutex<Option<(Hist, Hist)>> = Mutex::new(None);

    /// Merges one thread's (lookup, churn) histograms into the sink.
    pub fn deposit(lookup: &Hist, churn: &Hist) {
        let mut sink = SINK.lock().unwrap();
        let (l, c) = sink.get_or_insert_with(|| (Hist::default(), Hist::default()));
        l.merge(lookup);
        c.merge(churn);
    }

    /// Takes what the sink holds.
    pub fn take() -> Option<(Hist, Hist)> {
        SINK.lock().unwrap().take()
    }
}
