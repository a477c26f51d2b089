//! Loading a provider library (LoadLibrary / dlopen) and reading its protocol entries.

use std::ffi::c_void;
use std::path::Path;

use winsock_catalog::{Guid, ProtocolInfo, PROTOCOL_INFO_LEN};

/// `WspEnumProviderProtocols(lpProviderId, lpProtocolBuffer, lpdwBufferLength, lpErrno)`.
type EnumProtocolsFn = unsafe extern "system" fn(*mut Guid, *mut c_void, *mut u32, *mut i32) -> i32;

const SOCKET_ERROR: i32 = -1;
const WSAENOBUFS: i32 = 10055;

/// A loaded library; never unloaded (its code may have started threads).
pub struct Library {
    handle: *mut c_void,
    path: String,
}

impl Library {
    /// Loads `path`.
    pub fn open(path: &Path) -> Result<Library, String> {
        let handle = os::open(path)?;
        Ok(Library {
            handle,
            path: path.display().to_string(),
        })
    }

    /// Whether the library exports `name`.
    pub fn has(&self, name: &str) -> bool {
        !os::symbol(self.handle, name).is_null()
    }

    /// The provider's GUID and protocol entries, from its `WspEnumProviderProtocols` export.
    pub fn protocols(&self) -> Result<(Guid, Vec<ProtocolInfo>), String> {
        if !self.has("WSPStartup") {
            return Err(format!(
                "{} does not export WSPStartup: it is not a Winsock service provider",
                self.path
            ));
        }
        let f = os::symbol(self.handle, "WspEnumProviderProtocols");
        if f.is_null() {
            return Err(format!(
                "{} does not export WspEnumProviderProtocols (not built with winsock-provider?); pass the entries another way",
                self.path
            ));
        }
        // SAFETY: the export of that name has this prototype in every provider built with
        // winsock-provider (`EnumProtocolsFn` in the runtime).
        let f: EnumProtocolsFn =
            unsafe { std::mem::transmute::<*const c_void, EnumProtocolsFn>(f) };
        let mut guid = Guid::NIL;
        let mut len = 0u32;
        let mut errno = 0i32;
        // SAFETY: a null buffer with length 0 asks for the size; the other pointers are valid.
        let r = unsafe { f(&mut guid, std::ptr::null_mut(), &mut len, &mut errno) };
        if r != SOCKET_ERROR || errno != WSAENOBUFS {
            return Err(format!(
                "{}: WspEnumProviderProtocols did not report its size (returned {}, error {})",
                self.path, r, errno
            ));
        }
        let mut buf = vec![0u32; (len as usize + 3) / 4];
        let mut len2 = (buf.len() * 4) as u32;
        // SAFETY: `buf` has `len2` writable bytes, 4-byte aligned.
        let n = unsafe { f(&mut guid, buf.as_mut_ptr().cast(), &mut len2, &mut errno) };
        if n < 0 {
            return Err(format!(
                "{}: WspEnumProviderProtocols failed with error {}",
                self.path, errno
            ));
        }
        let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut infos = Vec::new();
        for i in 0..n as usize {
            let chunk = bytes
                .get(i * PROTOCOL_INFO_LEN..(i + 1) * PROTOCOL_INFO_LEN)
                .ok_or_else(|| format!("{}: more entries than bytes", self.path))?;
            infos.push(ProtocolInfo::from_bytes(chunk).map_err(|e| e.to_string())?);
        }
        Ok((guid, infos))
    }
}

#[cfg(unix)]
mod os {
    use std::ffi::{c_void, CStr, CString};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    pub fn open(path: &Path) -> Result<*mut c_void, String> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| format!("{}: path contains a NUL byte", path.display()))?;
        // SAFETY: `c` is NUL-terminated and outlives the call.
        let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if h.is_null() {
            // SAFETY: dlerror returns null or a NUL-terminated message valid until the next
            // dl call on this thread.
            let msg = unsafe {
                let e = libc::dlerror();
                if e.is_null() {
                    "unknown error".to_owned()
                } else {
                    CStr::from_ptr(e).to_string_lossy().into_owned()
                }
            };
            return Err(format!("cannot load {}: {}", path.display(), msg));
        }
        Ok(h)
    }

    pub fn symbol(h: *mut c_void, name: &str) -> *const c_void {
        let c = match CString::new(name) {
            Ok(c) => c,
            Err(_) => return std::ptr::null(),
        };
        // SAFETY: `h` came from dlopen and is never closed; `c` is NUL-terminated.
        unsafe { libc::dlsym(h, c.as_ptr()) as *const c_void }
    }
}

#[cfg(windows)]
mod os {
    use std::ffi::c_void;
    use std::os::windows::ffi::OsStrExt;
    use std::path::Path;

    #[link(name = "kernel32")]
    extern "system" {
        fn LoadLibraryW(name: *const u16) -> *mut c_void;
        fn GetProcAddress(module: *mut c_void, name: *const u8) -> *const c_void;
        fn GetLastError() -> u32;
    }

    pub fn open(path: &Path) -> Result<*mut c_void, String> {
        let w: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
        // SAFETY: `w` is NUL-terminated and outlives the call.
        let h = unsafe { LoadLibraryW(w.as_ptr()) };
        if h.is_null() {
            // SAFETY: plain Win32 call.
            let e = unsafe { GetLastError() };
            return Err(format!("cannot load {}: error {}", path.display(), e));
        }
        Ok(h)
    }

    pub fn symbol(h: *mut c_void, name: &str) -> *const c_void {
        let c: Vec<u8> = name.bytes().chain(Some(0)).collect();
        // SAFETY: `h` is a loaded module, never freed; `c` is NUL-terminated.
        unsafe { GetProcAddress(h, c.as_ptr()) }
    }
}
