#!/usr/bin/env bash
# The outside dispatch benchmark on Linux: builds the providers it loads (release) and runs
# `wsp-outside` on them side by side, printing a Markdown report.
#
#   bench/outside/run.sh                # defaults: 500000 calls per run, 7 rounds, 1..=nproc threads
#   WSP_OUTSIDE_CALLS=... WSP_OUTSIDE_ROUNDS=... WSP_OUTSIDE_THREADS=1,2 bench/outside/run.sh
#   bench/outside/run.sh --build-only   # just build (used by callgrind.sh)
#
# Providers: `minimal` (bench/outside/minimal, made with the toolkit), `loopback`
# (examples/loopback, built in the main workspace), `ideal` and `global-lock` (hand-written,
# bench/outside/{ideal,global-lock}); and two layers, each reached through a catalog file of the
# run's own: `minimal-layer` (bench/outside/minimal-layer, forwarding everything) over
# `minimal`, and `layered` (examples/layered, the counting layer) over `loopback`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cargo build --release --quiet --manifest-path "$root/bench/Cargo.toml" \
    -p outside-minimal -p outside-minimal-layer -p outside-ideal -p outside-global-lock -p wsp-outside
# The main workspace's own target directory, as its tests use (CARGO_TARGET_DIR aside).
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p loopback-provider -p layered-provider
[[ "${1:-}" == "--build-only" ]] && exit 0
b="$root/bench/target/release"
exec "$b/wsp-outside" \
    "minimal=$b/liboutside_minimal.so" \
    "loopback=$root/target/release/libloopback_provider.so" \
    "ideal=$b/liboutside_ideal.so" \
    "global-lock=$b/liboutside_global_lock.so" \
    "minimal-layer=$b/liboutside_minimal_layer.so@$b/liboutside_minimal.so" \
    "layered=$root/target/release/liblayered_provider.so@$root/target/release/libloopback_provider.so"
