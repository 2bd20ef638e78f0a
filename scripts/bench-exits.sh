#!/bin/sh
# What a TPM costs in VM exits, before and after hearth's cuts, in one run:
# builds the revision BEFORE (default: the commit that added the exit
# accounting, before the cuts) into BUILD/exits-before, the bench image, then in the test host runs
# `hearth-bench exits` (Linux and the tpm_basic payload; hearth, the BEFORE
# hearth, QEMU microvm, interleaved) and `hearth-bench tpm` with each build.
# Writes OUT (docs/results/exits): exits.md, exits-*.png/.dat/.gp,
# tpm-after.md, tpm-before.md, commands.txt.
# Usage: [BEFORE=REV] [RUNS=N] [TPM_RUNS=N] [OUT=DIR] scripts/bench-exits.sh [BUILD]
set -eu
BUILD=$(cd "${1:-build}" && pwd)
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$SCRIPTS/.." && pwd)
BEFORE=${BEFORE:-$(git -C "$ROOT" log --format=%h -1 --grep='^Exit accounting: KVM')}
RUNS=${RUNS:-5}
TPM_RUNS=${TPM_RUNS:-10}
OUT=${OUT:-$ROOT/docs/results/exits}
if [ "${2:-}" != --in-testhost ]; then
    KERNEL_DIR=$BUILD/kernel "$SCRIPTS/build-bench-image.sh" "$BUILD/bench-image" > /dev/null
    src=$BUILD/exits-before/src
    rm -rf "$src" && mkdir -p "$src"
    git -C "$ROOT" archive "$BEFORE" | tar -x -C "$src"
    (cd "$src" && meson setup build > /dev/null && ninja -C build > /dev/null)
    git -C "$ROOT" rev-parse --short "$BEFORE" > "$BUILD/exits-before/rev"
    export BEFORE RUNS TPM_RUNS OUT
    exec "$SCRIPTS/testhost.sh" "$0" "$BUILD" --in-testhost
fi
B=$BUILD/hearth-bench
PREV=$BUILD/exits-before/src/build
SCALE=${HEARTH_TIME_SCALE:-1}
mkdir -p "$OUT"
EXITS="$B exits --build $BUILD --before $PREV --runs $RUNS --kernel $BUILD/bench-image/vmlinux --initrd $BUILD/bench-image/initramfs --payloads tpm_basic --tpm-timeout-ms $((2000 * SCALE)) --out $OUT"
{
    echo "# $(date -u +%Y-%m-%d), hearth $(git -C "$ROOT" rev-parse --short HEAD) vs $(cat "$BUILD/exits-before/rev") (before), in $(uname -r), KVM: ${HEARTH_TESTHOST_MODE:-direct}"
    echo "$EXITS"
    echo "$B tpm --build $BUILD --runs $TPM_RUNS > tpm-after.md"
    echo "$B tpm --build $PREV --runs $TPM_RUNS > tpm-before.md"
} > "$OUT/commands.txt"
# shellcheck disable=SC2086
$EXITS | tee "$OUT/exits-run.md"
"$B" tpm --build "$BUILD" --runs "$TPM_RUNS" > "$OUT/tpm-after.md"
"$B" tpm --build "$PREV" --runs "$TPM_RUNS" > "$OUT/tpm-before.md"
grep -h 'tpm_basic boot\|^| hearth, \|^| qemu' "$OUT/tpm-after.md" "$OUT/tpm-before.md"
