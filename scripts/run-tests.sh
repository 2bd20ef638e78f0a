#!/bin/sh
# Runs every test and ends with "N passed, N failed, N skipped"; exits
# non-zero when anything failed or timed out. Unit tests and the tests that
# need no KVM (suites 'unit', 'host') run on this machine, then the unit
# tests again built with ASan and UBSan (gcc) in BUILD-sanitize; the suite
# 'kvm' runs through scripts/testhost.sh, in one boot of the emulated test
# host where this machine's KVM cannot run a stock Linux.
set -u
BUILD=$(cd "${1:-build}" && pwd)
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
trap 'rm -f "$out" "$out.setup"' EXIT

echo "== unit and host tests, on this machine"
meson test -C "$BUILD" --no-rebuild --print-errorlogs --num-processes 2 --logbase testlog-host \
    --suite unit --suite host 2>&1 | tee -a "$out"

echo
echo "== unit tests under ASan and UBSan"
# A build directory of its own, set up once; meson test builds only what
# the tests it runs need (no guest payloads, no static hearth). Warnings do
# not fail it: gcc warns wrongly under -fsanitize (the default build has
# -Werror). Not run here: unit/seccomp installs the seccomp filters, which
# refuse the calls ASan's runtime makes (sigaltstack, mmap; unit/virtio_blk
# skips its two cases that do); unit/bench measures the process's mappings,
# where ASan's shadow memory is the largest.
SAN=${HEARTH_SANITIZE_BUILD:-$BUILD-sanitize}
not_sanitized='^unit/(seccomp|bench)$'
start=$(date +%s)
if [ ! -f "$SAN/build.ninja" ] && ! CC=gcc meson setup "$SAN" "$SCRIPTS/.." \
    -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false > "$out.setup" 2>&1; then
    cat "$out.setup"
    echo "run-tests: meson could not set up the sanitizer build in $SAN"
fi
names=$(meson test -C "$SAN" --no-rebuild --list --suite unit 2> /dev/null | sed -n 's|^.* / ||p' |
    grep -vE "$not_sanitized")
if [ -n "$names" ]; then
    # shellcheck disable=SC2086
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 meson test -C "$SAN" --print-errorlogs \
        --num-processes 2 --logbase testlog-sanitize $names 2>&1 | tee -a "$out"
else
    echo "run-tests: no unit test to run in $SAN"
fi
echo "== sanitizer run took $(($(date +%s) - start)) s"

echo
echo "== KVM tests"
# The Linux guests' kernel comes from Debian's archive, which the emulated
# test host cannot reach: fetched (once, cached) here.
"$SCRIPTS/fetch-kernel.sh" "$BUILD/kernel" > /dev/null ||
    echo "run-tests: could not fetch Debian's cloud kernel; the Linux guest tests will fail"
start=$(date +%s)
# A test suite can run again: a wedged outer guest gets one more try.
# shellcheck disable=SC2016
PYTHONUNBUFFERED=1 HEARTH_TESTHOST_RETRY=1 "$SCRIPTS/testhost.sh" sh -c 'exec meson test -C "$1" --no-rebuild --print-errorlogs --num-processes 2 \
    --logbase testlog-kvm --suite kvm --timeout-multiplier "$HEARTH_TIME_SCALE"' sh "$BUILD" 2>&1 |
    tee -a "$out"
echo "== KVM tests took $(($(date +%s) - start)) s"

# Sums a meson summary field over the three runs.
count() { awk -v k="$1" 'index($0, k) == 1 { n += $NF } END { print n + 0 }' "$out"; }
ok=$(count "Ok:")
failed=$(($(count "Fail:") + $(count "Timeout:") + $(count "Unexpected Pass:")))
skipped=$(count "Skipped:")
runs=$(grep -c '^Ok:' "$out")
if [ "$runs" -lt 3 ]; then
    echo "a test run ended without a summary (see above)"
    failed=$((failed + 1))
fi

if [ "$skipped" -gt 0 ]; then
    echo
    echo "Skipped tests (each says why):"
    cat "$BUILD"/meson-logs/testlog-host.txt "$SAN"/meson-logs/testlog-sanitize.txt \
        "$BUILD"/meson-logs/testlog-kvm.txt 2> /dev/null |
        grep -E '^SKIP:' | sed 's/^/  /'
fi
echo
echo "$ok passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
