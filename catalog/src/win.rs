//! The few Win32 functions the crate calls, declared here (no dependencies).
