#!/bin/bash
# hearth-jailer, seen from inside its jail (a static probe stands in for
# hearth; the KVM half is jailer_vm.sh): nothing inherited (fds,
# environment), a pivot_root'ed chroot with only the binary and its device
# nodes owned by the target uid, the arguments Firecracker's jailer passes,
# rlimits, a new pid namespace, a cgroup whose memory limit is enforced, the
# vTPM's control channel handed over as fd 3; clear errors for bad
# arguments; and a chroot planted with links or with directories another
# uid may write is refused, nothing outside it touched. Runs on cgroup v1
# or v2, whichever the host mounts.
. "$(dirname "$0")/lib.sh"
JAILER=$BUILD/hearth-jailer
PROBE=$BUILD/tests/jail_probe
BASE=$T/jail
UIDN=$((1900000000 + $$ % 100000))
cg_parent=jail_probe

cleanup_cgroups() {
    local d
    for d in /sys/fs/cgroup/$cg_parent /sys/fs/cgroup/*/$cg_parent; do
        [ -d "$d" ] || continue
        find "$d" -mindepth 1 -depth -type d -exec rmdir {} + 2> /dev/null
        rmdir "$d" 2> /dev/null
    done
    return 0
}
trap 'cleanup_cgroups; rm -rf "$T"' EXIT

expect_jail_error() { # ARGS... (last: the message)
    local msg=${*: -1}
    "$JAILER" "${@:1:$#-1}" > "$T/out" 2> "$T/err"
    RC=$?
    CHECKS=$((CHECKS + 1))
    [ "$RC" -ne 0 ] || fail "hearth-jailer accepted: ${*:1:$#-1}"
    expect_err "$msg"
}
expect_jail_error --id 'a/b' --exec-file "$PROBE" --uid 1 --gid 1 'hearth-jailer: --id must be 1-64 characters'
expect_jail_error --id ok --exec-file "$T/none" --uid 1 --gid 1 "--exec-file $T/none: No such file"
expect_jail_error --id ok --exec-file build/hearth --uid 1 --gid 1 '--exec-file must be an absolute path'
expect_jail_error --id ok --exec-file "$PROBE" --uid 1 --gid 1 --chroot-base-dir rel '--chroot-base-dir must be an absolute path'
expect_jail_error --id ok --exec-file "$PROBE" --gid 1 '--id, --exec-file, --uid and --gid are required'
expect_jail_error --id ok --exec-file "$PROBE" --uid 1 --gid 1 --cgroup nofile '--cgroup must be FILE=VALUE'
expect_jail_error --id ok --exec-file "$PROBE" --uid 1 --gid 1 --cgroup-version 3 '--cgroup-version must be 1 or 2'

# A listening socket stands in for swtpm's control socket.
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept(); time.sleep(30)' "$T/ctrl.sock" &
listener=$!
wait_until 5 test -S "$T/ctrl.sock" || fail "the stand-in control socket did not appear"

if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    limit=(--cgroup memory.max=33554432 --cgroup pids.max=16)
else
    limit=(--cgroup memory.limit_in_bytes=33554432 --cgroup pids.max=16)
fi
mkfifo "$T/go"
exec 7> "$T/leaked" # an fd the jailed process must not inherit
FOO=bar "$JAILER" --id probe-1 --exec-file "$PROBE" --uid "$UIDN" --gid "$UIDN" \
    --chroot-base-dir "$BASE" --new-pid-ns "${limit[@]}" --resource-limit fsize=1048576 \
    --tpm-socket "$T/ctrl.sock" -- --config-file /vm.json < "$T/go" > "$T/out" 2> "$T/err" &
jailer_pid=$!
exec 7>&-
exec 6> "$T/go"
wait_until 10 grep -q '^ready$' "$T/out" || fail "the probe did not start in its jail: $(cat "$T/err")"
expect_out "^uid $UIDN gid $UIDN pid 1$"
expect_out '^fds 0 1 2 3\(socket\)$'
expect_out '^env 0$'
expect_out '^args --id probe-1 --start-time-us [0-9]+ --start-time-cpu-us [0-9]+ --config-file /vm.json$'
expect_out '^root (dev jail_probe|jail_probe dev)$'
expect_out "^dev /dev/kvm 10:232 owner $UIDN:$UIDN mode 600$"
expect_out "^dev /dev/net/tun 10:200 owner $UIDN:$UIDN mode 600$"
expect_out "^dev /dev/urandom 1:9 owner $UIDN:$UIDN mode 600$"
expect_out '^rlimit nofile 2048 fsize 1048576$'
# From outside: the jail's root and the probe's cgroup, limit written.
CHECKS=$((CHECKS + 2))
[ -x "$BASE/jail_probe/probe-1/root/jail_probe" ] || fail "the binary was not copied into the chroot"
procs=$(cat /sys/fs/cgroup/$cg_parent/probe-1/cgroup.procs /sys/fs/cgroup/memory/$cg_parent/probe-1/cgroup.procs 2> /dev/null)
[ -n "$procs" ] || fail "the probe is not in its cgroup"
echo go >&6
exec 6>&-
wait "$jailer_pid"
RC=$?
expect_rc 0

# The memory limit holds: a probe touching 64 MiB under a 32 MiB limit is
# killed by the kernel, and the jailer reports it (128 + SIGKILL).
: > "$T/out"
"$JAILER" --id probe-2 --exec-file "$PROBE" --uid "$UIDN" --gid "$UIDN" --chroot-base-dir "$BASE" \
    --new-pid-ns "${limit[@]}" -- alloc=64 < /dev/null > "$T/out" 2> "$T/err"
RC=$?
expect_rc 137
expect_no_out '^touched 64 MiB'
# A jail planted with links or with directories someone else may write:
# the jailer refuses it, naming the component, and nothing outside the jail
# appears or changes ($OUT stands for the host: a sentinel, alone and
# unchanged). Each case has a base of its own, $T/p-<id>.
umask 022
OUT=$T/outside
mkdir "$OUT"
echo host > "$OUT/sentinel"
outside_untouched() {
    CHECKS=$((CHECKS + 1))
    [ "$(cd "$OUT" && find . | sort | tr '\n' ' ')" = ". ./sentinel " ] &&
        [ "$(cat "$OUT/sentinel")" = host ] ||
        fail "the jailer wrote outside its jail: $(cd "$OUT" && find . -printf '%p %u %M; ')"
}
# jail_in ID [RUNNER...]: the jailer on the jail ID (its root: $R).
jail_in() {
    local id=$1
    shift
    "$@" "$JAILER" --id "$id" --exec-file "$PROBE" --uid "$UIDN" --gid "$UIDN" \
        --chroot-base-dir "$T/p-$id" <<< go > "$T/out" 2> "$T/err"
    RC=$?
}
# refused ID MSG [RUNNER...]
refused() {
    jail_in "$1" "${@:3}"
    expect_rc 1
    expect_err "^hearth-jailer: $2\$"
    outside_untouched
}
# with_shared ROOT CMD...: CMD where ROOT/shared is $OUT bind-mounted (an
# operator's mount into the jail; a link in the jail can reach it).
with_shared() {
    unshare -m sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$OUT" "$1/shared" "${@:2}"
}
root_of() { R=$T/p-$1/jail_probe/$1/root; }

root_of root-link # the jail's root itself
mkdir -p "$(dirname "$R")"
ln -s "$OUT" "$R"
refused root-link "$R is a symlink"
root_of exec-link # a component of the path
mkdir -p "$T/p-exec-link"
ln -s "$OUT" "$T/p-exec-link/jail_probe"
refused exec-link "$T/p-exec-link/jail_probe is a symlink"
root_of dev-link # dev/, to a mount in the jail
mkdir -p "$R/shared"
ln -s /shared "$R/dev"
refused dev-link "$R/dev is a symlink" with_shared "$R"
root_of net-link # dev/net, likewise
mkdir -p "$R/shared" "$R/dev"
ln -s /shared "$R/dev/net"
refused net-link "$R/dev/net is a symlink" with_shared "$R"
# The base's last component, planted as a link (under /tmp, anyone could):
# even to a root-owned 0755 directory, it is refused, not followed.
mkdir -m 0755 "$T/base-target"
ln -s "$T/base-target" "$T/p-base-link"
refused base-link "$T/p-base-link is a symlink"
CHECKS=$((CHECKS + 1))
[ -z "$(ls -A "$T/base-target")" ] || fail "the jailer built its jail through the base's link"
root_of uid-owned # the VM's uid, outliving its VM, owns its id directory
mkdir -p "$R"
chown "$UIDN" "$(dirname "$R")"
refused uid-owned "$(dirname "$R") is owned by uid $UIDN, not root"
root_of world-writable
mkdir -p "$R"
chmod 1777 "$R"
refused world-writable "$R is writable by others \(mode 1777\)"
root_of group-writable
mkdir -p "$R/dev"
chmod 775 "$R/dev"
refused group-writable "$R/dev is writable by its group \(mode 775\)"
# Links at the names the jailer creates are replaced, never followed.
root_of name-links
mkdir -p "$R/shared" "$R/dev"
ln -s "$OUT/sentinel" "$R/jail_probe"
ln -s /shared/sentinel "$R/dev/kvm"
jail_in name-links with_shared "$R"
expect_rc 0
expect_out "^dev /dev/kvm 10:232 owner $UIDN:$UIDN mode 600$"
outside_untouched
CHECKS=$((CHECKS + 1))
[ -f "$R/jail_probe" ] && [ ! -L "$R/jail_probe" ] || fail "the jail's binary is not a file of its own"
kill "$listener" 2> /dev/null
pass "jailer"
