#!/bin/bash
# Seccomp: every thread kind runs under its own filter by default; a
# forbidden system call on any of them (the HEARTH_SECCOMP_SELFTEST hook
# makes one right after the filter goes on) stops hearth with status 148
# and a log line naming the thread and the call (on the VMM thread also a
# clone other than fork's and an open with O_CREAT; clone3 answers ENOSYS
# there); --no-seccomp leaves them
# off; --print-seccomp lists each allowlist, within Firecracker's counts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tpm_lib.sh"

"$HEARTH" --print-seccomp > "$T/filters"
CHECKS=$((CHECKS + 1))
python3 - "$T/filters" <<'PY' || fail "filters: $(cat "$T/filters")"
import re, sys
counts = dict(re.findall(r"^(\w+) thread: (\d+) system calls", open(sys.argv[1]).read(), re.M))
firecracker = {"vmm": 50, "api": 31, "vcpu": 27}
assert set(counts) == {"vmm", "api", "vcpu", "tpm", "io"}, counts
# Firecracker runs its devices on the vmm thread: the io thread is held to that.
firecracker["io"] = firecracker["vmm"]
for k, limit in firecracker.items():
    assert int(counts[k]) <= limit, (k, counts[k], limit)
PY
grep -q '^  ioctl (16) if arg 1: KVM_RUN$' "$T/filters" || fail "the vcpu filter does not name KVM_RUN"
CHECKS=$((CHECKS + 1))

# The same VM, a violation injected on each thread in turn.
for kind in vcpu vmm tpm io; do
    start_swtpm "$kind"
    tpm_config tpm_basic.elf crb ""
    HEARTH_SECCOMP_SELFTEST=$kind run_hearth
    expect_rc 148
    expect_log "\[anonymous-instance:[a-z0-9]+:ERROR\] seccomp: forbidden system call 135; the process stops \(exit status 148\)"
    case $kind in
        vcpu) expect_log ':vcpu0:ERROR\] seccomp' ;;
        vmm) expect_log ':main:ERROR\] seccomp' ;;
        tpm) expect_log ':tpm:ERROR\] seccomp' ;;
        io) expect_log ':io:ERROR\] seccomp' ;;
    esac
done
# The VMM thread, which parses API bodies once the VM runs: a clone other
# than the detached teardown's fork (here into a new user namespace) and an
# open that creates a file stop hearth; clone3 answers ENOSYS (glibc then
# falls back to clone) and the VM runs on.
for call in clone:56 openat:257; do
    start_swtpm "vmm-${call%%:*}"
    tpm_config tpm_basic.elf crb ""
    HEARTH_SECCOMP_SELFTEST=vmm:${call%%:*} run_hearth
    expect_rc 148
    expect_log ":main:ERROR\] seccomp: forbidden system call ${call#*:}; the process stops"
done
start_swtpm vmm-clone3
tpm_config tpm_basic.elf crb ""
HEARTH_SECCOMP_SELFTEST=vmm:clone3 run_hearth
expect_clean_run 12
expect_log ':main:INFO\] seccomp self-test: clone3: Function not implemented'

# The API thread: its filter goes on before the first client.
: > "$T/log"
HEARTH_SECCOMP_SELFTEST=api "$HEARTH" --api-sock "$T/api.sock" --log-path "$T/log" < /dev/null > /dev/null 2>&1
RC=$?
expect_rc 148
expect_log ':api:ERROR\] seccomp: forbidden system call 135'

# --no-seccomp: no filter, so the same "forbidden" call passes.
start_swtpm off
tpm_config tpm_basic.elf crb ""
HEARTH_SECCOMP_SELFTEST=vcpu run_hearth --no-seccomp
expect_clean_run 12
expect_log 'seccomp filters are off'
pass "seccomp"
