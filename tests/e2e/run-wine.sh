#!/usr/bin/env bash
# End-to-end test of the real provider DLLs under Wine.
#
#   tests/e2e/run-wine.sh [--arch x86_64|i686|both]   (from any directory; needs root on a
#                                                     fresh Debian 12 machine)
#
# 1. installs Debian's Windows cross toolchain and Wine if missing (rustc 1.63 with the
#    x86_64-pc-windows-gnu std, cargo 1.65, mingw-w64, wine; for i686 also rust-src,
#    gcc-mingw-w64-i686 and wine32, after `dpkg --add-architecture i386`);
# 2. copies the crates a DLL build needs into a generated workspace (target/wine/ws), because the
#    root workspace holds crates Debian's cargo must not see;
# 3. resolves dependencies with the modern cargo (1.63-compatible versions, lockfile v3) and
#    vendors them (cached in target/wine/vendor, keyed on the lockfile);
# 4. builds everything in release mode for x86_64-pc-windows-gnu with Debian's cargo and rustc;
#    for i686-pc-windows-gnu, rebuilds std from Debian's rust-src with `-Zbuild-std` (sources
#    prepared once by tests/e2e/i686-std.sh, cached under target/wine/i686-std; the compiled std
#    stays in the i686 build's own target directory, target/wine/ws/target/i686);
# 5. checks that both provider DLLs export `WSPStartup`, `WspEnumProviderProtocols` and
#    `WspSetHostHooks` (on i686: undecorated, and every export the x86_64 DLL has);
# 6. runs `wsp-e2e.exe loopback_provider.dll loopback` and `wsp-e2e.exe pipe_provider.dll pipe`
#    (the pipe suite includes the notification scenarios: event-select, select, async-select)
#    under Wine for each architecture (a 32-bit process for i686, through WoW64; the driver plays
#    ws2_32's part: Wine's ws2_32 never loads third-party providers), with the pipe provider's
#    Windows unit tests (x86_64) after its suite, then the catalog stages per
#    architecture and, with both, one install into both catalogs that the 64-bit and the 32-bit
#    driver each load their own DLL from.
#
# Exits 0 only if every step and every scenario passed; otherwise says in words what failed.
#
# Output: the driver's `PASS <suite>/<scenario>` / `FAIL <suite>/<scenario>: <why>` lines and its
# `N passed, M failed` summary per run, then a recap of every failure. Logs (build, Wine's stderr,
# the driver's per-scenario timings) are in target/wine/logs, named <arch>-<suite>.*. A first
# x86_64 run here takes about 75 s (plus the apt-get install on a fresh machine); a cached run
# about 15 s. The i686 stage adds its own build (std included) and the same suites.
#
# Environment knobs (all optional):
#   MODERN_CARGO              cargo >= 1.84 used to resolve and vendor (default: rustup's cargo)
#   WSP_E2E_TIMEOUT           seconds allowed per Wine run (default 900)
#   WSP_E2E_SCENARIO_TIMEOUT  seconds the driver allows each scenario (default 120)
#   WSP_E2E_SUITES            which runs to do (default "loopback pipe catalog"; "catalog" is
#                             `regsvr32` of both DLLs into Wine's registry, both suites with the
#                             providers found through the catalog, `regsvr32 /u`, and a check
#                             that the catalog keys are byte-for-byte what they were; then the
#                             wsp-catalog.exe stage: list, verify, backup, install, remove,
#                             restore)
#                             "layered" (also in the default list) is `regsvr32` of the loopback
#                             DLL and of the counting layer (examples/layered), which chains
#                             itself over the loopback entries; the loopback suite through the
#                             catalog, so through the layer; then `regsvr32 /u` of both and the
#                             same byte-for-byte check of the catalog keys; in between, a
#                             copy of the layer DLL installed by wsp-catalog.exe over the
#                             first's chains and the loopback suite through both (two
#                             stacked layers); then the pipe DLL under the layer (the pipe
#                             suite without its ifs:: scenarios: `pipe-non-ifs`) and under
#                             the IFS build of the layer (examples/layered-ifs; the pipe suite);
#                             both run the pipe's notification scenarios (event-select,
#                             select, async-select) through the layer
#   WSP_CHAOS                 0 skips the chaos stage (wsp-chaos.exe on the loopback, pipe and
#                             panicky DLLs of the first architecture, three fresh seeds each;
#                             the pipe's run exercises its readiness from 2 to 8 threads)
#   WSP_CHAOS_CALLS           calls per seed in the chaos stage (default 350000)
#   WSP_ARCH                  x86_64, i686 or both (default both; --arch overrides it)
set -euo pipefail

ARCH="${WSP_ARCH:-both}"
while (($#)); do
    case "$1" in
    --arch) ARCH="${2:-}"; shift 2 || { echo "run-wine: --arch needs a value" >&2; exit 2; } ;;
    --arch=*) ARCH="${1#--arch=}"; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-wine: unknown argument '$1' (usage: run-wine.sh [--arch x86_64|i686|both])" >&2; exit 2 ;;
    esac
done
case "$ARCH" in
x86_64 | i686) ARCHES=("$ARCH") ;;
both) ARCHES=(x86_64 i686) ;;
*) echo "run-wine: unknown architecture '$ARCH' (x86_64, i686 or both)" >&2; exit 2 ;;
esac
wants_i686() { [[ " ${ARCHES[*]} " == *" i686 "* ]]; }

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$script_dir/../.." && pwd)"
cd "$root"

TRIPLE=x86_64-pc-windows-gnu
WINE_DIR="$root/target/wine"
WS="$WINE_DIR/ws"
VENDOR="$WINE_DIR/vendor"
DEB_CARGO_HOME="$WINE_DIR/cargo-home"
# i686: std's sources (i686-std.sh), and one vendor directory for the project's and std's
# dependencies together (a build can have only one crates.io replacement).
STD_DIR="$WINE_DIR/i686-std"
VENDOR_I686="$WINE_DIR/vendor-i686"
DEB_CARGO_HOME_I686="$WINE_DIR/cargo-home-i686"
LOGS="$WINE_DIR/logs"
TIMEOUT="${WSP_E2E_TIMEOUT:-900}"
SUITES="${WSP_E2E_SUITES:-loopback pipe catalog layered}"
# Crates copied into the generated workspace, at the same relative paths as in the repository
# (their path dependencies on each other stay valid).
CRATES=(runtime table macros standin examples/loopback examples/pipe tests/e2e catalog catalog/tool)
# The transport building blocks (the loopback example is built on them).
CRATES+=(transport)
# The chaos suite (its stage is below) and its panic-injecting provider.
CRATES+=(examples/panicky tests/chaos)
# The layered stage's counting layer, and its IFS build.
CRATES+=(examples/layered examples/layered-ifs)

# Anything a surrounding cargo invocation or the user's shell sets must not leak into the
# Debian cargo build (which must use /usr/bin/rustc and the generated workspace's target dir).
unset RUSTC RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER RUSTDOC CARGO_TARGET_DIR CARGO_BUILD_TARGET \
    CARGO_BUILD_TARGET_DIR CARGO_ENCODED_RUSTFLAGS RUSTFLAGS CARGO_MANIFEST_DIR CARGO \
    CARGO_BUILD_RUSTC CARGO_BUILD_RUSTC_WRAPPER RUSTUP_TOOLCHAIN

t_start=$SECONDS
step() { printf '==> %s\n' "$*"; }
die() {
    printf '\nrun-wine: FAILED: %s\n' "$*" >&2
    exit 1
}
mkdir -p "$WINE_DIR" "$LOGS"
# One run at a time per checkout: the generated workspace and the Wine prefix are shared.
exec 9>"$WINE_DIR/.lock"
if ! flock -n 9; then
    echo "run-wine: another run-wine.sh is using $WINE_DIR; waiting for it"
    flock 9
fi

# --------------------------------------------------------------------------------------------
step "toolchain"
PACKAGES=(rustc cargo libstd-rust-dev-windows gcc-mingw-w64-x86-64 wine64 wine)
# i686: std's source (rebuilt with -Zbuild-std), the DWARF-2 mingw linker rustc's
# i686-pc-windows-gnu expects, and 32-bit Wine (run through WoW64 in the 64-bit prefix).
if wants_i686; then PACKAGES+=(rust-src gcc-mingw-w64-i686 wine32:i386); fi
missing=()
for p in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
    step "installing ${missing[*]} (apt-get; a few minutes on a fresh machine)"
    if [[ $(id -u) -ne 0 ]]; then
        die "packages missing (${missing[*]}) and not running as root to apt-get install them"
    fi
    export DEBIAN_FRONTEND=noninteractive
    if wants_i686 && ! dpkg --print-foreign-architectures | grep -qx i386; then
        dpkg --add-architecture i386 || die "dpkg --add-architecture i386 failed"
    fi
    if ! { apt-get update -qq && apt-get install -y -qq "${PACKAGES[@]}"; } >"$LOGS/apt.log" 2>&1; then
        tail -n 30 "$LOGS/apt.log" >&2
        die "apt-get install ${PACKAGES[*]} failed (log: $LOGS/apt.log)"
    fi
fi
[[ -x /usr/bin/rustc && -x /usr/bin/cargo ]] || die "/usr/bin/rustc or /usr/bin/cargo missing after installing the Debian packages"
[[ -d /usr/lib/rustlib/$TRIPLE ]] || die "Debian's rustc has no $TRIPLE standard library (package libstd-rust-dev-windows)"
command -v x86_64-w64-mingw32-objdump >/dev/null || die "x86_64-w64-mingw32-objdump missing (binutils-mingw-w64-x86-64)"
command -v wine >/dev/null || die "wine missing"
if wants_i686; then
    command -v i686-w64-mingw32-gcc >/dev/null || die "i686-w64-mingw32-gcc missing (gcc-mingw-w64-i686)"
    command -v i686-w64-mingw32-objdump >/dev/null || die "i686-w64-mingw32-objdump missing (binutils-mingw-w64-i686)"
fi

# The modern cargo that resolves and vendors: rustup's, not Debian's 1.65.
cargo_minor() { "$1" --version 2>/dev/null | sed -n 's/^cargo 1\.\([0-9]*\)\..*/\1/p'; }
if [[ -z "${MODERN_CARGO:-}" ]]; then
    for c in "$(command -v cargo || true)" "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" "$HOME/.cargo/bin/cargo"; do
        [[ -n "$c" && -x "$c" ]] || continue
        m="$(cargo_minor "$c")"
        if [[ -n "$m" ]] && ((m >= 84)); then MODERN_CARGO="$c"; break; fi
    done
fi
[[ -n "${MODERN_CARGO:-}" ]] || die "no cargo >= 1.84 found (rustup's stable); set MODERN_CARGO=/path/to/cargo"
echo "    resolve/vendor: $("$MODERN_CARGO" --version)"
echo "    build:          $(/usr/bin/cargo --version), $(/usr/bin/rustc --version)"

# --------------------------------------------------------------------------------------------
step "generating workspace copy in ${WS#"$root"/}"
mkdir -p "$WS"
for c in "${CRATES[@]}"; do
    [[ -f "$c/Cargo.toml" ]] || die "crate $c/ not found in $root"
    rm -rf "${WS:?}/$c"
done
# tar keeps modification times, so unchanged crates are not rebuilt by the next cargo run.
tar -C "$root" -cf - --exclude=target "${CRATES[@]}" | tar -C "$WS" -xf -

# The workspace manifest: the root's, with the members list replaced (this keeps
# [workspace.package], resolver, profiles and anything else the root declares).
{
    echo "# Generated by tests/e2e/run-wine.sh from the root Cargo.toml; do not edit."
    awk -v members="$(printf '"%s", ' "${CRATES[@]}")" '
        BEGIN { skipping = 0 }
        skipping { if ($0 ~ /\]/) skipping = 0; next }
        /^[ \t]*(default-members|exclude)[ \t]*=/ { if ($0 !~ /\]/) skipping = 1; next }
        /^[ \t]*members[ \t]*=/ {
            print "members = [" members "]"
            if ($0 !~ /\]/) skipping = 1
            next
        }
        { print }
    ' Cargo.toml
} >"$WS/Cargo.toml.new"
grep -q '^members = \[' "$WS/Cargo.toml.new" || die "could not find the members list in $root/Cargo.toml"
if ! cmp -s "$WS/Cargo.toml.new" "$WS/Cargo.toml"; then mv "$WS/Cargo.toml.new" "$WS/Cargo.toml"; else rm "$WS/Cargo.toml.new"; fi

mkdir -p "$WS/.cargo"
cat >"$WS/.cargo/config.toml" <<'EOF'
# Generated by tests/e2e/run-wine.sh. Resolve to versions that build with Rust 1.63.
[resolver]
incompatible-rust-versions = "fallback"
EOF

# --------------------------------------------------------------------------------------------
step "resolving dependencies (modern cargo, rust-version 1.63 fallback)"
# Start from the root lockfile so the DLLs use the versions the Linux tests use; cargo prunes
# what the copy does not need and resolves anything new under the fallback rule.
if [[ -f Cargo.lock ]] && grep -qx 'version = 3' Cargo.lock; then
    cp Cargo.lock "$WS/Cargo.lock"
else
    rm -f "$WS/Cargo.lock"
fi
resolve() {
    (cd "$WS" && "$MODERN_CARGO" metadata --format-version 1 2>"$LOGS/resolve.log") >"$LOGS/metadata.json" || {
        cat "$LOGS/resolve.log" >&2
        die "dependency resolution failed in $WS"
    }
}
resolve
# The newest rust-version any locked package declares; the root lockfile may have been
# resolved without the fallback rule, so if it demands more than 1.63, resolve afresh.
newest="$(grep -o '"rust_version":"1\.[0-9]*' "$LOGS/metadata.json" | cut -d. -f2 | sort -n | tail -n 1 || true)"
if [[ -n "$newest" ]] && ((newest > 63)); then
    echo "    the root Cargo.lock picks a crate needing Rust 1.$newest; resolving from scratch"
    rm -f "$WS/Cargo.lock"
    resolve
fi
newest="$(grep -o '"rust_version":"1\.[0-9]*' "$LOGS/metadata.json" | cut -d. -f2 | sort -n | tail -n 1 || true)"
if [[ -n "$newest" ]] && ((newest > 63)); then
    die "even a fresh resolution picks a dependency that declares rust-version 1.$newest (> 1.63; see the \"rust_version\" fields in $LOGS/metadata.json); pin an older version in the crate's Cargo.toml"
fi
grep -qx 'version = 3' "$WS/Cargo.lock" || die "$WS/Cargo.lock is not a version-3 lockfile (Debian's cargo 1.65 cannot read it); does every crate declare rust-version = \"1.63\"?"

lock_hash="$(sha256sum "$WS/Cargo.lock" | cut -d' ' -f1)"
if [[ -f "$VENDOR/.lock-sha256" && "$(cat "$VENDOR/.lock-sha256")" == "$lock_hash" && -f "$DEB_CARGO_HOME/config.toml" ]]; then
    step "vendored sources up to date (cached for this lockfile)"
else
    step "vendoring dependencies into ${VENDOR#"$root"/}"
    rm -rf "$VENDOR" "$DEB_CARGO_HOME"
    mkdir -p "$DEB_CARGO_HOME"
    if ! (cd "$WS" && "$MODERN_CARGO" vendor --locked "$VENDOR" >"$DEB_CARGO_HOME/config.toml.new" 2>"$LOGS/vendor.log"); then
        tail -n 30 "$LOGS/vendor.log" >&2
        rm -rf "$VENDOR"
        die "cargo vendor failed"
    fi
    mv "$DEB_CARGO_HOME/config.toml.new" "$DEB_CARGO_HOME/config.toml"
    echo "$lock_hash" >"$VENDOR/.lock-sha256"
fi

# --------------------------------------------------------------------------------------------
if wants_i686; then
    step "preparing std's sources for i686-pc-windows-gnu (tests/e2e/i686-std.sh)"
    if ! "$script_dir/i686-std.sh" "$STD_DIR" "$MODERN_CARGO" >"$LOGS/i686-std.out" 2>"$LOGS/i686-std.log"; then
        tail -n 30 "$LOGS/i686-std.log" >&2
        die "preparing std's sources for i686 failed (log: $LOGS/i686-std.log)"
    fi
    grep -E '^    [a-z]' "$LOGS/i686-std.log" || true
    STD_ROOT="$(tail -n 1 "$LOGS/i686-std.out")"
    [[ -f "$STD_ROOT/src/Cargo.lock" ]] || die "i686-std.sh did not leave $STD_ROOT/src/Cargo.lock"
    std_hash="$(cat "$WS/Cargo.lock" "$STD_ROOT/src/Cargo.lock" | sha256sum | cut -d' ' -f1)"
    if [[ -f "$VENDOR_I686/.lock-sha256" && "$(cat "$VENDOR_I686/.lock-sha256")" == "$std_hash" && -f "$DEB_CARGO_HOME_I686/config.toml" ]]; then
        step "vendored sources for i686 up to date (cached for these lockfiles)"
    else
        step "vendoring the project's and std's dependencies into ${VENDOR_I686#"$root"/}"
        rm -rf "$VENDOR_I686" "$DEB_CARGO_HOME_I686"
        mkdir -p "$DEB_CARGO_HOME_I686"
        if ! (cd "$WS" && "$MODERN_CARGO" vendor --locked -s "$STD_ROOT/src/Cargo.toml" "$VENDOR_I686" \
            >"$DEB_CARGO_HOME_I686/config.toml.new" 2>"$LOGS/i686-vendor.log"); then
            tail -n 30 "$LOGS/i686-vendor.log" >&2
            rm -rf "$VENDOR_I686"
            die "cargo vendor (project + std) failed"
        fi
        mv "$DEB_CARGO_HOME_I686/config.toml.new" "$DEB_CARGO_HOME_I686/config.toml"
        echo "$std_hash" >"$VENDOR_I686/.lock-sha256"
    fi
fi

# The target directory of each architecture's build: i686 has its own, because its host
# artifacts (build scripts, proc-macros) are built with the unstable switches and would
# otherwise replace the x86_64 build's, rebuilding everything on each alternation.
target_dir() { if [[ "$1" == i686 ]]; then echo "$WS/target/i686"; else echo "$WS/target"; fi; }
# Where the build for architecture $1 puts its DLLs and the driver.
out_dir() { echo "$(target_dir "$1")/$1-pc-windows-gnu/release"; }

# --------------------------------------------------------------------------------------------
build_arch() {
    local arch="$1" triple="$1-pc-windows-gnu" t_build=$SECONDS
    local -a env=(RUSTC=/usr/bin/rustc CARGO_HOME="$DEB_CARGO_HOME" CARGO_TERM_COLOR=never) extra=()
    if [[ "$arch" == i686 ]]; then
        # std rebuilt from the prepared copy of rust-src (unstable switches of the pinned
        # compiler); rsbegin.o/rsend.o from it; GNU ld binds the plain export names rustc
        # writes to their stdcall symbols (`WSPStartup` -> `_WSPStartup@76`).
        env=(RUSTC=/usr/bin/rustc CARGO_HOME="$DEB_CARGO_HOME_I686" CARGO_TERM_COLOR=never
            RUSTC_BOOTSTRAP=1 __CARGO_TESTS_ONLY_SRC_ROOT="$STD_ROOT/src"
            CARGO_TARGET_I686_PC_WINDOWS_GNU_LINKER=i686-w64-mingw32-gcc
            CARGO_TARGET_I686_PC_WINDOWS_GNU_RUSTFLAGS="-L native=$STD_ROOT/rtstartup -C link-arg=-Wl,--enable-stdcall-fixup")
        extra=(-Zbuild-std)
    fi
    step "building for $triple with Debian's cargo 1.65 / rustc 1.63 (release${extra:+, std rebuilt from rust-src})"
    if ! (cd "$WS" && env "${env[@]}" \
        /usr/bin/cargo build --quiet --offline --locked --release --target "$triple" --workspace "${extra[@]}" \
        --target-dir "$(target_dir "$arch")" \
        2>&1 | tee "$LOGS/$arch-build.log"); then
        die "the $triple build with rustc 1.63 failed"
    fi
    if [[ "$arch" == x86_64 ]]; then
        # The runtime's opt-in `trace` feature (the `tracing` facade) must build with 1.63 too.
        step "checking winsock-provider --features trace for $triple with rustc 1.63"
        if ! (cd "$WS" && env "${env[@]}" \
            /usr/bin/cargo check --quiet --offline --locked --release --target "$triple" \
            -p winsock-provider --features trace --target-dir "$(target_dir "$arch")" \
            2>&1 | tee "$LOGS/$arch-trace-check.log"); then
            die "winsock-provider --features trace does not build with rustc 1.63"
        fi
    fi
    echo "    built in $((SECONDS - t_build)) s"
}

# --------------------------------------------------------------------------------------------
# The names in a PE file's export table, one a line.
export_names() {
    local objdump="$1-w64-mingw32-objdump" table
    table="$("$objdump" -p "$2" | sed -n '/^\[Ordinal\/Name Pointer\] Table/,/^$/p')" || return 1
    sed -n 's/^[[:space:]]*\[[[:space:]]*[0-9]*\] //p' <<<"$table"
}

check_exports() {
    local arch="$1" out exports x64 sym64
    out="$(out_dir "$arch")"
    step "checking DLL exports ($arch)"
    for dll in loopback_provider.dll pipe_provider.dll; do
        [[ -f "$out/$dll" ]] || die "$out/$dll was not produced (is the crate a cdylib?)"
        exports="$(export_names "$arch" "$out/$dll")" ||
            die "$arch-w64-mingw32-objdump -p $dll failed (not a valid PE file?)"
        for sym in WSPStartup WspEnumProviderProtocols WspSetHostHooks DllRegisterServer DllUnregisterServer; do
            if ! grep -qx "$sym" <<<"$exports"; then
                echo "$exports" | sed 's/^/      /' >&2
                die "$arch $dll does not export '$sym' under that exact (undecorated) name"
            fi
        done
        if [[ "$arch" == i686 ]]; then
            # stdcall decoration (`_Name@N`, `Name@N`) must not leak into any export name, and
            # the 32-bit DLL must export everything the 64-bit one does.
            if grep -q '@' <<<"$exports"; then
                die "i686 $dll exports decorated names: $(grep '@' <<<"$exports" | tr '\n' ' ')"
            fi
            x64="$(out_dir x86_64)/$dll"
            if [[ -f "$x64" ]]; then
                while IFS= read -r sym64; do
                    grep -qxF "$sym64" <<<"$exports" || die "i686 $dll lacks the export '$sym64' that the x86_64 $dll has"
                done < <(export_names x86_64 "$x64")
            fi
        fi
        echo "    $dll exports $(tr '\n' ' ' <<<"$exports")"
    done
    [[ -f "$out/wsp-e2e.exe" ]] || die "$out/wsp-e2e.exe was not produced"
}

for arch in "${ARCHES[@]}"; do build_arch "$arch"; done
for arch in "${ARCHES[@]}"; do check_exports "$arch"; done

# --------------------------------------------------------------------------------------------
export WINEPREFIX="$WINE_DIR/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
# A panic under Wine prints its message only: with a backtrace requested, Wine's dbghelp faults
# reading the binaries' debug information and the process dies before the message is seen.
export RUST_BACKTRACE=0
unset DISPLAY WAYLAND_DISPLAY
if [[ ! -f "$WINEPREFIX/system.reg" ]]; then
    step "creating the Wine prefix (${WINEPREFIX#"$root"/})"
    if ! wineboot -i >"$LOGS/wineboot.log" 2>&1 9>&-; then
        tail -n 20 "$LOGS/wineboot.log" >&2
        die "wineboot -i failed; Wine cannot start (log: $LOGS/wineboot.log)"
    fi
    wineserver -w 9>&- || true
fi
# A prefix made before wine32 was installed has no 32-bit system directory yet, and Wine does
# not update it by itself (nothing it compares `.update-timestamp` with changed): force it.
if wants_i686 && [[ ! -f "$WINEPREFIX/drive_c/windows/syswow64/kernel32.dll" ]]; then
    step "adding the 32-bit (WoW64) part to the Wine prefix"
    rm -f "$WINEPREFIX/.update-timestamp"
    # Its exit status says little (it starts before the 32-bit part exists): judge by the result.
    wineboot -u >"$LOGS/wineboot-wow64.log" 2>&1 9>&- || true
    wineserver -w 9>&- || true
    if [[ ! -f "$WINEPREFIX/drive_c/windows/syswow64/kernel32.dll" ]]; then
        tail -n 20 "$LOGS/wineboot-wow64.log" >&2
        die "wineboot -u left the prefix without syswow64/kernel32.dll: is wine32 installed? (log: $LOGS/wineboot-wow64.log)"
    fi
fi

failures=()
run_suite() {
    local arch="$1" dll="$2" suite="$3" log="$LOGS/$1-${4:-$3}" status=0
    local out
    out="$(out_dir "$arch")"
    step "wine wsp-e2e.exe $dll $suite ($arch)"
    local t=$SECONDS
    (cd "$out" && timeout --kill-after=10 "$TIMEOUT" wine wsp-e2e.exe "$dll" "$suite" 9>&- \
        2>"$log.stderr" | tee "$log.stdout") || status=$?
    # With pipefail the status is wine's (timeout's: 124 when it had to stop it).
    echo "    ($((SECONDS - t)) s, exit status $status)"
    local summary
    summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log.stdout" | tail -n 1 || true)"
    if ((status == 124 || status == 137)); then
        failures+=("$arch ${4:-$3}: timed out after ${TIMEOUT} s under Wine (last output: $(tail -n 1 "$log.stdout"))")
    elif [[ -z "$summary" ]]; then
        local why
        if [[ ! -s "$log.stdout" ]]; then
            why="wine did not start the driver, or it died before printing anything (exit status $status)"
        else
            why="the driver stopped without its summary line after '$(tail -n 1 "$log.stdout")' (exit status $status; a crash?)"
        fi
        failures+=("$arch ${4:-$3}: $why; wine's stderr ends with:"$'\n'"$(tail -n 15 "$log.stderr" | sed 's/^/        /')")
    fi
    while IFS= read -r line; do failures+=("$arch $line"); done < <(grep '^FAIL ' "$log.stdout" || true)
    if [[ -n "$summary" && $status -ne 0 ]] && ! grep -q '^FAIL ' "$log.stdout"; then
        failures+=("$arch ${4:-$3}: driver exited with status $status although it reported: $summary")
    fi
}
# The Windows back end's own unit tests (examples/pipe/src/windows.rs: readiness counts,
# catch-up after the application's ReadFile/WriteFile, a large send announced part by part),
# built with rustc 1.63 and run under Wine; x86_64 only (the i686 std is rebuilt for DLLs and
# executables without a test harness).
run_pipe_unit_tests() {
    local triple=x86_64-pc-windows-gnu exe status=0
    step "building and running the pipe provider's Windows unit tests under Wine ($triple)"
    exe="$(cd "$WS" && RUSTC=/usr/bin/rustc CARGO_HOME="$DEB_CARGO_HOME" CARGO_TERM_COLOR=never \
        /usr/bin/cargo test --no-run --quiet --offline --locked --release --target "$triple" \
        -p pipe-provider --lib --message-format=json --target-dir "$(target_dir x86_64)" \
        2>"$LOGS/x86_64-pipe-unit-build.log" |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)" || true
    if [[ -z "$exe" || ! -f "$exe" ]]; then
        failures+=("x86_64 pipe unit tests: the test executable was not built (log: $LOGS/x86_64-pipe-unit-build.log)")
        return 0
    fi
    timeout --kill-after=10 "$TIMEOUT" wine "$exe" 9>&- >"$LOGS/x86_64-pipe-unit.stdout" \
        2>"$LOGS/x86_64-pipe-unit.stderr" || status=$?
    grep -E '^test result' "$LOGS/x86_64-pipe-unit.stdout" | sed 's/^/    /' || true
    if ((status != 0)) || ! grep -qE '^test result: ok\.' "$LOGS/x86_64-pipe-unit.stdout"; then
        failures+=("x86_64 pipe unit tests: exit status $status; $(grep -E '^test .* FAILED|^test result' "$LOGS/x86_64-pipe-unit.stdout" | head -n 5 | tr '\n' ' ')(logs $LOGS/x86_64-pipe-unit.*)")
    fi
}

# The catalog stage: the DLLs install themselves (`regsvr32`, through their own
# DllRegisterServer, which writes Wine's registry since Wine's WSC* functions are stubs), the
# driver finds them in the catalog as ws2_32 would, and `regsvr32 /u` leaves the catalog as it was.
WINSOCK_KEY='HKLM\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters'
catalog_snapshot() {
    (cd "$OUT" && wine reg export "$WINSOCK_KEY" "$1" /y >/dev/null 2>>"$LOGS/$ARCH_NOW-catalog.stderr" 9>&-) ||
        failures+=("$ARCH_NOW catalog: wine reg export $WINSOCK_KEY failed")
}
regsvr() {
    if ! (cd "$OUT" && wine regsvr32 /s "$@" >>"$LOGS/$ARCH_NOW-catalog.stdout" 2>>"$LOGS/$ARCH_NOW-catalog.stderr" 9>&-); then
        failures+=("$ARCH_NOW catalog: wine regsvr32 $* failed (log: $LOGS/$ARCH_NOW-catalog.stderr)")
        return 1
    fi
}
run_catalog() {
    step "wine regsvr32 loopback_provider.dll pipe_provider.dll; wsp-e2e.exe --catalog; regsvr32 /u ($ARCH_NOW)"
    : >"$LOGS/$ARCH_NOW-catalog.stdout"
    : >"$LOGS/$ARCH_NOW-catalog.stderr"
    # Wine's prefix starts with a bare Protocol_Catalog9 (no counts, no Catalog_Entries64); the
    # first write completes it into Windows' layout. Do that once, then compare from there.
    regsvr loopback_provider.dll && regsvr /u loopback_provider.dll || return 0
    catalog_snapshot catalog-before.reg
    regsvr loopback_provider.dll && regsvr pipe_provider.dll || return 0
    # A process registers in the catalog of its own architecture: the 32-bit one is
    # Catalog_Entries (regsvr32 runs a 32-bit DLL's DllRegisterServer in a 32-bit process).
    local entries=Catalog_Entries64
    [[ "$ARCH_NOW" == i686 ]] && entries=Catalog_Entries
    if ! (cd "$OUT" && wine reg query "$WINSOCK_KEY\\Protocol_Catalog9\\$entries" /s 9>&- 2>/dev/null |
        grep -q PackedCatalogItem); then
        failures+=("$ARCH_NOW catalog: regsvr32 reported success but no PackedCatalogItem is in $WINSOCK_KEY\\Protocol_Catalog9\\$entries")
    fi
    run_suite "$ARCH_NOW" --catalog loopback catalog-loopback
    run_suite "$ARCH_NOW" --catalog pipe catalog-pipe
    regsvr /u pipe_provider.dll
    regsvr /u loopback_provider.dll
    catalog_snapshot catalog-after.reg
    # Every change advances Serial_Access_Num and Next_Catalog_Entry_ID (as on Windows: ws2_32
    # reloads on the serial, ids are never reused); everything else must be as it was.
    local counters='^"(Serial_Access_Num|Next_Catalog_Entry_ID)"='
    if cmp -s "$OUT/catalog-before.reg" "$OUT/catalog-after.reg"; then
        failures+=("$ARCH_NOW catalog: Serial_Access_Num did not advance across regsvr32 and regsvr32 /u")
    elif ! diff <(iconv -f UTF-16LE -t UTF-8 "$OUT/catalog-before.reg" | grep -Ev "$counters") \
        <(iconv -f UTF-16LE -t UTF-8 "$OUT/catalog-after.reg" | grep -Ev "$counters") >"$LOGS/$ARCH_NOW-catalog.diff"; then
        failures+=("$ARCH_NOW catalog: after regsvr32 /u the catalog differs from before: $(head -n 5 "$LOGS/$ARCH_NOW-catalog.diff" | tr '\n' ' ')")
    else
        echo "    regsvr32 /u left the catalog as it was (but for the two counters every change advances)"
    fi
}
# --------------------------------------------------------------------------------------------
# The catalog tool (issue 11). Wine's WSC* functions are stubs, so under Wine wsp-catalog.exe
# goes through the registry back end: list, verify, backup, install loopback_provider.dll, see
# it listed and verified, layers over it (categories, a second layer, removal that rewrites its
# chains, an application's categories), remove it, restore the backup; then `reg export` of the Parameters key
# and a fresh backup must be byte-identical to what they were before.
catalog_stage() {
    local dir="$WINE_DIR/catalog-$ARCH_NOW" key='HKLM\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters'
    step "wine wsp-catalog.exe: list, verify, backup, install, remove, restore"
    rm -rf "$dir" && mkdir -p "$dir" && cp "$OUT/wsp-catalog.exe" "$OUT/loopback_provider.dll" "$dir/"
    wcat() { # runs one command in $dir; its output goes to $LOGS/$ARCH_NOW-catalog.log and to stdout
        echo "\$ $*" >>"$LOGS/$ARCH_NOW-catalog.log"
        (cd "$dir" && timeout --kill-after=10 "$TIMEOUT" "$@" 9>&- 2>&1) | tee -a "$LOGS/$ARCH_NOW-catalog.log"
        return "${PIPESTATUS[0]}"
    }
    : >"$LOGS/$ARCH_NOW-catalog.log"
    local out guid
    wcat wine reg export "$key" before.reg /y >/dev/null || { failures+=("$ARCH_NOW catalog: wine reg export failed (log: $LOGS/$ARCH_NOW-catalog.log)"); return; }
    wcat wine wsp-catalog.exe list >/dev/null || { failures+=("$ARCH_NOW catalog: 'list' of Wine's catalog failed (log: $LOGS/$ARCH_NOW-catalog.log)"); return; }
    wcat wine wsp-catalog.exe verify >/dev/null || { failures+=("$ARCH_NOW catalog: 'verify' of Wine's catalog failed (log: $LOGS/$ARCH_NOW-catalog.log)"); return; }
    wcat wine wsp-catalog.exe backup backup.reg >/dev/null || { failures+=("$ARCH_NOW catalog: 'backup' failed (log: $LOGS/$ARCH_NOW-catalog.log)"); return; }
    out="$(wcat wine wsp-catalog.exe install loopback_provider.dll)" || { failures+=("$ARCH_NOW catalog: 'install loopback_provider.dll' failed: $out"); return; }
    guid="$(sed -n 's/^installed provider \({[0-9a-f-]*}\).*/\1/p' <<<"$out")"
    [[ -n "$guid" ]] || { failures+=("$ARCH_NOW catalog: 'install' did not name the provider GUID: $out"); return; }
    out="$(wcat wine wsp-catalog.exe list)" || { failures+=("$ARCH_NOW catalog: 'list' after install failed"); return; }
    grep -q 'Loopback TCP' <<<"$out" && grep -q "$guid" <<<"$out" ||
        failures+=("$ARCH_NOW catalog: 'list' after install does not show Loopback TCP under $guid (log: $LOGS/$ARCH_NOW-catalog.log)")
    wcat wine wsp-catalog.exe verify >/dev/null || failures+=("$ARCH_NOW catalog: 'verify' with loopback_provider.dll installed failed (log: $LOGS/$ARCH_NOW-catalog.log)")
    wcat wine reg query 'HKLM\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters\Protocol_Catalog9\Catalog_Entries64\000000000001' /v PackedCatalogItem >/dev/null ||
        failures+=("$ARCH_NOW catalog: the install did not write Catalog_Entries64\\000000000001\\PackedCatalogItem into Wine's registry")
    # Layers (issue 13), loopback_provider.dll standing in for a layer (the catalog only records
    # what it declares): one over both loopback entries with LSP categories, each chain with its
    # own GUID; a second over the first's chains; removing the first rewrites the second's chains
    # to skip it. Then an application's permitted categories.
    local l1='{5a0e9a4c-5b7d-4e18-a3c6-91d2e4f8b710}' l2='{5a0e9a4c-5b7d-4e18-a3c6-91d2e4f8b720}' ids
    out="$(wcat wine wsp-catalog.exe install loopback_provider.dll --layer --guid "$l1" --name Inner --category LSP_PROXY,LSP_SYSTEM)" ||
        { failures+=("$ARCH_NOW catalog: 'install --layer --category' failed: $out"); return; }
    ids="$(grep -o 'chains [^;]*' <<<"$out" | grep -o '[0-9]* {' | tr -d ' {' | paste -sd,)"
    [[ "$(grep -o 'chains [^;]*' <<<"$out" | grep -o '{[0-9a-f-]*}' | sort -u | wc -l)" == 2 && "$ids" == *,* ]] ||
        failures+=("$ARCH_NOW catalog: 'install --layer' should name two chains with two GUIDs: $out")
    out="$(wcat wine wsp-catalog.exe list)" || failures+=("$ARCH_NOW catalog: 'list' after install --layer failed")
    [[ "$(grep -c 'Inner over \[Loopback' <<<"$out")" == 2 && "$(grep -c 'LSP Categories: *LSP_SYSTEM|LSP_PROXY$' <<<"$out")" == 3 ]] ||
        failures+=("$ARCH_NOW catalog: 'list' should show two 'Inner over [Loopback ...]' chains and three entries with LSP_SYSTEM|LSP_PROXY (log: $LOGS/$ARCH_NOW-catalog.log)")
    wcat wine wsp-catalog.exe install loopback_provider.dll --layer --guid "$l2" --name Outer --over "$ids" >/dev/null ||
        failures+=("$ARCH_NOW catalog: 'install --layer --over $ids' (a second layer) failed (log: $LOGS/$ARCH_NOW-catalog.log)")
    wcat wine wsp-catalog.exe remove --layer "$l1" >/dev/null ||
        failures+=("$ARCH_NOW catalog: 'remove --layer' of the lower layer failed (log: $LOGS/$ARCH_NOW-catalog.log)")
    out="$(wcat wine wsp-catalog.exe list)" || failures+=("$ARCH_NOW catalog: 'list' after remove --layer failed")
    [[ "$(grep -c 'Outer over \[Loopback' <<<"$out")" == 2 ]] && ! grep -q Inner <<<"$out" ||
        failures+=("$ARCH_NOW catalog: after removing the lower layer the upper one's chains should read 'Outer over [Loopback ...]' (log: $LOGS/$ARCH_NOW-catalog.log)")
    wcat wine wsp-catalog.exe verify >/dev/null || failures+=("$ARCH_NOW catalog: 'verify' after the chains were rewritten failed (log: $LOGS/$ARCH_NOW-catalog.log)")
    wcat wine wsp-catalog.exe category 'C:\windows\system32\wsl.exe' LSP_SYSTEM >/dev/null ||
        failures+=("$ARCH_NOW catalog: 'category APP LSP_SYSTEM' failed (log: $LOGS/$ARCH_NOW-catalog.log)")
    out="$(wcat wine reg query "$key\\AppId_Catalog" /s)"
    grep -qi 'PermittedLspCategories.*0x80000000' <<<"$out" ||
        failures+=("$ARCH_NOW catalog: 'category' did not write PermittedLspCategories under AppId_Catalog: $out")
    wcat wine wsp-catalog.exe remove --layer "$l2" >/dev/null ||
        failures+=("$ARCH_NOW catalog: 'remove --layer' of the upper layer failed (log: $LOGS/$ARCH_NOW-catalog.log)")
    out="$(wcat wine wsp-catalog.exe list)" || failures+=("$ARCH_NOW catalog: 'list' after removing both layers failed")
    grep -q ': 2 entries$' <<<"$out" || failures+=("$ARCH_NOW catalog: after removing both layers the 64-bit catalog should have 2 entries: $(grep 'protocol catalog' <<<"$out")")
    # Refused operations leave the registry exactly as it was.
    wcat wine reg export "$key" installed.reg /y >/dev/null || failures+=("$ARCH_NOW catalog: wine reg export after install failed")
    printf 'not a catalog\r\n' >"$dir/junk.reg"
    local bad
    for bad in "install loopback_provider.dll" "remove {00000000-0000-0000-0000-000000000001}" "restore junk.reg" "order 1001"; do
        # shellcheck disable=SC2086 # the words of $bad are the arguments
        if wcat wine wsp-catalog.exe $bad >/dev/null; then
            failures+=("$ARCH_NOW catalog: 'wsp-catalog $bad' should have failed under Wine")
        fi
    done
    wcat wine reg export "$key" refused.reg /y >/dev/null || failures+=("$ARCH_NOW catalog: wine reg export after the refused operations failed")
    cmp -s "$dir/installed.reg" "$dir/refused.reg" ||
        failures+=("$ARCH_NOW catalog: a refused operation changed Wine's registry (see $dir/installed.reg, refused.reg)")
    # Three installers at once (the registry store's writer mutex and serial check): each lands
    # once, with its own ids.
    local pids=() n g
    for n in 1 2 3; do
        (cd "$dir" && timeout --kill-after=10 "$TIMEOUT" wine wsp-catalog.exe install loopback_provider.dll \
            --guid "{00000000-0000-0000-0000-00000000000$n}" 9>&- >"$dir/race$n.log" 2>&1) &
        pids+=($!)
    done
    for n in 1 2 3; do
        wait "${pids[$((n - 1))]}" || failures+=("$ARCH_NOW catalog: racing installer $n failed: $(cat "$dir/race$n.log")")
    done
    out="$(wcat wine wsp-catalog.exe list)" || failures+=("$ARCH_NOW catalog: 'list' after the racing installs failed")
    grep -q ': 8 entries$' <<<"$out" || failures+=("$ARCH_NOW catalog: after 3 racing installs the 64-bit catalog should have 8 entries: $(grep 'protocol catalog' <<<"$out")")
    for n in 1 2 3; do
        g="{00000000-0000-0000-0000-00000000000$n}"
        wcat wine wsp-catalog.exe remove "$g" >/dev/null || failures+=("$ARCH_NOW catalog: 'remove $g' failed (log: $LOGS/$ARCH_NOW-catalog.log)")
    done
    wcat wine wsp-catalog.exe remove "$guid" >/dev/null || failures+=("$ARCH_NOW catalog: 'remove $guid' failed (log: $LOGS/$ARCH_NOW-catalog.log)")
    wcat wine wsp-catalog.exe restore backup.reg >/dev/null || { failures+=("$ARCH_NOW catalog: 'restore' failed (log: $LOGS/$ARCH_NOW-catalog.log)"); return; }
    wcat wine reg export "$key" after.reg /y >/dev/null || { failures+=("$ARCH_NOW catalog: wine reg export after restore failed"); return; }
    wcat wine wsp-catalog.exe backup backup-after.reg >/dev/null || { failures+=("$ARCH_NOW catalog: 'backup' after restore failed"); return; }
    cmp -s "$dir/before.reg" "$dir/after.reg" ||
        failures+=("$ARCH_NOW catalog: 'reg export' of the Parameters key differs after install/remove/restore (see $dir/before.reg, after.reg)")
    cmp -s "$dir/backup.reg" "$dir/backup-after.reg" ||
        failures+=("$ARCH_NOW catalog: the tool's backup differs after install/remove/restore (see $dir/backup.reg, backup-after.reg)")
    echo "    catalog stage done (log: ${LOGS#"$root"/}/$ARCH_NOW-catalog.log)"
}

# Both catalogs from one install (issue 14), as `WSCInstallProvider64_32` does: one stored path,
# `%SystemRoot%\system32\<name>.dll`, which a 64-bit process finds in system32 (the x86_64 DLL)
# and a 32-bit one, through WoW64's file-system redirection, in syswow64 (the i686 DLL). The
# 64-bit wsp-catalog.exe installs into both catalogs; the 64-bit and the 32-bit driver each run
# the loopback suite through their own catalog (so each loads its own DLL); then one remove takes
# the provider out of both and the catalog is as before (but for the two counters).
both_catalogs() {
    local dir="$WINE_DIR/catalog-both" name=wsp_e2e_both_loopback.dll out
    local sys="$WINEPREFIX/drive_c/windows" stored='%SystemRoot%\system32\wsp_e2e_both_loopback.dll'
    # catalog_snapshot runs in $OUT and logs under $ARCH_NOW.
    ARCH_NOW=both OUT="$dir"
    step "wsp-catalog.exe install --arch both; 64-bit and 32-bit wsp-e2e.exe --catalog loopback; remove --arch both"
    : >"$LOGS/both-catalog.stdout"
    : >"$LOGS/both-catalog.stderr"
    rm -rf "$dir" && mkdir -p "$dir"
    cp "$(out_dir x86_64)/wsp-catalog.exe" "$dir/"
    cp "$(out_dir x86_64)/loopback_provider.dll" "$sys/system32/$name"
    cp "$(out_dir i686)/loopback_provider.dll" "$sys/syswow64/$name"
    both() { # one wsp-catalog.exe command in $dir, logged
        echo "\$ wsp-catalog $*" >>"$LOGS/both-catalog.stdout"
        (cd "$dir" && timeout --kill-after=10 "$TIMEOUT" wine wsp-catalog.exe "$@" 9>&- 2>>"$LOGS/both-catalog.stderr") |
            tee -a "$LOGS/both-catalog.stdout"
        return "${PIPESTATUS[0]}"
    }
    catalog_snapshot before.reg
    if ! out="$(both install "C:\\windows\\system32\\$name" --arch both --path "$stored")"; then
        failures+=("both catalogs: 'wsp-catalog install --arch both' failed: $out (log: $LOGS/both-catalog.stderr)")
        return
    fi
    local guid
    guid="$(sed -n 's/^installed provider \({[0-9a-f-]*}\).*/\1/p' <<<"$out")"
    [[ -n "$guid" ]] || { failures+=("both catalogs: 'install' did not name the provider GUID: $out"); return; }
    local bits
    for bits in 64 32; do
        out="$(both list --arch "$bits")" || { failures+=("both catalogs: 'wsp-catalog list --arch $bits' failed"); continue; }
        grep -qiF "$name" <<<"$out" || failures+=("both catalogs: the $bits-bit catalog has no entry for $name after 'install --arch both'")
    done
    run_suite x86_64 --catalog loopback both-catalog-loopback
    run_suite i686 --catalog loopback both-catalog-loopback
    both remove "$guid" --arch both >/dev/null ||
        failures+=("both catalogs: 'wsp-catalog remove $guid --arch both' failed (log: $LOGS/both-catalog.stderr)")
    catalog_snapshot after.reg
    local counters='^"(Serial_Access_Num|Next_Catalog_Entry_ID)"='
    if ! diff <(iconv -f UTF-16LE -t UTF-8 "$dir/before.reg" | grep -Ev "$counters") \
        <(iconv -f UTF-16LE -t UTF-8 "$dir/after.reg" | grep -Ev "$counters") >"$LOGS/both-catalog.diff"; then
        failures+=("both catalogs: after 'remove --arch both' the catalog differs from before: $(head -n 5 "$LOGS/both-catalog.diff" | tr '\n' ' ')")
    else
        echo "    one install reached both catalogs, each driver loaded its own DLL, one remove took both out"
    fi
    rm -f "$sys/system32/$name" "$sys/syswow64/$name"
}

# The layered stage (issue 13): the counting layer installs itself over the loopback entries
# (`regsvr32 layered_provider.dll`: a hidden layered entry and one chain per entry, at the front
# of the catalog); the driver's loopback suite then runs through the catalog as ws2_32 would,
# so every socket is the layer's over a loopback socket; `regsvr32 /u` of both leaves the
# catalog keys as they were.
run_layered() {
    step "wine regsvr32 loopback_provider.dll layered_provider.dll (+ a second layer by wsp-catalog.exe), then pipe_provider.dll under layered_provider.dll, then under layered_ifs_provider.dll; wsp-e2e.exe --catalog loopback, pipe; regsvr32 /u ($ARCH_NOW)"
    : >"$LOGS/$ARCH_NOW-catalog.stdout"
    : >"$LOGS/$ARCH_NOW-catalog.stderr"
    [[ -f "$OUT/layered_provider.dll" ]] || { failures+=("$ARCH_NOW layered: layered_provider.dll was not produced"); return 0; }
    regsvr loopback_provider.dll && regsvr /u loopback_provider.dll || return 0
    catalog_snapshot layered-before.reg
    regsvr loopback_provider.dll && regsvr layered_provider.dll || return 0
    # The chains come first: `socket()` in the driver finds the layer's entries, not the base's.
    local chains
    chains="$(cd "$OUT" && wine wsp-catalog.exe list 9>&- 2>/dev/null | grep -c 'Counting layer over \[' || true)"
    if ((chains < 2)); then
        failures+=("$ARCH_NOW layered: after regsvr32 layered_provider.dll the catalog lists $chains chain entries over the loopback entries, not 2")
    fi
    run_suite "$ARCH_NOW" --catalog loopback layered-loopback
    # Two stacked layers: a copy of the layer (a library of its own, as a second LSP is)
    # installed by the catalog tool under its own GUID over the first layer's chains.
    local second='{2f0e9a4c-5b7d-4e18-a3c6-91d2e4f8b7a6}' ids bits=64
    if [[ "$ARCH_NOW" == i686 ]]; then bits=32; fi
    ids="$(cd "$OUT" && wine wsp-catalog.exe list --arch "$bits" 9>&- 2>/dev/null | tr -d '\r' |
        awk '/^Description: *Counting layer over \[/ { want = 1 } want && /^Catalog Entry ID:/ { print $NF; want = 0 }' | paste -sd,)"
    cp "$OUT/layered_provider.dll" "$OUT/layered_provider_second.dll"
    if [[ "$ids" == *,* ]] && (cd "$OUT" && wine wsp-catalog.exe install layered_provider_second.dll --layer --arch "$bits" \
        --guid "$second" --name "Second counting layer" --over "$ids" >>"$LOGS/$ARCH_NOW-catalog.stdout" 2>>"$LOGS/$ARCH_NOW-catalog.stderr" 9>&-); then
        chains="$(cd "$OUT" && wine wsp-catalog.exe list --arch "$bits" 9>&- 2>/dev/null | grep -c 'Second counting layer over \[Counting layer over \[' || true)"
        if ((chains != 2)); then
            failures+=("$ARCH_NOW layered: after installing the second layer over chains $ids the catalog lists $chains three-link chains, not 2")
        fi
        run_suite "$ARCH_NOW" --catalog loopback layered-stacked-loopback
        (cd "$OUT" && wine wsp-catalog.exe remove --layer "$second" --arch "$bits" >>"$LOGS/$ARCH_NOW-catalog.stdout" 2>>"$LOGS/$ARCH_NOW-catalog.stderr" 9>&-) ||
            failures+=("$ARCH_NOW layered: wsp-catalog.exe remove --layer of the second layer failed (log: $LOGS/$ARCH_NOW-catalog.stderr)")
    else
        failures+=("$ARCH_NOW layered: wsp-catalog.exe install of a second layer over the chains '$ids' failed (log: $LOGS/$ARCH_NOW-catalog.stderr)")
    fi
    rm -f "$OUT/layered_provider_second.dll"
    regsvr /u layered_provider.dll
    regsvr /u loopback_provider.dll
    # The non-IFS layer over the IFS pipe provider: the application gets the layer's own
    # handles, so the pipe suite runs without its ifs:: scenarios.
    if regsvr pipe_provider.dll && regsvr layered_provider.dll; then
        chains="$(cd "$OUT" && wine wsp-catalog.exe list 9>&- 2>/dev/null | grep -c 'Counting layer over \[' || true)"
        if ((chains < 1)); then
            failures+=("$ARCH_NOW layered: after regsvr32 layered_provider.dll the catalog lists no chain entry over the pipe entry")
        fi
        run_suite "$ARCH_NOW" --catalog pipe-non-ifs layered-pipe
        regsvr /u layered_provider.dll
        regsvr /u pipe_provider.dll
    fi
    # The IFS layer over the IFS pipe provider: the application gets the pipe's own handles,
    # registered again under the layer's chain entry.
    if [[ -f "$OUT/layered_ifs_provider.dll" ]]; then
        if regsvr pipe_provider.dll && regsvr layered_ifs_provider.dll; then
            chains="$(cd "$OUT" && wine wsp-catalog.exe list 9>&- 2>/dev/null | grep -c 'Counting IFS layer over \[' || true)"
            if ((chains < 1)); then
                failures+=("$ARCH_NOW layered: after regsvr32 layered_ifs_provider.dll the catalog lists no chain entry over the pipe entry")
            fi
            run_suite "$ARCH_NOW" --catalog pipe layered-ifs-pipe
            regsvr /u layered_ifs_provider.dll
            regsvr /u pipe_provider.dll
        fi
    else
        failures+=("$ARCH_NOW layered: layered_ifs_provider.dll was not produced")
    fi
    catalog_snapshot layered-after.reg
    local counters='^"(Serial_Access_Num|Next_Catalog_Entry_ID)"='
    if ! diff <(iconv -f UTF-16LE -t UTF-8 "$OUT/layered-before.reg" | grep -Ev "$counters") \
        <(iconv -f UTF-16LE -t UTF-8 "$OUT/layered-after.reg" | grep -Ev "$counters") >"$LOGS/$ARCH_NOW-layered.diff"; then
        failures+=("$ARCH_NOW layered: after regsvr32 /u the catalog differs from before: $(head -n 5 "$LOGS/$ARCH_NOW-layered.diff" | tr '\n' ' ')")
    else
        echo "    regsvr32 /u of the layer and the loopback left the catalog as it was"
    fi
}

for arch in "${ARCHES[@]}"; do
    # The catalog stages use $OUT and $ARCH_NOW: the build and architecture being run.
    ARCH_NOW="$arch" OUT="$(out_dir "$arch")"
    for suite in $SUITES; do
        case "$suite" in
        loopback) run_suite "$arch" loopback_provider.dll loopback ;;
        pipe)
            run_suite "$arch" pipe_provider.dll pipe
            if [[ "$arch" == x86_64 ]]; then run_pipe_unit_tests; fi
            ;;
        catalog)
            run_catalog
            catalog_stage
            ;;
        layered) run_layered ;;
        *) die "unknown suite '$suite' in WSP_E2E_SUITES" ;;
        esac
    done
done
if [[ " $SUITES " == *" catalog "* ]] && ((${#ARCHES[@]} == 2)); then both_catalogs; fi

# --------------------------------------------------------------------------------------------
# The chaos suite (tests/chaos, docs/chaos.md) against the real DLLs: every configuration over
# three fresh seeds (printed; replay one with --seed), WSP_CHAOS_CALLS calls per seed.
# WSP_CHAOS=0 skips the stage.
run_chaos() {
    local dll="$1" name="chaos-${1%_provider.dll}" status=0
    shift
    [[ -f "$OUT/$dll" && -f "$OUT/wsp-chaos.exe" ]] || die "$dll or wsp-chaos.exe was not produced"
    step "wine wsp-chaos.exe $dll $* (${WSP_CHAOS_CALLS:-350000} calls per seed)"
    local t=$SECONDS
    # The panic provider's runtime logs every panic it catches: keep those lines in the log.
    (cd "$OUT" && timeout --kill-after=10 "$TIMEOUT" wine wsp-chaos.exe "$dll" "$@" \
        --calls "${WSP_CHAOS_CALLS:-350000}" 9>&- 2>"$LOGS/$name.stderr" | tee "$LOGS/$name.stdout") || status=$?
    echo "    ($((SECONDS - t)) s, exit status $status)"
    grep -v 'a provider method panicked' "$LOGS/$name.stderr" | grep -E '^wsp-chaos: .*calls|CRASH' | sed 's/^/    /' || true
    if ! grep -qE '^[0-9]+ passed, 0 failed$' "$LOGS/$name.stdout"; then
        failures+=("$name: $(grep -E '^(FAIL|[0-9]+ passed)' "$LOGS/$name.stdout" | head -n 5 | tr '\n' ' ')(exit status $status; logs $LOGS/$name.*)")
    fi
}
if [[ "${WSP_CHAOS:-1}" != 0 ]]; then
    # On the first architecture built (x86_64 unless --arch i686).
    OUT="$(out_dir "${ARCHES[0]}")"
    run_chaos loopback_provider.dll loopback-tcp loopback-udp
    run_chaos pipe_provider.dll pipe
    run_chaos panicky_provider.dll panicky-tcp panicky-udp
fi
wineserver -k >/dev/null 2>&1 9>&- || true

echo
if ((${#failures[@]})); then
    echo "run-wine: ${#failures[@]} problem(s) under Wine (logs in ${LOGS#"$root"/}):"
    for f in "${failures[@]}"; do printf '  %s\n' "$f"; done
    echo "run-wine: FAILED after $((SECONDS - t_start)) s"
    exit 1
fi
echo "run-wine: all suites passed under Wine on ${ARCHES[*]} ($((SECONDS - t_start)) s)"
