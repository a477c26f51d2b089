//! The handle-table benchmark: every table × workload × thread count, as ops/s, ns/op and
//! ratios to the floors and to each peer. Written to stdout and to
//! `bench/target/wsp-bench/results.{md,csv}`.
//!
//! Environment (all optional):
//! - `WSP_BENCH_MS`      length of one measured run in ms (default 200; warm-up is half)
//! - `WSP_BENCH_RUNS`    measured runs per cell, median reported (default 5)
//! - `WSP_BENCH_THREADS` comma-separated thread counts (default 1..=available_parallelism)
//! - `WSP_BENCH_SIZES`   comma-separated live-socket counts for the lookup workload
//!   (default 16,1024,65536,1048576)
//! - `WSP_BENCH_FILTER`  run only workloads whose name contains this text
//! - `WSP_BENCH_TABLES`  comma-separated: run only tables whose name contains one of these
//!   (the floors always run)
//! - `WSP_BENCH_FOCUS`   the table compared with every peer in the summary (default
//!   runtime)

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wsp_bench::tables::*;
use wsp_bench::{handle, lat, live, run_once, thread_counts, Cfg, Measure, Rng, Val};

const FLOOR_PLAIN: &str = "floor: Vec<usize>";
const FLOOR_ATOMIC: &str = "floor: Vec<AtomicPtr>";
/// Live sockets in the hot, churn and long-pin workloads.
const CHURN_N: usize = 1024;
/// Long pins each thread holds at once in the long-pin workload.
const PINS_PER_THREAD: usize = 256;

struct Cell {
    workload: String,
    table: &'static str,
    threads: usize,
    m: Measure,
    peak_live: Option<usize>,
}

struct Bench {
    cfg: Cfg,
    threads: Vec<usize>,
    filter: Option<String>,
    /// Tables whose name contains one of these (all when `None`).
    only: Option<Vec<String>>,
    cells: Vec<Cell>,
    /// Latency quantiles (ns): workload, table, threads, lookup p50/p99/p99.9, churn p50/p99/p99.9.
    latencies: Vec<(String, &'static str, usize, [f64; 6])>,
    /// Counter ticks per ns and the empty-measurement cost in ticks.
    tsc: (f64, f64),
    /// Workload names in the order run, with a one-line description.
    order: Vec<(String, String)>,
}

impl Bench {
    fn wants(&self, workload: &str) -> bool {
        self.filter.as_deref().is_none_or(|f| workload.contains(f))
    }

    fn workload(&mut self, name: &str, what: &str) {
        if !self.order.iter().any(|(n, _)| n == name) {
            self.order.push((name.to_owned(), what.to_owned()));
        }
    }

    fn record(
        &mut self,
        workload: &str,
        table: &'static str,
        threads: usize,
        m: Measure,
        peak: Option<usize>,
    ) {
        eprintln!(
            "  {workload:<22} {table:<26} {threads}T {:>9.2} Mops/s  ({:.1} ns/op/thread, runs {:.2}..{:.2})",
            m.median / 1e6,
            m.ns_per_op(threads),
            m.min / 1e6,
            m.max / 1e6
        );
        self.cells.push(Cell {
            workload: workload.to_owned(),
            table,
            threads,
            m,
            peak_live: peak,
        });
    }
}

fn populated<T: Table<Val>>(n: usize) -> T {
    let t = T::new(handle(n));
    for i in 0..n {
        t.insert(handle(i), Arc::new(Val::new(i)));
    }
    t
}

// ---------------------------------------------------------------------------------------------
// Workloads. Each workload builds one subject per table (and floor), then runs them
// interleaved: for every thread count, a warm-up of each, then run 1 of each, run 2 of each,
// and so on. A slow phase of the (shared, virtualised) machine then hits every subject alike
// instead of skewing whichever table happened to be running.

/// One run of a subject: threads, run length, seed -> (ops/s, peak live values if tracked).
type RunFn = Box<dyn Fn(usize, Duration, usize) -> (f64, Option<usize>)>;

struct Subject {
    name: &'static str,
    run: RunFn,
}

fn plain<S: Send + Sync + 'static>(
    name: &'static str,
    state: S,
    op: fn(&S, usize, usize, &mut Rng) -> usize,
) -> Subject {
    Subject {
        name,
        run: Box::new(move |threads, len, seed| {
            let f = |t: usize, rng: &mut Rng, _: &mut ()| op(&state, t, threads, rng);
            (run_once(threads, len, seed, &|_| (), &f), None)
        }),
    }
}

/// Closes one of thread `t`'s own sockets and creates a new one, which gets the same handle
/// value back at once (a LIFO free list hands out the value the close just released).
#[inline]
fn churn_op<T: Table<Val>>(table: &T, t: usize, threads: usize, rng: &mut Rng) -> usize {
    let own = CHURN_N / threads;
    let idx = t + threads * rng.below(own);
    let h = handle(idx);
    table
        .close(h, |v| std::hint::black_box(v.id))
        .expect("only the owning thread closes its sockets");
    table.insert(h, Arc::new(Val::new(idx)));
    idx
}

#[inline]
fn lookup_uniform<T: Table<Val>>(table: &T, n: usize, rng: &mut Rng) -> usize {
    table.with(handle(rng.below(n)), |v| v.id).unwrap_or(0)
}

fn lookup_subject<T: Table<Val> + 'static>(n: usize) -> Subject {
    let table: T = populated(n);
    Subject {
        name: T::NAME,
        run: Box::new(move |threads, len, seed| {
            let f = |_: usize, rng: &mut Rng, _: &mut ()| lookup_uniform(&table, n, rng);
            (run_once(threads, len, seed, &|_| (), &f), None)
        }),
    }
}

fn hot_subject<T: Table<Val> + 'static>() -> Subject {
    let table: T = populated(CHURN_N);
    let hot = handle(CHURN_N / 2);
    Subject {
        name: T::NAME,
        run: Box::new(move |threads, len, seed| {
            let f = |_: usize, _: &mut Rng, _: &mut ()| {
                table.with(std::hint::black_box(hot), |v| v.id).unwrap_or(0)
            };
            (run_once(threads, len, seed, &|_| (), &f), None)
        }),
    }
}

/// `pct`% close+create, the rest uniform lookups. The table keeps the same live set across
/// runs (every close is followed by a create of the same value).
fn churn_subject<T: Table<Val> + 'static>(pct: usize) -> Subject {
    let table: T = populated(CHURN_N);
    Subject {
        name: T::NAME,
        run: Box::new(move |threads, len, seed| {
            let f = |t: usize, rng: &mut Rng, _: &mut ()| {
                if pct == 100 || rng.below(100) < pct {
                    churn_op(&table, t, threads, rng)
                } else {
                    lookup_uniform(&table, CHURN_N, rng)
                }
            };
            (run_once(threads, len, seed, &|_| (), &f), None)
        }),
    }
}

fn long_pin_subject<T: Table<Val> + 'static>() -> Subject {
    let table: T = populated(CHURN_N);
    Subject {
        name: T::NAME,
        run: Box::new(move |threads, len, seed| {
            live::start(CHURN_N);
            let init = |_| (vec![None::<Arc<Val>>; PINS_PER_THREAD], 0usize);
            let f = |t: usize, rng: &mut Rng, (ring, pos): &mut (Vec<Option<Arc<Val>>>, usize)| {
                if rng.below(2) == 0 {
                    churn_op(&table, t, threads, rng)
                } else {
                    let pin = table.pin_long(handle(rng.below(CHURN_N)));
                    let id = pin.as_ref().map_or(0, |v| v.id);
                    ring[*pos] = pin;
                    *pos = (*pos + 1) % PINS_PER_THREAD;
                    id
                }
            };
            let ops = run_once(threads, len, seed, &init, &f);
            (ops, Some(live::stop()))
        }),
    }
}

/// Per-thread latency state: (lookup, churn) histograms, deposited when the run ends.
struct LatState(lat::Hist, lat::Hist);

impl Drop for LatState {
    fn drop(&mut self) {
        lat::deposit(&self.0, &self.1);
    }
}

/// `mixed/90:10` with every operation timed (cycle counter) into per-thread histograms.
fn latency_subject<T: Table<Val> + 'static>() -> Subject {
    let table: T = populated(CHURN_N);
    Subject {
        name: T::NAME,
        run: Box::new(move |threads, len, seed| {
            let init = |_| LatState(lat::Hist::default(), lat::Hist::default());
            let f = |t: usize, rng: &mut Rng, st: &mut LatState| {
                let churn = rng.below(100) < 10;
                let h = rng.below(CHURN_N);
                let start = lat::now();
                let r = if churn {
                    churn_op(&table, t, threads, rng)
                } else {
                    lookup_uniform_at(&table, h)
                };
                let took = lat::now().wrapping_sub(start);
                if churn {
                    st.1.add(took);
                } else {
                    st.0.add(took);
                }
                r
            };
            (run_once(threads, len, seed, &init, &f), None)
        }),
    }
}

#[inline]
fn lookup_uniform_at<T: Table<Val>>(table: &T, i: usize) -> usize {
    table.with(handle(i), |v| v.id).unwrap_or(0)
}

/// Makes one subject per table with `make::<T>()`, honouring `WSP_BENCH_TABLES`.
macro_rules! per_table {
    ($b:expr, $make:ident $(, $arg:expr)*) => {{
        let mut v: Vec<Subject> = Vec::new();
        macro_rules! one {
            ($t:ty) => {
                if $b.includes(<$t as Table<Val>>::NAME) {
                    v.push($make::<$t>($($arg),*));
                }
            };
        }
        one!(Runtime);
        one!(StdRwLock<Val>);
        one!(PlRwLock<Val>);
        one!(GlobalMutex<Val>);
        one!(Ws2Help<Val>);
        one!(Dash<Val>);
        one!(Papaya<Val>);
        one!(SccIndex<Val>);
        one!(Slab<Val>);
        v
    }};
}

impl Bench {
    fn includes(&self, table: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|o| table.contains(o.as_str())))
    }

    /// Runs `subjects` interleaved at every thread count and records the cells.
    fn run(&mut self, workload: &str, what: &str, subjects: Vec<Subject>) {
        self.workload(workload, what);
        eprintln!("# {workload}");
        for &threads in &self.threads.clone() {
            for s in &subjects {
                (s.run)(threads, self.cfg.warmup, 0);
                lat::take();
            }
            let mut hists: Vec<Option<(lat::Hist, lat::Hist)>> = vec![None; subjects.len()];
            let mut runs: Vec<Vec<f64>> = vec![Vec::new(); subjects.len()];
            let mut peaks: Vec<Option<usize>> = vec![None; subjects.len()];
            for r in 0..self.cfg.runs {
                for (i, s) in subjects.iter().enumerate() {
                    let (ops, peak) = (s.run)(threads, self.cfg.run, r + 1);
                    if let Some((l, c)) = lat::take() {
                        let acc = hists[i].get_or_insert_with(Default::default);
                        acc.0.merge(&l);
                        acc.1.merge(&c);
                    }
                    runs[i].push(ops);
                    if let Some(p) = peak {
                        peaks[i] = Some(peaks[i].map_or(p, |q: usize| q.max(p)));
                    }
                }
            }
            for (i, s) in subjects.iter().enumerate() {
                let m = Measure::of(std::mem::take(&mut runs[i]));
                self.record(workload, s.name, threads, m, peaks[i]);
                if let Some((l, c)) = &hists[i] {
                    let ns = |h: &lat::Hist, q: f64| h.quantile(q) / self.tsc.0;
                    self.latencies.push((
                        workload.to_owned(),
                        s.name,
                        threads,
                        [
                            ns(l, 0.5),
                            ns(l, 0.99),
                            ns(l, 0.999),
                            ns(c, 0.5),
                            ns(c, 0.99),
                            ns(c, 0.999),
                        ],
                    ));
                }
            }
        }
    }
}

fn run_all(b: &mut Bench, sizes: &[usize]) {
    for &n in sizes {
        let name = format!("lookup/{n}");
        if !b.wants(&name) {
            continue;
        }
        let mut subjects = vec![
            plain(FLOOR_PLAIN, (PlainArray::new(n), n), |(a, n), _, _, rng| {
                a.lookup(handle(rng.below(*n)))
            }),
            plain(
                FLOOR_ATOMIC,
                (
                    AtomicPtrArray::new((0..n).map(|i| Arc::new(Val::new(i))).collect()),
                    n,
                ),
                |(a, n), _, _, rng| a.with(handle(rng.below(*n)), |v| v.id).unwrap_or(0),
            ),
        ];
        subjects.extend(per_table!(b, lookup_subject, n));
        b.run(
            &name,
            &format!("lookup+pin+unpin, uniform random handle among {n} live sockets"),
            subjects,
        );
    }
    if b.wants("hot-socket") {
        let hot = handle(CHURN_N / 2);
        let mut subjects = vec![
            plain(
                FLOOR_PLAIN,
                (PlainArray::new(CHURN_N), hot),
                |(a, hot), _, _, _| a.lookup(std::hint::black_box(*hot)),
            ),
            plain(
                FLOOR_ATOMIC,
                (
                    AtomicPtrArray::new((0..CHURN_N).map(|i| Arc::new(Val::new(i))).collect()),
                    hot,
                ),
                |(a, hot), _, _, _| a.with(std::hint::black_box(*hot), |v| v.id).unwrap_or(0),
            ),
        ];
        subjects.extend(per_table!(b, hot_subject));
        b.run(
            "hot-socket",
            &format!("every thread looks up the same socket ({CHURN_N} live)"),
            subjects,
        );
    }
    for pct in [100usize, 50, 10, 1] {
        let (name, what) = if pct == 100 {
            ("churn".to_owned(), format!("close+create with immediate value reuse, {CHURN_N} live, each thread on its own sockets; 1 op = close+create"))
        } else {
            (
                format!("mixed/{}:{}", 100 - pct, pct),
                format!(
                    "{}% lookups (uniform over {CHURN_N}) / {pct}% close+create",
                    100 - pct
                ),
            )
        };
        if b.wants(&name) {
            let subjects = per_table!(b, churn_subject, pct);
            b.run(&name, &what, subjects);
        }
    }
    if b.wants("latency") {
        let subjects = per_table!(b, latency_subject);
        b.run(
            "latency/90:10",
            "mixed/90:10 with every operation timed by the cycle counter; per-op p50/p99/p99.9",
            subjects,
        );
    }
    if b.wants("long-pins") {
        let subjects = per_table!(b, long_pin_subject);
        b.run(
            "long-pins",
            &format!("50% close+create / 50% long pins (Arc kept in a ring of {PINS_PER_THREAD} per thread, outliving closes); peak live values reported"),
            subjects,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Reporting.

fn get<'a>(cells: &'a [Cell], w: &str, table: &str, threads: usize) -> Option<&'a Cell> {
    cells
        .iter()
        .find(|c| c.workload == w && c.table == table && c.threads == threads)
}

fn report(b: &Bench, header: &str) -> String {
    let mut out = String::new();
    let mut csv = String::from("workload,table,threads,ops_per_s_median,ops_per_s_min,ops_per_s_max,ns_per_op_per_thread,peak_live\n");
    for c in &b.cells {
        let _ = writeln!(
            csv,
            "{},{},{},{:.0},{:.0},{:.0},{:.2},{}",
            c.workload,
            c.table,
            c.threads,
            c.m.median,
            c.m.min,
            c.m.max,
            c.m.ns_per_op(c.threads),
            c.peak_live.map_or(String::new(), |p| p.to_string())
        );
    }
    out.push_str(header);
    let tables: Vec<&'static str> = {
        let mut v: Vec<&'static str> = Vec::new();
        for c in &b.cells {
            if !v.contains(&c.table) {
                v.push(c.table);
            }
        }
        v
    };
    let peers: Vec<&'static str> = tables
        .iter()
        .copied()
        .filter(|t| !t.starts_with("floor"))
        .collect();

    for (w, what) in &b.order {
        let _ = writeln!(out, "\n### `{w}` — {what}\n");
        let has_floor = get(&b.cells, w, FLOOR_ATOMIC, b.threads[0]).is_some();
        let mut head = String::from("| table |");
        let mut rule = String::from("|---|");
        for &t in &b.threads {
            let _ = write!(head, " {t}T Mops/s | {t}T ns/op |");
            rule.push_str("---:|---:|");
            if has_floor {
                let _ = write!(head, " {t}T × AtomicPtr floor |");
                rule.push_str("---:|");
            }
            if w == "long-pins" {
                let _ = write!(head, " {t}T peak live |");
                rule.push_str("---:|");
            }
        }
        let _ = writeln!(out, "{head}\n{rule}");
        for &table in &tables {
            if get(&b.cells, w, table, b.threads[0]).is_none() {
                continue;
            }
            let mut row = format!("| {table} |");
            for &t in &b.threads {
                match get(&b.cells, w, table, t) {
                    Some(c) => {
                        let _ = write!(row, " {:.2} | {:.1} |", c.m.median / 1e6, c.m.ns_per_op(t));
                        if has_floor {
                            let floor = get(&b.cells, w, FLOOR_ATOMIC, t).unwrap();
                            let _ = write!(row, " {:.2} |", floor.m.median / c.m.median);
                        }
                        if let Some(p) = c.peak_live {
                            let _ = write!(row, " {p} |");
                        }
                    }
                    None => row.push_str(" - | - |"),
                }
            }
            let _ = writeln!(out, "{row}");
        }
        if has_floor {
            let _ = writeln!(out, "\n× AtomicPtr floor = time per op relative to the `Vec<AtomicPtr>` floor (1.00 = as fast; target ≤ 2 single-threaded).");
        }
        // Ratio matrices: throughput(row) / throughput(column).
        for &t in &b.threads {
            let _ = writeln!(out, "\n<details><summary>{w}, {t} thread(s): speed of row ÷ speed of column</summary>\n");
            let mut head = String::from("| row ÷ col |");
            let mut rule = String::from("|---|");
            for &p in &peers {
                let _ = write!(head, " {p} |");
                rule.push_str("---:|");
            }
            let _ = writeln!(out, "{head}\n{rule}");
            for &table in &tables {
                let Some(c) = get(&b.cells, w, table, t) else {
                    continue;
                };
                let mut row = format!("| {table} |");
                for &p in &peers {
                    match get(&b.cells, w, p, t) {
                        Some(pc) => {
                            let _ = write!(row, " {:.2} |", c.m.median / pc.m.median);
                        }
                        None => row.push_str(" - |"),
                    }
                }
                let _ = writeln!(out, "{row}");
            }
            let _ = writeln!(out, "\n</details>");
        }
    }

    if !b.latencies.is_empty() {
        let _ = writeln!(
            out,
            "\n#### Per-operation latency, `latency/90:10` (ns; bucket upper edges, 12.5% resolution; includes ≈{:.0} ns of timer cost; counter {:.3} ticks/ns)\n",
            b.tsc.1 / b.tsc.0,
            b.tsc.0
        );
        let _ = writeln!(out, "| table | threads | lookup p50 | lookup p99 | lookup p99.9 | close+create p50 | close+create p99 | close+create p99.9 |");
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
        let mut rows: Vec<_> = b.latencies.iter().collect();
        rows.sort_by_key(|r| r.2);
        for (_, table, t, q) in rows {
            let _ = writeln!(
                out,
                "| {table} | {t} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
                q[0], q[1], q[2], q[3], q[4], q[5]
            );
        }
    }

    // Issue 6's targets, evaluated for every table.
    let sizes: Vec<String> = b
        .order
        .iter()
        .map(|(w, _)| w.clone())
        .filter(|w| w.starts_with("lookup/"))
        .collect();
    let _ = writeln!(out, "\n### Targets (issue 6), per table\n");
    let _ = writeln!(out, "- **1T lookup ÷ floor**: worst over the lookup sizes of (ns/op ÷ `Vec<AtomicPtr>` ns/op), single thread; target ≤ 2.");
    let _ = writeln!(out, "- **vs ws2help / vs dashmap**: least speed ratio over lookup sizes and hot-socket, at every thread count; targets ≥ 5 and ≥ 3.");
    let _ = writeln!(out, "- **hot scaling**: hot-socket throughput at the most threads ÷ at 1 thread; ideal = thread count.");
    let _ = writeln!(out, "- **churn vs best peer**: least over thread counts of churn throughput ÷ the fastest other peer's; target ≥ 1.\n");
    let _ = writeln!(out, "| table | 1T lookup ÷ floor | vs ws2help (min) | vs dashmap (min) | hot scaling | churn vs best peer |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    let maxt = *b.threads.iter().max().unwrap();
    for &table in &peers {
        let floor_ratio = sizes
            .iter()
            .filter_map(|w| {
                let c = get(&b.cells, w, table, 1)?;
                let f = get(&b.cells, w, FLOOR_ATOMIC, 1)?;
                Some(f.m.median / c.m.median)
            })
            .fold(None, |acc: Option<f64>, r| {
                Some(acc.map_or(r, |a| a.max(r)))
            });
        let vs = |peer: &str| {
            let mut ws: Vec<&String> = sizes.iter().collect();
            let hot = "hot-socket".to_owned();
            ws.push(&hot);
            let mut least: Option<f64> = None;
            for w in ws {
                for &t in &b.threads {
                    if let (Some(c), Some(p)) =
                        (get(&b.cells, w, table, t), get(&b.cells, w, peer, t))
                    {
                        let r = c.m.median / p.m.median;
                        least = Some(least.map_or(r, |l: f64| l.min(r)));
                    }
                }
            }
            least
        };
        let hot = match (
            get(&b.cells, "hot-socket", table, 1),
            get(&b.cells, "hot-socket", table, maxt),
        ) {
            (Some(a), Some(z)) if maxt > 1 => Some(z.m.median / a.m.median),
            _ => None,
        };
        let churn = b
            .threads
            .iter()
            .filter_map(|&t| {
                let c = get(&b.cells, "churn", table, t)?;
                let best = peers
                    .iter()
                    .filter(|&&p| p != table)
                    .filter_map(|&p| get(&b.cells, "churn", p, t).map(|x| x.m.median))
                    .fold(0.0, f64::max);
                Some(c.m.median / best)
            })
            .fold(None, |acc: Option<f64>, r| {
                Some(acc.map_or(r, |a| a.min(r)))
            });
        let f = |v: Option<f64>| v.map_or("-".to_owned(), |x| format!("{x:.2}"));
        let _ = writeln!(
            out,
            "| {table} | {} | {} | {} | {} | {} |",
            f(floor_ratio),
            f(vs("ws2help-model")),
            f(vs("dashmap")),
            hot.map_or("-".to_owned(), |x| format!("{x:.2} (of {maxt})")),
            f(churn)
        );
    }

    // The focus table (the runtime's current one unless WSP_BENCH_FOCUS names another) against
    // the floor and every peer, one row per workload and thread count.
    let focus = std::env::var("WSP_BENCH_FOCUS").unwrap_or_else(|_| "runtime".to_owned());
    if peers.iter().any(|p| *p == focus) {
        let _ = writeln!(
            out,
            "\n### `{focus}` ÷ each peer (speed ratio; > 1 = {focus} faster)\n"
        );
        let mut head = String::from("| workload | threads | ÷ AtomicPtr floor |");
        let mut rule = String::from("|---|---:|---:|");
        for &p in peers.iter().filter(|p| **p != focus) {
            let _ = write!(head, " {p} |");
            rule.push_str("---:|");
        }
        let _ = writeln!(out, "{head}\n{rule}");
        for (w, _) in &b.order {
            for &t in &b.threads {
                let Some(c) = get(&b.cells, w, &focus, t) else {
                    continue;
                };
                let floor = get(&b.cells, w, FLOOR_ATOMIC, t).map_or("-".to_owned(), |f| {
                    format!("{:.3}", c.m.median / f.m.median)
                });
                let mut row = format!("| {w} | {t} | {floor} |");
                for &p in peers.iter().filter(|p| **p != focus) {
                    match get(&b.cells, w, p, t) {
                        Some(pc) => {
                            let _ = write!(row, " {:.2} |", c.m.median / pc.m.median);
                        }
                        None => row.push_str(" - |"),
                    }
                }
                let _ = writeln!(out, "{row}");
            }
        }
    }

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/wsp-bench");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("results.md"), &out);
    let _ = std::fs::write(dir.join("results.csv"), &csv);
    out
}

fn load_note() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let rustc = std::process::Command::new("pgrep")
        .args(["-c", "rustc"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!(
        "loadavg {} ; rustc processes running: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        if rustc.is_empty() { "0".into() } else { rustc }
    )
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing useful here.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sizes: Vec<usize> = std::env::var("WSP_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![16, 1024, 65536, 1 << 20]);
    let mut b = Bench {
        cfg: Cfg::from_env(),
        threads: thread_counts(),
        filter: std::env::var("WSP_BENCH_FILTER")
            .ok()
            .filter(|s| !s.is_empty()),
        only: std::env::var("WSP_BENCH_TABLES")
            .ok()
            .map(|s| {
                s.split(',')
                    .map(|x| x.trim().to_owned())
                    .filter(|x| !x.is_empty())
                    .collect::<Vec<_>>()
            })
            .filter(|v| !v.is_empty()),
        cells: Vec::new(),
        latencies: Vec::new(),
        tsc: lat::calibrate(),
        order: Vec::new(),
    };
    let started = Instant::now();
    let load_before = load_note();
    eprintln!(
        "wsp-bench table: threads {:?}, {} ms × {} runs per cell (+{} ms warm-up); {}",
        b.threads,
        b.cfg.run.as_millis(),
        b.cfg.runs,
        b.cfg.warmup.as_millis(),
        load_before
    );
    run_all(&mut b, &sizes);
    let header = format!(
        "## Handle tables\n\nthreads {:?}; {} ms × {} runs per cell, median (+{} ms warm-up); took {:.0} s\n\nload at start: {}\n\nload at end: {}\n",
        b.threads,
        b.cfg.run.as_millis(),
        b.cfg.runs,
        b.cfg.warmup.as_millis(),
        started.elapsed().as_secs_f64(),
        load_before,
        load_note()
    );
    let out = report(&b, &header);
    println!("{out}");
    eprintln!("written to bench/target/wsp-bench/results.md and results.csv");
}
