#!/bin/bash
# huge_pages "2M": guest RAM is backed by 2 MiB hugetlbfs pages reserved at
# start-up; a pool too small for the guest is a clear start-up error.
. "$(dirname "$0")/lib.sh"

POOL=/proc/sys/vm/nr_hugepages
FREE=/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages
[ -r "$FREE" ] || skip "the host kernel has no 2 MiB hugetlbfs pages"

huge_config() { # PAYLOAD MEM_MIB
    cat > "$T/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$GUEST/$1", "boot_args": "kind=pvh mem_mib=$2"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": $2, "huge_pages": "2M"}}
JSON
}

# More than the pool has free: refused before the guest runs.
need=$(( ($(cat "$FREE") + 1) * 2 ))
huge_config hello.elf "$need"
run_hearth
expect_rc 1
expect_log 'start-up failed: mapping guest memory with 2 MiB huge pages: Cannot allocate memory'
expect_no_out 'hello'

# Grow the pool by 64 pages (128 MiB) for the positive case, and put it back.
old=$(cat "$POOL")
echo $((old + 64)) > "$POOL" 2> /dev/null || skip "cannot grow $POOL (not root?)"
trap 'echo "$old" > "$POOL"; rm -rf "$T"' EXIT
[ "$(cat "$FREE")" -ge 64 ] || skip "the host could not provide 64 free huge pages"

huge_config bootinfo.elf 128
run_hearth
expect_clean_run 9

# While the guest runs, its RAM is one 2 MiB-page mapping of 128 MiB.
huge_config idle.elf 128
"$HEARTH" --config-file "$T/vm.json" --no-api --log-path "$T/log" < /dev/null > "$T/out" 2>&1 &
pid=$!
wait_until 5 grep -q 'idle: ready' "$T/out"
expect_out 'idle: ready'
CHECKS=$((CHECKS + 1))
awk '/^[0-9a-f]+-[0-9a-f]+ / { size = 0 } /^Size:/ { size = $2 }
     /^KernelPageSize:/ && size == 131072 && $2 == 2048 { found = 1 }
     END { exit !found }' "/proc/$pid/smaps" || { kill -9 "$pid"; fail "no 128 MiB mapping with 2 MiB pages"; }
kill "$pid"
wait "$pid"
pass "hugepages"
