//! The SPI as ws2_32 and applications call it: the 30 `WSPPROC_TABLE` entry points, the
//! exports beside the table, and the extension functions, each one body run through the one
//! [`trampoline`].
//!
//! Following `WSPRecv` from the export to `Provider::recv` and back: [`proc_table`] points
//! `lpWSPRecv` at [`data::recv`], whose body [`trampoline::run`] runs; it finds the socket
//! ([`args::sock`]), validates the caller's buffers, and calls the provider through
//! `io::sock_io::call` (or, with `lpOverlapped`, submits an attempt from [`attempts`] to the
//! I/O machinery); the trampoline turns the `Result` into `0` or `SOCKET_ERROR` and `*lpErrno`.
//!
//! - [`sockets`]: create, accept, bind, connect, name, close; event selection;
//! - [`data`]: receives, sends, disconnects;
//! - [`control`]: options and control codes;
//! - [`lifecycle`]: start-up, clean-up, `WSPSelect`, address text, the other exports;
//! - [`ext`]: the extension functions (`AcceptEx`, `ConnectEx`...);
//! - [`register`]: `DllRegisterServer` / `DllUnregisterServer`.

pub(crate) mod args;
pub(crate) mod attempts;
pub(crate) mod control;
pub(crate) mod data;
pub(crate) mod exports;
pub(crate) mod ext;
pub(crate) mod lifecycle;
pub(crate) mod register;
pub(crate) mod select;
pub(crate) mod sockets;
pub(crate) mod trace;
pub(crate) mod trampoline;

use crate::registry::state::Binding;
use crate::sys::WSPPROC_TABLE;
use control::{get_qos_by_name, get_sock_opt, ioctl, set_sock_opt};
use data::{recv, recv_disconnect, recv_from, send, send_disconnect, send_to};
use lifecycle::{address_to_string, cancel_blocking_call, cleanup, select, string_to_address};
use sockets::{
    accept, async_select, bind, close_socket, connect, duplicate_socket, enum_network_events,
    event_select, get_overlapped_result, get_peer_name, get_sock_name, join_leaf, listen, shutdown,
    socket,
};

/// Builds a `WSPPROC_TABLE` from the list of entries: each field set to the function of the
/// same name in this module, instantiated for the provider type given in brackets.
macro_rules! table_of {
    ([$p:ident] $($field:ident : $entry:ty => $name:ident,)*) => {
        WSPPROC_TABLE { $($field: Some($name::<$p>),)* }
    };
}

/// The dispatch table of provider `P`: every entry set (from the one list of the 30 entries,
/// [`for_each_wsp_proc!`](crate::for_each_wsp_proc)).
pub fn proc_table<P: Binding>() -> WSPPROC_TABLE {
    crate::for_each_wsp_proc!(table_of, P)
}
