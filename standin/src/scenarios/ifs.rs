//! IFS scenarios: the `SOCKET` values an IFS provider hands out are OS handles, and the OS's
//! own file I/O on them (`read(2)`/`write(2)` on Unix, `ReadFile`/`WriteFile` on Windows)
//! moves the same byte stream as `send`/`recv`.
//!
//! The [`Target`] must name a stream protocol entry of an IFS provider.

use super::support::{connected, ensure, recv_exact, send_all, At, Open, Pattern};
use super::Target;
use crate::sys::{SOCKET, SOL_SOCKET, SO_PROTOCOL_INFOW, WSAPROTOCOL_INFOW, XP1_IFS_HANDLES};
use crate::Ws2;

/// The OS's own I/O on a socket value.
#[cfg(unix)]
mod os {
    use crate::sys::SOCKET;

    /// The call that writes.
    pub(super) const WRITE: &str = "write(2)";
    /// The call that reads.
    pub(super) const READ: &str = "read(2)";

    fn fd(s: SOCKET) -> Result<libc::c_int, String> {
        libc::c_int::try_from(s).map_err(|_| format!("{:#x} is too large for a file descriptor", s))
    }

    fn errno_text() -> String {
        let e = std::io::Error::last_os_error();
        format!("errno {} ({})", e.raw_os_error().unwrap_or(0), e)
    }

    /// One `write(2)`: the number of bytes written.
    pub(super) fn write(s: SOCKET, data: &[u8]) -> Result<usize, String> {
        let fd = fd(s)?;
        loop {
            // SAFETY: writes from a live slice and its length.
            let n = unsafe { libc::write(fd, data.as_ptr() as *const libc::c_void, data.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return Err(errno_text());
            }
        }
    }

    /// One `read(2)`: the number of bytes read (0 at end of stream).
    pub(super) fn read(s: SOCKET, buf: &mut [u8]) -> Result<usize, String> {
        let fd = fd(s)?;
        loop {
            // SAFETY: reads into a live, writable slice and its length.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return Err(errno_text());
            }
        }
    }

    /// `Ok` if `s` is an open file descriptor (`fcntl(F_GETFD)` succeeds).
    pub(super) fn check_handle(s: SOCKET) -> Result<(), String> {
        let fd = fd(s)?;
        // SAFETY: F_GETFD only reads the descriptor's flags; an invalid one fails with EBADF.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(format!("fcntl(F_GETFD) failed: {}", errno_text()));
        }
        Ok(())
    }
}

/// The OS's own I/O on a socket value.
#[cfg(windows)]
mod os {
    use crate::sys::SOCKET;
    use core::ffi::c_void;

    /// The call that writes.
    pub(super) const WRITE: &str = "WriteFile";
    /// The call that reads.
    pub(super) const READ: &str = "ReadFile";

    const FILE_TYPE_UNKNOWN: u32 = 0;
    const ERROR_BROKEN_PIPE: u32 = 109;

    #[link(name = "kernel32")]
    extern "system" {
        fn WriteFile(
            file: *mut c_void,
            buf: *const c_void,
            len: u32,
            written: *mut u32,
            overlapped: *mut c_void,
        ) -> i32;
        fn ReadFile(
            file: *mut c_void,
            buf: *mut c_void,
            len: u32,
            read: *mut u32,
            overlapped: *mut c_void,
        ) -> i32;
        fn GetFileType(file: *mut c_void) -> u32;
        fn GetHandleInformation(handle: *mut c_void, flags: *mut u32) -> i32;
        fn GetLastError() -> u32;
    }

    fn last_error() -> u32 {
        // SAFETY: reads the calling thread's last-error value.
        unsafe { GetLastError() }
    }

    /// One `WriteFile`: the number of bytes written.
    pub(super) fn write(s: SOCKET, data: &[u8]) -> Result<usize, String> {
        let len = data.len().min(u32::MAX as usize) as u32;
        let mut written = 0u32;
        // SAFETY: writes from a live slice of at least `len` bytes; synchronous (no OVERLAPPED).
        let ok = unsafe {
            WriteFile(
                s as *mut c_void,
                data.as_ptr() as *const c_void,
                len,
                &mut written,
                core::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(format!("error {}", last_error()));
        }
        Ok(written as usize)
    }

    /// One `ReadFile`: the number of bytes read (0 at end of stream).
    pub(super) fn read(s: SOCKET, buf: &mut [u8]) -> Result<usize, String> {
        let len = buf.len().min(u32::MAX as usize) as u32;
        let mut read = 0u32;
        // SAFETY: reads into a live, writable slice of at least `len` bytes; synchronous.
        let ok = unsafe {
            ReadFile(
                s as *mut c_void,
                buf.as_mut_ptr() as *mut c_void,
                len,
                &mut read,
                core::ptr::null_mut(),
            )
        };
        if ok == 0 {
            let e = last_error();
            return if e == ERROR_BROKEN_PIPE {
                Ok(0)
            } else {
                Err(format!("error {}", e))
            };
        }
        Ok(read as usize)
    }

    /// `Ok` if `s` is an open kernel handle of a known file type.
    pub(super) fn check_handle(s: SOCKET) -> Result<(), String> {
        let mut flags = 0u32;
        // SAFETY: GetHandleInformation only reads the handle table; it fails on a bad handle.
        if unsafe { GetHandleInformation(s as *mut c_void, &mut flags) } == 0 {
            return Err(format!(
                "GetHandleInformation failed: error {}",
                last_error()
            ));
        }
        // SAFETY: GetFileType only queries the handle.
        if unsafe { GetFileType(s as *mut c_void) } == FILE_TYPE_UNKNOWN {
            return Err(format!(
                "GetFileType is FILE_TYPE_UNKNOWN (error {})",
                last_error()
            ));
        }
        Ok(())
    }
}

/// Writes all of `data` with the OS's own write call.
fn os_write_all(s: SOCKET, mut data: &[u8]) -> Result<(), String> {
    while !data.is_empty() {
        let n = os::write(s, data)?;
        if n == 0 {
            return Err("wrote 0 bytes".to_owned());
        }
        data = &data[n..];
    }
    Ok(())
}

/// Fills `buf` with the OS's own read call; fails at end of stream.
fn os_read_exact(s: SOCKET, buf: &mut [u8]) -> Result<(), String> {
    let mut got = 0;
    while got < buf.len() {
        let n = os::read(s, &mut buf[got..])?;
        if n == 0 {
            return Err(format!(
                "end of stream after {} of {} bytes",
                got,
                buf.len()
            ));
        }
        got += n;
    }
    Ok(())
}

/// Compares what arrived with what was sent, naming the first differing byte.
fn compare(got: &[u8], want: &[u8], scenario: &str, step: &str) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!(
            "{}: {}: received {} bytes, expected {}",
            scenario,
            step,
            got.len(),
            want.len()
        ));
    }
    match got.iter().zip(want).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(format!(
            "{}: {}: byte {} is {:#04x}, expected {:#04x}",
            scenario, step, i, got[i], want[i]
        )),
    }
}

/// Reads `want.len()` bytes from `s`, alternating `recv` and the OS's read call in chunks of
/// varying size, and compares them with `want`.
fn read_mixed(ws: &Ws2, s: SOCKET, want: &[u8], scenario: &str, step: &str) -> Result<(), String> {
    let mut got = vec![0u8; want.len()];
    let mut done = 0;
    let mut turn = 0usize;
    while done < got.len() {
        let chunk = (1 + turn * 997 % 3001).min(got.len() - done);
        let buf = &mut got[done..done + chunk];
        let n = if turn % 2 == 0 {
            ws.recv(s, buf, 0)
                .at(scenario, format_args!("{}: recv at offset {}", step, done))?
        } else {
            os::read(s, buf).map_err(|e| {
                format!(
                    "{}: {}: {} at offset {}: {}",
                    scenario,
                    step,
                    os::READ,
                    done,
                    e
                )
            })?
        };
        if n == 0 {
            return Err(format!(
                "{}: {}: end of stream after {} of {} bytes",
                scenario,
                step,
                done,
                want.len()
            ));
        }
        done += n;
        turn += 1;
    }
    compare(&got, want, scenario, step)
}

/// A connected pair, then rounds of traffic in both directions that mix the OS's file I/O on
/// the socket values with `send`/`recv` on the same sockets: bytes written with `write(2)` /
/// `WriteFile` arrive through the peer's `recv`, bytes sent with `send` are read with
/// `read(2)` / `ReadFile`, one stream is written half with each and read with both in turn,
/// and plain `send`/`recv` still work between the rounds. Every byte is checked.
pub fn file_io_interleave(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "ifs::file_io_interleave";
    let mut open = Open::new(ws);
    let (_l, c, s, _) = connected(ws, &mut open, t, 0, S)?;
    // Each round's data fits in the transport's buffers, since one thread writes it all
    // before reading it back.
    let sizes = [1usize, 7, 512, 4096, 30_000, 3, 16_384, 100];
    for (round, &size) in sizes.iter().enumerate() {
        let (a, b, names) = if round % 2 == 0 {
            (c, s, ("client", "server"))
        } else {
            (s, c, ("server", "client"))
        };
        let mut data = vec![0u8; size];
        let mut back = vec![0u8; size];
        Pattern::new(2 * round as u64 + 1000).fill(0, &mut data);
        Pattern::new(2 * round as u64 + 1001).fill(0, &mut back);
        let step = |what: &str| format!("round {} ({} bytes): {}", round, size, what);

        // OS write on one end, recv on the other.
        let what = step(&format!(
            "{} on the {} -> recv on the {}",
            os::WRITE,
            names.0,
            names.1
        ));
        os_write_all(a, &data).map_err(|e| format!("{}: {}: {}", S, what, e))?;
        let mut got = vec![0u8; size];
        let n = recv_exact(ws, b, &mut got).at(S, &what)?;
        compare(&got[..n], &data, S, &what)?;

        // send on that end, OS read on the first.
        let what = step(&format!(
            "send on the {} -> {} on the {}",
            names.1,
            os::READ,
            names.0
        ));
        send_all(ws, b, &back).at(S, &what)?;
        let mut got = vec![0u8; size];
        os_read_exact(a, &mut got).map_err(|e| format!("{}: {}: {}", S, what, e))?;
        compare(&got, &back, S, &what)?;

        // One stream written half with each call, read with both in turn.
        let what = step(&format!(
            "{} + send on the {} -> recv + {} on the {}",
            os::WRITE,
            names.0,
            os::READ,
            names.1
        ));
        let half = size / 2;
        os_write_all(a, &data[..half]).map_err(|e| format!("{}: {}: {}", S, what, e))?;
        send_all(ws, a, &data[half..]).at(S, &what)?;
        read_mixed(ws, b, &data, S, &what)?;

        // Plain Winsock between the rounds.
        let what = step(&format!(
            "send on the {} -> recv on the {}",
            names.0, names.1
        ));
        send_all(ws, a, &back).at(S, &what)?;
        let mut got = vec![0u8; size];
        let n = recv_exact(ws, b, &mut got).at(S, &what)?;
        compare(&got[..n], &back, S, &what)?;
    }
    open.close_all(S)
}

/// The `SOCKET` values of a new, a connecting and an accepted socket are open OS handles
/// (`fcntl(F_GETFD)` succeeds on Unix; `GetHandleInformation` succeeds and `GetFileType` is
/// known on Windows), and `SO_PROTOCOL_INFOW` reports `XP1_IFS_HANDLES`.
pub fn handle_is_os_handle(ws: &Ws2, t: &Target) -> Result<(), String> {
    const S: &str = "ifs::handle_is_os_handle";
    let mut open = Open::new(ws);
    let fresh = open.socket(t, S, "fresh")?;
    let (l, c, s, _) = connected(ws, &mut open, t, 0, S)?;
    for (s, what) in [
        (fresh, "new"),
        (l, "listening"),
        (c, "connecting"),
        (s, "accepted"),
    ] {
        os::check_handle(s).map_err(|e| {
            format!(
                "{}: the {} socket {:#x} is not an OS handle: {}",
                S, what, s, e
            )
        })?;
    }
    let mut info = vec![0u8; std::mem::size_of::<WSAPROTOCOL_INFOW>()];
    let n = ws
        .getsockopt(fresh, SOL_SOCKET, SO_PROTOCOL_INFOW, &mut info)
        .at(S, "getsockopt(SO_PROTOCOL_INFOW)")?;
    ensure(
        n == info.len(),
        S,
        format_args!("SO_PROTOCOL_INFOW is {} bytes, expected {}", n, info.len()),
    )?;
    // dwServiceFlags1 is the first field of WSAPROTOCOL_INFOW.
    let flags = u32::from_ne_bytes([info[0], info[1], info[2], info[3]]);
    ensure(
        flags & XP1_IFS_HANDLES != 0,
        S,
        format_args!(
            "SO_PROTOCOL_INFOW dwServiceFlags1 {:#x} lacks XP1_IFS_HANDLES",
            flags
        ),
    )?;
    open.close_all(S)
}
