//! A loom model of the handle table (`wsp-handle-table`).
//!
//! `tests/loom/table` builds the table crate's own source with `cfg(loom)`, which swaps its
//! atomics, fences, mutex and thread-locals for loom's (see its `sync.rs`) and its memory
//! barriers for sequentially consistent fences, and shrinks its pages. The models in `model.rs`
//! then explore the interleavings of publish, lookup, close and reclaim that matter: a lookup
//! racing a close and an immediate reuse of the value, racing closes, long pins.
//!
//! Run with `cargo test -p wsp-table-loom --release` (part of `cargo test --workspace`);
//! `LOOM_MAX_PREEMPTIONS` widens the search (default here: 3).

#[cfg(test)]
mod model;
