/* Unit tests: AML encoding, ACPI tables and the MP table. */
#include "arch/x86_64/layout.h"
#include "boot/acpi.h"
#include "boot/aml.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static void pkglen_uses_shortest_encoding(void **state)
{
    (void)state;
    uint8_t b[4];
    assert_int_equal(aml_pkglen_encode(b, 0), 1);
    assert_int_equal(b[0], 1);
    assert_int_equal(aml_pkglen_encode(b, 62), 1); /* 63 with itself */
    assert_int_equal(b[0], 63);
    assert_int_equal(aml_pkglen_encode(b, 63), 2); /* 65 with two bytes */
    assert_int_equal(b[0], 0x40 | (65 & 0xf));
    assert_int_equal(b[1], 65 >> 4);
    assert_int_equal(aml_pkglen_encode(b, 4093), 2); /* 4095 */
    assert_int_equal(aml_pkglen_encode(b, 4094), 3); /* 4097 */
    assert_int_equal(b[0], 0x80 | (4097 & 0xf));
    assert_int_equal(b[1], (4097 >> 4) & 0xff);
    assert_int_equal(b[2], 4097 >> 12);
}

static void eisa_ids_compress(void **state)
{
    (void)state;
    /* PNP0501 is 41 D0 05 01 in every firmware's DSDT. */
    uint32_t v = aml_eisa_id("PNP0501");
    uint8_t b[4];
    memcpy(b, &v, 4);
    uint8_t want[4] = { 0x41, 0xd0, 0x05, 0x01 };
    assert_memory_equal(b, want, 4);
}

static void devices_nest_in_scope(void **state)
{
    (void)state;
    static struct aml a;
    aml_init(&a);
    aml_scope(&a, "\\_SB_");
    aml_device(&a, "COM1");
    aml_name_int(&a, "_UID", 0);
    aml_end(&a);
    aml_end(&a);
    assert_false(a.overflow);
    /* ScopeOp, PkgLength, '\' _SB_, DeviceOp (5B 82), PkgLength, COM1, NameOp _UID Zero */
    uint8_t want[] = { 0x10, 19,  '\\', '_', 'S',  'B', '_', 0x5b, 0x82, 11,
                       'C',  'O', 'M',  '1', 0x08, '_', 'U', 'I',  'D',  0x00 };
    assert_int_equal(a.len, sizeof(want));
    assert_memory_equal(a.buf, want, sizeof(want));
    aml_end(&a); /* unbalanced */
    assert_true(a.overflow);
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void tables_are_consistent(void **state)
{
    (void)state;
    for (int vcpus = 1; vcpus <= HEARTH_MAX_VCPUS; vcpus += HEARTH_MAX_VCPUS - 1) {
        struct guest_mem m;
        assert_int_equal(guest_mem_init(&m, 16 << 20, false), 0);
        static struct acpi_config cfg;
        memset(&cfg, 0, sizeof(cfg));
        cfg.nvcpus = vcpus;
        struct acpi_dev *d = acpi_add_dev(&cfg, "COM1", "PNP0501", 0);
        d->nio = 1;
        d->io[0].base = 0x3f8;
        d->io[0].len = 8;
        static const uint8_t tpm2[16] = { 1 };
        assert_int_equal(acpi_add_table(&cfg, "TPM2", 4, tpm2, sizeof(tpm2)), 0);
        assert_int_equal(acpi_build(&m, &cfg), 0);

        uint8_t *rsdp = gpa_to_hva(&m, LAYOUT_RSDP, 36);
        assert_memory_equal(rsdp, "RSD PTR ", 8);
        assert_int_equal(acpi_checksum(rsdp, 20), 0);
        assert_int_equal(acpi_checksum(rsdp, 36), 0);
        uint8_t *xsdt = gpa_to_hva(&m, rd64(rsdp + 24), 36);
        assert_memory_equal(xsdt, "XSDT", 4);
        uint32_t xlen = rd32(xsdt + 4);
        assert_int_equal(xlen, 36 + 3 * 8); /* FACP, APIC, TPM2 */
        assert_int_equal(acpi_checksum(xsdt, xlen), 0);
        const char *sigs[] = { "FACP", "APIC", "TPM2" };
        for (int i = 0; i < 3; i++) {
            uint8_t *t = gpa_to_hva(&m, rd64(xsdt + 36 + 8 * i), 36);
            assert_memory_equal(t, sigs[i], 4);
            assert_true(rd64(xsdt + 36 + 8 * i) + rd32(t + 4) <= LAYOUT_ACPI_END);
            assert_int_equal(acpi_checksum(t, rd32(t + 4)), 0);
            if (i == 1) /* MADT: 8 + 8 per LAPIC + IOAPIC + ISO + NMI */
                assert_int_equal(rd32(t + 4), 36 + 8 + 8 * vcpus + 12 + 10 + 6);
            if (i == 0) {
                uint8_t *dsdt = gpa_to_hva(&m, rd64(t + 140), 36);
                assert_memory_equal(dsdt, "DSDT", 4);
                assert_int_equal(acpi_checksum(dsdt, rd32(dsdt + 4)), 0);
                assert_int_equal(rd32(t + 40), rd64(t + 140));
            }
        }
        assert_int_equal(mptable_build(&m, vcpus), 0);
        uint8_t *fp = gpa_to_hva(&m, LAYOUT_MPTABLE_START, 16);
        assert_memory_equal(fp, "_MP_", 4);
        assert_int_equal(acpi_checksum(fp, 16), 0);
        uint8_t *ct = gpa_to_hva(&m, rd32(fp + 4), 44);
        uint16_t len;
        memcpy(&len, ct + 4, 2);
        assert_int_equal(acpi_checksum(ct, len), 0);
        assert_true(rd32(fp + 4) + len <= LAYOUT_RSDP);
        guest_mem_free(&m);
    }
}

static void too_many_devices_is_an_error(void **state)
{
    (void)state;
    static struct acpi_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    for (int i = 0; i < ACPI_MAX_DEVS; i++)
        assert_non_null(acpi_add_dev(&cfg, "DEVX", "LNRO0005", (uint32_t)i));
    assert_null(acpi_add_dev(&cfg, "DEVY", "LNRO0005", 99));
}

static void vcpu_counts_past_the_limit_are_refused(void **state)
{
    (void)state;
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, 16 << 20, false), 0);
    static struct acpi_config cfg;
    int bad[] = { 0, -1, HEARTH_MAX_VCPUS + 1, 255, 1000 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&cfg, 0, sizeof(cfg));
        cfg.nvcpus = bad[i];
        assert_int_equal(acpi_build(&m, &cfg), -EINVAL);
        assert_int_equal(mptable_build(&m, bad[i]), -EINVAL);
    }
    cfg.nvcpus = HEARTH_MAX_VCPUS;
    assert_int_equal(acpi_build(&m, &cfg), 0);
    guest_mem_free(&m);
}

static void extra_tables_past_the_limit_are_an_error(void **state)
{
    (void)state;
    static struct acpi_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    static const uint8_t body[4];
    for (int i = 0; i < ACPI_MAX_EXTRA_TABLES; i++)
        assert_int_equal(acpi_add_table(&cfg, "XTRA", 1, body, sizeof(body)), 0);
    assert_int_equal(acpi_add_table(&cfg, "XTRA", 1, body, sizeof(body)), -ENOSPC);
    assert_int_equal(cfg.nextra, ACPI_MAX_EXTRA_TABLES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pkglen_uses_shortest_encoding),
        cmocka_unit_test(eisa_ids_compress),
        cmocka_unit_test(devices_nest_in_scope),
        cmocka_unit_test(tables_are_consistent),
        cmocka_unit_test(too_many_devices_is_an_error),
        cmocka_unit_test(vcpu_counts_past_the_limit_are_refused),
        cmocka_unit_test(extra_tables_past_the_limit_are_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
