#!/usr/bin/env bash
# Instructions per WSPSend call through the runtime's thunk vs a direct call of the provider's
# send function, counted by callgrind (stable on noisy machines, unlike wall time).
#
#   bench/callgrind-dispatch.sh            # N1=100000, N2=300000
#   N1=... N2=... bench/callgrind-dispatch.sh
#
# Each mode runs twice (N1 and N2 calls); instructions per call = (Ir(N2) - Ir(N1)) / (N2 - N1),
# which cancels the set-up (provider load, socket creation) that both runs share.
# Builds `--release` with debug symbols (bench/Cargo.toml sets debug = true for release), so
# `callgrind_annotate bench/target/callgrind/thunk.N2.out` attributes the counts to functions.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
N1="${N1:-100000}"
N2="${N2:-300000}"
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }
cargo build --release --quiet --manifest-path "$here/Cargo.toml" --bin dispatch-count
bin="$here/target/release/dispatch-count"
out="$here/target/callgrind"
mkdir -p "$out"

count() { # mode n -> total Ir
    local log="$out/$1.$2.log"
    valgrind --tool=callgrind --callgrind-out-file="$out/$1.$2.out" "$bin" "$1" "$2" >"$log" 2>&1
    awk '/Collected :/ { print $NF }' "$log" | tail -n1
}

declare -A per
for mode in thunk direct; do
    a=$(count "$mode" "$N1")
    b=$(count "$mode" "$N2")
    per[$mode]=$(awk -v a="$a" -v b="$b" -v n1="$N1" -v n2="$N2" 'BEGIN { printf "%.2f", (b - a) / (n2 - n1) }')
    echo "$mode: Ir($N1)=$a Ir($N2)=$b -> ${per[$mode]} instructions/call"
done
diff=$(awk -v t="${per[thunk]}" -v d="${per[direct]}" 'BEGIN { printf "%.2f", t - d }')
echo
echo "| path | instructions/call |"
echo "|---|---:|"
echo "| thunk (proc_table lpWSPSend) | ${per[thunk]} |"
echo "| direct (inner_send) | ${per[direct]} |"
echo "| dispatch overhead | $diff |"
