//! Integration tests of the toolkit live under `tests/*.rs` of this crate.
