#!/bin/sh
# make bench: hearth vs QEMU microvm, side by side in one run.
set -eu
BUILD=${1:-build}
echo "\$ $BUILD/hearth-bench boot --build $BUILD --runs ${RUNS:-20}"
exec "$BUILD/hearth-bench" boot --build "$BUILD" --runs "${RUNS:-20}"
