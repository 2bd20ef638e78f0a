#!/bin/sh
# make demo: manufactures a fresh vTPM (swtpm_setup: EK, EK certificate,
# platform certificate), boots a microVM with it attached over CRB, shows
# what the guest saw, and cleans up.
set -eu
BUILD=$(cd "${1:-build}" && pwd)
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
DIR=$BUILD/demo
rm -rf "$DIR"
mkdir -p "$DIR"
cleanup() {
    [ -f "$DIR/vtpm/swtpm.pid" ] && kill "$(cat "$DIR/vtpm/swtpm.pid")" 2> /dev/null || true
    rm -rf "$DIR/vtpm"
}
trap cleanup EXIT

echo "== manufacturing a vTPM in $DIR/vtpm (swtpm_setup --createek --create-ek-cert --create-platform-cert --lock-nvram)"
SOCK=$("$SCRIPTS/swtpm-start.sh" "$DIR/vtpm")
echo "   swtpm control socket: $SOCK"

cat > "$DIR/vm.json" <<JSON
{
  "boot-source": {
    "kernel_image_path": "$BUILD/guest/tpm_basic.elf",
    "boot_args": "console=ttyS0 tpm=crb ekcert=1 boot_timer"
  },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 128 },
  "tpm": { "socket": "$SOCK", "model": "crb" }
}
JSON
echo
echo "== config: $DIR/vm.json"
cat "$DIR/vm.json"
echo
echo "== $BUILD/hearth --config-file $DIR/vm.json --no-api --boot-timer"
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
echo "== hearth exited with status $rc; swtpm was shut down with the VM and its state removed"
exit "$rc"
