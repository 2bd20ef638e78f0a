#!/bin/sh
# make bench: hearth vs QEMU microvm, side by side in one run.
set -eu
BUILD=${1:-build}
status=0
for what in boot tpm tpmd; do
    echo "\$ $BUILD/hearth-bench $what --build $BUILD --runs ${RUNS:-20}"
    "$BUILD/hearth-bench" "$what" --build "$BUILD" --runs "${RUNS:-20}" || status=1
    echo
done
# Linux guests with every virtio device: fewer runs, each boots two VMs that
# move ~100 MiB.
echo "\$ $BUILD/hearth-bench devices --build $BUILD --runs ${DEVICE_RUNS:-3}"
"$BUILD/hearth-bench" devices --build "$BUILD" --runs "${DEVICE_RUNS:-3}" || status=1
exit $status
