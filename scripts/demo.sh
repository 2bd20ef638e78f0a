#!/bin/sh
# make demo: boots Debian's stock Linux in a microVM with a vTPM that
# hearth-tpmd manufactured (EK, EK certificate from its local CA), and shows
# what the guest's Linux saw: its TPM driver and manufacturer, PCRs 0-10, the
# first IMA measurements, and the EK certificate it read from TPM NV, checked
# on the host against hearth-tpmd's CA. Runs through scripts/testhost.sh.
# Usage: demo.sh BUILD
set -eu
BUILD=$(cd "${1:-build}" && pwd)
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
DIR=$BUILD/demo

if [ "${2:-}" != --in-testhost ]; then
    # What needs the network happens here, outside the test host.
    echo "== Debian's cloud kernel, and an initramfs with busybox and tpm2-tools"
    "$SCRIPTS/fetch-kernel.sh" "$BUILD/kernel" 2> /dev/null | sed -n 2p
    mkdir -p "$DIR"
    SCRIPT="$SCRIPTS/../guest/linux/tpm-report.sh" TPM2_TOOLS=1 \
        "$SCRIPTS/mkinitramfs.sh" "$DIR/initramfs" "hearth demo: the guest's init runs"
    echo "   $DIR/initramfs"
    exec "$SCRIPTS/testhost.sh" "$0" "$BUILD" --in-testhost
fi

STATE=$(mktemp -d /tmp/hearth-demo.XXXXXX)
chmod 711 "$STATE" # each swtpm runs as its own uid and must reach its vTPM
export HEARTH_TPMD_SOCKET=$STATE/tpmd.sock
TPMD=
ID=
cleanup() {
    [ -n "$ID" ] && "$BUILD/hearth-tpm" free "$ID" > /dev/null 2>&1
    [ -n "$TPMD" ] && kill "$TPMD" 2> /dev/null && wait "$TPMD" 2> /dev/null
    rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo
echo "== hearth-tpmd: a pool of vTPMs manufactured with its local CA"
"$BUILD/hearth-tpmd" --socket "$HEARTH_TPMD_SOCKET" --state-dir "$STATE/state" --pool-min 1 \
    --pool-max 1 --manufacture fast > "$STATE/tpmd.log" 2>&1 &
TPMD=$!
i=0
until "$BUILD/hearth-tpm" status 2> /dev/null | grep -q '"ready":[1-9]'; do
    i=$((i + 1))
    if [ "$i" -gt 1200 ] || ! kill -0 "$TPMD" 2> /dev/null; then
        cat "$STATE/tpmd.log"
        echo "demo: hearth-tpmd did not get a vTPM ready" >&2
        exit 1
    fi
    sleep 0.1
done
A=$("$BUILD/hearth-tpm" alloc)
ID=$(echo "$A" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
SOCK=$(echo "$A" | sed -n 's/.*"ctrl_socket":"\([^"]*\)".*/\1/p')
"$BUILD/hearth-tpm" ca > "$STATE/ca.pem"
echo "   vTPM $ID from the $(echo "$A" | sed -n 's/.*"source":"\([^"]*\)".*/\1/p'), control socket $SOCK"

cat > "$STATE/vm.json" <<JSON
{
  "boot-source": {
    "kernel_image_path": "$BUILD/kernel/vmlinux",
    "initrd_path": "$DIR/initramfs",
    "boot_args": "console=ttyS0 reboot=k panic=-1 quiet hearth.ekcert"
  },
  "machine-config": { "vcpu_count": 2, "mem_size_mib": 256 },
  "tpm": { "socket": "$SOCK", "model": "crb", "timeout_ms": 20000 }
}
JSON
echo
echo "== $BUILD/hearth --config-file vm.json --no-api --boot-timer"
cat "$STATE/vm.json"
echo
echo "== what the guest's Linux saw (its console):"
set +e
"$BUILD/hearth" --config-file "$STATE/vm.json" --no-api --log-path "$STATE/hearth.log" \
    < /dev/null > "$STATE/console" 2>&1
rc=$?
set -e
sed -n '/^hearth demo/p' "$STATE/console"
grep '^linux-tpm:' "$STATE/console" | grep -v '^linux-tpm: ek certificate' | sed 's/^linux-tpm: /   /'
sed -n '/^-----BEGIN CERTIFICATE-----/,/^-----END CERTIFICATE-----/p' "$STATE/console" > "$STATE/ek.pem"
echo
echo "== the EK certificate the guest read, checked on the host against hearth-tpmd's CA"
sed -n 's/^linux-tpm: \(ek certificate.*\|no EK.*\)/   \1/p' "$STATE/console"
if [ -s "$STATE/ek.pem" ] && openssl verify -CAfile "$STATE/ca.pem" "$STATE/ek.pem"; then
    openssl x509 -in "$STATE/ek.pem" -noout -subject -issuer | sed 's/^/   /'
else
    echo "   the guest's EK certificate did not verify" >&2
    rc=1
fi
echo
echo "== hearth's log:"
sed 's/^/   /' "$STATE/hearth.log"
echo
echo "== hearth exited with status $rc; the vTPM is freed (never reused)"
exit "$rc"
