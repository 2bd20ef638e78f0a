#!/bin/sh
# Runs every test and ends with "N passed, N failed, N skipped"; exits
# non-zero when anything failed or timed out. Unit tests and the tests that
# need no KVM (suites 'unit', 'host') run on this machine; the suite 'kvm'
# runs through scripts/testhost.sh, in one boot of the emulated test host
# where this machine's KVM cannot run a stock Linux.
set -u
BUILD=$(cd "${1:-build}" && pwd)
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "== unit and host tests, on this machine"
meson test -C "$BUILD" --no-rebuild --print-errorlogs --num-processes 2 --logbase testlog-host \
    --suite unit --suite host 2>&1 | tee -a "$out"

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

# Sums a meson summary field over both runs.
count() { awk -v k="$1" 'index($0, k) == 1 { n += $NF } END { print n + 0 }' "$out"; }
ok=$(count "Ok:")
failed=$(($(count "Fail:") + $(count "Timeout:") + $(count "Unexpected Pass:")))
skipped=$(count "Skipped:")
runs=$(grep -c '^Ok:' "$out")
if [ "$runs" -lt 2 ]; then
    echo "a test run ended without a summary (see above)"
    failed=$((failed + 1))
fi

if [ "$skipped" -gt 0 ]; then
    echo
    echo "Skipped tests (each says why):"
    cat "$BUILD"/meson-logs/testlog-host.txt "$BUILD"/meson-logs/testlog-kvm.txt 2> /dev/null |
        grep -E '^SKIP:' | sed 's/^/  /'
fi
echo
echo "$ok passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
