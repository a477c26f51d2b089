//! The few Win32 functions the crate calls, declared here (no dependencies).
#![allow(non_snake_case, clippy::upper_case_acronyms)]

use std::ffi::c_void;

/// `OVERLAPPED` (only passed to `LockFileEx`).
#[repr(C)]
pub(crate) struct OVERLAPPED {
    internal: usize,
    internal_high: usize,
    offset: u32,
    offset_high: u32,
    event: *mut c_void,
}

impl Default for OVERLAPPED {
    fn default() -> OVERLAPPED {
        OVERLAPPED {
            internal: 0,
            internal_high: 0,
            offset: 0,
            offset_high: 0,
            event: std::ptr::null_mut(),
        }
    }
}

#[link(name = "kernel32")]
extern "system" {
    pub(crate) fn LockFileEx(
        file: *mut c_void,
        flags: u32,
        reserved: u32,
        low: u32,
        high: u32,
        overlapped: *mut OVERLAPPED,
    ) -> i32;
    pub(crate) fn GetModuleHandleW(name: *const u16) -> *mut c_void;
    pub(crate) fn LoadLibraryW(name: *const u16) -> *mut c_void;
    pub(crate) fn GetProcAddress(module: *mut c_void, name: *const u8) -> *const c_void;
    pub(crate) fn CreateMutexW(attrs: *const c_void, initial: i32, name: *const u16)
        -> *mut c_void;
    pub(crate) fn WaitForSingleObject(handle: *mut c_void, ms: u32) -> u32;
    pub(crate) fn ReleaseMutex(handle: *mut c_void) -> i32;
    pub(crate) fn CloseHandle(handle: *mut c_void) -> i32;
    pub(crate) fn GetCurrentProcess() -> *mut c_void;
    pub(crate) fn IsWow64Process(process: *mut c_void, wow64: *mut i32) -> i32;
}

/// `s` as a NUL-terminated UTF-16 string.
pub(crate) fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(Some(0)).collect()
}

/// `HKEY_LOCAL_MACHINE`.
pub(crate) const HKEY_LOCAL_MACHINE: isize = 0x8000_0002_u32 as i32 as isize;
/// `KEY_READ`.
pub(crate) const KEY_READ: u32 = 0x20019;
/// `KEY_ALL_ACCESS`.
pub(crate) const KEY_ALL_ACCESS: u32 = 0xF003F;
/// `KEY_WOW64_64KEY`: the 64-bit view even from a 32-bit process.
pub(crate) const KEY_WOW64_64KEY: u32 = 0x100;
/// `ERROR_SUCCESS`.
pub(crate) const ERROR_SUCCESS: i32 = 0;
/// `ERROR_NO_MORE_ITEMS`.
pub(crate) const ERROR_NO_MORE_ITEMS: i32 = 259;
/// `ERROR_MORE_DATA`.
pub(crate) const ERROR_MORE_DATA: i32 = 234;

#[link(name = "advapi32")]
extern "system" {
    pub(crate) fn RegOpenKeyExW(
        key: isize,
        subkey: *const u16,
        options: u32,
        sam: u32,
        result: *mut isize,
    ) -> i32;
    pub(crate) fn RegCreateKeyExW(
        key: isize,
        subkey: *const u16,
        reserved: u32,
        class: *mut u16,
        options: u32,
        sam: u32,
        security: *const c_void,
        result: *mut isize,
        disposition: *mut u32,
    ) -> i32;
    pub(crate) fn RegEnumKeyExW(
        key: isize,
        index: u32,
        name: *mut u16,
        name_len: *mut u32,
        reserved: *mut u32,
        class: *mut u16,
        class_len: *mut u32,
        last_write: *mut u64,
    ) -> i32;
    pub(crate) fn RegEnumValueW(
        key: isize,
        index: u32,
        name: *mut u16,
        name_len: *mut u32,
        reserved: *mut u32,
        kind: *mut u32,
        data: *mut u8,
        data_len: *mut u32,
    ) -> i32;
    pub(crate) fn RegSetValueExW(
        key: isize,
        name: *const u16,
        reserved: u32,
        kind: u32,
        data: *const u8,
        len: u32,
    ) -> i32;
    pub(crate) fn RegDeleteValueW(key: isize, name: *const u16) -> i32;
    pub(crate) fn RegDeleteKeyW(key: isize, subkey: *const u16) -> i32;
    pub(crate) fn RegCloseKey(key: isize) -> i32;
}
