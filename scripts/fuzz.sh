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
for t in fuzz_config fuzz_legacy_devices fuzz_tpm_devices fuzz_tpmd_api fuzz_api fuzz_api_server \
    fuzz_tpmd_http fuzz_attest fuzz_virtq fuzz_virtio_devices; do
    corpus="$DIR/corpus/$t"
    seeds="tests/fuzz/seeds/$t"
    mkdir -p "$corpus" "$seeds"
    dict=""
    [ "$t" = fuzz_config ] || [ "$t" = fuzz_api ] || [ "$t" = fuzz_api_server ] &&
        dict="-dict=tests/fuzz/config.dict"
    [ "$t" = fuzz_tpmd_http ] && dict="-dict=tests/fuzz/http.dict"
    echo "== $t for ${SECONDS_EACH}s"
    # shellcheck disable=SC2086
    if ! "$DIR/$t" -max_total_time="$SECONDS_EACH" -max_len=4096 -print_final_stats=1 $dict \
        "$corpus" "$seeds" > "$DIR/$t.log" 2>&1; then
        status=1
        tail -n 40 "$DIR/$t.log"
    fi
    grep -E 'stat::number_of_executed_units|stat::new_units_added' "$DIR/$t.log" || true
done
exit $status
