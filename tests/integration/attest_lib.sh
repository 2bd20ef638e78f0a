# shellcheck shell=bash disable=SC2034 # ATTEST, MITM: for the tests that source this
# Helpers for the attestation tests, sourced after lib.sh: hearth-attest
# against $T/ca.pem and a policy, and what its verdict names.
ATTEST=$BUILD/hearth-attest
MITM="python3 $(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)/attest_mitm.py"

# attest RC ARGS...: hearth-attest with the CA and $POLICY (default
# $T/policy.json) must exit with RC; its output in $T/out.
attest() {
    local want=$1
    shift
    "$ATTEST" --ca "$T/ca.pem" --policy "${POLICY:-$T/policy.json}" \
        --timeout-ms "$(scaled 10000)" "$@" > "$T/out" 2>&1
    local rc=$?
    CHECKS=$((CHECKS + 1))
    [ "$rc" = "$want" ] || fail "hearth-attest $*: status $rc, expected $want"
}

# expect_mismatch NAMES: the verdict fails exactly these checks, in order.
expect_mismatch() {
    CHECKS=$((CHECKS + 1))
    grep -q "MISMATCH ($1), " "$T/out" || fail "expected a mismatch of exactly ($1)"
}
