#!/bin/sh
# Runs every test (unit + integration) and ends with "N passed, N failed,
# N skipped"; exits non-zero when anything failed or timed out.
set -u
BUILD=${1:-build}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

meson test -C "$BUILD" --no-rebuild --print-errorlogs --num-processes 2 2>&1 | tee "$out"
status=$?

count() { awk -v k="$1" 'index($0, k) == 1 { print $NF; found = 1 } END { if (!found) print 0 }' "$out" | tail -n 1; }
ok=$(count "Ok:")
failed=$(( $(count "Fail:") + $(count "Timeout:") + $(count "Unexpected Pass:") ))
skipped=$(count "Skipped:")

if [ "$skipped" -gt 0 ]; then
    echo
    echo "Skipped tests (each says why):"
    grep -E '^SKIP:' "$BUILD/meson-logs/testlog.txt" | sed 's/^/  /'
fi
echo
echo "$ok passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
