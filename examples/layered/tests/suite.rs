//! The shared scenario suite through the counting layer over the loopback provider, both found
//! in a catalog the way ws2_32 finds chains: each scenario a test of its own, in its own
//! session.

mod common;

use common::{run_serial as run, TCP, UDP};
use ws2_standin::scenarios::{churn, datagram, duplicate, errors, notify, overlapped, stream};

#[test]
fn stream_echo() {
    run(|ws| stream::echo(ws, &TCP, 8, 1 << 20));
}

#[test]
fn stream_graceful_shutdown() {
    run(|ws| stream::graceful_shutdown(ws, &TCP));
}

#[test]
fn stream_refused() {
    run(|ws| stream::refused(ws, &TCP));
}

#[test]
fn stream_wrong_state() {
    run(|ws| stream::wrong_state(ws, &TCP));
}

#[test]
fn stream_nonblocking() {
    run(|ws| stream::nonblocking(ws, &TCP));
}

#[test]
fn stream_options() {
    run(|ws| stream::options(ws, &TCP));
}

#[test]
fn datagram_boundaries() {
    run(|ws| datagram::boundaries(ws, &UDP));
}

#[test]
fn errors_bad_input_tcp() {
    run(|ws| errors::bad_input(ws, &TCP));
}

#[test]
fn errors_bad_input_udp() {
    run(|ws| errors::bad_input(ws, &UDP));
}

#[test]
fn churn_create_close_tcp() {
    run(|ws| churn::create_close(ws, &TCP, 2_000));
}

#[test]
fn churn_create_close_udp() {
    run(|ws| churn::create_close(ws, &UDP, 1_000));
}

#[test]
fn churn_close_races_calls_tcp() {
    run(|ws| churn::close_races_calls(ws, &TCP, 20));
}

#[test]
fn churn_close_races_calls_udp() {
    run(|ws| churn::close_races_calls(ws, &UDP, 20));
}

#[test]
fn duplicate_same_process() {
    run(|ws| duplicate::same_process(ws, &TCP));
}

#[test]
fn overlapped_routes() {
    run(|ws| overlapped::routes(ws, &TCP));
}

#[test]
fn overlapped_close_with_pending() {
    run(|ws| overlapped::close_with_pending(ws, &TCP));
}

#[test]
fn overlapped_extensions() {
    run(|ws| overlapped::extensions(ws, &TCP, &UDP));
}

#[test]
fn overlapped_iocp_echo() {
    run(|ws| overlapped::iocp_echo(ws, &TCP, 4, 16, 256 << 10));
}

#[test]
fn notify_event_select_echo() {
    run(|ws| notify::event_select_echo(ws, &TCP, 8, 128 << 10));
}

#[test]
fn notify_select_echo() {
    run(|ws| notify::select_echo(ws, &TCP, 8, 128 << 10));
}

#[test]
fn notify_async_select_order() {
    run(|ws| notify::async_select_order(ws, &TCP));
}
