//! `select` driving an echo exchange.

use super::*;

/// An echo server on one thread driven by `select` with time-outs over non-blocking sockets:
/// the listener and every connection that may take more input in the read set, every
/// connection with output queued in the write set. `clients` (at most 63) blocking clients
/// check every byte.
pub fn select_echo(ws: &Ws2, t: &Target, clients: usize, bytes_each: usize) -> Result<(), String> {
    const S: &str = "notify::select_echo";
    let baseline = Baseline::take(ws);
    let mut open = Open::new(ws);
    let (l, addr) = listener(ws, &mut open, t, 0, SOMAXCONN_WS2, S)?;
    set_nonblocking(ws, l, true).at(S, "FIONBIO (listener)")?;
    let server = || -> Result<(), String> {
        let mut conns: Vec<Echo> = Vec::new();
        let mut done = 0;
        let mut idle = Duration::ZERO;
        let mut buf = vec![0u8; 64 * 1024];
        let result = (|| {
            while done < clients {
                let mut read: Vec<SOCKET> = Some(l)
                    .into_iter()
                    .chain(
                        conns
                            .iter()
                            .filter(|c| c.out.len() < 256 * 1024)
                            .map(|c| c.s),
                    )
                    .collect();
                let mut write: Vec<SOCKET> = conns
                    .iter()
                    .filter(|c| !c.out.is_empty())
                    .map(|c| c.s)
                    .collect();
                let mut except = Vec::new();
                let step = Duration::from_millis(500);
                let n = ws
                    .select(&mut read, &mut write, &mut except, Some(step))
                    .at(S, "select")?;
                if n == 0 {
                    idle += step;
                    ensure(
                        idle < Duration::from_millis(u64::from(STUCK_MS)),
                        S,
                        format_args!("select found nothing ready for {:?}", idle),
                    )?;
                    continue;
                }
                idle = Duration::ZERO;
                if read.contains(&l) {
                    loop {
                        match ws.accept(l) {
                            Ok((s, _)) => {
                                conns.push(Echo {
                                    s,
                                    event: 0,
                                    out: Vec::new(),
                                    eof: false,
                                });
                                set_nonblocking(ws, s, true).at(S, "FIONBIO (connection)")?;
                            }
                            Err(e) if e == WsaError::WOULDBLOCK => break,
                            Err(e) => return Err(format!("{}: accept: failed with {}", S, e)),
                        }
                    }
                }
                let mut i = 0;
                while i < conns.len() {
                    let s = conns[i].s;
                    if (read.contains(&s) || write.contains(&s))
                        && pump(ws, &mut conns[i], &mut buf, S)?
                    {
                        let c = conns.swap_remove(i);
                        ws.closesocket(c.s).at(S, "closesocket (connection)")?;
                        done += 1;
                        continue;
                    }
                    i += 1;
                }
            }
            Ok(())
        })();
        for c in conns {
            let _ = ws.closesocket(c.s);
        }
        result
    };
    let r = with_clients(ws, t, &mut open, l, &addr, clients, bytes_each, S, server);
    let closed = open.close_all(S);
    r.and(closed)?;
    // Sockets of one provider only, at most FD_SETSIZE per set, and something to wait for.
    let (mut none, mut w, mut e) = (Vec::new(), Vec::new(), Vec::new());
    crate::scenarios::support::expect_err(
        ws.select(&mut none, &mut w, &mut e, Some(Duration::ZERO)),
        WsaError::INVAL,
        S,
        "select with three empty sets",
    )?;
    baseline.check(ws, S)
}
