#!/bin/bash
# scripts/testhost.sh: picks /dev/kvm only where it can run a stock Linux,
# otherwise boots the emulated test host; a command's output, exit status and
# files come back; a broken or hung outer guest is a clear, bounded error;
# and scripts/run-tests.sh fails when the KVM tests fail.
. "$(dirname "$0")/lib.sh"
# Its own lock: a real test host running meanwhile (the KVM suite) must
# neither hold these runs up nor be held up by them.
export HEARTH_TESTHOST_LOCK="$T/own.lock"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TH=$ROOT/scripts/testhost.sh

# A fake QEMU on PATH records that it was started.
mkdir -p "$T/bin"
cat > "$T/bin/qemu-system-x86_64" <<EOF
#!/bin/sh
touch "$T/qemu-started"
exit 1
EOF
chmod +x "$T/bin/qemu-system-x86_64"
printf 'flags\t\t: fpu svm lm\n' > "$T/cpuinfo-svm"
printf 'flags\t\t: fpu lm hypervisor\n' > "$T/cpuinfo-none"

# th ENV... -- CMD...: runs testhost.sh; output in $T/out, status in RC.
th() {
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    env "${envs[@]}" "$TH" "$@" > "$T/out" 2>&1
    RC=$?
}

# A usable KVM (a character device that opens, svm in the CPU): auto runs
# the command directly and never starts QEMU.
th PATH="$T/bin:$PATH" HEARTH_KVM_DEV=/dev/null HEARTH_CPUINFO="$T/cpuinfo-svm" -- \
    sh -c 'echo "mode=$HEARTH_TESTHOST_MODE scale=$HEARTH_TIME_SCALE"; exit 3'
expect_rc 3
expect_out '^KVM: /dev/null$'
expect_out '^mode=direct scale=1$'
CHECKS=$((CHECKS + 1))
[ ! -e "$T/qemu-started" ] || fail "auto started QEMU although KVM was usable"

# No vmx/svm (a PVM-style KVM) or no device: emulated, or an error with never.
th HEARTH_KVM_DEV=/dev/null HEARTH_CPUINFO="$T/cpuinfo-none" -- --mode
expect_out '^emulated: /dev/null is there but the CPU has no vmx/svm'
th HEARTH_TESTHOST=never HEARTH_KVM_DEV="$T/no-such-kvm" -- true
expect_rc 125
expect_out "^testhost: error: HEARTH_TESTHOST=never, and $T/no-such-kvm does not exist$"
th HEARTH_TESTHOST=sometimes -- true
expect_rc 125
expect_out 'HEARTH_TESTHOST must be auto, always or never'

# One emulated host at a time: a second run waits for the first's lock and
# starts its QEMU (here the fake) only once it is free.
exec 8> "$T/lock"
flock 8
# (The waiter must not inherit fd 8: a lock belongs to its open file.)
(env PATH="$T/bin:$PATH" HEARTH_TESTHOST=always HEARTH_TESTHOST_LOCK="$T/lock" \
    HEARTH_TESTHOST_KERNEL=/dev/null HEARTH_TESTHOST_INITRD=/dev/null \
    HEARTH_TESTHOST_BOOT_TIMEOUT=2 timeout 60 "$TH" true > "$T/waited" 2>&1 8>&-) &
waiter=$!
wait_until 10 grep -q 'another emulated test host runs on this machine; waiting' "$T/waited" ||
    fail "a second test host did not wait for the lock: $(cat "$T/waited")"
sleep 0.5
CHECKS=$((CHECKS + 1))
[ ! -e "$T/qemu-started" ] || fail "a second test host started QEMU while the first held the lock"
exec 8>&-
wait_until 20 test -e "$T/qemu-started" || fail "the waiting test host never started"
wait "$waiter"
rm -f "$T/qemu-started"

# The emulated host: output, status and a file in the checkout come back;
# /dev/kvm works inside and the time-out scale is set.
mark=$BUILD/testhost-check.$$
rm -f "$mark"
th HEARTH_TESTHOST=always -- sh -c "echo out-\$HEARTH_TESTHOST_MODE; echo err-line >&2;
    [ -c /dev/kvm ] && [ \"\$HEARTH_TIME_SCALE\" -gt 1 ] && echo kvm-ok > '$mark'; exit 7"
expect_rc 7
expect_out '^KVM: emulated test host \(QEMU TCG, SVM, [0-9]+ vCPUs, [0-9]+ MiB\)$'
expect_out '^out-emulated$'
expect_out '^err-line$'
expect_no_out "TCG doesn't support"
CHECKS=$((CHECKS + 1))
[ "$(cat "$mark" 2> /dev/null)" = kvm-ok ] || fail "the command's file did not come back, or /dev/kvm was missing"
rm -f "$mark"

# An outer guest that cannot boot (an initramfs without /init) is reported.
img=$("$ROOT/scripts/testhost-image.sh" "$BUILD/testhost") || fail "no test host image"
: | cpio -o -H newc --quiet | gzip > "$T/empty.cpio.gz"
th HEARTH_TESTHOST=always HEARTH_TESTHOST_KERNEL="$(echo "$img" | sed -n 1p)" \
    HEARTH_TESTHOST_INITRD="$T/empty.cpio.gz" -- true
expect_rc 125
expect_out "^testhost: error: the outer guest's kernel panicked: .*Kernel panic"

# A boot that does not reach the command in time is retried once, then fails.
th HEARTH_TESTHOST=always HEARTH_TESTHOST_BOOT_TIMEOUT=1 -- true
expect_rc 125
expect_out 'did not start the command within 1s \([0-9]+ console lines, last: .*\); booting it again'
expect_out '^testhost: error: the outer guest did not start the command within 1s, three times'

# An outer guest that stops (here: its QEMU frozen with SIGSTOP) is caught
# by its missing heartbeat; with HEARTH_TESTHOST_RETRY=1 the command runs
# again in a fresh one.
count=$BUILD/testhost-attempts.$$
rm -f "$count"
HEARTH_TESTHOST=always HEARTH_TESTHOST_STALL=15 HEARTH_TESTHOST_RETRY=1 "$TH" sh -c \
    "n=\$((\$(cat '$count' 2> /dev/null || echo 0) + 1)); echo \$n > '$count'; echo attempt \$n;
     [ \$n -ge 2 ] || sleep 600" > "$T/out" 2>&1 &
th_pid=$!
wait_until 60 grep -q '^attempt 1$' "$T/out" || fail "the first attempt did not start"
# Our own QEMU: a descendant of that testhost.sh (another test host on the
# machine, a benchmark's say, must not be the one frozen).
qemu=
for p in $(pgrep -f "qemu-system-x86_64 .*path=/tmp/hearth-testhost"); do
    a=$p
    while [ "$a" -gt 1 ] && [ "$a" != "$th_pid" ]; do
        a=$(awk '{print $4}' "/proc/$a/stat" 2> /dev/null || echo 1)
    done
    [ "$a" = "$th_pid" ] && qemu=$p
done
[ -n "$qemu" ] || fail "the test host's QEMU was not found"
kill -STOP "$qemu"
wait "$th_pid"
RC=$?
rm -f "$count"
expect_rc 0
expect_out 'the outer guest wedged \(no heartbeat for 15s; its CPU below\); running the command again in a fresh one'
expect_out 'QEMU used [0-9]+% of a CPU over 2 s'
expect_out '^attempt 2$'

# run-tests.sh: a failing KVM suite fails the whole run, and a run that
# ends without a summary counts as a failure. Three runs: unit and host
# tests, the unit tests under the sanitizers, the KVM suite.
cat > "$T/bin/meson" <<'EOF'
#!/bin/sh
case "$*" in
    setup*) exit 0 ;;
    *"--list"*) echo "hearth:unit / unit/fake" ;;
    *"--suite kvm"*) [ -n "${MESON_CRASH:-}" ] && exit 1; printf 'Ok: 2\nFail: 1\n'; exit 1 ;;
    *) printf 'Ok: 5\nFail: 0\nSkipped: 0\n' ;;
esac
EOF
chmod +x "$T/bin/meson"
run_tests() {
    env PATH="$T/bin:$PATH" HEARTH_KVM_DEV=/dev/null HEARTH_CPUINFO="$T/cpuinfo-svm" "$@" \
        "$ROOT/scripts/run-tests.sh" "$BUILD" > "$T/out" 2>&1
    RC=$?
}
run_tests
expect_rc 1
expect_out '^12 passed, 1 failed, 0 skipped$'
run_tests MESON_CRASH=1
expect_rc 1
expect_out '^a test run ended without a summary'
expect_out '^10 passed, 1 failed, 0 skipped$'
pass "test host"
