//! The network-event bookkeeping of `WSPEventSelect`, `WSPAsyncSelect` and
//! `WSPEnumNetworkEvents`, by Microsoft's re-enabling rules, and how recorded events are
//! announced (`WPUSetEvent`, `WPUPostMessage`).

use super::ready::Ready;
use crate::sys::{self, FD_ACCEPT, FD_CLOSE, FD_CONNECT, FD_READ, FD_WRITE, HWND, SOCKET};
use crate::types::error::WsaError;

/// `FD_*_BIT`: the index of an `FD_*` event in `iErrorCode`.
pub(crate) fn fd_index(bit: u32) -> usize {
    bit.trailing_zeros() as usize
}

/// Network-event recording for one socket, by the re-enabling rules of `WSAEventSelect`:
/// once an event is recorded, it is not recorded again until its re-enabling call (`FD_READ`:
/// a receive; `FD_ACCEPT`: an accept; `FD_WRITE`: a send that failed with `WSAEWOULDBLOCK`,
/// after which room is signalled; `FD_CONNECT` and `FD_CLOSE`: never).
#[derive(Clone, Debug)]
pub(crate) struct EventState {
    /// The `FD_*` events selected (0: none).
    mask: u32,
    /// Recorded and awaiting their re-enabling call.
    disabled: u32,
    /// `FD_WRITE` may be recorded (on selection, after connecting, after `WSAEWOULDBLOCK`).
    write_armed: bool,
    /// Recorded since the last `WSPEnumNetworkEvents`.
    recorded: u32,
    errors: [i32; 10],
}

impl Default for EventState {
    fn default() -> EventState {
        EventState {
            mask: 0,
            disabled: 0,
            write_armed: true,
            recorded: 0,
            errors: [0; 10],
        }
    }
}

impl EventState {
    /// A new selection of `mask` (0 cancels): the record is cleared and every event enabled.
    pub(crate) fn select(&mut self, mask: u32) {
        *self = EventState {
            mask,
            ..EventState::default()
        };
    }

    /// The selected events.
    pub(crate) fn mask(&self) -> u32 {
        self.mask
    }

    /// Conditions `bits` hold (with `error` for `FD_CONNECT`/`FD_CLOSE`): returns the events
    /// newly recorded.
    pub(crate) fn occur(&mut self, bits: u32, error: i32) -> u32 {
        let mut fired = 0;
        for bit in [FD_READ, FD_WRITE, FD_ACCEPT, FD_CONNECT, FD_CLOSE] {
            if bits & bit == 0 || self.mask & bit == 0 || self.disabled & bit != 0 {
                continue;
            }
            if bit == FD_WRITE {
                if !self.write_armed {
                    continue;
                }
                self.write_armed = false;
            }
            self.disabled |= bit;
            self.recorded |= bit;
            self.errors[fd_index(bit)] = if bit == FD_CONNECT || bit == FD_CLOSE {
                error
            } else {
                0
            };
            fired |= bit;
        }
        fired
    }

    /// A re-enabling call for `bit` (`FD_READ` by a receive, `FD_ACCEPT` by an accept).
    pub(crate) fn reenable(&mut self, bit: u32) {
        if bit & (FD_CONNECT | FD_CLOSE | FD_WRITE) == 0 {
            self.disabled &= !bit;
        }
    }

    /// A send failed with `WSAEWOULDBLOCK`: the next room signal records `FD_WRITE`.
    pub(crate) fn send_would_block(&mut self) {
        self.write_armed = true;
        self.disabled &= !FD_WRITE;
    }

    /// The socket became connected: `FD_WRITE` may be recorded once more.
    pub(crate) fn connected(&mut self) {
        self.write_armed = true;
        self.disabled &= !FD_WRITE;
    }

    /// `WSPEnumNetworkEvents`: the record, which is then cleared.
    pub(crate) fn take(&mut self) -> sys::WSANETWORKEVENTS {
        let out = sys::WSANETWORKEVENTS {
            lNetworkEvents: self.recorded as i32,
            iErrorCode: self.errors,
        };
        self.recorded = 0;
        self.errors = [0; 10];
        out
    }

    /// The error recorded with `bit`.
    pub(crate) fn error_of(&self, bit: u32) -> i32 {
        self.errors[fd_index(bit)]
    }
}

/// Where recorded network events are announced.
#[derive(Copy, Clone)]
pub(crate) enum Target {
    /// No selection.
    None,
    /// `WSPEventSelect`: an event object, set with `WPUSetEvent`.
    Event(sys::WSAEVENT),
    /// `WSPAsyncSelect`: a window message posted with `WPUPostMessage`.
    Window(HWND, u32),
}

/// A socket's readiness and selection state.
pub(crate) struct NotifyState {
    /// Conditions signalled and not since refuted (the default readiness).
    pub(crate) level: Ready,
    /// The error of the last failed connection attempt (select's except set), if any.
    pub(crate) connect_error: Option<WsaError>,
    /// The error of a reset or abort, if the connection closed that way.
    pub(crate) close_error: Option<WsaError>,
    pub(crate) events: EventState,
    pub(crate) target: Target,
}

// SAFETY: the raw handles in `Target` are opaque values ws2_32 gave us (an event handle, a
// window handle), only passed back to ws2_32's upcalls, which accept them from any thread.
unsafe impl Send for NotifyState {}

impl NotifyState {
    pub(crate) fn new() -> NotifyState {
        NotifyState {
            level: Ready::NONE,
            connect_error: None,
            close_error: None,
            events: EventState::default(),
            target: Target::None,
        }
    }
}

/// Announces `fired` events of socket `handle` through `target` (under the socket's notify
/// lock, so that messages of one socket are posted in order).
///
/// # Safety
/// `upcalls` is the table ws2_32 passed to `WSPStartup`.
pub(crate) unsafe fn announce(
    upcalls: &sys::WSPUPCALLTABLE,
    handle: SOCKET,
    target: Target,
    events: &EventState,
    fired: u32,
) {
    if fired == 0 {
        return;
    }
    match target {
        Target::None => {}
        Target::Event(event) => {
            if let Some(set) = upcalls.lpWPUSetEvent {
                let mut err = 0;
                // SAFETY: a ws2_32 upcall, given the application's event.
                unsafe { set(event, &mut err) };
            }
        }
        Target::Window(hwnd, msg) => {
            if let Some(post) = upcalls.lpWPUPostMessage {
                // Events recorded together are posted in the order they happen in: a
                // connection completes before it is writable; it closes last.
                for bit in [FD_CONNECT, FD_ACCEPT, FD_READ, FD_WRITE, FD_CLOSE] {
                    if fired & bit != 0 {
                        let error = events.error_of(bit) as u32 & 0xffff;
                        let lparam = ((error << 16) | bit) as sys::LPARAM;
                        // SAFETY: a ws2_32 upcall, given the application's window and message.
                        unsafe { post(hwnd, msg, handle, lparam) };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_is_recorded_once_until_a_receive() {
        let mut e = EventState::default();
        e.select(FD_READ | FD_CLOSE);
        assert_eq!(e.occur(FD_READ, 0), FD_READ);
        assert_eq!(e.occur(FD_READ, 0), 0);
        let got = e.take();
        assert_eq!(got.lNetworkEvents, FD_READ as i32);
        // Enumerating does not re-enable; a receive does.
        assert_eq!(e.occur(FD_READ, 0), 0);
        e.reenable(FD_READ);
        assert_eq!(e.occur(FD_READ, 0), FD_READ);
        // Unselected events are never recorded.
        assert_eq!(e.occur(FD_ACCEPT, 0), 0);
    }

    #[test]
    fn write_needs_would_block_after_the_first() {
        let mut e = EventState::default();
        e.select(FD_WRITE);
        assert_eq!(e.occur(FD_WRITE, 0), FD_WRITE);
        e.reenable(FD_WRITE);
        assert_eq!(
            e.occur(FD_WRITE, 0),
            0,
            "a successful send does not re-enable"
        );
        e.send_would_block();
        assert_eq!(e.occur(FD_WRITE, 0), FD_WRITE);
        assert_eq!(e.occur(FD_WRITE, 0), 0);
        e.connected();
        assert_eq!(e.occur(FD_WRITE, 0), FD_WRITE);
    }

    #[test]
    fn connect_and_close_are_one_shot_with_errors() {
        let mut e = EventState::default();
        e.select(FD_CONNECT | FD_CLOSE | FD_READ);
        assert_eq!(
            e.occur(FD_CONNECT, WsaError::CONNREFUSED.code()),
            FD_CONNECT
        );
        assert_eq!(e.occur(FD_CONNECT, 0), 0);
        e.reenable(FD_CONNECT);
        assert_eq!(e.occur(FD_CONNECT, 0), 0);
        assert_eq!(
            e.occur(FD_CLOSE | FD_READ, WsaError::CONNRESET.code()),
            FD_CLOSE | FD_READ
        );
        let got = e.take();
        assert_eq!(got.lNetworkEvents, (FD_CONNECT | FD_CLOSE | FD_READ) as i32);
        assert_eq!(
            got.iErrorCode[fd_index(FD_CONNECT)],
            WsaError::CONNREFUSED.code()
        );
        assert_eq!(
            got.iErrorCode[fd_index(FD_CLOSE)],
            WsaError::CONNRESET.code()
        );
        assert_eq!(got.iErrorCode[fd_index(FD_READ)], 0);
        assert_eq!(e.take().lNetworkEvents, 0);
    }

    #[test]
    fn a_new_selection_clears_the_record() {
        let mut e = EventState::default();
        e.select(FD_ACCEPT);
        assert_eq!(e.occur(FD_ACCEPT, 0), FD_ACCEPT);
        e.select(FD_ACCEPT | FD_READ);
        assert_eq!(e.take().lNetworkEvents, 0);
        assert_eq!(e.occur(FD_ACCEPT, 0), FD_ACCEPT);
        e.select(0);
        assert_eq!(e.occur(FD_ACCEPT | FD_READ, 0), 0);
    }
}
