#!/bin/sh
# make demo: boots a microVM from a config file and shows what the guest saw.
set -eu
BUILD=$(cd "${1:-build}" && pwd)
DIR=$BUILD/demo
rm -rf "$DIR"
mkdir -p "$DIR"

cat > "$DIR/vm.json" <<JSON
{
  "boot-source": {
    "kernel_image_path": "$BUILD/guest/bootinfo.elf",
    "boot_args": "kind=pvh mem_mib=256 marker=hello-from-make-demo boot_timer"
  },
  "machine-config": { "vcpu_count": 2, "mem_size_mib": 256 }
}
JSON

echo "== config: $DIR/vm.json"
cat "$DIR/vm.json"
echo
echo "== hearth --config-file $DIR/vm.json --no-api --boot-timer"
echo "== guest console:"
set +e
"$BUILD/hearth" --config-file "$DIR/vm.json" --no-api --boot-timer --log-path "$DIR/hearth.log" \
    < /dev/null
rc=$?
set -e
echo
echo "== hearth log ($DIR/hearth.log):"
cat "$DIR/hearth.log"
echo
echo "== hearth exited with status $rc"
exit "$rc"
