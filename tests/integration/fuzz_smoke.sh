#!/bin/bash
# A short libFuzzer run (ASan + UBSan) of every fuzz target: the guest- and
# operator-facing parsers survive FUZZ_SECONDS (default 5) of random input.
. "$(dirname "$0")/lib.sh"
command -v clang > /dev/null || fail "clang is not installed"
cd "$(dirname "$0")/../.."
FUZZ_BUILD=$BUILD/fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-5} ./scripts/fuzz.sh > "$T/out" 2>&1 ||
    fail "a fuzz target crashed or failed to build"
# As many runs as tests/fuzz/targets lists targets (lines not blank nor comments).
WANT=$(grep -Ec '^[[:space:]]*[^#[:space:]]' tests/fuzz/targets) ||
    fail "cannot read the fuzz target list tests/fuzz/targets"
CHECKS=$(grep -c 'number_of_executed_units' "$T/out")
[ "$CHECKS" -eq "$WANT" ] || fail "expected $WANT fuzz targets to run (tests/fuzz/targets), $CHECKS did"
pass "fuzz smoke"
