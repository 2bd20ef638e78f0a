#!/bin/sh
# Runs a command as root with a /dev/kvm that can run a stock Linux guest:
# directly where the machine's KVM can, otherwise inside the emulated test
# host (QEMU TCG emulating AMD SVM with nested paging, Debian's kernel with
# kvm-amd, the machine's root read-only under a tmpfs overlay, this checkout
# shared writable at its own path). Exits with the command's status.
#
# Usage: scripts/testhost.sh CMD [ARGS...]
#        scripts/testhost.sh --mode      (prints "direct" or "emulated: why")
# Environment:
#   HEARTH_TESTHOST=auto|always|never  auto (default): direct when usable;
#                                      always: emulate; never: direct or fail
#   HEARTH_TESTHOST_CPUS, HEARTH_TESTHOST_MEM_MIB   outer guest size (1, 4096)
#   HEARTH_TESTHOST_BOOT_TIMEOUT  seconds until the command starts (90; a boot
#                                 takes ~5); one that overruns it is tried
#                                 again, three boots at most
#   HEARTH_TESTHOST_TIMEOUT       seconds for the whole run (5400)
#   HEARTH_TESTHOST_STALL         seconds without the outer guest's heartbeat
#                                 before it counts as wedged (120)
#   HEARTH_TESTHOST_RETRY=1       a command that can safely run again (a test
#                                 suite) is rerun once in a fresh outer guest
#                                 when the first one wedged
#   HEARTH_TESTHOST_KERNEL, HEARTH_TESTHOST_INITRD  another outer guest image
#   HEARTH_KVM_DEV, HEARTH_CPUINFO  what is probed (/dev/kvm, /proc/cpuinfo)
#   HEARTH_TESTHOST_LOCK          the lock one emulated host at a time holds
#                                 (/tmp/hearth-testhost.lock)
# The command sees HEARTH_TESTHOST_MODE=direct|emulated and HEARTH_TIME_SCALE,
# the one factor by which the tests stretch their time-outs.
# Status 125 with a "testhost: error:" line: the outer guest itself failed.
set -eu
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
CHECKOUT=$(cd "$SCRIPTS/.." && pwd)
EMULATED_TIME_SCALE=10 # emulated host vs a KVM host, for time-outs

err() {
    echo "testhost: error: $*" >&2
    exit 125
}

# kvm_usable: the KVM here can run a stock Linux guest. A KVM without vmx/svm
# in the CPU (a PVM-style nested KVM that emulates guest kernel mode) cannot.
kvm_usable() {
    dev=${HEARTH_KVM_DEV:-/dev/kvm}
    if [ ! -c "$dev" ]; then
        WHY="$dev does not exist"
        return 1
    fi
    if ! (exec 3<> "$dev") 2> /dev/null; then
        WHY="$dev does not open"
        return 1
    fi
    if ! grep -Eqw 'vmx|svm' "${HEARTH_CPUINFO:-/proc/cpuinfo}"; then
        WHY="$dev is there but the CPU has no vmx/svm (a nested KVM of the PVM kind, which cannot run a stock Linux)"
        return 1
    fi
    return 0
}

mode=${HEARTH_TESTHOST:-auto}
case $mode in
    auto | always | never) ;;
    *) err "HEARTH_TESTHOST must be auto, always or never, not '$mode'" ;;
esac
WHY="HEARTH_TESTHOST=always"
use=emulated
if [ "$mode" != always ] && kvm_usable; then
    use=direct
fi
if [ "${1:-}" = --mode ]; then
    [ "$use" = direct ] && echo direct || echo "emulated: $WHY"
    exit 0
fi
[ $# -gt 0 ] || err "usage: testhost.sh CMD [ARGS...] | --mode"
[ "$use" = direct ] || [ "$mode" != never ] || err "HEARTH_TESTHOST=never, and $WHY"

if [ "$use" = direct ]; then
    echo "KVM: ${HEARTH_KVM_DEV:-/dev/kvm}"
    # Inside the emulated host the mode and scale are inherited.
    export HEARTH_TESTHOST_MODE="${HEARTH_TESTHOST_MODE:-direct}"
    export HEARTH_TIME_SCALE="${HEARTH_TIME_SCALE:-1}"
    exec "$@"
fi

command -v qemu-system-x86_64 > /dev/null || err "qemu-system-x86_64 is not installed (scripts/install-deps.sh)"
# One vCPU: with two, QEMU 7.2's multi-threaded TCG sometimes leaves a vCPU
# running a stale translation of kernel text the other vCPU just patched
# (jump labels go through int3, text_poke_bp), so it loops on that int3
# forever and both CPUs report soft lockups (seen in ~half the full runs).
cpus=${HEARTH_TESTHOST_CPUS:-1}
mem=${HEARTH_TESTHOST_MEM_MIB:-4096}
boot_timeout=${HEARTH_TESTHOST_BOOT_TIMEOUT:-90}
timeout=${HEARTH_TESTHOST_TIMEOUT:-5400}
stall=${HEARTH_TESTHOST_STALL:-120}
if [ -n "${HEARTH_TESTHOST_KERNEL:-}" ]; then
    kernel=$HEARTH_TESTHOST_KERNEL
    initrd=${HEARTH_TESTHOST_INITRD:?HEARTH_TESTHOST_INITRD goes with HEARTH_TESTHOST_KERNEL}
else
    img=$("$SCRIPTS/testhost-image.sh" "$CHECKOUT/build/testhost") || err "could not build the test host's image"
    kernel=$(echo "$img" | sed -n 1p)
    initrd=$(echo "$img" | sed -n 2p)
fi

run=$(mktemp -d /tmp/hearth-testhost.XXXXXX)
qpid=
cleanup() {
    [ -n "$qpid" ] && kill -9 "$qpid" 2> /dev/null
    rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir "$run/ctl"

# q WORD: WORD quoted for sh.
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
echo "CHECKOUT=$(q "$CHECKOUT")" > "$run/ctl/params"
{
    echo "cd $(q "$PWD") || exit 126"
    # The caller's environment, less what belongs to this shell or to make.
    for name in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' | sort -u); do
        case $name in
            PWD | OLDPWD | SHLVL | _ | MAKEFLAGS | MFLAGS | MAKELEVEL | MAKE_TERMERR | MAKE_TERMOUT) continue ;;
        esac
        eval "value=\${$name-}"
        echo "export $name=$(q "$value")"
    done
    echo "export HEARTH_TESTHOST_MODE=emulated HEARTH_TIME_SCALE=$EMULATED_TIME_SCALE"
    printf 'exec'
    for a in "$@"; do printf ' %s' "$(q "$a")"; done
    echo
} > "$run/ctl/cmd.sh"

# One emulated host per machine: two would share its 2 CPUs and time each
# other out. A second run waits its turn (the lock goes with the holder's
# QEMU, so a killed run releases it).
lock=${HEARTH_TESTHOST_LOCK:-/tmp/hearth-testhost.lock}
exec 9> "$lock"
if ! flock -n 9; then
    echo "testhost: another emulated test host runs on this machine; waiting for it" >&2
    flock 9
fi

echo "KVM: emulated test host (QEMU TCG, SVM, $cpus vCPUs, $mem MiB)"

# wedge_report: what a wedged outer guest is doing, for the error: QEMU's
# CPU use over 2 s (spinning or idle) and its vCPU's registers twice.
wedge_report() {
    local t0 t1
    t0=$(awk '{print $14 + $15}' "/proc/$qpid/stat")
    monitor 'info registers' | grep -E '^(RIP|EIP|EFL|CS |CR0|CR3|EFER|GDT)' || true
    sleep 2
    t1=$(awk '{print $14 + $15}' "/proc/$qpid/stat")
    echo "QEMU used $(((t1 - t0) * 100 / $(getconf CLK_TCK) / 2))% of a CPU over 2 s"
    monitor 'info registers' | grep -E '^(RIP|EIP)' || true
    monitor 'info cpus' | grep 'CPU #' || true
}
monitor() { # COMMAND: its answer from QEMU's monitor socket
    python3 - "$run/monitor.sock" "$1" <<'PY'
import socket, sys, time
out = b""
try:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(3)
    s.connect(sys.argv[1])
    s.sendall(sys.argv[2].encode() + b"\n")
    time.sleep(0.5)
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except OSError as e:
    if not out:
        print("QEMU's monitor did not answer %r: %s" % (sys.argv[2], e))
print(out.decode("latin-1").replace("\r", ""))
PY
}

# boot_once: one outer guest; its console streams to stdout (and to
# $run/console), its verdict lands in $run/ctl/status, $run/ctl/error or
# $run/reason.
boot_once() {
    rm -f "$run/fifo" "$run/reason" "$run/qemu.pid" "$run/ctl/ready" "$run/ctl/status" \
        "$run/ctl/error" "$run/ctl/heartbeat"
    mkfifo "$run/fifo"
    qemu-system-x86_64 -accel tcg,thread=multi -cpu EPYC,+svm,+npt -smp "$cpus" -m "$mem" \
        -nodefaults -display none -no-reboot -serial stdio -pidfile "$run/qemu.pid" \
        -monitor "unix:$run/monitor.sock,server=on,wait=off" \
        -kernel "$kernel" -initrd "$initrd" \
        -append "console=ttyS0 loglevel=6 panic=1 mitigations=off nohz=off highres=off ${HEARTH_TESTHOST_APPEND:-}" \
        -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
        -virtfs "local,path=$CHECKOUT,mount_tag=checkout,security_model=none,multidevs=remap" \
        -virtfs "local,path=$run/ctl,mount_tag=ctl,security_model=none" \
        < /dev/null > "$run/fifo" 2> "$run/qemu.err" &
    qpid=$!
    (
        t=0
        while kill -0 "$qpid" 2> /dev/null; do
            if [ ! -e "$run/ctl/ready" ] && [ "$t" -ge "$boot_timeout" ]; then
                echo "boot" > "$run/reason"
                kill -9 "$qpid"
            elif [ -e "$run/ctl/heartbeat" ] &&
                [ $(($(date +%s) - $(stat -c %Y "$run/ctl/heartbeat"))) -gt "$stall" ]; then
                echo "wedged" > "$run/reason"
                wedge_report > "$run/wedge" 2>&1
                kill -9 "$qpid"
            elif [ "$t" -ge "$timeout" ]; then
                echo "the command did not finish within ${timeout}s (HEARTH_TESTHOST_TIMEOUT)" > "$run/reason"
                kill -9 "$qpid"
            fi
            sleep 1
            t=$((t + 1))
        done
    ) &
    watchdog=$!
    # The whole console goes to $run/console (shown when the outer guest
    # fails); the terminal gets what follows the init's start line.
    sed -u 's/\r//g' < "$run/fifo" | tee "$run/console" |
        sed -u -n -e '1,/^testhost-init: the command starts$/d' \
            -e '/^\[ *[0-9.]*\] reboot: Power down$/d' -e p || true
    wait "$qpid" && qrc=0 || qrc=$?
    qpid=
    kill "$watchdog" 2> /dev/null || true
    wait "$watchdog" 2> /dev/null || true
    grep -v "TCG doesn't support requested feature" "$run/qemu.err" >&2 || true
    return 0
}

boots=3 # a hung boot (about one in ten under TCG here) is tried again
reruns=1
while :; do
    boot_once
    reason=$(cat "$run/reason" 2> /dev/null || true)
    if [ "$reason" = boot ] && [ "$boots" -gt 1 ]; then
        boots=$((boots - 1))
        echo "testhost: the outer guest did not start the command within ${boot_timeout}s ($(grep -c . "$run/console") console lines, last: $(tail -n 1 "$run/console")); booting it again" >&2
    elif [ "$reason" = wedged ] && [ "$reruns" -gt 0 ] && [ "${HEARTH_TESTHOST_RETRY:-0}" = 1 ]; then
        reruns=0
        echo "testhost: the outer guest wedged (no heartbeat for ${stall}s; its CPU below); running the command again in a fresh one" >&2
        cat "$run/wedge" >&2 2> /dev/null
    else
        break
    fi
done

[ -s "$run/ctl/status" ] && exit "$(cat "$run/ctl/status")"
echo "--- the outer guest's console, last 30 lines:" >&2
tail -n 30 "$run/console" >&2
reason=$(cat "$run/reason" 2> /dev/null || true)
[ "$reason" = boot ] && err "the outer guest did not start the command within ${boot_timeout}s, three times (HEARTH_TESTHOST_BOOT_TIMEOUT)"
if [ "$reason" = wedged ]; then
    echo "--- the wedged outer guest's CPU:" >&2
    cat "$run/wedge" >&2 2> /dev/null
    err "the outer guest wedged: no heartbeat for ${stall}s (HEARTH_TESTHOST_STALL); see its console above"
fi
[ -n "$reason" ] && err "$reason"
init_error=$(sed -n 's/^testhost-init: error: //p' "$run/console" | head -n 1)
[ -n "$init_error" ] && err "the outer guest's init: $init_error"
panic=$(grep -m1 'Kernel panic' "$run/console" || true)
[ -n "$panic" ] && err "the outer guest's kernel panicked: $panic"
err "QEMU exited with status $qrc before the command finished"
