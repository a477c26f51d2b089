//! The one trampoline every exported function runs through, and the return conventions.
//!
//! Every function the runtime exports (the 30 SPI entry points, `WSPStartup`,
//! `WspEnumProviderProtocols`, `WspSetHostHooks` and the extension functions) is a body
//! returning `Result<Value, WsaError>` handed to [`run`], which marks the thread as inside the
//! runtime ([`Entry`]), catches panics, traces the call (feature `trace`), and turns the result
//! into the C return value by the function's [`Convention`]. Nothing unwinds past it.

use super::trace::{self, Site};
use crate::host::{catch, hooks};
use crate::io::deferred::Entry;
use crate::sys::{BOOL, INVALID_SOCKET, SOCKET, SOCKET_ERROR};
use crate::types::error::WsaError;

mod sealed {
    /// Only the conventions below implement [`Convention`](super::Convention).
    pub trait Sealed {}
}

/// How an exported function reports its outcome: the value of a success, and what a failure
/// returns and where its code goes. Sealed: the SPI has exactly these.
pub(crate) trait Convention: sealed::Sealed {
    /// What the body produces on success.
    type Value;
    /// The C return type.
    type Ret: Copy + core::fmt::Debug;
    /// The return value of a success.
    fn success(value: Self::Value) -> Self::Ret;
    /// Reports `e` (in `*lpErrno`, as the code itself, or as the thread's last error) and
    /// gives the failure's return value.
    fn failure(e: WsaError, errno: Errno) -> Self::Ret;
}

/// The caller's `lpErrno`: where a failure's code goes (null: nowhere).
#[derive(Copy, Clone)]
pub(crate) struct Errno(*mut i32);

impl Errno {
    /// For the conventions that report otherwise.
    pub(crate) const NONE: Errno = Errno(core::ptr::null_mut());

    /// Wraps the caller's `lpErrno`.
    ///
    /// # Safety
    /// `errno` is null or points to an `int` writable for the duration of the call.
    #[inline(always)]
    pub(crate) unsafe fn new(errno: *mut i32) -> Errno {
        Errno(errno)
    }

    /// Stores `e` when the caller gave somewhere to put it.
    #[inline(always)]
    fn store(self, e: WsaError) {
        if !self.0.is_null() {
            // SAFETY: non-null, and writable for the call (`Errno::new`'s contract).
            unsafe { self.0.write(e.code()) };
        }
    }
}

/// `int`: 0, or `SOCKET_ERROR` with the code in `*lpErrno`.
pub(crate) enum Status {}
/// `int`: a count (`WSPSelect`, `WspEnumProviderProtocols`), or `SOCKET_ERROR` with the code
/// in `*lpErrno`.
pub(crate) enum Count {}
/// `SOCKET`: the handle, or `INVALID_SOCKET` with the code in `*lpErrno`.
pub(crate) enum Handle {}
/// `BOOL`: `TRUE`, or `FALSE` with the code in `*lpErrno`.
pub(crate) enum Flag {}
/// `int`: the error code itself, 0 for success (`WSPStartup`, `WspSetHostHooks`).
pub(crate) enum Code {}
/// `BOOL` of an extension function: `TRUE`, or `FALSE` with the thread's last error set
/// (`WSASetLastError`).
pub(crate) enum ExtFlag {}
/// `int` of an extension function: 0, or `SOCKET_ERROR` with the thread's last error set.
pub(crate) enum ExtStatus {}

impl sealed::Sealed for Status {}
impl sealed::Sealed for Count {}
impl sealed::Sealed for Handle {}
impl sealed::Sealed for Flag {}
impl sealed::Sealed for Code {}
impl sealed::Sealed for ExtFlag {}
impl sealed::Sealed for ExtStatus {}

impl Convention for Status {
    type Value = ();
    type Ret = i32;
    #[inline(always)]
    fn success((): ()) -> i32 {
        0
    }
    #[inline(always)]
    fn failure(e: WsaError, errno: Errno) -> i32 {
        errno.store(e);
        SOCKET_ERROR
    }
}

impl Convention for Count {
    type Value = i32;
    type Ret = i32;
    #[inline(always)]
    fn success(n: i32) -> i32 {
        n
    }
    #[inline(always)]
    fn failure(e: WsaError, errno: Errno) -> i32 {
        errno.store(e);
        SOCKET_ERROR
    }
}

impl Convention for Handle {
    type Value = SOCKET;
    type Ret = SOCKET;
    #[inline(always)]
    fn success(s: SOCKET) -> SOCKET {
        s
    }
    #[inline(always)]
    fn failure(e: WsaError, errno: Errno) -> SOCKET {
        errno.store(e);
        INVALID_SOCKET
    }
}

impl Convention for Flag {
    type Value = ();
    type Ret = BOOL;
    #[inline(always)]
    fn success((): ()) -> BOOL {
        1
    }
    #[inline(always)]
    fn failure(e: WsaError, errno: Errno) -> BOOL {
        errno.store(e);
        0
    }
}

impl Convention for Code {
    type Value = ();
    type Ret = i32;
    #[inline(always)]
    fn success((): ()) -> i32 {
        0
    }
    #[inline(always)]
    fn failure(e: WsaError, _: Errno) -> i32 {
        e.code()
    }
}

impl Convention for ExtFlag {
    type Value = ();
    type Ret = BOOL;
    #[inline(always)]
    fn success((): ()) -> BOOL {
        1
    }
    #[inline(always)]
    fn failure(e: WsaError, _: Errno) -> BOOL {
        hooks::set_last_error(e);
        0
    }
}

impl Convention for ExtStatus {
    type Value = ();
    type Ret = i32;
    #[inline(always)]
    fn success((): ()) -> i32 {
        0
    }
    #[inline(always)]
    fn failure(e: WsaError, _: Errno) -> i32 {
        hooks::set_last_error(e);
        SOCKET_ERROR
    }
}

/// The body of an exported function run through the trampoline:
/// `entry!(Convention, Site::recv, errno, args!(arguments...), move || { body })`.
///
/// An untraced call runs in [`run`]; a traced one (feature `trace`, `WSP_TRACE`) in
/// [`traced`]. The body's closure is written out in each branch, so the untraced path builds
/// nothing for tracing: it pays one relaxed load and a branch, and nothing without the feature.
macro_rules! entry {
    ($conv:ty, $site:expr, $errno:expr, $args:expr, $body:expr $(,)?) => {{
        let errno = $errno;
        if $crate::spi::trace::enabled($site) {
            return $crate::spi::trampoline::traced::<$conv>($site, errno, $args, $body);
        }
        $crate::spi::trampoline::run::<$conv>(errno, $body)
    }};
}
pub(crate) use entry;

/// Runs the body of an exported function under convention `C`: inside the runtime's entry
/// guard, under the panic guard, the result reported by `C` (`errno`: the caller's `lpErrno`,
/// [`Errno::NONE`] for the conventions without one). Use through [`entry!`].
#[inline(always)]
pub(crate) fn run<C: Convention>(
    errno: Errno,
    body: impl FnOnce() -> Result<C::Value, WsaError>,
) -> C::Ret {
    let _entry = Entry::enter();
    match catch(body) {
        Ok(value) => C::success(value),
        Err(e) => C::failure(e, errno),
    }
}

/// [`run`] for a traced call of `site`: the same, and the call's trace event (`args` writes
/// the arguments in short).
#[cold]
#[inline(never)]
pub(crate) fn traced<C: Convention>(
    site: Site,
    errno: Errno,
    args: impl FnOnce(&mut String),
    body: impl FnOnce() -> Result<C::Value, WsaError>,
) -> C::Ret {
    let _entry = Entry::enter();
    let started = trace::start(site, args);
    let (ret, error) = match catch(body) {
        Ok(value) => (C::success(value), None),
        Err(e) => (C::failure(e, errno), Some(e)),
    };
    trace::finish(started, &ret, error);
    ret
}

#[cfg(all(test, feature = "trace"))]
mod tests {
    use super::trace::{args, set_mask, Sink};
    use super::{Errno, Site, Status};
    use crate::types::error::WsaError;
    use std::sync::Mutex;

    static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn capture(line: &str) {
        LINES.lock().unwrap().push(line.to_owned());
    }

    #[test]
    fn a_traced_call_writes_its_line() {
        /// An entry point whose body fails with `WSAEFAULT`.
        fn failing(site: Site, errno: Errno, s: *const u8) -> i32 {
            entry!(Status, site, errno, args!(s), move || Err(WsaError::FAULT))
        }
        set_mask(1 << Site::bind as u8);
        let mut errno = 0;
        let sink = Sink::new(capture);
        tracing::subscriber::with_default(sink, || {
            // SAFETY: `errno` is writable for the call.
            let out = unsafe { Errno::new(&mut errno) };
            let s = 4 as *const u8;
            assert_eq!(failing(Site::bind, out, s), -1);
            // Not traced (not in the mask).
            assert_eq!(failing(Site::listen, out, s), -1);
        });
        set_mask(0);
        assert_eq!(errno, 10014);
        let lines = LINES.lock().unwrap();
        assert_eq!(lines.len(), 1, "{:?}", lines);
        let line = &lines[0];
        assert!(
            line.starts_with("wsp: WSPBind(s=0x4) -> -1 WSAEFAULT(10014) in "),
            "{}",
            line
        );
        assert!(line.ends_with(" us\n"), "{}", line);
    }
}
