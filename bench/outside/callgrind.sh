#!/usr/bin/env bash
# Instructions and heap allocations per call of the outside benchmark's calls, per provider,
# counted by callgrind and memcheck (exact and repeatable, unlike wall time).
#
#   bench/outside/callgrind.sh            # N1=20000, N2=60000
#   N1=... N2=... bench/outside/callgrind.sh
#   TRACE=1 bench/outside/callgrind.sh    # adds `minimal+trace`: the runtime's `trace` feature
#                                         # compiled in, WSP_TRACE unset
#
# Builds what bench/outside/run.sh builds, then for each provider and call runs
# `wsp-outside --count CALL N LABEL=LIBRARY` with N1 and N2 calls:
# * instructions/call = (Ir(N2) - Ir(N1)) / (N2 - N1), collected only inside the provider's
#   entry point (`--toggle-collect`): everything that runs in the provider library for the call
#   (the toolkit's code for `minimal`, whose trait methods return at once), set-up cancelling;
# * allocations/call = the same difference of memcheck's "total heap usage: N allocs" (every
#   malloc in the process, the provider's included).
# Then, for the layers (a layer over its base, through a catalog file of the run's own), the
# whole call as the application makes it: collected inside the driver's loop function for the
# call (`wsp_outside::<call>_loop`, the loop's own few instructions included), so the layer, the
# base under it and everything between count, for the base alone and through the layer; the
# difference is what the layer adds per call.
# The callgrind outputs stay in bench/target/outside-callgrind for callgrind_annotate.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
N1="${N1:-20000}"
N2="${N2:-60000}"
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }
"$here/run.sh" --build-only
bin="$root/bench/target/release/wsp-outside"
out="$root/bench/target/outside-callgrind"
mkdir -p "$out"
export WSP_OUTSIDE_SOCKETS="${WSP_OUTSIDE_SOCKETS:-1024}"

# label | library | prefix of the entry points (`--toggle-collect` patterns: prefix + function)
subjects=(
    "minimal|$root/bench/target/release/liboutside_minimal.so|winsock_provider::spi::*::"
    "loopback|$root/target/release/libloopback_provider.so|winsock_provider::spi::*::"
    "ideal|$root/bench/target/release/liboutside_ideal.so|outside_ideal::"
    "global-lock|$root/bench/target/release/liboutside_global_lock.so|outside_global_lock::"
)
if [[ "${TRACE:-}" == 1 ]]; then
    cargo build --release --quiet --manifest-path "$root/bench/Cargo.toml" -p outside-minimal \
        --features trace --target-dir "$root/bench/target/trace"
    subjects+=("minimal+trace|$root/bench/target/trace/release/liboutside_minimal.so|winsock_provider::spi::*::")
fi
unset WSP_TRACE
declare -A entry_fn=([recv]=recv [send]=send [getsockopt]=get_sock_opt [ioctl]=ioctl)
# label | base library | layer@base
layers=(
    "minimal-layer|$root/bench/target/release/liboutside_minimal.so|$root/bench/target/release/liboutside_minimal_layer.so@$root/bench/target/release/liboutside_minimal.so"
    "layered|$root/target/release/libloopback_provider.so|$root/target/release/liblayered_provider.so@$root/target/release/libloopback_provider.so"
)

ir() { # log -> total Ir
    awk '/Collected :/ { print $NF }' "$1" | tail -n1
}
allocs() { # log -> total allocs
    sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' "$1" | tr -d , | tail -n1
}
per() { awk -v a="$1" -v b="$2" -v n1="$N1" -v n2="$N2" 'BEGIN { v = (b - a) / (n2 - n1); if (v < 0.05 && v > -0.05) v = 0; printf "%.1f", v }'; }

echo "| provider | call | instructions/call (inside the provider) | allocations/call |"
echo "|---|---|---:|---:|"
for s in "${subjects[@]}"; do
    IFS='|' read -r label lib prefix <<<"$s"
    for call in recv send getsockopt ioctl; do
        declare -A inc=() al=()
        for n in "$N1" "$N2"; do
            f="$out/$label.$call.$n"
            valgrind --tool=callgrind --toggle-collect="$prefix${entry_fn[$call]}" \
                --callgrind-out-file="$f.out" "$bin" --count "$call" "$n" "$label=$lib" >"$f.log" 2>&1 ||
                { cat "$f.log" >&2; exit 1; }
            inc[$n]=$(ir "$f.log")
            valgrind --tool=memcheck "$bin" --count "$call" "$n" "$label=$lib" >"$f.memcheck.log" 2>&1 ||
                { cat "$f.memcheck.log" >&2; exit 1; }
            al[$n]=$(allocs "$f.memcheck.log")
        done
        echo "| $label | $call | $(per "${inc[$N1]}" "${inc[$N2]}") | $(per "${al[$N1]}" "${al[$N2]}") |"
    done
done

# Instructions per call of `call` on `spec`, collected inside the driver's loop function.
whole() { # label call spec -> instructions/call
    local label="$1" call="$2" spec="$3" n f
    declare -A w=()
    for n in "$N1" "$N2"; do
        f="$out/whole.$label.$call.$n"
        valgrind --tool=callgrind --toggle-collect="wsp_outside::${call}_loop" \
            --callgrind-out-file="$f.out" "$bin" --count "$call" "$n" "$label=$spec" >"$f.log" 2>&1 ||
            { cat "$f.log" >&2; exit 1; }
        w[$n]=$(ir "$f.log")
    done
    per "${w[$N1]}" "${w[$N2]}"
}

echo
echo "| layer | call | base alone: instructions/call | through the layer | added by the layer |"
echo "|---|---|---:|---:|---:|"
for s in "${layers[@]}"; do
    IFS='|' read -r label base spec <<<"$s"
    for call in recv send getsockopt ioctl; do
        alone=$(whole "$label-base" "$call" "$base")
        through=$(whole "$label" "$call" "$spec")
        added=$(awk -v a="$alone" -v b="$through" 'BEGIN { printf "%.1f", b - a }')
        echo "| $label | $call | $alone | $through | $added |"
    done
done
