//! The shared scenario suite through the counting layer over the loopback provider, both found
//! in a catalog the way ws2_32 finds chains: each scenario a test of its own, in its own
//! session.

mod common;

ip_suite!(common::Chain::OverLoopback);
