//! Raw calls with their conventions checked: every call is announced to the watchdog, made
//! with `*lpErrno` (or the last error) pre-filled with a sentinel, and judged on return.

use crate::watch::Tracker;
use crate::{guard, Shared};
use std::sync::atomic::Ordering;
use winsock_provider::sys::{BOOL, INVALID_SOCKET, SOCKET, SOCKET_ERROR};
use winsock_provider::WsaError;

/// What `*lpErrno` holds before each call.
pub const SENTINEL: i32 = 0x0BAD_5EED;

/// The calling thread's view of a run.
pub(crate) struct Caller<'a> {
    pub(crate) sh: &'a Shared,
    pub(crate) tr: Tracker,
}

/// A result in words, for the recent-calls list.
fn shown<T: std::fmt::Debug>(r: &Result<T, WsaError>) -> String {
    match r {
        Ok(v) => format!("{:?}", v),
        Err(e) => format!("{:?}", e),
    }
}

impl<'a> Caller<'a> {
    /// Records a violation of the call in progress, with this thread's recent calls.
    pub fn violation(&self, what: String) {
        let mut recent = self.tr.recent();
        // Checks made after a call returned name that call (the last one).
        let call = match self.tr.current() {
            Some(c) => c,
            None => recent.pop().unwrap_or_default(),
        };
        let start = recent.len().saturating_sub(8);
        self.sh.violation(format!(
            "{} [{}]: {}: {}\n      preceding calls of this thread:\n        {}",
            self.sh.label,
            std::thread::current().name().unwrap_or("?"),
            call,
            what,
            recent[start..].join("\n        ")
        ));
    }

    fn counted(&self) {
        self.sh.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Judges a failure's `*lpErrno`.
    fn failure(&self, what: &str, errno: i32) -> WsaError {
        if errno == SENTINEL {
            self.violation(format!("returned {} but left *lpErrno unset", what));
            WsaError::from_code(0)
        } else if !WsaError::from_code(errno).is_valid_failure() {
            self.violation(format!(
                "returned {} with *lpErrno = {}, not a WSA error code",
                what, errno
            ));
            WsaError::from_code(errno)
        } else {
            WsaError::from_code(errno)
        }
    }

    /// A call returning `int` (0 or `SOCKET_ERROR`; `counts`: a non-negative count, as
    /// `WSPSelect` returns).
    pub fn int(
        &self,
        call: String,
        counts: bool,
        f: impl FnOnce(*mut i32) -> i32,
    ) -> Result<i32, WsaError> {
        self.tr.begin(call);
        let mut errno = SENTINEL;
        let ret = f(&mut errno);
        let r = if ret == SOCKET_ERROR {
            Err(self.failure("SOCKET_ERROR", errno))
        } else {
            if errno != SENTINEL {
                self.violation(format!(
                    "succeeded (returned {}) but wrote {} to *lpErrno",
                    ret, errno
                ));
            }
            if (ret != 0 && !counts) || ret < 0 {
                self.violation(format!("returned {}, which the SPI does not allow", ret));
            }
            Ok(ret)
        };
        self.tr.end(&shown(&r));
        self.counted();
        r
    }

    /// A call returning a `SOCKET` (`INVALID_SOCKET` on failure).
    pub fn socket(
        &self,
        call: String,
        f: impl FnOnce(*mut i32) -> SOCKET,
    ) -> Result<SOCKET, WsaError> {
        self.tr.begin(call);
        let mut errno = SENTINEL;
        let ret = f(&mut errno);
        let r = if ret == INVALID_SOCKET {
            Err(self.failure("INVALID_SOCKET", errno))
        } else {
            if errno != SENTINEL {
                self.violation(format!(
                    "succeeded (returned {:#x}) but wrote {} to *lpErrno",
                    ret, errno
                ));
            }
            Ok(ret)
        };
        self.tr.end(&shown(&r));
        self.counted();
        r
    }

    /// A call returning `BOOL` (`FALSE` on failure).
    pub fn boolean(&self, call: String, f: impl FnOnce(*mut i32) -> BOOL) -> Result<(), WsaError> {
        self.tr.begin(call);
        let mut errno = SENTINEL;
        let ret = f(&mut errno);
        let r = if ret == 0 {
            Err(self.failure("FALSE", errno))
        } else {
            if errno != SENTINEL {
                self.violation(format!("succeeded but wrote {} to *lpErrno", errno));
            }
            Ok(())
        };
        self.tr.end(&shown(&r));
        self.counted();
        r
    }

    /// An extension function called directly (as applications call them): `ok` is its
    /// success test; a failure must set the thread's last error to a WSA code.
    pub fn ext(&self, call: String, f: impl FnOnce() -> bool) -> Result<(), WsaError> {
        self.tr.begin(call);
        self.sh.ws.set_last_error(SENTINEL);
        let ok = f();
        let r = if ok {
            Ok(())
        } else {
            let code = self.sh.ws.last_error();
            if code == SENTINEL {
                self.violation("failed without setting the last error".to_owned());
                Err(WsaError::from_code(0))
            } else if !WsaError::from_code(code).is_valid_failure() {
                self.violation(format!("failed with last error {}, not a WSA code", code));
                Err(WsaError::from_code(code))
            } else {
                Err(WsaError::from_code(code))
            }
        };
        self.tr.end(&shown(&r));
        self.counted();
        r
    }

    /// A call through the stand-in's own API (which checks the conventions and panics when
    /// they are broken): `None` after recording the panic as a violation.
    pub fn standin<T: std::fmt::Debug>(
        &self,
        call: String,
        f: impl FnOnce() -> Result<T, WsaError>,
    ) -> Option<Result<T, WsaError>> {
        self.tr.begin(call);
        let r = guard(f);
        let out = match r {
            Ok(r) => {
                self.tr.end(&shown(&r));
                Some(r)
            }
            Err(text) => {
                self.violation(format!("the stand-in reported: {}", text));
                self.tr.end("(violation)");
                None
            }
        };
        self.counted();
        out
    }

    /// Checks that `r` is the failure `want`.
    pub fn expect<T: std::fmt::Debug>(&self, what: &str, r: &Result<T, WsaError>, want: WsaError) {
        match r {
            Err(e) if *e == want => {}
            other => {
                let recent = self.tr.recent();
                let last = recent.last().cloned().unwrap_or_default();
                let start = recent.len().saturating_sub(9);
                self.sh.violation(format!(
                    "{} [{}]: {}: got {:?}, expected {:?}\n      call: {}\n      preceding calls of this thread:\n        {}",
                    self.sh.label,
                    std::thread::current().name().unwrap_or("?"),
                    what,
                    other,
                    want,
                    last,
                    recent[start..recent.len().saturating_sub(1)].join("\n        ")
                ));
            }
        }
    }

    /// Whether ws2_32 (the stand-in) knows `v` as a socket right now.
    pub fn live(&self, v: SOCKET) -> bool {
        self.sh.ws.spi_for(v).is_ok()
    }
}
