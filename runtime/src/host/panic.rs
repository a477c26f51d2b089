//! The panic guard every entry point runs user code under.

use crate::types::error::WsaError;
use std::any::Any;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The code reported to the caller when provider code panics: the documented "network
/// subsystem has failed", which every SPI function may return.
pub const PANIC_ERROR: WsaError = WsaError::NETDOWN;

/// Runs `f`, turning a panic into [`PANIC_ERROR`] after reporting it.
#[inline]
pub fn catch<T>(f: impl FnOnce() -> Result<T, WsaError>) -> Result<T, WsaError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            report(payload);
            Err(PANIC_ERROR)
        }
    }
}

/// Logs a caught panic and disposes of its payload without letting a second panic escape.
#[cold]
#[inline(never)]
fn report(payload: Box<dyn Any + Send>) {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    let line = format!(
        "winsock-provider: a provider method panicked ({}); the call fails with {:?}\n",
        text, PANIC_ERROR
    );
    log(&line);
    // Dropping the payload runs user code (its Drop), which may panic again: keep that in too.
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

/// Writes a line for whoever watches the process: stderr, and the debugger output on Windows
/// (DebugView).
pub(crate) fn log(line: &str) {
    let _ = std::io::stderr().write_all(line.as_bytes());
    debug_output(line);
}

/// Writes a trace line where a debugger or a console sees it: the debugger output on Windows
/// (DebugView), stderr elsewhere.
#[cfg(feature = "trace")]
pub(crate) fn debug_line(line: &str) {
    #[cfg(windows)]
    debug_output(line);
    #[cfg(not(windows))]
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// The debugger output, through `OutputDebugStringA`: Wine (8.0) prints only the narrow one
/// under `WINEDEBUG=+debugstr` (its `OutputDebugStringW` prints nothing), while DebugView and
/// debuggers on Windows show both. The line goes as ASCII ([`narrow`]).
#[cfg(windows)]
fn debug_output(line: &str) {
    extern "system" {
        fn OutputDebugStringA(text: *const u8);
    }
    let text = narrow(line);
    // SAFETY: `text` is a NUL-terminated byte string that outlives the call.
    unsafe { OutputDebugStringA(text.as_ptr()) };
}

/// `line` as a NUL-terminated ASCII string for `OutputDebugStringA`: a character outside
/// ASCII becomes `?` (the lines are ASCII but for what a message or a `Debug` value may
/// hold), a NUL is left out.
#[cfg(any(windows, test))]
fn narrow(line: &str) -> Vec<u8> {
    line.chars()
        .filter(|&c| c != '\0')
        .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
        .chain(Some(0))
        .collect()
}

#[cfg(not(windows))]
fn debug_output(_: &str) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debugger_lines_are_ascii_and_nul_terminated() {
        assert_eq!(narrow("wsp: a\n"), b"wsp: a\n\0".to_vec());
        assert_eq!(narrow("\u{e9}\0x"), b"?x\0".to_vec());
    }

    #[test]
    fn panics_become_errors() {
        let r: Result<(), WsaError> = catch(|| panic!("boom"));
        assert_eq!(r, Err(PANIC_ERROR));
        assert_eq!(catch(|| Ok(5)), Ok(5));
    }

    #[test]
    fn panicking_payload_drop_is_contained() {
        struct Bomb;
        impl Drop for Bomb {
            fn drop(&mut self) {
                panic!("drop bomb");
            }
        }
        let r: Result<(), WsaError> = catch(|| std::panic::panic_any(Bomb));
        assert_eq!(r, Err(PANIC_ERROR));
    }
}
