//! Wall-clock cost of `WSPSend` through the runtime's thunk versus a direct call of the
//! provider's send function (see `wsp_bench::dispatch`). Median of `WSP_BENCH_RUNS` runs of
//! `WSP_DISPATCH_CALLS` calls each (defaults 5 and 2,000,000), after one warm-up run.
//! Instruction counts: `bench/callgrind-dispatch.sh`.

use std::hint::black_box;
use std::time::Instant;
use winsock_provider::sys::WSABUF;
use winsock_provider::Bufs;
use wsp_bench::dispatch::{direct_send, setup, thunk_send};
use wsp_bench::env_usize;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let calls = env_usize("WSP_DISPATCH_CALLS", 2_000_000) as u64;
    let runs = env_usize("WSP_BENCH_RUNS", 5).max(1);
    let st = setup();
    let mut data = [7u8; 64];
    let buf = WSABUF {
        len: data.len() as u32,
        buf: data.as_mut_ptr(),
    };
    // SAFETY: one WSABUF over a live array, valid for the whole benchmark.
    let bufs = unsafe { Bufs::from_raw(&buf, 1) }.expect("valid buffers");

    let thunk = || {
        let start = Instant::now();
        let mut total = 0u64;
        for _ in 0..calls {
            total += u64::from(thunk_send(
                black_box(st.send),
                black_box(st.socket),
                black_box(&buf),
            ));
        }
        assert_eq!(total, calls * 64);
        start.elapsed().as_nanos() as f64 / calls as f64
    };
    let direct = || {
        let start = Instant::now();
        let mut total = 0u64;
        for _ in 0..calls {
            total += u64::from(direct_send(black_box(&st.direct), black_box(&bufs)));
        }
        assert_eq!(total, calls * 64);
        start.elapsed().as_nanos() as f64 / calls as f64
    };
    thunk();
    direct();
    // Interleave the runs so that drift in machine load hits both paths alike.
    let (mut t, mut d) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        t.push(thunk());
        d.push(direct());
    }
    let (tm, dm) = (median(t.clone()), median(d.clone()));
    println!("## dispatch: WSPSend through the thunk vs the provider's send called directly");
    println!();
    println!("{calls} calls per run, {runs} runs, single thread; ns/call (median, min..max)");
    println!();
    println!("| path | ns/call | min | max |");
    println!("|---|---:|---:|---:|");
    let row = |name: &str, m: f64, v: &[f64]| {
        let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = v.iter().cloned().fold(0.0, f64::max);
        println!("| {name} | {m:.2} | {min:.2} | {max:.2} |");
    };
    row("thunk (proc_table lpWSPSend)", tm, &t);
    row("direct (inner_send)", dm, &d);
    println!();
    println!(
        "dispatch overhead: {:.2} ns/call (thunk {:.2}x direct)",
        tm - dm,
        tm / dm
    );
    st.ws.closesocket(st.socket).expect("close");
    st.ws.cleanup();
}
