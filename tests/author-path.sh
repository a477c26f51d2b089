#!/usr/bin/env bash
# A provider author's whole path, outside this repository, as docs/author-guide.md tells it:
#
#   cargo wsp new NAME [options]  ->  cargo test  ->  cargo wsp build --windows  ->  cargo wsp test --wine
#
#   tests/author-path.sh                 (from any directory; root on a fresh Debian 12 machine, as
#                                         cargo wsp installs the Windows toolchain and Wine with apt-get)
#
# Builds cargo-wsp from this checkout, puts it on PATH (so `cargo wsp` works as it does after
# `cargo install --path cargo-wsp`), and walks the path in a temporary folder outside the
# workspace for each variant:
#   default  `cargo wsp new` (AF_INET datagrams, the templates/provider crate)
#   family   `cargo wsp new --family 40 --sockaddr 16..16` (SockAddr::Raw addresses)
#   stream   `cargo wsp new --stream --family 40 --sockaddr 16..16` (the templates/provider-stream
#            crate: connections, every notification model, overlapped I/O, AcceptEx)
#   ifs      `cargo wsp new --ifs` (the templates/provider-ifs crate: sockets that are OS handles,
#            named pipes under Wine, Unix sockets on Linux; the stream, notification and IFS
#            file-I/O scenarios)
#   layered  `cargo wsp new --layered` (the templates/provider-layered crate: a counting layer whose
#            tests install the toolkit's stream template and the layer in a catalog file and run
#            through the chain; under Wine, `cargo wsp test --wine` builds the base's DLL
#            too, installs both in the prefix's catalog and runs the tests and the conformance
#            scenarios through the layer)
# Exits 0 only if every step of every variant passed; prints each step's time.
#
# Environment knobs (optional):
#   AUTHOR_PATH_VARIANTS   which variants to walk (default "default family stream ifs layered")
#   AUTHOR_PATH_KEEP=1     keep the temporary folder (its path is printed)
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$script_dir/.." && pwd)"
VARIANTS="${AUTHOR_PATH_VARIANTS:-default family stream ifs layered}"

t_start=$SECONDS
step() { printf '==> %s\n' "$*"; }
die() {
    printf '\nauthor-path: FAILED: %s\n' "$*" >&2
    exit 1
}

step "building cargo-wsp"
(cd "$root" && cargo build --quiet -p cargo-wsp) || die "cargo build -p cargo-wsp failed"
bin="$(mktemp -d "${TMPDIR:-/tmp}/wsp-bin.XXXXXX")"
work="$(mktemp -d "${TMPDIR:-/tmp}/wsp-author.XXXXXX")"
cleanup() {
    rm -rf "$bin"
    # Stop the Wine servers of the prefixes made here before their folders go.
    while IFS= read -r reg; do
        WINEPREFIX="$(dirname "$reg")" wineserver -k >/dev/null 2>&1 || true
    done < <(find "$work" -maxdepth 5 -name system.reg 2>/dev/null)
    if [[ "${AUTHOR_PATH_KEEP:-}" == 1 ]]; then
        echo "author-path: kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
cp "$root/target/debug/cargo-wsp" "$bin/"
export PATH="$bin:$PATH"
# Nothing from a surrounding cargo invocation may reach the author's builds.
unset CARGO_BUILD_TARGET RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_MANIFEST_DIR
case "$work" in "$root"/*) die "the temporary folder $work is inside the workspace" ;; esac
# The variants share their build directories (Linux and Windows), as an author with several
# provider crates may: the toolkit and the dependencies are then built once.
export CARGO_TARGET_DIR="$work/target" CARGO_WSP_TARGET_DIR="$work/target-windows"

timings=()
timed() {
    local what="$1"
    shift
    local t=$SECONDS
    step "$what"
    "$@" || die "$what"
    timings+=("$(printf '%4d s  %s' $((SECONDS - t)) "$what")")
}

for variant in $VARIANTS; do
    case "$variant" in
    default) args=() ;;
    family) args=(--family 40 --sockaddr 16..16) ;;
    stream) args=(--stream --family 40 --sockaddr 16..16) ;;
    ifs) args=(--ifs) ;;
    layered) args=(--layered) ;;
    *) die "unknown variant '$variant' in AUTHOR_PATH_VARIANTS" ;;
    esac
    name="author-$variant"
    cd "$work"
    timed "[$variant] cargo wsp new $name ${args[*]}" cargo wsp new "$name" "${args[@]}"
    cd "$work/$name"
    timed "[$variant] cargo test" cargo test --quiet
    timed "[$variant] cargo wsp build --windows" cargo wsp build --windows
    timed "[$variant] cargo wsp test --wine" cargo wsp test --wine
done

echo
echo "author-path: times"
printf '  %s\n' "${timings[@]}"
echo "author-path: every step passed ($((SECONDS - t_start)) s)"
