# Shared helpers for integration tests: boot a payload with hearth, then
# assert on its exit status, guest output and log. Sourced by each test.
# A test exits 0 (pass), 1 (fail) or 77 (skipped: says why).
set -u

BUILD=${BUILD:?BUILD must point at the build directory}
BUILD=$(cd "$BUILD" && pwd)
HEARTH=$BUILD/hearth
GUEST=$BUILD/guest
TIMEOUT=${TIMEOUT:-30} # seconds on a KVM host; see scaled
# Every time-out and wait here is for a KVM host; scripts/testhost.sh sets
# HEARTH_TIME_SCALE for the emulated one, and scaled applies it.
SCALE=${HEARTH_TIME_SCALE:-1}
T=$(mktemp -d /tmp/hearth-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
CHECKS=0

fail() {
    echo "FAIL: $*"
    for f in out log err tpmd.log; do
        if [ -s "$T/$f" ]; then
            echo "--- $f (last 40 lines)"
            tail -n 40 "$T/$f"
        fi
    done
    exit 1
}

# scaled N: N (seconds or milliseconds) stretched for this host.
scaled() {
    echo $(($1 * SCALE))
}

# wait_until SECONDS CMD...: polls CMD every 50 ms until it succeeds or
# SECONDS (scaled) pass; returns CMD's last status.
wait_until() {
    local end=$(($(date +%s%N) + $(scaled "$1") * 1000000000))
    shift
    until "$@"; do
        [ "$(date +%s%N)" -lt "$end" ] || return 1
        sleep 0.05
    done
}

not_running() { ! kill -0 "$1" 2> /dev/null; }

# serving PID CMD...: waits until CMD succeeds while PID lives (a daemon
# that answers). One that exits ends the wait at once; a live one gets a
# minute (scaled), however busy the host: the bound catches a hang, it
# measures nothing. Fails when PID is gone.
serving() {
    local pid=$1 end=$(($(date +%s%N) + $(scaled 60) * 1000000000))
    shift
    until "$@"; do
        kill -0 "$pid" 2> /dev/null && [ "$(date +%s%N)" -lt "$end" ] || return 1
        sleep 0.05
    done
    kill -0 "$pid" 2> /dev/null
}

# Debian's cloud kernel for the Linux guests, in $KDIR. scripts/run-tests.sh
# fetches it before entering the test host (which has no network); a test
# that finds none fails rather than skip.
KDIR=$BUILD/kernel
need_linux_kernel() {
    "$(dirname "${BASH_SOURCE[0]}")/../../scripts/fetch-kernel.sh" "$KDIR" > "$T/fetch" 2>&1 ||
        fail "no Debian cloud kernel in $KDIR (scripts/run-tests.sh fetches it): $(cat "$T/fetch")"
}

# linux_console: $T/out as lines, without the CR LF and trailing blanks of
# a Linux guest's serial console.
linux_console() {
    sed -i 's/\r$//; s/ *$//' "$T/out"
}

skip() {
    echo "SKIP: $*"
    exit 77
}

pass() {
    echo "ok - $* ($CHECKS checks)"
    exit 0
}

# vm_config KERNEL BOOT_ARGS [VCPUS] [MEM_MIB] [EXTRA_JSON_MEMBERS]
vm_config() {
    local extra=${5:-}
    cat > "$T/vm.json" <<JSON
{
  "boot-source": {"kernel_image_path": "$1", "boot_args": "$2"},
  "machine-config": {"vcpu_count": ${3:-1}, "mem_size_mib": ${4:-128}}${extra:+,
  $extra}
}
JSON
}

# run_hearth [ARGS...]: boots $T/vm.json; stdin from $STDIN (default
# /dev/null); sets RC; guest output in $T/out, log in $T/log.
run_hearth() {
    : > "$T/log"
    timeout -k 5 "$(scaled "$TIMEOUT")" "$HEARTH" --config-file "$T/vm.json" --no-api --log-path "$T/log" \
        "$@" < "${STDIN:-/dev/null}" > "$T/out" 2> "$T/err"
    RC=$?
    [ "$RC" -ne 124 ] && [ "$RC" -ne 137 ] || fail "hearth did not finish within $(scaled "$TIMEOUT")s"
}

# api_start SOCK [ARGS...]: hearth serving the REST API on SOCK in the
# background (PID); console in $T/out, log in $T/log.
api_start() {
    API_SOCK=$1
    shift
    : > "$T/log"
    "$HEARTH" --api-sock "$API_SOCK" --log-path "$T/log" "$@" < /dev/null > "$T/out" 2> "$T/err" &
    PID=$!
    wait_until 10 test -S "$API_SOCK" || fail "the API socket did not appear"
}

# api METHOD PATH [BODY]: one request to $API_SOCK with curl; sets CODE, BODY.
api() {
    CODE=$(curl -s --max-time "$(scaled 10)" --unix-socket "$API_SOCK" -X "$1" "http://localhost$2" \
        ${3:+-H 'Content-Type: application/json' -d "$3"} -o "$T/body" -w '%{http_code}')
    BODY=$(cat "$T/body")
}

# expect_http CODE [BODY_REGEX]: the last api answer.
expect_http() {
    CHECKS=$((CHECKS + 1))
    [ "$CODE" = "$1" ] || fail "HTTP $CODE ($BODY), expected $1"
    [ -z "${2:-}" ] || echo "$BODY" | grep -Eq -- "$2" || fail "body '$BODY' lacks /$2/"
}

expect_rc() {
    CHECKS=$((CHECKS + 1))
    [ "$RC" -eq "$1" ] || fail "exit status $RC, expected $1"
}

expect_out() {
    CHECKS=$((CHECKS + 1))
    grep -Eq -- "$1" "$T/out" || fail "guest output lacks /$1/"
}

expect_no_out() {
    CHECKS=$((CHECKS + 1))
    ! grep -Eq -- "$1" "$T/out" || fail "guest output unexpectedly has /$1/"
}

expect_log() {
    CHECKS=$((CHECKS + 1))
    grep -Eq -- "$1" "$T/log" || fail "log lacks /$1/"
}

expect_no_log() {
    CHECKS=$((CHECKS + 1))
    ! grep -Eq -- "$1" "$T/log" || fail "log unexpectedly has /$1/"
}

expect_err() {
    CHECKS=$((CHECKS + 1))
    grep -Eq -- "$1" "$T/err" || fail "stderr lacks /$1/"
}

# The guest's TAP report: at least MIN results, none failed.
expect_guest_pass() {
    local min=${1:-1}
    CHECKS=$((CHECKS + 1))
    ! grep -q '^not ok' "$T/out" || fail "guest reported failures"
    local line
    line=$(grep -E '^# guest: [0-9]+ passed, 0 failed' "$T/out") || fail "no clean guest summary"
    local n=${line#\# guest: }
    n=${n%% *}
    [ "$n" -ge "$min" ] || fail "guest ran $n checks, expected at least $min"
}

# The guest booted and ran to the reset: hearth exit 0, all checks passed.
expect_clean_run() {
    expect_rc 0
    expect_guest_pass "${1:-1}"
    expect_log 'VM stopped: guest requested a reset through the i8042'
}

have_hw_virt() {
    grep -Eqw 'vmx|svm' /proc/cpuinfo
}

# disassemble_tables SIG...: turns the acpi payload's "dump=1" hex output in
# $T/out into $T/tables/SIG.dsl with iasl; fails on any iasl complaint.
disassemble_tables() {
    rm -rf "$T/tables"
    mkdir -p "$T/tables"
    awk -v dir="$T/tables" '
        /^# table / { f = dir "/" $3 ".hex"; next }
        /^#hex / && f { print $2 > f }' "$T/out"
    local sig
    for sig in "$@"; do
        CHECKS=$((CHECKS + 1))
        [ -s "$T/tables/$sig.hex" ] || fail "guest did not dump $sig"
        xxd -r -p "$T/tables/$sig.hex" > "$T/tables/$sig.dat"
        (cd "$T/tables" && iasl -d "$sig.dat" > "$sig.iasl" 2>&1) || {
            cat "$T/tables/$sig.iasl"
            fail "iasl could not disassemble $sig"
        }
        CHECKS=$((CHECKS + 1))
        ! grep -Eiq 'error|warning' "$T/tables/$sig.iasl" || {
            cat "$T/tables/$sig.iasl"
            fail "iasl reported problems in $sig"
        }
    done
}

# Removes the (empty) cgroups hearth-tpmd made for vTPMs under $T, whose
# swtpm processes a test killed itself.
remove_vtpm_cgroups() {
    local d
    for d in "$T"/*/vtpms/* "$T"/*/*/vtpms/*; do
        [ -d "$d" ] || continue
        rmdir /sys/fs/cgroup/*/hearth-tpmd/"${d##*/}" /sys/fs/cgroup/hearth-tpmd/"${d##*/}" 2> /dev/null
    done
    return 0
}

# tpm_config PAYLOAD MODEL BOOT_ARGS [EXTRA_TPM_MEMBERS]: a VM with a TPM on
# the swtpm control socket $SOCK; hearth's 2 s command time-out, scaled,
# unless EXTRA sets its own.
tpm_config() {
    local extra=${4:-}
    case $extra in *timeout_ms*) ;; *) extra="\"timeout_ms\": $(scaled 2000)${extra:+, $extra}" ;; esac
    cat > "$T/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$GUEST/$1", "boot_args": "tpm=$2 $3"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
 "tpm": {"socket": "$SOCK", "model": "$2", $extra}}
JSON
}
