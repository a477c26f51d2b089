//! What the stand-in needs from the operating system: handle values and library loading.

use core::ffi::c_void;
use std::path::Path;
use winsock_provider::sys::SOCKET;

/// Hands out non-IFS socket handle values.
///
/// On Unix: multiples of 4 from 0x10000 up (clear of file descriptors, which IFS providers
/// hand out there), most recently freed value first, so a closed value is reused at once as
/// Windows does.
#[cfg(not(windows))]
pub(crate) struct HandleAllocator {
    next: SOCKET,
    free: Vec<SOCKET>,
}

#[cfg(not(windows))]
impl HandleAllocator {
    pub(crate) const fn new() -> HandleAllocator {
        HandleAllocator {
            next: 0x1_0000,
            free: Vec::new(),
        }
    }

    pub(crate) fn allocate(&mut self) -> SOCKET {
        match self.free.pop() {
            Some(h) => h,
            None => {
                let h = self.next;
                self.next += 4;
                h
            }
        }
    }

    pub(crate) fn free(&mut self, h: SOCKET) {
        self.free.push(h);
    }
}

/// Hands out non-IFS socket handle values.
///
/// On Windows each is a real kernel object handle (an unnamed event), as ws2_32's are: a
/// multiple of 4 from the process handle table, reused by the OS as soon as it is closed.
#[cfg(windows)]
pub(crate) struct HandleAllocator;

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
impl HandleAllocator {
    pub(crate) const fn new() -> HandleAllocator {
        HandleAllocator
    }

    pub(crate) fn allocate(&mut self) -> SOCKET {
        // SAFETY: plain Win32 call with null (default) attributes and name.
        let h = unsafe { CreateEventW(core::ptr::null(), 1, 0, core::ptr::null()) };
        assert!(
            !h.is_null(),
            "ws2-standin: CreateEventW failed; cannot allocate a socket handle"
        );
        h as SOCKET
    }

    pub(crate) fn free(&mut self, h: SOCKET) {
        // SAFETY: `h` came from CreateEventW in `allocate` and is closed once.
        unsafe { CloseHandle(h as *mut c_void) };
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
