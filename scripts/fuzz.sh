#!/bin/sh
# make fuzz: builds the libFuzzer targets (clang, ASan + UBSan) in
# build-fuzz/ and runs each for FUZZ_SECONDS (default 60) seconds.
set -eu
DIR=${FUZZ_BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
if [ ! -f "$DIR/build.ninja" ]; then
    CC=clang meson setup "$DIR" -Dfuzz=true -Dbuildtype=debugoptimized -Db_lundef=false >/dev/null
fi
ninja -C "$DIR"
status=0
# The targets and their dictionaries: tests/fuzz/targets, one "NAME [DICT]" a line.
LIST=tests/fuzz/targets
[ -r "$LIST" ] || { echo "fuzz.sh: cannot read $LIST (run from the repository root)" >&2; exit 1; }
while read -r t dict _; do
    case $t in '' | '#'*) continue ;; esac
    corpus="$DIR/corpus/$t"
    seeds="tests/fuzz/seeds/$t"
    mkdir -p "$corpus" "$seeds"
    case $dict in '' | '#'*) dict="" ;; *) dict="-dict=tests/fuzz/$dict" ;; esac
    echo "== $t for ${SECONDS_EACH}s"
    # shellcheck disable=SC2086
    if ! "$DIR/$t" -max_total_time="$SECONDS_EACH" -max_len=4096 -print_final_stats=1 $dict \
        "$corpus" "$seeds" < /dev/null > "$DIR/$t.log" 2>&1; then
        status=1
        tail -n 40 "$DIR/$t.log"
    fi
    grep -E 'stat::number_of_executed_units|stat::new_units_added' "$DIR/$t.log" || true
done < "$LIST"
exit $status
