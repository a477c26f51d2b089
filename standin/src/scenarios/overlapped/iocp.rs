//! An IOCP echo server: overlapped `AcceptEx`, `WSARecv` and `WSASend`, worker threads on one
//! completion port.

use super::*;

/// One operation of an echo connection; `ov` first, so a packet's `OVERLAPPED` pointer is the
/// operation's address.
#[repr(C)]
struct Op {
    ov: OVERLAPPED,
    conn: usize,
}

enum Stage {
    Accepting,
    Receiving,
    Sending { from: usize, to: usize },
    Closed,
}

struct Conn {
    socket: SOCKET,
    /// The single operation in flight (boxed: its address must not move while pending).
    op: Box<Op>,
    buf: Vec<u8>,
    accept_buf: Vec<u8>,
    stage: Stage,
}

// SAFETY: the raw pointers inside (`OVERLAPPED.hEvent`, the union) are null; the connection
// is only touched under its Mutex, one operation at a time.
unsafe impl Send for Conn {}

struct Server<'a> {
    ws: &'a Ws2,
    port: CompletionPort,
    listener: SOCKET,
    conns: Vec<Mutex<Conn>>,
    closed: AtomicUsize,
    workers: usize,
}

impl Server<'_> {
    /// Starts the next operation of `conn` (its stage already set); completions arrive on the
    /// port whether the call finished at once or is pending.
    fn post(&self, idx: usize, conn: &mut Conn) -> Result<(), String> {
        const S: &str = "overlapped::iocp_echo (server)";
        conn.op.ov = OVERLAPPED::default();
        let ov: *mut OVERLAPPED = &mut conn.op.ov;
        let r = match conn.stage {
            // SAFETY: the buffers and the OVERLAPPED live in `conn`, which outlives the
            // operation (the scenario drains every completion before dropping it).
            Stage::Accepting => unsafe {
                self.ws
                    .accept_ex(
                        self.listener,
                        conn.socket,
                        &mut conn.accept_buf,
                        0,
                        ADDR_SLOT,
                        ov,
                    )
                    .map(drop)
            },
            // SAFETY: as above.
            Stage::Receiving => unsafe {
                let b = [wsabuf(&mut conn.buf)];
                self.ws.wsa_recv(conn.socket, &b, 0, ov, None).map(drop)
            },
            // SAFETY: as above.
            Stage::Sending { from, to } => unsafe {
                let b = [wsabuf(&mut conn.buf[from..to])];
                self.ws.wsa_send(conn.socket, &b, 0, ov, None).map(drop)
            },
            Stage::Closed => return Ok(()),
        };
        match r {
            Ok(()) => Ok(()),
            Err(e) if e == WsaError::IO_PENDING => Ok(()),
            Err(e) => Err(format!(
                "{}: connection {}: starting the next operation failed with {}",
                S, idx, e
            )),
        }
    }

    fn stop(&self) {
        for _ in 0..self.workers {
            let _ = self.ws.post_queued_completion_status(
                self.port,
                0,
                QUIT_KEY,
                core::ptr::null_mut(),
            );
        }
    }

    /// A worker thread: on failure the other workers are stopped too.
    fn worker(&self) -> Result<(), String> {
        let r = self.work();
        if r.is_err() {
            self.stop();
        }
        r
    }

    fn work(&self) -> Result<(), String> {
        const S: &str = "overlapped::iocp_echo (worker)";
        loop {
            let c = self
                .ws
                .get_queued_completion_status(self.port, STUCK_MS)
                .at(S, "GetQueuedCompletionStatus")?
                .ok_or_else(|| format!("{}: no completion for {} ms", S, STUCK_MS))?;
            if c.key == QUIT_KEY {
                return Ok(());
            }
            let op = c.overlapped as *const Op;
            ensure(!op.is_null(), S, "a packet without an OVERLAPPED")?;
            // SAFETY: every OVERLAPPED this server posts is the first field of an `Op` that
            // lives as long as the server.
            let idx = unsafe { (*op).conn };
            let mut conn = self.conns[idx].lock().unwrap_or_else(|e| e.into_inner());
            let conn = &mut *conn;
            let expected_key = match conn.stage {
                Stage::Accepting => LISTENER_KEY,
                _ => idx,
            };
            ensure(
                c.key == expected_key,
                S,
                format_args!(
                    "connection {}: completion key {} (expected {})",
                    idx, c.key, expected_key
                ),
            )?;
            if c.error != 0 {
                return Err(format!(
                    "{}: connection {}: operation completed with error {}",
                    S,
                    idx,
                    WsaError::from_code(c.error as i32)
                ));
            }
            ensure(
                internal(&conn.op.ov) != WSS_OPERATION_IN_PROGRESS,
                S,
                "a completed operation's Internal is still WSS_OPERATION_IN_PROGRESS",
            )?;
            match conn.stage {
                Stage::Accepting => {
                    let (_, remote) = self
                        .ws
                        .get_accept_ex_sockaddrs(self.listener, &conn.accept_buf, 0, ADDR_SLOT)
                        .at(S, "GetAcceptExSockaddrs")?;
                    let peer = self
                        .ws
                        .getpeername(conn.socket)
                        .at(S, "getpeername (accepted)")?;
                    ensure(
                        peer == remote,
                        S,
                        format_args!(
                            "AcceptEx reported peer {:?}, getpeername {:?}",
                            remote, peer
                        ),
                    )?;
                    self.ws
                        .create_io_completion_port(Some(self.port), Some(conn.socket), idx)
                        .at(S, "CreateIoCompletionPort (accepted socket)")?;
                    conn.stage = Stage::Receiving;
                }
                Stage::Receiving if c.bytes == 0 => {
                    self.ws
                        .closesocket(conn.socket)
                        .at(S, "closesocket (echoed connection)")?;
                    conn.stage = Stage::Closed;
                    if self.closed.fetch_add(1, Ordering::SeqCst) + 1 == self.conns.len() {
                        self.stop();
                    }
                }
                Stage::Receiving => {
                    conn.stage = Stage::Sending {
                        from: 0,
                        to: c.bytes as usize,
                    }
                }
                Stage::Sending { from, to } => {
                    let from = from + c.bytes as usize;
                    ensure(c.bytes > 0, S, "a send completed with 0 bytes")?;
                    conn.stage = if from < to {
                        Stage::Sending { from, to }
                    } else {
                        Stage::Receiving
                    };
                }
                Stage::Closed => {
                    return Err(format!("{}: connection {}: a packet after close", S, idx))
                }
            }
            self.post(idx, conn)?;
        }
    }
}

/// An IOCP echo server: `workers` threads on one completion port, a listener with one
/// overlapped `AcceptEx` per client on pre-created sockets, then per connection an overlapped
/// `WSARecv` → `WSASend` loop (one operation in flight). `clients` blocking clients each send
/// `bytes_each` bytes of their own pseudo-random stream and check every byte of the echo.
/// Afterwards every socket is closed, no operation is outstanding and the live handles are
/// back where they started.
pub fn iocp_echo(
    ws: &Ws2,
    t: &Target,
    workers: usize,
    clients: usize,
    bytes_each: usize,
) -> Result<(), String> {
    const S: &str = "overlapped::iocp_echo";
    let baseline = Baseline::take(ws);
    let mut open = Open::new(ws);
    let (l, addr) = listener(ws, &mut open, t, 0, SOMAXCONN_WS2, S)?;
    let port = ws
        .create_io_completion_port(None, Some(l), LISTENER_KEY)
        .at(S, "CreateIoCompletionPort (listener)")?;
    let mut conns = Vec::with_capacity(clients);
    for i in 0..clients {
        let s = open.socket(t, S, "accept socket")?;
        conns.push(Mutex::new(Conn {
            socket: s,
            op: Box::new(Op {
                ov: OVERLAPPED::default(),
                conn: i,
            }),
            buf: vec![0u8; 64 * 1024],
            accept_buf: vec![0u8; 2 * ADDR_SLOT as usize],
            stage: Stage::Accepting,
        }));
    }
    let server = Server {
        ws,
        port,
        listener: l,
        conns,
        closed: AtomicUsize::new(0),
        workers,
    };
    let mut problems = Vec::new();
    for (i, c) in server.conns.iter().enumerate() {
        let mut c = c.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = server.post(i, &mut c) {
            problems.push(e);
            break;
        }
    }
    let connected = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..workers)
            .map(|_| scope.spawn(|| server.worker()))
            .collect();
        let client_threads: Vec<_> = (0..clients)
            .map(|id| {
                let (addr, connected) = (&addr, &connected);
                scope.spawn(move || echo_client(ws, t, addr, id, bytes_each, connected))
            })
            .collect();
        for w in threads {
            match w.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => problems.push(e),
                Err(_) => problems.push(format!("{}: a worker panicked", S)),
            }
        }
        if !problems.is_empty() {
            // Reset the connections the server never accepted, and close the others.
            let _ = ws.closesocket(l);
            for c in &server.conns {
                let mut c = c.lock().unwrap_or_else(|e| e.into_inner());
                if !matches!(c.stage, Stage::Closed) {
                    let _ = ws.closesocket(c.socket);
                    c.stage = Stage::Closed;
                }
            }
        }
        for (id, c) in client_threads.into_iter().enumerate() {
            match c.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => problems.push(e),
                Err(_) => problems.push(format!("{}: client {} panicked", S, id)),
            }
        }
    });
    for c in &server.conns {
        let c = c.lock().unwrap_or_else(|e| e.into_inner());
        open.forget(c.socket);
    }
    if let Some(first) = problems.first() {
        let _ = ws.closesocket(l);
        open.forget(l);
        let _ = ws.close_completion_port(port);
        return Err(if problems.len() > 1 {
            format!("{} (and {} more failures)", first, problems.len() - 1)
        } else {
            first.clone()
        });
    }
    open.close_all(S)?;
    // Everything completed: nothing more may arrive.
    let stray = ws
        .get_queued_completion_status(port, 0)
        .at(S, "GetQueuedCompletionStatus after the run")?;
    ensure(
        stray.is_none(),
        S,
        format_args!(
            "a stray completion after every connection closed: {:?}",
            stray
        ),
    )?;
    ws.close_completion_port(port).at(S, "CloseHandle (port)")?;
    ensure(
        ws.outstanding_overlapped() == 0,
        S,
        format_args!(
            "{} overlapped operations never completed",
            ws.outstanding_overlapped()
        ),
    )?;
    baseline.check(ws, S)
}
