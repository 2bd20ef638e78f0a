#!/bin/sh
# Installs the Debian packages hearth needs to build, test and benchmark; idempotent.
set -eu

PKGS="build-essential meson ninja-build pkg-config clang llvm clang-format \
libcmocka-dev libjansson-dev liburing-dev libseccomp-dev libmicrohttpd-dev libssl-dev \
libsqlite3-dev sqlite3 libtss2-dev tpm2-tools swtpm swtpm-tools \
qemu-system-x86 acpica-tools gnuplot-nox cloc binutils zstd xxd strace lz4 busybox-static cpio"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing (run as root, or install them)" >&2
    exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
