//! The path of the library (or program) the runtime is linked into, for self-registration.

use winsock_catalog::CatalogError;

/// The full path of the module holding this function: the provider DLL (or shared object)
/// when the runtime is linked into one.
#[cfg(windows)]
pub(crate) fn own_path() -> Result<String, CatalogError> {
    use core::ffi::c_void;
    extern "system" {
        fn GetModuleHandleExW(flags: u32, name: *const u16, module: *mut *mut c_void) -> i32;
        fn GetModuleFileNameW(module: *mut c_void, name: *mut u16, size: u32) -> u32;
    }
    const GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT: u32 = 2;
    const GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS: u32 = 4;
    let anchor = own_path as fn() -> Result<String, CatalogError> as *const u16;
    let mut module = core::ptr::null_mut();
    // SAFETY: with FROM_ADDRESS the name argument is an address inside the module (this
    // function's), not read as a string; `module` is a writable handle slot. UNCHANGED_REFCOUNT
    // takes no reference that would need releasing.
    let found = unsafe {
        GetModuleHandleExW(
            GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
            anchor,
            &mut module,
        )
    };
    if found == 0 {
        return Err(CatalogError::invalid(
            "cannot find the module the provider is linked into (GetModuleHandleExW failed)",
        ));
    }
    let mut name = vec![0u16; 32_768];
    // SAFETY: `name` has room for `name.len()` UTF-16 units; `module` is a loaded module.
    let n = unsafe { GetModuleFileNameW(module, name.as_mut_ptr(), name.len() as u32) } as usize;
    if n == 0 || n >= name.len() {
        return Err(CatalogError::invalid(
            "cannot read the provider library's path (GetModuleFileNameW failed)",
        ));
    }
    String::from_utf16(&name[..n])
        .map_err(|_| CatalogError::invalid("the provider library's path is not valid UTF-16"))
}

/// The full path of the module holding this function: the provider's shared object when the
/// runtime is linked into one, else the program.
#[cfg(unix)]
pub(crate) fn own_path() -> Result<String, CatalogError> {
    use core::ffi::c_void;
    use std::ffi::CStr;
    use std::os::raw::c_char;
    #[repr(C)]
    struct DlInfo {
        fname: *const c_char,
        fbase: *mut c_void,
        sname: *const c_char,
        saddr: *mut c_void,
    }
    extern "C" {
        fn dladdr(addr: *const c_void, info: *mut DlInfo) -> i32;
    }
    let anchor = own_path as fn() -> Result<String, CatalogError> as *const c_void;
    let mut info = DlInfo {
        fname: core::ptr::null(),
        fbase: core::ptr::null_mut(),
        sname: core::ptr::null(),
        saddr: core::ptr::null_mut(),
    };
    // SAFETY: `anchor` is an address inside a loaded object; `info` is writable.
    let found = unsafe { dladdr(anchor, &mut info) };
    if found == 0 || info.fname.is_null() {
        return Err(CatalogError::invalid(
            "cannot find the object the provider is linked into (dladdr failed)",
        ));
    }
    // SAFETY: dladdr succeeded, so `fname` is a NUL-terminated path owned by the loader,
    // valid while the object stays loaded (it is never unloaded while this code runs).
    let name = unsafe { CStr::from_ptr(info.fname) };
    let name = name
        .to_str()
        .map_err(|_| CatalogError::invalid("the provider library's path is not valid UTF-8"))?;
    let path = std::path::Path::new(name);
    Ok(match std::env::current_dir() {
        Ok(dir) if path.is_relative() => dir.join(path).to_string_lossy().into_owned(),
        _ => name.to_owned(),
    })
}
