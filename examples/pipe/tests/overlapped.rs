//! Overlapped I/O on the pipe provider's IFS sockets, driven by the readiness its watcher
//! signals: receives and sends that cannot finish at once stay pending and complete when the
//! OS handle becomes ready, through an event or a completion routine (completion ports of IFS
//! sockets are the OS's business, see docs/overlapped.md); closing a socket completes what is
//! pending with `WSA_OPERATION_ABORTED`. The stand-in's shared scenarios for closing and
//! shutting down with operations pending run here too.

mod common;

use common::{addr, run, target, ws};
use std::sync::Mutex;
use ws2_standin::scenarios::overlapped::{
    self, forget_routine_calls, routine_calls, wsabuf, ROUTINE,
};
use ws2_standin::sys::{OVERLAPPED, SOCKET};
use ws2_standin::{Ws2, WsaError, WSA_WAIT_EVENT_0, WSA_WAIT_TIMEOUT};

/// Held by each test: `outstanding_overlapped` counts the operations of every session of the
/// provider in the process, so the tests run one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A connected (listener, client, server) triple.
fn pair(ws: &Ws2) -> (SOCKET, SOCKET, SOCKET) {
    let t = target();
    let l = ws.socket(t.af, t.ty, t.protocol).unwrap();
    ws.bind(l, &addr(b"")).unwrap();
    ws.listen(l, 4).unwrap();
    let a = ws.getsockname(l).unwrap();
    let c = ws.socket(t.af, t.ty, t.protocol).unwrap();
    ws.connect(c, &a).unwrap();
    let (s, _) = ws.accept(l).unwrap();
    (l, c, s)
}

#[test]
fn pending_receive_completes_by_event_when_data_arrives() {
    let _turn = turn();
    let ws = ws();
    let (l, c, s) = pair(&ws);
    let ev = ws.create_event().unwrap();
    let mut buf = Box::new([0u8; 32]);
    let mut ov = Box::new(OVERLAPPED::default());
    ov.hEvent = ev as _;
    let ovp: *mut OVERLAPPED = &mut *ov;
    let bufs = [wsabuf(&mut buf[..])];
    // SAFETY: `buf` and `ov` outlive the operation (it completes below).
    let r = unsafe { ws.wsa_recv(s, &bufs, 0, ovp, None) };
    assert_eq!(r, Err(WsaError::IO_PENDING));
    assert_eq!(
        ws.wait_for_multiple_events(&[ev], false, 100, false),
        Ok(WSA_WAIT_TIMEOUT),
        "completed with nothing sent"
    );
    // SAFETY: the OVERLAPPED of the pending operation above.
    let r = unsafe { ws.wsa_get_overlapped_result(s, ovp, false) };
    assert_eq!(r, Err(WsaError::IO_INCOMPLETE));
    ws.send(c, b"from the peer", 0).unwrap();
    assert_eq!(
        ws.wait_for_multiple_events(&[ev], false, 5000, false),
        Ok(WSA_WAIT_EVENT_0),
        "the receive did not complete when data arrived"
    );
    // SAFETY: as above, now complete.
    let (n, _) = unsafe { ws.wsa_get_overlapped_result(s, ovp, false) }.unwrap();
    assert_eq!(&buf[..n as usize], b"from the peer");

    // The end of the stream completes a pending receive with 0 bytes.
    ws.reset_event(ev).unwrap();
    *ov = OVERLAPPED::default();
    ov.hEvent = ev as _;
    let bufs = [wsabuf(&mut buf[..])];
    // SAFETY: as above.
    let r = unsafe { ws.wsa_recv(s, &bufs, 0, ovp, None) };
    assert_eq!(r, Err(WsaError::IO_PENDING));
    ws.closesocket(c).unwrap();
    assert_eq!(
        ws.wait_for_multiple_events(&[ev], false, 5000, false),
        Ok(WSA_WAIT_EVENT_0),
        "the receive did not complete at the end of the stream"
    );
    // SAFETY: as above.
    assert_eq!(
        unsafe { ws.wsa_get_overlapped_result(s, ovp, false) },
        Ok((0, 0))
    );
    ws.close_event(ev).unwrap();
    for x in [s, l] {
        ws.closesocket(x).unwrap();
    }
    assert_eq!(ws.outstanding_overlapped(), 0);
}

#[test]
fn pending_receive_completes_by_routine_in_an_alertable_wait() {
    let _turn = turn();
    let ws = ws();
    let (l, c, s) = pair(&ws);
    let mut buf = Box::new([0u8; 32]);
    let mut ov = Box::new(OVERLAPPED::default());
    let ovp: *mut OVERLAPPED = &mut *ov;
    let bufs = [wsabuf(&mut buf[..])];
    forget_routine_calls(ovp);
    // SAFETY: `buf` and `ov` outlive the operation (it completes below).
    let r = unsafe { ws.wsa_recv(s, &bufs, 0, ovp, ROUTINE) };
    assert_eq!(r, Err(WsaError::IO_PENDING));
    ws.sleep_ex(50, true);
    assert!(routine_calls(ovp).is_empty(), "completed with nothing sent");
    let sender = {
        let ws = ws.ws2().clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            ws.send(c, b"routine", 0).unwrap();
        })
    };
    let start = std::time::Instant::now();
    while routine_calls(ovp).is_empty() && start.elapsed().as_secs() < 5 {
        ws.sleep_ex(100, true);
    }
    sender.join().unwrap();
    assert_eq!(routine_calls(ovp), vec![(0, 7)]);
    assert_eq!(&buf[..7], b"routine");
    for x in [c, s, l] {
        ws.closesocket(x).unwrap();
    }
    assert_eq!(ws.outstanding_overlapped(), 0);
}

#[test]
fn pending_send_completes_when_the_peer_reads() {
    let _turn = turn();
    let ws = ws();
    let (l, c, s) = pair(&ws);
    let ev = ws.create_event().unwrap();
    // More than the kernel's socket buffers hold: the send stays pending until the peer reads.
    let mut data: Vec<u8> = (0..4u32 << 20).map(|i| (i % 253) as u8).collect();
    let mut ov = Box::new(OVERLAPPED::default());
    ov.hEvent = ev as _;
    let ovp: *mut OVERLAPPED = &mut *ov;
    let bufs = [wsabuf(&mut data)];
    // SAFETY: `data` and `ov` outlive the operation (it completes below).
    let r = unsafe { ws.wsa_send(c, &bufs, 0, ovp, None) };
    assert_eq!(r, Err(WsaError::IO_PENDING));
    let mut got = Vec::with_capacity(data.len());
    let mut buf = vec![0u8; 64 << 10];
    while got.len() < data.len() {
        let n = ws.recv(s, &mut buf, 0).unwrap();
        assert!(n > 0, "end of stream after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(
        ws.wait_for_multiple_events(&[ev], false, 5000, false),
        Ok(WSA_WAIT_EVENT_0)
    );
    // SAFETY: the OVERLAPPED of the completed send.
    let (n, _) = unsafe { ws.wsa_get_overlapped_result(c, ovp, false) }.unwrap();
    assert_eq!(n as usize, data.len());
    assert!(got == data, "the bytes received differ from those sent");
    ws.close_event(ev).unwrap();
    for x in [c, s, l] {
        ws.closesocket(x).unwrap();
    }
    assert_eq!(ws.outstanding_overlapped(), 0);
}

#[test]
fn close_aborts_pending_operations() {
    let _turn = turn();
    let ws = ws();
    let (l, c, s) = pair(&ws);
    let ev = ws.create_event().unwrap();
    let mut buf = Box::new([0u8; 32]);
    let mut ov = Box::new(OVERLAPPED::default());
    ov.hEvent = ev as _;
    let ovp: *mut OVERLAPPED = &mut *ov;
    let bufs = [wsabuf(&mut buf[..])];
    // SAFETY: `buf` and `ov` outlive the operation (it completes below).
    let r = unsafe { ws.wsa_recv(s, &bufs, 0, ovp, None) };
    assert_eq!(r, Err(WsaError::IO_PENDING));
    ws.closesocket(s).unwrap();
    assert_eq!(
        ws.wait_for_multiple_events(&[ev], false, 5000, false),
        Ok(WSA_WAIT_EVENT_0)
    );
    assert_eq!(ov.Internal, WsaError::OPERATION_ABORTED.code() as usize);
    ws.close_event(ev).unwrap();
    for x in [c, l] {
        ws.closesocket(x).unwrap();
    }
    // The stand-in saw the event completion (WPUSetEvent after Internal), and so does the
    // runtime's own count.
    assert_eq!(ws.outstanding_overlapped(), 0);
    assert_eq!(winsock_provider::outstanding_operations(), 0);
}

#[test]
fn scenario_close_with_pending() {
    let _turn = turn();
    let ws = ws();
    run(overlapped::close_with_pending(&ws, &target()));
}

#[test]
fn scenario_shutdown_with_pending() {
    let _turn = turn();
    let ws = ws();
    run(overlapped::shutdown_with_pending(&ws, &target()));
}
