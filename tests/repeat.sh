#!/usr/bin/env bash
# Runs one test command several times in a row and counts the runs that failed: a check that a
# test binary is not flaky (tests sharing one process must not see each other's handles).
#
#   tests/repeat.sh                 the whole scenario suite in one test binary, 20 times:
#                                   cargo test -p loopback-provider --test suite
#   tests/repeat.sh N               the same, N times
#   tests/repeat.sh N COMMAND...    COMMAND, N times (e.g. tests/repeat.sh 50 cargo test -p pipe-provider)
#
# Builds first (the command with `--no-run` added when it is a `cargo test`), then runs it N
# times; a failed run's output is kept in $TMPDIR (its path is printed). Prints
# "repeat: P of N runs passed" and exits 0 only if every run passed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

count="${1:-20}"
[[ "$count" =~ ^[1-9][0-9]*$ ]] || {
    echo "usage: tests/repeat.sh [N [COMMAND...]]" >&2
    exit 2
}
shift || true
if [[ $# -eq 0 ]]; then
    set -- cargo test -p loopback-provider --test suite
fi
if [[ "$1" == cargo && "${2:-}" == test ]]; then
    "$@" --no-run --quiet
fi

passed=0
for i in $(seq 1 "$count"); do
    log="$(mktemp "${TMPDIR:-/tmp}/repeat.XXXXXX")"
    start=$SECONDS
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        rm -f "$log"
        printf 'repeat: run %d of %d passed (%d s)\n' "$i" "$count" $((SECONDS - start))
    else
        printf 'repeat: run %d of %d FAILED (%d s); output: %s\n' "$i" "$count" $((SECONDS - start)) "$log"
        grep -E '^(test .* FAILED|thread .* panicked|---- )' "$log" | head -5 || true
    fi
done
echo "repeat: $passed of $count runs passed: $*"
[[ $passed -eq $count ]]
