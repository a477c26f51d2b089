//! The extension functions applications get through `SIO_GET_EXTENSION_FUNCTION_POINTER`
//! (mswsock.h): their GUIDs, signatures and structures.

use core::ffi::c_void;
use winsock_provider::sys::{
    BOOL, HANDLE, LPWSAOVERLAPPED_COMPLETION_ROUTINE, OVERLAPPED, SOCKADDR, SOCKET,
};
pub use winsock_provider::sys::{
    TF_DISCONNECT, TF_REUSE_SOCKET, TRANSMIT_FILE_BUFFERS, WSAID_ACCEPTEX, WSAID_CONNECTEX,
    WSAID_DISCONNECTEX, WSAID_GETACCEPTEXSOCKADDRS, WSAID_TRANSMITFILE, WSAID_WSARECVMSG,
    WSAID_WSASENDMSG, WSAMSG,
};

/// `SO_UPDATE_ACCEPT_CONTEXT`.
pub const SO_UPDATE_ACCEPT_CONTEXT: i32 = 0x700B;
/// `SO_UPDATE_CONNECT_CONTEXT`.
pub const SO_UPDATE_CONNECT_CONTEXT: i32 = 0x7010;

/// `AcceptEx`.
pub type AcceptExFn = unsafe extern "system" fn(
    SOCKET,
    SOCKET,
    *mut c_void,
    u32,
    u32,
    u32,
    *mut u32,
    *mut OVERLAPPED,
) -> BOOL;
/// `ConnectEx`.
pub type ConnectExFn = unsafe extern "system" fn(
    SOCKET,
    *const SOCKADDR,
    i32,
    *const c_void,
    u32,
    *mut u32,
    *mut OVERLAPPED,
) -> BOOL;
/// `DisconnectEx`.
pub type DisconnectExFn = unsafe extern "system" fn(SOCKET, *mut OVERLAPPED, u32, u32) -> BOOL;
/// `GetAcceptExSockaddrs`.
pub type GetAcceptExSockaddrsFn = unsafe extern "system" fn(
    *const c_void,
    u32,
    u32,
    u32,
    *mut *mut SOCKADDR,
    *mut i32,
    *mut *mut SOCKADDR,
    *mut i32,
);
/// `WSARecvMsg`.
pub type WsaRecvMsgFn = unsafe extern "system" fn(
    SOCKET,
    *mut WSAMSG,
    *mut u32,
    *mut OVERLAPPED,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE,
) -> i32;
/// `WSASendMsg`.
pub type WsaSendMsgFn = unsafe extern "system" fn(
    SOCKET,
    *mut WSAMSG,
    u32,
    *mut u32,
    *mut OVERLAPPED,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE,
) -> i32;
/// `TransmitFile`.
pub type TransmitFileFn = unsafe extern "system" fn(
    SOCKET,
    HANDLE,
    u32,
    u32,
    *mut OVERLAPPED,
    *const TRANSMIT_FILE_BUFFERS,
    u32,
) -> BOOL;
