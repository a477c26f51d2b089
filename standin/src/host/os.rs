//! What the stand-in needs from the operating system: handle values and library loading.

use core::ffi::c_void;
use std::path::Path;
use winsock_provider::sys::SOCKET;

/// The first value handed out on Unix: clear of file descriptors, which IFS providers hand out.
#[cfg(not(windows))]
const FIRST_VALUE: SOCKET = 0x1_0000;
/// How many values each session's own range spans (32,768 handles).
#[cfg(not(windows))]
const RANGE_SPAN: SOCKET = 0x2_0000;
/// How many sessions can have a range of their own at once; the rest of the values, up to the
/// runtime table's limit for Unix values (2^24), form the shared range.
#[cfg(not(windows))]
const SESSION_RANGES: usize = 100;
/// The end of the shared range.
#[cfg(not(windows))]
const LAST_VALUE: SOCKET = 0x100_0000;

std::thread_local! {
    /// The range of the session whose call this thread is making (0: the shared one).
    static CURRENT_RANGE: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// Makes handles created on this thread come from range `range` (from
/// [`HandleAllocator::open_range`]) until another session's call on this thread says otherwise.
pub(crate) fn use_range(range: usize) {
    CURRENT_RANGE.with(|c| c.set(range));
}

/// The range the calling thread's handles come from (0: the shared one).
fn current_range() -> usize {
    CURRENT_RANGE.with(core::cell::Cell::get)
}

/// One range of values: multiples of 4, most recently freed first.
#[cfg(not(windows))]
struct Range {
    next: SOCKET,
    end: SOCKET,
    free: Vec<SOCKET>,
}

/// Hands out non-IFS socket handle values.
///
/// On Unix: multiples of 4 from 0x10000 up (clear of file descriptors, which IFS providers
/// hand out there), most recently freed value first, so a closed value is reused at once as
/// Windows does. Each stand-in session has a range of its own (the values its calls create
/// come from it), so a test never sees another test's handles, even when the whole scenario
/// suite shares a test binary; calls made on threads of no session (a provider's own threads),
/// and sessions beyond the first 100 alive at once, use the shared range.
#[cfg(not(windows))]
pub(crate) struct HandleAllocator {
    /// Index 0 is the shared range, 1..=SESSION_RANGES the sessions' (created on first use).
    ranges: Vec<Range>,
    /// Session ranges free to open, oldest freed first (a closed session's stale values are
    /// reissued as late as possible).
    idle: Vec<usize>,
    opened: usize,
}

#[cfg(not(windows))]
impl HandleAllocator {
    pub(crate) const fn new() -> HandleAllocator {
        HandleAllocator {
            ranges: Vec::new(),
            idle: Vec::new(),
            opened: 0,
        }
    }

    fn range(&mut self, index: usize) -> &mut Range {
        if self.ranges.is_empty() {
            let shared = FIRST_VALUE + RANGE_SPAN * SESSION_RANGES as SOCKET;
            self.ranges.push(Range {
                next: shared,
                end: LAST_VALUE,
                free: Vec::new(),
            });
        }
        while self.ranges.len() <= index {
            let start = FIRST_VALUE + RANGE_SPAN * (self.ranges.len() - 1) as SOCKET;
            self.ranges.push(Range {
                next: start,
                end: start + RANGE_SPAN,
                free: Vec::new(),
            });
        }
        &mut self.ranges[index]
    }

    /// A range for a new session (0, the shared one, when all are in use).
    pub(crate) fn open_range(&mut self) -> usize {
        if !self.idle.is_empty() {
            return self.idle.remove(0);
        }
        if self.opened < SESSION_RANGES {
            self.opened += 1;
            return self.opened;
        }
        0
    }

    /// Gives back a session's range.
    pub(crate) fn close_range(&mut self, index: usize) {
        if index != 0 {
            self.idle.push(index);
        }
    }

    /// The session range a value belongs to (0 for the shared range).
    pub(crate) fn range_of(&self, h: SOCKET) -> usize {
        Self::range_of_value(h)
    }

    fn range_of_value(h: SOCKET) -> usize {
        let shared = FIRST_VALUE + RANGE_SPAN * SESSION_RANGES as SOCKET;
        if h < FIRST_VALUE || h >= shared {
            0
        } else {
            1 + (h - FIRST_VALUE) / RANGE_SPAN
        }
    }

    pub(crate) fn allocate(&mut self) -> SOCKET {
        let current = current_range();
        for index in [current, 0] {
            let range = self.range(index);
            if let Some(h) = range.free.pop() {
                return h;
            }
            if range.next < range.end {
                let h = range.next;
                range.next += 4;
                return h;
            }
        }
        panic!("ws2-standin: out of socket handle values (2^24 reached)");
    }

    pub(crate) fn free(&mut self, h: SOCKET) {
        self.range(Self::range_of_value(h)).free.push(h);
    }
}

/// Hands out non-IFS socket handle values.
///
/// On Windows each is a real kernel object handle (an unnamed event), as ws2_32's are: a
/// multiple of 4 from the process's one handle table. A value freed by a session is not
/// closed but kept for that session's next handle (most recently freed first), so a closed
/// value is reused at once, as on Windows, yet never by another session or by an unrelated
/// kernel object while the session lives: a test never sees another test's handles, even
/// when tests run in parallel in one binary. The kept handles are closed with the session's
/// range; values created on threads of no session are closed when freed.
#[cfg(windows)]
pub(crate) struct HandleAllocator {
    /// Open session range → the handles it freed, kept open for its next allocations.
    kept: Option<std::collections::HashMap<usize, Vec<SOCKET>>>,
    /// Live handle → the session range that allocated it (absent: the shared range).
    owner: Option<std::collections::HashMap<SOCKET, usize>>,
    /// The last range number handed out.
    opened: usize,
}

#[cfg(windows)]
#[link(name = "kernel32")]
extern "system" {
    fn CreateEventW(
        attributes: *const c_void,
        manual_reset: i32,
        initial: i32,
        name: *const u16,
    ) -> *mut c_void;
    fn CloseHandle(handle: *mut c_void) -> i32;
    fn LoadLibraryW(name: *const u16) -> *mut c_void;
    fn GetProcAddress(module: *mut c_void, name: *const u8) -> *const c_void;
    fn GetLastError() -> u32;
}

#[cfg(windows)]
fn close_kernel_handle(h: SOCKET) {
    // SAFETY: `h` came from CreateEventW in `HandleAllocator::allocate` and is closed once:
    // the allocator forgets it here.
    unsafe { CloseHandle(h as *mut c_void) };
}

#[cfg(windows)]
impl HandleAllocator {
    pub(crate) const fn new() -> HandleAllocator {
        HandleAllocator {
            kept: None,
            owner: None,
            opened: 0,
        }
    }

    /// A range for a new session: a pool of its own for the handles it frees.
    pub(crate) fn open_range(&mut self) -> usize {
        self.opened += 1;
        let range = self.opened;
        self.kept
            .get_or_insert_with(Default::default)
            .insert(range, Vec::new());
        range
    }

    /// Closes the handles a session kept; its values can then go to anyone.
    pub(crate) fn close_range(&mut self, index: usize) {
        let kept = self.kept.as_mut().and_then(|k| k.remove(&index));
        for h in kept.unwrap_or_default() {
            close_kernel_handle(h);
        }
    }

    /// The session range a live value was allocated in (0 for the shared range).
    pub(crate) fn range_of(&self, h: SOCKET) -> usize {
        self.owner
            .as_ref()
            .and_then(|o| o.get(&h).copied())
            .unwrap_or(0)
    }

    pub(crate) fn allocate(&mut self) -> SOCKET {
        let current = current_range();
        let reused = self
            .kept
            .as_mut()
            .and_then(|k| k.get_mut(&current))
            .and_then(Vec::pop);
        let h = match reused {
            Some(h) => h,
            None => {
                // SAFETY: plain Win32 call with null (default) attributes and name.
                let h = unsafe { CreateEventW(core::ptr::null(), 1, 0, core::ptr::null()) };
                assert!(
                    !h.is_null(),
                    "ws2-standin: CreateEventW failed; cannot allocate a socket handle"
                );
                h as SOCKET
            }
        };
        if current != 0 {
            self.owner
                .get_or_insert_with(Default::default)
                .insert(h, current);
        }
        h
    }

    pub(crate) fn free(&mut self, h: SOCKET) {
        let range = self.owner.as_mut().and_then(|o| o.remove(&h));
        let pool = range.and_then(|r| self.kept.as_mut().and_then(|k| k.get_mut(&r)));
        match pool {
            Some(pool) => pool.push(h),
            None => close_kernel_handle(h),
        }
    }
}

/// A loaded provider library. It is never unloaded: provider threads may outlive the last
/// clean-up, and ws2_32 gives no stronger promise.
pub(crate) struct Library(*mut c_void);

// SAFETY: a module handle is a process-wide value, usable from any thread.
unsafe impl Send for Library {}
// SAFETY: as above; the handle is only read.
unsafe impl Sync for Library {}

impl Library {
    /// Loads the library at `path`.
    pub(crate) fn open(path: &Path) -> Result<Library, String> {
        open(path)
    }

    /// The address of export `name`, if present.
    pub(crate) fn symbol(&self, name: &str) -> Option<*const c_void> {
        let cname = std::ffi::CString::new(name).ok()?;
        let p = symbol(self.0, &cname);
        if p.is_null() {
            None
        } else {
            Some(p)
        }
    }
}

#[cfg(windows)]
fn open(path: &Path) -> Result<Library, String> {
    use std::os::windows::ffi::OsStrExt;
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    // SAFETY: `wide` is a NUL-terminated UTF-16 path that outlives the call.
    let h = unsafe { LoadLibraryW(wide.as_ptr()) };
    if h.is_null() {
        // SAFETY: plain Win32 call.
        let code = unsafe { GetLastError() };
        return Err(format!(
            "LoadLibraryW({}) failed with error {}",
            path.display(),
            code
        ));
    }
    Ok(Library(h))
}

#[cfg(windows)]
fn symbol(module: *mut c_void, name: &std::ffi::CStr) -> *const c_void {
    // SAFETY: `module` is a loaded module; `name` is NUL-terminated.
    unsafe { GetProcAddress(module, name.as_ptr().cast()) }
}

#[cfg(unix)]
fn open(path: &Path) -> Result<Library, String> {
    use std::os::unix::ffi::OsStrExt;
    let cpath = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{}: path contains a NUL byte", path.display()))?;
    // SAFETY: `cpath` is NUL-terminated and outlives the call.
    let h = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if h.is_null() {
        // SAFETY: dlerror returns a NUL-terminated message or null, valid until the next dl call.
        let msg = unsafe {
            let e = libc::dlerror();
            if e.is_null() {
                "unknown error".to_owned()
            } else {
                std::ffi::CStr::from_ptr(e).to_string_lossy().into_owned()
            }
        };
        return Err(format!("dlopen({}) failed: {}", path.display(), msg));
    }
    Ok(Library(h))
}

#[cfg(unix)]
fn symbol(module: *mut c_void, name: &std::ffi::CStr) -> *const c_void {
    // SAFETY: `module` came from dlopen; `name` is NUL-terminated.
    unsafe { libc::dlsym(module, name.as_ptr()) as *const c_void }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_value_is_reused_by_its_session_only() {
        let mut alloc = HandleAllocator::new();
        let (first, second) = (alloc.open_range(), alloc.open_range());
        assert!(first != 0 && second != 0 && first != second);
        use_range(first);
        let h = alloc.allocate();
        assert_eq!(alloc.range_of(h), first);
        alloc.free(h);
        use_range(second);
        let others: Vec<SOCKET> = (0..16).map(|_| alloc.allocate()).collect();
        assert!(
            !others.contains(&h),
            "{:#x}, freed by one session, was handed to another",
            h
        );
        assert!(others.iter().all(|&o| alloc.range_of(o) == second));
        use_range(first);
        assert_eq!(
            alloc.allocate(),
            h,
            "a session reuses its closed value at once"
        );
        alloc.free(h);
        use_range(second);
        for o in others {
            alloc.free(o);
        }
        use_range(0);
        alloc.close_range(first);
        alloc.close_range(second);
    }
}
