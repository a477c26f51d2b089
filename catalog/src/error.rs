//! The error every catalog operation returns.

use std::fmt;

/// `WSAEFAULT`: a pointer argument is not valid (the real WSC* functions only).
pub const WSAEFAULT: i32 = 10014;
/// `WSAEINVAL`: an argument is invalid (unknown or duplicate GUID, bad path, bad chain, ...).
pub const WSAEINVAL: i32 = 10022;
/// `WSATRY_AGAIN`: another writer changed the catalog between this operation's read and its
/// write (`Serial_Access_Num` moved); nothing was written, the operation may be retried.
pub const WSATRY_AGAIN: i32 = 11002;
/// `WSANO_RECOVERY`: the catalog cannot be read or written (missing key or file, no access,
/// corrupted entry).
pub const WSANO_RECOVERY: i32 = 11003;
/// `WSA_NOT_ENOUGH_MEMORY`.
pub const WSA_NOT_ENOUGH_MEMORY: i32 = 8;

/// A failed catalog operation: the WSA code the corresponding WSC* function documents, and a
/// message naming the key, entry or argument at fault.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CatalogError {
    code: i32,
    message: String,
}

impl CatalogError {
    /// An error with WSA code `code` and message `message`.
    pub fn new(code: i32, message: impl Into<String>) -> CatalogError {
        CatalogError {
            code,
            message: message.into(),
        }
    }

    /// `WSAEINVAL` with `message`.
    pub fn invalid(message: impl Into<String>) -> CatalogError {
        CatalogError::new(WSAEINVAL, message)
    }

    /// `WSANO_RECOVERY` with `message`.
    pub fn no_recovery(message: impl Into<String>) -> CatalogError {
        CatalogError::new(WSANO_RECOVERY, message)
    }

    /// The WSA error code (what the WSC* function would put in `*lpErrno`).
    pub fn code(&self) -> i32 {
        self.code
    }

    /// The message, without the code.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The symbolic name of the code (`"WSAEINVAL"`, ...), or `"error"` for codes without one.
    pub fn code_name(&self) -> &'static str {
        match self.code {
            WSAEFAULT => "WSAEFAULT",
            WSAEINVAL => "WSAEINVAL",
            WSATRY_AGAIN => "WSATRY_AGAIN",
            WSANO_RECOVERY => "WSANO_RECOVERY",
            WSA_NOT_ENOUGH_MEMORY => "WSA_NOT_ENOUGH_MEMORY",
            _ => "error",
        }
    }

    /// The same error with `context` put in front of the message.
    pub fn context(self, context: impl fmt::Display) -> CatalogError {
        CatalogError {
            code: self.code,
            message: format!("{}: {}", context, self.message),
        }
    }
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} {})", self.message, self.code_name(), self.code)
    }
}

impl std::error::Error for CatalogError {}
