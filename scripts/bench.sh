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
exit $status
