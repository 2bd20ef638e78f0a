#!/bin/sh
# make bench-thesis: the thesis's scenarios (500 VMs serial; 1000 VMs with 50
# concurrent) for baseline/ondemand/pool/qemu/qemu-tpm, plus memory and
# attack surface; writes docs/results/. Takes several minutes.
# GUEST=linux (default) boots Debian's cloud kernel with the TPM drivers and
# IMA built in and a busybox init that marks boot (scripts/build-bench-image.sh);
# GUEST=payload boots the tpm_probe payload. Runs through scripts/testhost.sh.
set -eu
BUILD=$(cd "${1:-build}" && pwd)
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
GUEST=${GUEST:-linux}
if [ "${2:-}" != --in-testhost ]; then
    # The kernel comes from Debian's archive: fetched here, outside the test host.
    [ "$GUEST" = linux ] && KERNEL_DIR=$BUILD/kernel "$SCRIPTS/build-bench-image.sh" "$BUILD/bench-image" > /dev/null
    exec "$SCRIPTS/testhost.sh" "$0" "$BUILD" --in-testhost
fi
OUT=${OUT:-docs/results}
SERIAL=${SERIAL:-500}
CONCURRENT=${CONCURRENT:-1000}
PARALLEL=${PARALLEL:-50}
# SQLite's locks do not work on the test host's 9p share of the checkout:
# the database lives in /tmp and is copied to $OUT after each phase.
DB=/tmp/hearth-thesis.db
B="$BUILD/hearth-bench"
# SETUPS="baseline ondemand pool" leaves the QEMU peers out.
SETUPS=$(for s in ${SETUPS:-baseline ondemand pool qemu qemu-tpm}; do printf -- '--setup %s ' "$s"; done)
# hearth's vTPM deadline, stretched like the tests' in the emulated host.
GUEST_ARGS="--tpm-timeout-ms $((2000 * ${HEARTH_TIME_SCALE:-1}))"
[ "$GUEST" = linux ] && GUEST_ARGS="$GUEST_ARGS --kernel $BUILD/bench-image/vmlinux --initrd $BUILD/bench-image/initramfs --mem-mib 256"
rm -f "$DB"
mkdir -p "$OUT"

run() { # LABEL TOTAL PARALLELISM -> prints the run ids
    # shellcheck disable=SC2086
    "$B" run --build "$BUILD" $SETUPS $GUEST_ARGS --total-vms "$2" --parallelism "$3" --db "$DB" --label "$1" |
        sed -n 's/^run \([0-9]*\):.*/\1/p' | tr '\n' ' '
}

if [ -n "${REUSE_RUNS:-}" ]; then # "SERIAL_IDS/CONCURRENT_IDS" in $OUT/thesis.db: report again
    cp "$OUT/thesis.db" "$DB"
    S_IDS=${REUSE_RUNS%/*}
    C_IDS=${REUSE_RUNS#*/}
else
    echo "== serial: $SERIAL VMs per setup"
    S_IDS=$(run serial "$SERIAL" 1)
    cp "$DB" "$OUT/thesis.db" # kept if the outer guest is lost later
    echo "== concurrent: $CONCURRENT VMs per setup, $PARALLEL at a time"
    C_IDS=$(run concurrent "$CONCURRENT" "$PARALLEL")
    cp "$DB" "$OUT/thesis.db"
fi
# shellcheck disable=SC2086
"$B" report --db "$DB" --out "$OUT/serial" $S_IDS > /dev/null
# shellcheck disable=SC2086
"$B" report --db "$DB" --out "$OUT/concurrent" $C_IDS > /dev/null
mkdir -p "$OUT/memory"
# The emulated host is a 4 GiB guest: QEMU cannot start larger VMs there.
MEM_SIZES=128,256,512,1024,2048,4096,8192
[ "${HEARTH_TESTHOST_MODE:-}" = emulated ] && MEM_SIZES=128,256,512,1024,2048
"$B" memory --build "$BUILD" --mem-sizes "$MEM_SIZES" --out "$OUT/memory" > "$OUT/memory/memory.md"
"$B" surface --build "$BUILD" > "$OUT/surface.md"
cp "$DB" "$OUT/thesis.db"

{
    echo "# Thesis scenarios, measured with hearth-bench"
    echo
    echo "Produced by \`make bench-thesis\` on $(date -u +%Y-%m-%d) (SERIAL=$SERIAL, CONCURRENT=$CONCURRENT, PARALLEL=$PARALLEL):"
    echo
    echo '```'
    echo "hearth-bench run $SETUPS $GUEST_ARGS --total-vms $SERIAL --parallelism 1 --db $DB --label serial"
    echo "hearth-bench run $SETUPS $GUEST_ARGS --total-vms $CONCURRENT --parallelism $PARALLEL --db $DB --label concurrent"
    echo "hearth-bench report --db $DB --out serial $S_IDS"
    echo "hearth-bench report --db $DB --out concurrent $C_IDS"
    echo "hearth-bench memory --mem-sizes $MEM_SIZES --out memory; hearth-bench surface"
    echo '```'
    echo
    echo "## Machine"
    echo
    echo "- $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/ {print $2}') GiB"
    echo "- kernel $(uname -r); KVM: $([ "${HEARTH_TESTHOST_MODE:-}" = emulated ] && echo 'the emulated test host (QEMU TCG with nested SVM, scripts/testhost.sh): every instruction is emulated, compare ratios only' || echo '/dev/kvm')"
    echo "- guest: $([ "$GUEST" = linux ] && echo "Debian's cloud kernel ($(cat "$BUILD/kernel/version" 2> /dev/null)) + busybox initramfs marking boot, 256 MiB" || echo 'the tpm_probe payload')"
    echo "- $(qemu-system-x86_64 --version | head -1); $(swtpm --version | head -1)"
    echo "- hearth $("$BUILD/hearth" --version | cut -d' ' -f2), vTPMs from hearth-tpmd (fast manufacture)"
    echo
    echo "## $SERIAL VMs, serial"
    echo
    cat "$OUT/serial/report.md"
    echo
    echo "![CDF, serial](serial/cdf.png)"
    echo
    echo "## $CONCURRENT VMs, $PARALLEL concurrent"
    echo
    cat "$OUT/concurrent/report.md"
    echo
    echo "![CDF, concurrent](concurrent/cdf.png)"
    echo
    echo "## Memory (idle guest), KiB excluding guest RAM"
    echo
    sed -n '/^|/p' "$OUT/memory/memory.md"
    echo
    echo "![memory](memory/memory.png)"
    echo
    sed 's/^# hearth-bench surface/## Attack surface/' "$OUT/surface.md"
} > "$OUT/README.md"
echo "wrote $OUT/README.md"
