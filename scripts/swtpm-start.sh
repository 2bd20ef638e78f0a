#!/bin/sh
# Starts an swtpm for a VM: DIR/state (manufactured with EK, EK certificate
# and platform certificate on first use unless MANUFACTURE=0), control
# socket DIR/ctrl.sock, pid in DIR/swtpm.pid, log in DIR/swtpm.log.
# Usage: swtpm-start.sh DIR
set -eu
DIR=$(mkdir -p "$1" && cd "$1" && pwd)
mkdir -p "$DIR/state"
chmod 700 "$DIR/state"
if [ "${MANUFACTURE:-1}" = 1 ] && [ ! -e "$DIR/state/tpm2-00.permall" ]; then
    swtpm_setup --tpm2 --tpmstate "$DIR/state" --createek --create-ek-cert \
        --create-platform-cert --lock-nvram --overwrite --display > "$DIR/setup.log" 2>&1 ||
        { cat "$DIR/setup.log" >&2; exit 1; }
fi
rm -f "$DIR/ctrl.sock"
swtpm socket --tpm2 --tpmstate dir="$DIR/state" \
    --ctrl type=unixio,path="$DIR/ctrl.sock",mode=0600 \
    --log file="$DIR/swtpm.log" --pid file="$DIR/swtpm.pid" --daemon
# --daemon returns once the socket exists.
[ -S "$DIR/ctrl.sock" ] || { echo "swtpm-start: no control socket" >&2; exit 1; }
echo "$DIR/ctrl.sock"
