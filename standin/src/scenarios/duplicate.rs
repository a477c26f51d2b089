//! Shared sockets: `WSADuplicateSocketW` and `WSASocketW(FROM_PROTOCOL_INFO)`, within one
//! process and across two.
//!
//! Within one process ([`same_process`]): a connected socket duplicated for this process and
//! rebuilt from the structure is a second descriptor of the same connection; data sent on
//! either reaches the peer and the peer's data reaches it; the structure is good for one
//! socket only; closing the original leaves the connection to the duplicate, and closing the
//! duplicate then ends it (the peer sees end of stream).
//!
//! Across processes: [`across_processes`] is the parent's half, [`child`] the child's. The
//! parent sends data to the socket it will share, duplicates it for the child's process id,
//! closes its own descriptor and hands the structure over (as one line of hex, [`to_hex`],
//! written to the child's standard input); the child rebuilds the socket with
//! [`Ws2::socket_from_info`], receives the parent's data, answers and closes; the parent
//! checks the answer and that the connection ended with the child's close.
//!
//! The [`Target`] must name a stream protocol entry.

use super::support::{connected, ensure, expect_err, recv_exact, send_all, At, Open};
use super::Target;
use crate::sys::{SOCKET, WSAPROTOCOL_INFOW};
use crate::{Ws2, WsaError};
use std::io::{Read, Write};
use std::process::Child;

/// What the parent sends to the shared socket before handing it over.
const TO_CHILD: &[u8] = b"from the parent, before the hand-over";
/// What the child answers.
const TO_PARENT: &[u8] = b"from the child, through the duplicate";

/// The bytes of a `WSAPROTOCOL_INFOW` as lowercase hex, for passing to another process.
pub fn to_hex(info: &WSAPROTOCOL_INFOW) -> String {
    // SAFETY: WSAPROTOCOL_INFOW is a plain C structure without padding-sensitive invariants;
    // its bytes are read, not interpreted.
    let bytes = unsafe {
        core::slice::from_raw_parts(
            (info as *const WSAPROTOCOL_INFOW).cast::<u8>(),
            core::mem::size_of::<WSAPROTOCOL_INFOW>(),
        )
    };
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

/// Reads back what [`to_hex`] wrote (surrounding whitespace ignored).
pub fn from_hex(text: &str) -> Result<WSAPROTOCOL_INFOW, String> {
    let text = text.trim();
    let size = core::mem::size_of::<WSAPROTOCOL_INFOW>();
    if text.len() != 2 * size || !text.is_ascii() {
        return Err(format!(
            "expected {} hex digits of a WSAPROTOCOL_INFOW, got {} characters",
            2 * size,
            text.len()
        ));
    }
    let mut bytes = Vec::with_capacity(size);
    for i in (0..text.len()).step_by(2) {
        let byte = u8::from_str_radix(&text[i..i + 2], 16)
            .map_err(|_| format!("not hex: {:?}", &text[i..i + 2]))?;
        bytes.push(byte);
    }
    // SAFETY: exactly size_of::<WSAPROTOCOL_INFOW>() bytes; every bit pattern is a valid
    // value of this plain C structure (integers, arrays of integers and a GUID).
    Ok(unsafe { bytes.as_ptr().cast::<WSAPROTOCOL_INFOW>().read_unaligned() })
}

/// Two descriptors of one connection in one process, as the module documentation describes.
pub fn same_process(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "duplicate::same_process";
    let mut open = Open::new(ws);
    let (_l, c, s, _) = connected(ws, &mut open, t, 0, S)?;
    let info = ws
        .duplicate_socket(c, std::process::id())
        .at(S, "WSADuplicateSocket (client, this process)")?;
    ensure(
        info.dwProviderReserved != 0,
        S,
        "the duplicated structure has dwProviderReserved 0",
    )?;
    let d = ws
        .socket_from_info(&info)
        .at(S, "WSASocket(FROM_PROTOCOL_INFO)")?;
    open.adopt(d);
    ensure(
        d != c,
        S,
        format_args!("the duplicate got the original's handle {:#x}", c),
    )?;
    expect_err(
        ws.socket_from_info(&info),
        WsaError::INVAL,
        S,
        "WSASocket(FROM_PROTOCOL_INFO) with a structure already used",
    )?;

    // Either descriptor reaches the peer; the peer reaches the duplicate.
    send_all(ws, c, b"original ").at(S, "send (original)")?;
    send_all(ws, d, b"duplicate").at(S, "send (duplicate)")?;
    expect_bytes(ws, s, b"original duplicate", S, "recv (peer)")?;
    send_all(ws, s, b"to the duplicate").at(S, "send (peer)")?;
    expect_bytes(ws, d, b"to the duplicate", S, "recv (duplicate)")?;

    // Closing the original keeps the connection open for the duplicate.
    open.close(c, S, "original")?;
    send_all(ws, s, b"still there").at(S, "send (peer, original closed)")?;
    expect_bytes(
        ws,
        d,
        b"still there",
        S,
        "recv (duplicate, original closed)",
    )?;
    send_all(ws, d, b"and back").at(S, "send (duplicate, original closed)")?;
    expect_bytes(ws, s, b"and back", S, "recv (peer, original closed)")?;

    // Closing the duplicate too ends the connection.
    open.close(d, S, "duplicate")?;
    let mut buf = [0u8; 8];
    let n = ws
        .recv(s, &mut buf, 0)
        .at(S, "recv (peer, every descriptor closed)")?;
    ensure(
        n == 0,
        S,
        format_args!(
            "the peer received {} bytes after both descriptors closed, expected end of stream",
            n
        ),
    )?;
    open.close_all(S)
}

/// Receives exactly `want` on `s`.
fn expect_bytes(
    ws: &Ws2,
    s: SOCKET,
    want: &[u8],
    scenario: &str,
    step: &str,
) -> Result<(), String> {
    let mut buf = vec![0u8; want.len()];
    let n = recv_exact(ws, s, &mut buf).at(scenario, step)?;
    ensure(
        buf[..n] == *want,
        scenario,
        format_args!(
            "{}: received {:?}, expected {:?}",
            step,
            String::from_utf8_lossy(&buf[..n]),
            String::from_utf8_lossy(want)
        ),
    )
}

/// The parent's half of the cross-process scenario. `spawn` starts the child process (which
/// must run [`child`] on the line it reads from its standard input) with its standard input
/// piped; this writes the structure there and waits for the child.
pub fn across_processes(
    ws: &Ws2,
    t: &Target,
    spawn: &mut dyn FnMut() -> Result<Child, String>,
) -> Result<(), String> {
    const S: &str = "duplicate::across_processes";
    let mut open = Open::new(ws);
    let (_l, c, s, _) = connected(ws, &mut open, t, 0, S)?;
    send_all(ws, s, TO_CHILD).at(S, "send (peer, to the child)")?;
    let mut child = spawn().map_err(|e| format!("{}: starting the child: {}", S, e))?;
    let handed = hand_over(ws, &mut open, c, &mut child);
    // Whatever happened, the child's input ends here and the child is waited for.
    drop(child.stdin.take());
    let status = child.wait();
    handed?;
    let status = status.map_err(|e| format!("{}: waiting for the child: {}", S, e))?;
    ensure(
        status.success(),
        S,
        format_args!("the child failed ({}); its messages are above", status),
    )?;
    expect_bytes(ws, s, TO_PARENT, S, "recv (peer, from the child)")?;
    let mut buf = [0u8; 8];
    let n = ws
        .recv(s, &mut buf, 0)
        .at(S, "recv (peer, after the child closed)")?;
    ensure(
        n == 0,
        S,
        format_args!(
            "the peer received {} bytes after every descriptor closed, expected end of stream",
            n
        ),
    )?;
    open.close_all(S)
}

/// Duplicates `c` for the child, closes the parent's descriptor and writes the structure to
/// the child's standard input.
fn hand_over(ws: &Ws2, open: &mut Open<'_>, c: SOCKET, child: &mut Child) -> Result<(), String> {
    const S: &str = "duplicate::across_processes";
    let info = ws
        .duplicate_socket(c, child.id())
        .at(S, "WSADuplicateSocket (for the child's process)")?;
    // The parent's descriptor goes before the child has rebuilt its own: the shared socket
    // must stay open for the child.
    open.close(c, S, "the parent's descriptor")?;
    let stdin = child
        .stdin
        .as_mut()
        .ok_or_else(|| format!("{}: the child's standard input is not piped", S))?;
    writeln!(stdin, "{}", to_hex(&info))
        .and_then(|()| stdin.flush())
        .map_err(|e| format!("{}: writing to the child: {}", S, e))
}

/// The child's half: reads the structure from `input` (one line of [`to_hex`]), rebuilds the
/// socket, receives the parent's data, answers and closes.
pub fn child(ws: &Ws2, input: &mut dyn Read) -> Result<(), String> {
    const S: &str = "duplicate::child";
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: reading the structure: {}", S, e))?;
    let info = from_hex(&text).map_err(|e| format!("{}: {}", S, e))?;
    let mut open = Open::new(ws);
    let d = ws
        .socket_from_info(&info)
        .at(S, "WSASocket(FROM_PROTOCOL_INFO) in the child")?;
    open.adopt(d);
    expect_bytes(ws, d, TO_CHILD, S, "recv (child, the parent's data)")?;
    send_all(ws, d, TO_PARENT).at(S, "send (child)")?;
    open.close_all(S)
}
