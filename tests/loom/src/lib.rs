//! A loom model of the handle table (`wsp-handle-table`).
//!
//! Built with `--cfg loom`, the table crate swaps its atomics, fences, mutex and thread-locals
//! for loom's (see its `sync.rs`) and shrinks its pages. The models in `model.rs` then explore
//! the interleavings of publish, lookup, close and reclaim that matter: a lookup racing a close
//! and an immediate reuse of the value, racing closes, long pins.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --manifest-path tests/loom/Cargo.toml`
//! (CI's `.ci/run` does); `LOOM_MAX_PREEMPTIONS` widens the search (default here: 3).

#[cfg(not(loom))]
compile_error!(
    "the loom model needs `--cfg loom`: \
     RUSTFLAGS=\"--cfg loom\" cargo test --release --manifest-path tests/loom/Cargo.toml"
);

#[cfg(test)]
mod model;
