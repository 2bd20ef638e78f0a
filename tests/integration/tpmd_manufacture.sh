#!/bin/bash
# Both manufacture paths (swtpm_setup and fast), with RSA and ECC EKs,
# produce the same observable vTPM: the EK persisted at its standard
# handle, its certificate in NV holding that key and verifying against the
# daemon's CA (also with openssl verify), a platform certificate, NV indices
# write-locked; and a VM boots against it.
. "$(dirname "$0")/lib.sh"
command -v openssl > /dev/null || fail "openssl is not installed"
chmod 711 "$T"
export HEARTH_TPMD_SOCKET=$T/api.sock
DAEMON=
stop_all() {
    [ -n "$DAEMON" ] && kill "$DAEMON" 2> /dev/null && wait "$DAEMON" 2> /dev/null
    pkill -f "swtpm socket.*$T/" 2> /dev/null
    DAEMON=
}
trap 'stop_all; pkill -f "hearth-tpmd --socket $HEARTH_TPMD_SOCKET"; sleep 0.2; remove_vtpm_cgroups; rm -rf "$T"' EXIT

# swtpm_setup always makes RSA-2048 and ECC P-384 EKs; we verify the RSA one.
# Each variant also asks for other PCR banks; fast:both reads its settings
# from a --config file instead of flags.
for variant in swtpm_setup:rsa:sha256,sha384 fast:rsa:sha256 fast:ecc:sha1,sha256 \
    fast:both:sha256,sha512; do
    IFS=: read -r method ek banks <<< "$variant"
    (
        STATE=$T/$method-$ek
        if [ "$ek" = both ]; then
            cat > "$T/tpmd.json" <<JSON
{"socket": "$HEARTH_TPMD_SOCKET", "state_dir": "$STATE", "pool_max": 0, "pool_min": 0,
 "manufacture": "$method", "ek": "$ek", "pcr_banks": "$banks"}
JSON
            "$BUILD/hearth-tpmd" --config "$T/tpmd.json" >> "$T/tpmd.log" 2>&1 &
        else
            "$BUILD/hearth-tpmd" --socket "$HEARTH_TPMD_SOCKET" --state-dir "$STATE" --pool-max 0 \
                --pool-min 0 --manufacture "$method" --pcr-banks "$banks" \
                $([ "$method" = fast ] && echo --ek "$ek") >> "$T/tpmd.log" 2>&1 &
        fi
        DAEMON=$!
        serving "$DAEMON" eval '"$BUILD/hearth-tpm" status > /dev/null 2>&1' ||
            fail "$method/$ek: hearth-tpmd did not start: $(tail -n 5 "$T/tpmd.log")"
        A=$("$BUILD/hearth-tpm" alloc) || fail "$method/$ek: allocation failed: $A"
        SOCK=$(echo "$A" | sed -n 's/.*"ctrl_socket":"\([^"]*\)".*/\1/p')
        "$BUILD/hearth-tpm" ca > "$T/ca.pem"
        for alg in $([ "$ek" = both ] && echo "rsa ecc" || echo "$ek"); do
            "$BUILD/hearth-tpm-verify" "$SOCK" "$T/ca.pem" "$alg" > "$T/out" 2>&1
            RC=$?
            expect_rc 0
            expect_out '^0 failed$'
            expect_out '^ok - EK certificate holds the TPM.s EK public key'
            expect_out "^# active PCR banks: $banks\$"
        done
        sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$T/out" > "$T/ek.pem"
        CHECKS=$((CHECKS + 1))
        openssl verify -CAfile "$T/ca.pem" "$T/ek.pem" > /dev/null 2>&1 ||
            fail "$method/$ek: openssl verify rejects the EK certificate"
        if [ "$ek" != ecc ]; then
            tpm_config tpm_basic.elf crb "ekcert=1"
            run_hearth
            expect_clean_run 13
        fi
        echo "# $method/$ek: $(echo "$A" | grep -o '"manufacture_ms":[0-9.]*')"
        stop_all
        echo "$CHECKS" > "$T/checks"
    ) || exit 1
    CHECKS=$(cat "$T/checks")
done
pass "tpmd manufacture"
