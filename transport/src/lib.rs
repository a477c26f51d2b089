//! Building blocks for user-space transports behind a Winsock 2 service provider written with
//! [`winsock_provider`]: the plumbing every such transport needs, written once and tested.
//!
//! | block | what it does |
//! |---|---|
//! | [`lock`] | locks a `Mutex` without ever panicking on poison |
//! | [`Wait`] | how a call waits: not at all (`Sock::nonblocking()`), for ever, or until `SO_RCVTIMEO`/`SO_SNDTIMEO` |
//! | [`Pipe`], [`StreamEnd`] | a bounded byte pipe with backpressure, end of stream, shutdown, reset and close; a connection end made of two |
//! | [`MessageQueue`] | a bounded queue of datagrams that keeps boundaries (truncation is `WSAEMSGSIZE`) |
//! | [`AcceptQueue`] | a listener's pending connections, bounded by the backlog |
//! | [`Watchers`], [`Slot`] | readiness routing from the queues to a socket's notifiers, keeping signals sent before `attached` and carrying them over on `adopt` |
//! | [`SocketOptions`] | the common `SOL_SOCKET` options and the waits their timeouts give |
//! | [`Shared`], [`Duplicates`] | several descriptors of one socket in one process (`WSPDuplicateSocket`) |
//!
//! Every queue signals its readiness changes through a [`Slot`]; point the slots at the
//! owning socket's [`Watchers`] and attach each descriptor's notifier to those in
//! [`Provider::attached`]: every notification model the runtime serves (overlapped I/O,
//! `WSAEventSelect`, `WSAAsyncSelect`, `select`) then follows the transport. Blocking calls
//! wait on the queues' condition variables, woken by the other side or by close (`WSAEINTR`).
//!
//! ```
//! use std::sync::Arc;
//! use winsock_transport::{Pipe, ReadMode, StreamEnd, Wait, Watchers};
//! # use winsock_provider::{sys::WSABUF, Bufs, BufsMut};
//!
//! let (client, server) = StreamEnd::pair(64 * 1024, 64 * 1024);
//! // In `Provider::attached`: `watchers.attach(sock.notifier())`.
//! let watchers = Watchers::new();
//! server.attach(&watchers);
//! # let data = *b"hello";
//! # let w = [WSABUF { len: 5, buf: data.as_ptr() as *mut u8 }];
//! # // SAFETY: the WSABUF describes `data`, live for the call.
//! # let bufs = unsafe { Bufs::from_raw(w.as_ptr(), 1) }.unwrap();
//! // In `Provider::send`, with `bufs` the caller's buffers:
//! assert_eq!(client.tx.write(&bufs, Wait::new(false, 0)), Ok(5));
//! # let mut out = [0u8; 8];
//! # let w = [WSABUF { len: 8, buf: out.as_mut_ptr() }];
//! # // SAFETY: the WSABUF describes `out`, borrowed mutably for the call.
//! # let mut bufs = unsafe { BufsMut::from_raw(w.as_ptr(), 1) }.unwrap();
//! // In `Provider::recv` on the other end (non-blocking here):
//! assert_eq!(server.rx.read(&mut bufs, ReadMode::default(), Wait::NONBLOCKING), Ok(5));
//! ```
//!
//! The crate builds with Rust 1.63 (the Windows toolchain's) and depends only on the runtime.
//! `examples/loopback` is a complete TCP/UDP transport built from these blocks.
//!
//! [`Provider::attached`]: winsock_provider::Provider::attached

#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_op_in_unsafe_fn)]

mod accept;
mod message;
mod notify;
mod options;
mod pipe;
mod ring;
mod shared;
mod sync;
#[cfg(test)]
mod test_util;

pub use accept::AcceptQueue;
pub use message::{MessageQueue, Received};
pub use notify::{Slot, Watchers};
pub use options::{SocketOptions, TCP_NODELAY};
pub use pipe::{capacity_for, Pipe, ReadMode, StreamEnd};
pub use shared::{Close, Duplicates, Shared};
pub use sync::{lock, Wait};
