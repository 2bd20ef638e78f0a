# Sourced by the /init of scripts/mkinitramfs.sh (SCRIPT=): prints what this
# Linux sees of its TPM as "linux-tpm: ..." lines. With hearth.wait_kill on
# the command line it then waits for the host to kill swtpm and reports the
# TPM error the guest gets; with hearth.ekcert it prints the EK certificate
# read from TPM NV (needs TPM2_TOOLS=1).
t=/sys/class/tpm/tpm0
# tpm_getrandom: TPM2_GetRandom(8) through /dev/tpm0; the response in
# hex, or "error" when the kernel returned none.
tpm_getrandom() {
    exec 3<> /dev/tpm0 || return 1
    printf '\200\001\000\000\000\014\000\000\001\173\000\010' >&3
    r=$(dd bs=4096 count=1 <&3 2> /dev/null | hexdump -v -e '/1 "%02x"')
    exec 3>&-
    echo "${r:-error}"
}
if [ -e /dev/tpm0 ]; then
    echo "linux-tpm: driver $(basename "$(readlink $t/device/driver)")"
    echo "linux-tpm: version $(cat $t/tpm_version_major)"
    if command -v tpm2 > /dev/null; then
        export TPM2TOOLS_TCTI=device:/dev/tpm0
        echo "linux-tpm: manufacturer $(tpm2 getcap properties-fixed | sed -n '/TPM2_PT_MANUFACTURER/,/value/s/.*value: *//p' | head -n 1)"
    fi
    # IMA (built into Debian's kernel) measures every program run from now
    # on into PCR 10, after the boot aggregate it extended at boot.
    echo 'measure func=BPRM_CHECK' > /sys/kernel/security/ima/policy 2> /dev/null &&
        echo "linux-tpm: ima policy loaded"
    /bin/true
    for i in 0 1 2 3 4 5 6 7 8 9 10; do
        echo "linux-tpm: pcr-sha256 $i $(cat $t/pcr-sha256/$i)"
    done
    # hearth's measured boot: the TCG event log Linux found through ACPI.
    b=/sys/kernel/security/tpm0/binary_bios_measurements
    if [ -r $b ]; then
        echo "linux-tpm: event log $(wc -c < $b) bytes"
        hexdump -v -e '32/1 "%02x" "\n"' $b | tr -d ' ' | sed 's/^/linux-tpm: eventlog /'
    else
        echo "linux-tpm: no event log"
    fi
    echo "linux-tpm: getrandom $(tpm_getrandom)"
    m=/sys/kernel/security/ima/ascii_runtime_measurements
    echo "linux-tpm: ima $(wc -l < $m) measurements"
    head -n 4 $m | sed 's/^/linux-tpm: ima /'
    if grep -qw hearth.ekcert /proc/cmdline && command -v tpm2 > /dev/null; then
        if tpm2 nvread 0x01c00002 -o /tmp/ek.der 2> /tmp/nv.err; then
            echo "linux-tpm: ek certificate, $(wc -c < /tmp/ek.der) bytes from NV 0x01c00002:"
            echo "-----BEGIN CERTIFICATE-----"
            base64 /tmp/ek.der
            echo "-----END CERTIFICATE-----"
        else
            echo "linux-tpm: no EK certificate: $(cat /tmp/nv.err)"
        fi
    fi
    if grep -qw hearth.wait_kill /proc/cmdline; then
        echo "linux-tpm: waiting for the host to kill swtpm"
        i=0
        # A failed read is an error or, for some failures, an empty value.
        while [ $i -lt 600 ] && [ -n "$(cat $t/pcr-sha256/0 2> /dev/null)" ]; do
            sleep 0.1
            i=$((i + 1))
        done
        [ $i -lt 600 ] && echo "linux-tpm: reading a PCR failed after the kill"
        echo "linux-tpm: after the kill, getrandom $(tpm_getrandom)"
        echo "linux-tpm: still running"
    fi
else
    echo "linux-tpm: no /dev/tpm0"
fi
