# Sourced by the /init of scripts/mkinitramfs.sh (SCRIPT=) for attestation
# tests: hearth-attest-agent runs already (ATTEST_AGENT=, hearth.attest on
# the command line). Reports what the agent needs, then waits for the host
# to end the VM.
log=/sys/kernel/security/tpm0/binary_bios_measurements
echo "linux-attest: tpm $(cat /sys/class/tpm/tpm0/tpm_version_major 2> /dev/null)," \
    "event log $(wc -c < $log 2> /dev/null) bytes," \
    "vsock $([ -e /dev/vsock ] && echo yes || echo no)," \
    "agent $(pidof hearth-attest-agent > /dev/null && echo running || echo missing)"
while :; do
    sleep 3600
done
