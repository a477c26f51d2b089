//! The runtime's notification models on the loopback provider, through the raw SPI: overlapped
//! requests (event, completion routine, `WSPGetOverlappedResult`), `WSPSelect`,
//! `WSPEventSelect`/`WSPEnumNetworkEvents` and `WSPAsyncSelect`, all driven by the provider's
//! readiness signals.

mod common;

use common::session;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use winsock_provider::sys::*;
use ws2_standin::{check_bool, check_int, SockAddr, Ws2, WsaError, WSA_WAIT_EVENT_0};

fn local() -> SockAddr {
    SockAddr::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
}

/// A connected TCP pair: (listener, client, server end).
fn tcp_pair(ws: &Ws2) -> (SOCKET, SOCKET, SOCKET) {
    let l = ws.socket(2, 1, 6).unwrap();
    ws.bind(l, &local()).unwrap();
    ws.listen(l, 8).unwrap();
    let c = ws.socket(2, 1, 6).unwrap();
    ws.connect(c, &ws.getsockname(l).unwrap()).unwrap();
    let (s, _) = ws.accept(l).unwrap();
    (l, c, s)
}

fn table(ws: &Ws2, s: SOCKET) -> WSPPROC_TABLE {
    ws.spi_for(s).unwrap().table
}

/// Raw `WSPRecv` of one buffer.
///
/// # Safety
/// `buf` and `*ov` must stay valid until the request completes.
unsafe fn wsp_recv(
    ws: &Ws2,
    s: SOCKET,
    buf: &mut [u8],
    ov: *mut OVERLAPPED,
    routine: LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    thread: *const WSATHREADID,
) -> Result<u32, WsaError> {
    let wsabuf = WSABUF {
        len: buf.len() as u32,
        buf: buf.as_mut_ptr(),
    };
    let mut got = 0u32;
    let mut flags = 0u32;
    let recv = table(ws, s).lpWSPRecv.unwrap();
    check_int("WSPRecv", |errno| {
        recv(
            s, &wsabuf, 1, &mut got, &mut flags, ov, routine, thread, errno,
        )
    })?;
    Ok(got)
}

/// Raw `WSPSend` of one buffer.
///
/// # Safety
/// As [`wsp_recv`].
unsafe fn wsp_send(ws: &Ws2, s: SOCKET, buf: &[u8], ov: *mut OVERLAPPED) -> Result<u32, WsaError> {
    let wsabuf = WSABUF {
        len: buf.len() as u32,
        buf: buf.as_ptr() as *mut u8,
    };
    let mut sent = 0u32;
    let send = table(ws, s).lpWSPSend.unwrap();
    check_int("WSPSend", |errno| {
        send(
            s,
            &wsabuf,
            1,
            &mut sent,
            0,
            ov,
            None,
            core::ptr::null(),
            errno,
        )
    })?;
    Ok(sent)
}

/// Raw `WSPGetOverlappedResult`: (bytes, flags).
fn result(ws: &Ws2, s: SOCKET, ov: &OVERLAPPED, wait: bool) -> Result<(u32, u32), WsaError> {
    let get = table(ws, s).lpWSPGetOverlappedResult.unwrap();
    let (mut n, mut flags) = (0u32, 0u32);
    // SAFETY: `ov` is a live OVERLAPPED of a request started on `s`.
    check_bool("WSPGetOverlappedResult", |errno| unsafe {
        get(s, ov, &mut n, wait as BOOL, &mut flags, errno)
    })?;
    Ok((n, flags))
}

#[test]
fn overlapped_receive_waits_then_completes_through_its_event() {
    let ws = session();
    let (l, c, s) = tcp_pair(&ws);
    let event = ws.create_event().unwrap();
    let mut ov = OVERLAPPED {
        hEvent: event as HANDLE,
        ..OVERLAPPED::default()
    };
    let mut buf = [0u8; 16];
    // SAFETY: `buf` and `ov` outlive the request (waited for below).
    let r = unsafe { wsp_recv(&ws, s, &mut buf, &mut ov, None, core::ptr::null()) };
    assert_eq!(r, Err(WsaError::IO_PENDING));
    assert_eq!(ov.Internal, 0x103);
    assert_eq!(result(&ws, s, &ov, false), Err(WsaError::IO_INCOMPLETE));
    assert_eq!(
        ws.wait_for_multiple_events(&[event], false, 0, false),
        Ok(ws2_standin::WSA_WAIT_TIMEOUT)
    );
    ws.send(c, b"hello", 0).unwrap();
    assert_eq!(
        ws.wait_for_multiple_events(&[event], false, 5000, false),
        Ok(WSA_WAIT_EVENT_0)
    );
    assert_eq!(result(&ws, s, &ov, false), Ok((5, 0)));
    assert_eq!(&buf[..5], b"hello");

    // Data already there: completes at once, and the event is still signalled.
    ws.reset_event(event).unwrap();
    ws.send(c, b"again", 0).unwrap();
    // SAFETY: as above.
    let r = unsafe { wsp_recv(&ws, s, &mut buf, &mut ov, None, core::ptr::null()) };
    assert_eq!(r, Ok(5));
    assert_eq!(
        ws.wait_for_multiple_events(&[event], false, 5000, false),
        Ok(WSA_WAIT_EVENT_0)
    );
    assert_eq!(result(&ws, s, &ov, true), Ok((5, 0)));
    ws.close_event(event).unwrap();
    for h in [c, s, l] {
        ws.closesocket(h).unwrap();
    }
    ws.cleanup();
}

#[test]
fn overlapped_send_completes_when_the_reader_makes_room() {
    let ws = session();
    let (l, c, s) = tcp_pair(&ws);
    ws.setsockopt_int(s, SOL_SOCKET, SO_RCVBUF, 1000).unwrap();
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let mut ov = OVERLAPPED::default();
    // SAFETY: `data` and `ov` outlive the request (waited for below).
    let r = unsafe { wsp_send(&ws, c, &data, &mut ov) };
    assert_eq!(
        r,
        Err(WsaError::IO_PENDING),
        "5000 bytes do not fit in 1000"
    );
    let reader = {
        let ws = ws.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 300];
            while got.len() < 5000 {
                let n = ws.recv(s, &mut buf, 0).unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            got
        })
    };
    // The whole send completes (an overlapped stream send is never partial).
    assert_eq!(result(&ws, c, &ov, true), Ok((5000, 0)));
    assert!(reader.join().unwrap() == data);
    for h in [c, s, l] {
        ws.closesocket(h).unwrap();
    }
    ws.cleanup();
}

static ROUTINE_CALLS: AtomicU32 = AtomicU32::new(0);
static ROUTINE_BYTES: AtomicU32 = AtomicU32::new(0);

unsafe extern "system" fn routine(error: u32, bytes: u32, _ov: *mut OVERLAPPED, _flags: u32) {
    assert_eq!(error, 0);
    ROUTINE_CALLS.fetch_add(1, Ordering::SeqCst);
    ROUTINE_BYTES.fetch_add(bytes, Ordering::SeqCst);
}

#[test]
fn completion_routines_run_in_the_requesting_threads_alertable_wait() {
    let ws = session();
    let (l, c, s) = tcp_pair(&ws);
    let thread = ws.current_thread_id();
    let mut ov = OVERLAPPED::default();
    let mut buf = [0u8; 8];
    // SAFETY: `buf`, `ov` and `thread` outlive the request (its routine runs below).
    let r = unsafe { wsp_recv(&ws, s, &mut buf, &mut ov, Some(routine), &thread) };
    assert_eq!(r, Err(WsaError::IO_PENDING));
    ws.send(c, b"abc", 0).unwrap();
    // Not before an alertable wait on this thread...
    assert_eq!(ROUTINE_CALLS.load(Ordering::SeqCst), 0);
    let deadline = Instant::now() + Duration::from_secs(5);
    while ROUTINE_CALLS.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        ws.sleep_ex(50, true);
    }
    assert_eq!(ROUTINE_CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(ROUTINE_BYTES.load(Ordering::SeqCst), 3);
    assert_eq!(&buf[..3], b"abc");
    for h in [c, s, l] {
        ws.closesocket(h).unwrap();
    }
    ws.cleanup();
}

#[test]
fn closing_aborts_pending_requests_once() {
    let ws = session();
    let (l, c, s) = tcp_pair(&ws);
    let events: Vec<WSAEVENT> = (0..3).map(|_| ws.create_event().unwrap()).collect();
    let mut ovs: Vec<Box<OVERLAPPED>> = events
        .iter()
        .map(|e| {
            Box::new(OVERLAPPED {
                hEvent: *e as HANDLE,
                ..OVERLAPPED::default()
            })
        })
        .collect();
    let mut bufs = [[0u8; 4]; 3];
    for (ov, buf) in ovs.iter_mut().zip(bufs.iter_mut()) {
        // SAFETY: buffers and OVERLAPPEDs outlive the requests (aborted below).
        let r = unsafe { wsp_recv(&ws, s, buf, &mut **ov, None, core::ptr::null()) };
        assert_eq!(r, Err(WsaError::IO_PENDING));
    }
    ws.closesocket(s).unwrap();
    assert_eq!(
        ws.wait_for_multiple_events(&events, true, 5000, false),
        Ok(WSA_WAIT_EVENT_0)
    );
    for ov in &ovs {
        assert_ne!(ov.Internal, 0x103);
        // SAFETY: reading the union's plain fields.
        let status = unsafe { ov.Anonymous.Anonymous.OffsetHigh };
        assert_eq!(status as i32, WsaError::OPERATION_ABORTED.code());
    }
    for e in events {
        ws.close_event(e).unwrap();
    }
    ws.closesocket(c).unwrap();
    ws.closesocket(l).unwrap();
    ws.cleanup();
}

/// Raw `WSPSelect`; returns the count and the three sets' contents.
fn select(
    ws: &Ws2,
    any: SOCKET,
    read: &[SOCKET],
    write: &[SOCKET],
    except: &[SOCKET],
    timeout: Option<Duration>,
) -> (i32, [Vec<SOCKET>; 3]) {
    let make = |hs: &[SOCKET]| {
        let mut set = FD_SET::default();
        set.fd_array[..hs.len()].copy_from_slice(hs);
        set.fd_count = hs.len() as u32;
        set
    };
    let (mut r, mut w, mut e) = (make(read), make(write), make(except));
    let tv = timeout.map(|t| TIMEVAL {
        tv_sec: t.as_secs() as i32,
        tv_usec: t.subsec_micros() as i32,
    });
    let tv_ptr = tv
        .as_ref()
        .map_or(core::ptr::null(), |t| t as *const TIMEVAL);
    let sel = table(ws, any).lpWSPSelect.unwrap();
    let n = check_int("WSPSelect", |errno| unsafe {
        // SAFETY: three live FD_SETs and an optional live TIMEVAL.
        sel(0, &mut r, &mut w, &mut e, tv_ptr, errno)
    })
    .unwrap();
    let out = |s: &FD_SET| s.fd_array[..s.fd_count as usize].to_vec();
    (n, [out(&r), out(&w), out(&e)])
}

#[test]
fn select_reports_readiness_and_waits_for_it() {
    let ws = session();
    let l = ws.socket(2, 1, 6).unwrap();
    ws.bind(l, &local()).unwrap();
    ws.listen(l, 8).unwrap();
    let c = ws.socket(2, 1, 6).unwrap();
    // Nothing ready: a zero timeout returns 0 at once, a short one after waiting.
    let (n, sets) = select(&ws, l, &[l], &[], &[], Some(Duration::ZERO));
    assert_eq!((n, sets[0].len()), (0, 0));
    let start = Instant::now();
    let (n, _) = select(&ws, l, &[l], &[], &[], Some(Duration::from_millis(50)));
    assert_eq!(n, 0);
    assert!(start.elapsed() >= Duration::from_millis(45));
    // A pending connection makes the listener readable; a connected socket is writable.
    ws.connect(c, &ws.getsockname(l).unwrap()).unwrap();
    let (n, sets) = select(&ws, l, &[l], &[c], &[c], None);
    assert_eq!(n, 2);
    assert_eq!(sets, [vec![l], vec![c], vec![]]);
    let (s, _) = ws.accept(l).unwrap();
    // A select waiting forever is woken by data sent from another thread.
    let sender = {
        let ws = ws.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            ws.send(c, b"x", 0).unwrap();
        })
    };
    let (n, sets) = select(&ws, s, &[s, l], &[], &[], None);
    sender.join().unwrap();
    assert_eq!((n, &sets[0]), (1, &vec![s]));
    // End of stream is readable too.
    ws.recv(s, &mut [0u8; 4], 0).unwrap();
    ws.shutdown(c, SD_SEND).unwrap();
    let (n, sets) = select(&ws, s, &[s], &[], &[], Some(Duration::from_secs(5)));
    assert_eq!((n, &sets[0]), (1, &vec![s]));
    // A handle that is not this provider's socket.
    let sel = table(&ws, s).lpWSPSelect.unwrap();
    let mut bad = FD_SET {
        fd_count: 1,
        ..FD_SET::default()
    };
    bad.fd_array[0] = ws.reserve_unrelated_handle();
    let r = check_int("WSPSelect", |errno| unsafe {
        // SAFETY: a live FD_SET; the other sets are absent.
        sel(
            0,
            &mut bad,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            core::ptr::null(),
            errno,
        )
    });
    assert_eq!(r, Err(WsaError::NOTSOCK));
    ws.release_unrelated_handle(bad.fd_array[0]);
    for h in [c, s, l] {
        ws.closesocket(h).unwrap();
    }
    ws.cleanup();
}

fn enum_events(ws: &Ws2, s: SOCKET, event: WSAEVENT) -> WSANETWORKEVENTS {
    let f = table(ws, s).lpWSPEnumNetworkEvents.unwrap();
    let mut out = WSANETWORKEVENTS::default();
    // SAFETY: a live WSANETWORKEVENTS.
    check_int("WSPEnumNetworkEvents", |errno| unsafe {
        f(s, event as HANDLE, &mut out, errno)
    })
    .unwrap();
    out
}

fn event_select(ws: &Ws2, s: SOCKET, event: WSAEVENT, mask: u32) {
    let f = table(ws, s).lpWSPEventSelect.unwrap();
    // SAFETY: plain values.
    check_int("WSPEventSelect", |errno| unsafe {
        f(s, event, mask as i32, errno)
    })
    .unwrap();
}

#[test]
fn event_select_records_events_by_the_re_enabling_rules() {
    let ws = session();
    let l = ws.socket(2, 1, 6).unwrap();
    ws.bind(l, &local()).unwrap();
    ws.listen(l, 8).unwrap();
    let le = ws.create_event().unwrap();
    event_select(&ws, l, le, FD_ACCEPT);
    let c = ws.socket(2, 1, 6).unwrap();
    ws.connect(c, &ws.getsockname(l).unwrap()).unwrap();
    assert_eq!(
        ws.wait_for_multiple_events(&[le], false, 5000, false),
        Ok(WSA_WAIT_EVENT_0)
    );
    assert_eq!(enum_events(&ws, l, le).lNetworkEvents, FD_ACCEPT as i32);
    let (s, _) = ws.accept(l).unwrap();

    let e = ws.create_event().unwrap();
    event_select(&ws, s, e, FD_READ | FD_WRITE | FD_CLOSE);
    // Writable at once; nothing else yet.
    assert_eq!(enum_events(&ws, s, e).lNetworkEvents, FD_WRITE as i32);
    assert_eq!(
        ws.wait_for_multiple_events(&[e], false, 0, false),
        Ok(ws2_standin::WSA_WAIT_TIMEOUT)
    );
    ws.send(c, b"0123456789", 0).unwrap();
    assert_eq!(
        ws.wait_for_multiple_events(&[e], false, 5000, false),
        Ok(WSA_WAIT_EVENT_0)
    );
    assert_eq!(enum_events(&ws, s, e).lNetworkEvents, FD_READ as i32);
    // No new FD_READ until a receive re-enables it...
    ws.send(c, b"more", 0).unwrap();
    assert_eq!(enum_events(&ws, s, e).lNetworkEvents, 0);
    // ... and a receive that leaves data behind records it again.
    ws.recv(s, &mut [0u8; 4], 0).unwrap();
    assert_eq!(enum_events(&ws, s, e).lNetworkEvents, FD_READ as i32);
    // The socket is non-blocking now, and FIONBIO cannot turn that off.
    let mut off = 0u32;
    assert_eq!(ws.ioctlsocket(s, FIONBIO, &mut off), Err(WsaError::INVAL));
    // A graceful close: FD_CLOSE with no error.
    ws.closesocket(c).unwrap();
    assert_eq!(
        ws.wait_for_multiple_events(&[e], false, 5000, false),
        Ok(WSA_WAIT_EVENT_0)
    );
    let got = enum_events(&ws, s, e);
    assert_ne!(got.lNetworkEvents & FD_CLOSE as i32, 0);
    for ev in [e, le] {
        ws.close_event(ev).unwrap();
    }
    ws.closesocket(s).unwrap();
    ws.closesocket(l).unwrap();
    ws.cleanup();
}

#[test]
fn async_select_posts_messages_in_order() {
    let ws = session();
    let (l, c, s) = tcp_pair(&ws);
    let w = ws.create_window();
    let f = table(&ws, s).lpWSPAsyncSelect.unwrap();
    // SAFETY: plain values.
    check_int("WSPAsyncSelect", |errno| unsafe {
        f(
            s,
            w.hwnd(),
            0x400,
            (FD_READ | FD_WRITE | FD_CLOSE) as i32,
            errno,
        )
    })
    .unwrap();
    ws.send(c, b"hi", 0).unwrap();
    ws.closesocket(c).unwrap();
    let mut seen = Vec::new();
    while let Some(m) = ws.get_message(w, Some(Duration::from_millis(500))).unwrap() {
        assert_eq!((m.msg, m.wparam), (0x400, s));
        seen.push((m.select_event(), m.select_error()));
        if m.select_event() == FD_CLOSE {
            break;
        }
    }
    assert_eq!(seen, vec![(FD_WRITE, 0), (FD_READ, 0), (FD_CLOSE, 0)]);
    ws.destroy_window(w).unwrap();
    ws.closesocket(s).unwrap();
    ws.closesocket(l).unwrap();
    ws.cleanup();
}

#[test]
fn overlapped_datagram_receive_gets_the_sender() {
    let ws = session();
    let r = ws.socket(2, 2, 17).unwrap();
    ws.bind(r, &local()).unwrap();
    let to = ws.getsockname(r).unwrap();
    let t = ws.socket(2, 2, 17).unwrap();
    let mut ov = OVERLAPPED::default();
    let mut buf = [0u8; 32];
    let wsabuf = WSABUF {
        len: 32,
        buf: buf.as_mut_ptr(),
    };
    let mut from = [0u8; 16];
    let mut fromlen = 16i32;
    let (mut got, mut flags) = (0u32, 0u32);
    let f = table(&ws, r).lpWSPRecvFrom.unwrap();
    // SAFETY: the buffers, address and OVERLAPPED outlive the request (waited for below).
    let res = check_int("WSPRecvFrom", |errno| unsafe {
        f(
            r,
            &wsabuf,
            1,
            &mut got,
            &mut flags,
            from.as_mut_ptr().cast(),
            &mut fromlen,
            &mut ov,
            None,
            core::ptr::null(),
            errno,
        )
    });
    assert_eq!(res, Err(WsaError::IO_PENDING));
    ws.sendto(t, b"datagram", 0, &to).unwrap();
    assert_eq!(result(&ws, r, &ov, true), Ok((8, 0)));
    assert_eq!(&buf[..8], b"datagram");
    // SAFETY: 16 bytes of sockaddr_in written by the completion.
    let sender = unsafe { SockAddr::from_raw(from.as_ptr().cast(), fromlen) }.unwrap();
    // The sender was bound to the wildcard: it sends from 127.0.0.1.
    let port = match ws.getsockname(t).unwrap().inet().unwrap() {
        std::net::SocketAddr::V4(a) => a.port(),
        other => panic!("not IPv4: {}", other),
    };
    assert_eq!(
        sender,
        SockAddr::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
    );
    ws.closesocket(t).unwrap();
    ws.closesocket(r).unwrap();
    ws.cleanup();
}

#[test]
fn connecting_records_fd_connect_then_fd_write() {
    let ws = session();
    let l = ws.socket(2, 1, 6).unwrap();
    ws.bind(l, &local()).unwrap();
    ws.listen(l, 8).unwrap();
    let c = ws.socket(2, 1, 6).unwrap();
    let w = ws.create_window();
    let f = table(&ws, c).lpWSPAsyncSelect.unwrap();
    // SAFETY: plain values.
    check_int("WSPAsyncSelect", |errno| unsafe {
        f(c, w.hwnd(), 0x401, (FD_CONNECT | FD_WRITE) as i32, errno)
    })
    .unwrap();
    // Not connected: nothing yet.
    assert_eq!(
        ws.get_message(w, Some(Duration::from_millis(20))).unwrap(),
        None
    );
    // The socket is non-blocking now; the loopback connect completes at once anyway.
    ws.connect(c, &ws.getsockname(l).unwrap()).unwrap();
    let mut seen = Vec::new();
    while let Some(m) = ws.get_message(w, Some(Duration::from_millis(200))).unwrap() {
        seen.push((m.select_event(), m.select_error()));
    }
    assert_eq!(seen, vec![(FD_CONNECT, 0), (FD_WRITE, 0)]);
    ws.destroy_window(w).unwrap();
    ws.closesocket(c).unwrap();
    ws.closesocket(l).unwrap();
    ws.cleanup();
}

#[test]
fn overlapped_wait_all_receive_completes_when_full() {
    let ws = session();
    let (l, c, s) = tcp_pair(&ws);
    let mut ov = OVERLAPPED::default();
    let mut buf = [0u8; 10];
    let wsabuf = WSABUF {
        len: 10,
        buf: buf.as_mut_ptr(),
    };
    let (mut got, mut flags) = (0u32, MSG_WAITALL as u32);
    let recv = table(&ws, s).lpWSPRecv.unwrap();
    // SAFETY: `buf` and `ov` outlive the request (waited for below).
    let r = check_int("WSPRecv", |errno| unsafe {
        recv(
            s,
            &wsabuf,
            1,
            &mut got,
            &mut flags,
            &mut ov,
            None,
            core::ptr::null(),
            errno,
        )
    });
    assert_eq!(r, Err(WsaError::IO_PENDING));
    ws.send(c, b"0123", 0).unwrap();
    ws.send(c, b"4567", 0).unwrap();
    assert_eq!(result(&ws, s, &ov, false), Err(WsaError::IO_INCOMPLETE));
    ws.send(c, b"89ab", 0).unwrap();
    assert_eq!(result(&ws, s, &ov, true).map(|r| r.0), Ok(10));
    assert_eq!(&buf, b"0123456789");
    for h in [c, s, l] {
        ws.closesocket(h).unwrap();
    }
    ws.cleanup();
}
