//! Runs N `WSPSend`-shaped calls through one path, for instruction counting under callgrind:
//!
//! ```text
//! dispatch-count thunk|direct N
//! ```
//!
//! Both modes do the same set-up (load the provider into the stand-in, open a socket), so the
//! difference between two runs with different N is the cost of the calls alone; see
//! `bench/callgrind-dispatch.sh`.

use std::hint::black_box;
use winsock_provider::sys::{SOCKET, WSABUF};
use winsock_provider::Bufs;
use wsp_bench::dispatch::{direct_send, setup, thunk_send, BenchSocket};

#[inline(never)]
fn run_thunk(send: winsock_provider::sys::LPWSPSEND, s: SOCKET, buf: &WSABUF, n: u64) -> u64 {
    let mut total = 0u64;
    for _ in 0..n {
        total += u64::from(thunk_send(black_box(send), black_box(s), black_box(buf)));
    }
    total
}

#[inline(never)]
fn run_direct(sock: &BenchSocket, buf: &WSABUF, n: u64) -> u64 {
    // SAFETY: one WSABUF over a live array, valid for the whole loop.
    let bufs = unsafe { Bufs::from_raw(buf, 1) }.expect("valid buffers");
    let mut total = 0u64;
    for _ in 0..n {
        total += u64::from(direct_send(black_box(sock), black_box(&bufs)));
    }
    total
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: dispatch-count thunk|direct N";
    let mode = args.get(1).expect(usage).as_str();
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).expect(usage);
    let st = setup();
    let mut data = [7u8; 64];
    let buf = WSABUF {
        len: data.len() as u32,
        buf: data.as_mut_ptr(),
    };
    let total = match mode {
        "thunk" => run_thunk(st.send, st.socket, &buf, n),
        "direct" => run_direct(&st.direct, &buf, n),
        _ => panic!("{usage}"),
    };
    assert_eq!(total, n * 64, "every call sent 64 bytes");
    st.ws.closesocket(st.socket).expect("close");
    st.ws.cleanup();
    println!("{mode}: {n} calls, {total} bytes");
}
