/* Unit tests of the attestation verifier's parts: the event log parser
 * and replay against hearth's own measured boot (a synchronous fake TPM
 * that keeps the PCRs it is asked to extend), hostile logs, the
 * protocol's framing and fields, and policies. */
#include "boot/loader.h"
#include "tpm/measure.h"
#include "tpm/wire.h"
#include "../../attest/eventlog.h"
#include "../../attest/policy.h"
#include "../../attest/proto.h"

#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* --- a TPM that answers at once: sha1 + sha256 banks, PCR_Extend --- */

struct pcr_tpm {
    uint8_t sha256[24][32];
    int extends;
};

static int pcr_submit(void *impl, const uint8_t *cmd, size_t len, uint8_t locality,
                      tpm_done_fn *done, void *ctx)
{
    (void)locality;
    struct pcr_tpm *t = impl;
    uint8_t rsp[64] = { 0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0 };
    size_t n = 10;
    uint32_t cc = tpm_be32(cmd + 6);
    if (cc == 0x17a) { /* GetCapability(PCRS): sha1 and sha256, all 24 PCRs */
        static const uint8_t caps[] = { 0, 0,    0,    0,    5,    0,    0, 0,    2,    0x00, 0x04,
                                        3, 0xff, 0xff, 0xff, 0x00, 0x0b, 3, 0xff, 0xff, 0xff };
        memcpy(rsp + 10, caps, sizeof(caps));
        n += sizeof(caps);
    } else if (cc == 0x182) { /* PCR_Extend: handle, auth area, TPML_DIGEST_VALUES */
        uint32_t pcr = tpm_be32(cmd + 10);
        size_t off = 14 + 4 + tpm_be32(cmd + 14);
        uint32_t count = tpm_be32(cmd + off);
        off += 4;
        for (uint32_t i = 0; i < count && off + 2 <= len; i++) {
            uint16_t alg = tpm_be16(cmd + off);
            size_t size = alg == 0x000b ? 32 : 20;
            if (alg == 0x000b) {
                uint8_t buf[64];
                memcpy(buf, t->sha256[pcr], 32);
                memcpy(buf + 32, cmd + off + 2, 32);
                EVP_Digest(buf, 64, t->sha256[pcr], NULL, EVP_sha256(), NULL);
                t->extends++;
            }
            off += 2 + size;
        }
        rsp[1] = 0x02;
    }
    tpm_put_be32(rsp + 2, (uint32_t)n);
    done(ctx, rsp, n);
    return 0;
}

static void pcr_cancel(void *impl) { (void)impl; }
static bool pcr_failed(void *impl)
{
    (void)impl;
    return false;
}
static const struct tpm_backend_ops pcr_ops = { pcr_submit, pcr_cancel, pcr_failed };

static struct pcr_tpm tpm;
static uint8_t hearth_log[0x10000];
static size_t hearth_log_len;
static char kernel_path[] = "/tmp/test_attest_kernel.XXXXXX";

/* hearth's measured boot of a 100 KiB kernel, no initrd. */
static int setup(void **state)
{
    (void)state;
    int fd = mkstemp(kernel_path);
    static uint8_t junk[100000];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 7);
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    struct tpm_backend b = { .ops = &pcr_ops, .impl = &tpm, .max_command = TPM_BUFFER_MAX };
    struct measure_log m;
    const struct measure_inputs in = { .kernel_path = kernel_path,
                                       .kernel = junk,
                                       .kernel_len = sizeof(junk),
                                       .cmdline = "console=ttyS0",
                                       .config_json = "{\"vcpu_count\":2,\"devices\":\"\"}" };
    char err[256];
    assert_int_equal(measure_boot(&m, &b, &in, hearth_log, sizeof(hearth_log), err, sizeof(err)),
                     0);
    hearth_log_len = m.log_len;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(kernel_path);
    return 0;
}

static void test_parse_hearth_log(void **state)
{
    (void)state;
    static struct evlog l;
    char err[256];
    const struct evlog_alg *sha256 = evlog_alg_by_name("sha256");
    assert_int_equal(evlog_parse(&l, hearth_log, hearth_log_len, sha256, err, sizeof(err)), 0);
    assert_int_equal(l.nalgs, 2);
    assert_int_equal(l.nevents, 12); /* version, config, 8 separators, kernel, cmdline */
    assert_int_equal(l.events[0].type, EVLOG_EV_S_CRTM_VERSION);
    assert_int_equal(l.events[1].pcr, 1);
    assert_int_equal(l.events[10].pcr, 4);
    assert_int_equal(l.events[10].type, EVLOG_EV_IPL);
    assert_int_equal(l.events[11].pcr, 8);
    assert_memory_equal(l.events[11].data, "console=ttyS0", 13);
    /* The kernel event carries the file's digest. */
    static uint8_t junk[100000];
    FILE *f = fopen(kernel_path, "r");
    assert_int_equal(fread(junk, 1, sizeof(junk), f), sizeof(junk));
    fclose(f);
    uint8_t d[32];
    assert_int_equal(evlog_hash(sha256, junk, sizeof(junk), d), 0);
    assert_memory_equal(l.events[10].digest, d, 32);
    /* The replay is what the TPM was extended to. */
    uint8_t pcrs[EVLOG_NPCRS][EVLOG_MAX_DIGEST];
    assert_int_equal(evlog_replay(&l, pcrs), 0x1ffu);
    for (int i = 0; i < 24; i++)
        assert_memory_equal(pcrs[i], tpm.sha256[i], 32);
    /* Zeroes after the last event (the guest's log area) are fine. */
    assert_int_equal(evlog_parse(&l, hearth_log, hearth_log_len + 100, sha256, err, sizeof(err)),
                     0);
    assert_int_equal(l.nevents, 12);
    assert_int_equal(l.end, hearth_log_len);
}

static void test_hostile_logs(void **state)
{
    (void)state;
    static struct evlog l;
    static uint8_t buf[0x10000];
    char err[256];
    const struct evlog_alg *sha256 = evlog_alg_by_name("sha256");
    /* Every truncation fails or loses events, and names where. */
    for (size_t cut = 0; cut < hearth_log_len; cut++) {
        memcpy(buf, hearth_log, cut);
        if (evlog_parse(&l, buf, cut, sha256, err, sizeof(err)) == 0)
            assert_true(l.nevents < 12);
        else
            assert_non_null(strstr(err, "event log: "));
    }
    assert_int_equal(evlog_parse(&l, hearth_log, hearth_log_len - 5, sha256, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "truncated in event 12"));
    /* Every single-byte corruption is survived. */
    for (size_t i = 0; i < hearth_log_len; i++) {
        memcpy(buf, hearth_log, hearth_log_len);
        buf[i] ^= 0xa5;
        evlog_parse(&l, buf, hearth_log_len, sha256, err, sizeof(err));
    }
    /* A bank the log does not have, a PCR that does not exist, a huge size. */
    assert_int_equal(evlog_parse(&l, hearth_log, hearth_log_len, evlog_alg_by_name("sha384"), err,
                                 sizeof(err)),
                     -1);
    assert_string_equal(err, "event log: has no sha384 digests");
    memcpy(buf, hearth_log, hearth_log_len);
    static struct evlog good;
    assert_int_equal(evlog_parse(&good, hearth_log, hearth_log_len, sha256, err, sizeof(err)), 0);
    buf[good.events[3].offset] = 30; /* PCR 30 */
    assert_int_equal(evlog_parse(&l, buf, hearth_log_len, sha256, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "event 4 "));
    assert_non_null(strstr(err, "PCR 30 does not exist"));
    memcpy(buf, hearth_log, hearth_log_len);
    size_t size_at = good.events[11].offset + 12 + 2 + 20 + 2 + 32;
    tpm_put_be32(buf + size_at, 0xfffffff0); /* event data size, little-endian: any */
    assert_int_equal(evlog_parse(&l, buf, hearth_log_len, sha256, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "truncated in event 12"));
    assert_int_equal(evlog_parse(&l, (const uint8_t *)"garbage", 7, sha256, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Spec ID Event03"));
}

static void test_base64(void **state)
{
    (void)state;
    uint8_t *out;
    size_t len;
    assert_int_equal(attest_b64_decode("aGVhcnRo", 8, &out, &len), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(out, "hearth", 6);
    free(out);
    assert_int_equal(attest_b64_decode("aGVhcg==", 8, &out, &len), 0);
    assert_int_equal(len, 4);
    free(out);
    assert_int_equal(attest_b64_decode("aGVhcnQ=", 8, &out, &len), 0);
    assert_int_equal(len, 5);
    free(out);
    assert_int_equal(attest_b64_decode("", 0, &out, &len), 0);
    assert_int_equal(len, 0);
    free(out);
    assert_int_equal(attest_b64_decode("aGVhcn", 6, &out, &len), -1);
    assert_int_equal(attest_b64_decode("aG=hcnRo", 8, &out, &len), -1);
    assert_int_equal(attest_b64_decode("aGVh cnR", 8, &out, &len), -1);
    assert_int_equal(attest_b64_decode("aGVhc=Q=", 8, &out, &len), -1);
}

static void test_stream(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct attest_stream a, b;
    attest_stream_init(&a, sv[0], sv[0], 200);
    attest_stream_init(&b, sv[1], sv[1], 200);
    char err[256];
    json_t *m;
    /* A message travels with its version; two lines in one read are two messages. */
    json_t *sent = json_pack("{s:s}", "op", "identity"); /* attest_send borrows it */
    assert_int_equal(attest_send(&a, sent, err, sizeof(err)), 0);
    json_decref(sent);
    static const char lines[] = "{\"v\":1,\"op\":\"x\"}\n{\"v\":2}\n{\"op\":1}\nnot json\n";
    assert_int_equal(write(sv[0], lines, strlen(lines)), (ssize_t)strlen(lines));
    assert_int_equal(attest_recv(&b, &m, err, sizeof(err)), 0);
    assert_string_equal(json_string_value(json_object_get(m, "op")), "identity");
    json_decref(m);
    assert_int_equal(attest_recv(&b, &m, err, sizeof(err)), 0);
    json_decref(m);
    assert_int_equal(attest_recv(&b, &m, err, sizeof(err)), -1);
    assert_string_equal(err, "protocol version 2, this side speaks 1");
    assert_int_equal(attest_recv(&b, &m, err, sizeof(err)), -1);
    assert_string_equal(err, "protocol version missing (this side speaks 1)");
    assert_int_equal(attest_recv(&b, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a JSON object"));
    /* Silence is a time-out; half a line then the end is an error; the end is 1. */
    assert_int_equal(attest_recv(&b, &m, err, sizeof(err)), -1);
    assert_string_equal(err, "no complete answer within 200 ms");
    assert_int_equal(write(sv[0], "{\"v\"", 4), 4);
    shutdown(sv[0], SHUT_WR);
    assert_int_equal(attest_recv(&b, &m, err, sizeof(err)), -1);
    assert_string_equal(err, "the peer closed the connection in the middle of a message");
    close(sv[1]);
    attest_stream_free(&b);
    /* A line longer than allowed is refused without reading it all. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    attest_stream_init(&b, sv[1], sv[1], 2000);
    if (fork() == 0) {
        static char junk[ATTEST_LINE_MAX + 70000];
        memset(junk, 'a', sizeof(junk));
        ssize_t r = write(sv[0], junk, sizeof(junk));
        _exit(r < 0);
    }
    assert_int_equal(attest_recv(&b, &m, err, sizeof(err)), -1);
    assert_string_equal(err, "a message is longer than 1048576 bytes");
    close(sv[0]);
    close(sv[1]);
    attest_stream_free(&b);
    attest_stream_free(&a);
}

static void test_fields(void **state)
{
    (void)state;
    json_t *m = json_pack("{s:s, s:s, s:s, s:i}", "nonce", "00112233445566778899aabbccddeeff",
                          "short", "0011", "bad", "zz112233445566778899aabbccddeeff", "num", 1);
    uint8_t out[64];
    size_t n;
    char err[256];
    assert_int_equal(attest_get_hex(m, "nonce", out, &n, 16, 64, err, sizeof(err)), 0);
    assert_int_equal(n, 16);
    assert_int_equal(out[15], 0xff);
    assert_int_equal(attest_get_hex(m, "short", out, &n, 16, 64, err, sizeof(err)), -1);
    assert_string_equal(err, "short: 4 hex digits, expected an even number from 32 to 128");
    assert_int_equal(attest_get_hex(m, "bad", out, &n, 16, 64, err, sizeof(err)), -1);
    assert_string_equal(err, "bad: not hexadecimal");
    assert_int_equal(attest_get_hex(m, "num", out, &n, 16, 64, err, sizeof(err)), -1);
    assert_string_equal(err, "num: not a string");
    assert_int_equal(attest_get_hex(m, "none", out, &n, 16, 64, err, sizeof(err)), -1);
    assert_string_equal(err, "none: missing");
    uint8_t *b;
    json_object_set_new(m, "blob", attest_b64((const uint8_t *)"0123456789", 10));
    assert_int_equal(attest_get_b64(m, "blob", &b, &n, 10, err, sizeof(err)), 0);
    assert_memory_equal(b, "0123456789", 10);
    free(b);
    assert_int_equal(attest_get_b64(m, "blob", &b, &n, 9, err, sizeof(err)), -1);
    assert_string_equal(err, "blob: 10 bytes, at most 9 allowed");
    json_decref(m);
}

static void test_policy(void **state)
{
    (void)state;
    assert_int_equal(policy_parse_pcrs("0-9"), 0x3ff);
    assert_int_equal(policy_parse_pcrs("0,4,8-9"), 0x311);
    assert_int_equal(policy_parse_pcrs("23"), 1L << 23);
    assert_int_equal(policy_parse_pcrs("24"), -1);
    assert_int_equal(policy_parse_pcrs("5-2"), -1);
    assert_int_equal(policy_parse_pcrs(""), -1);
    assert_int_equal(policy_parse_pcrs("1,,2"), -1);
    assert_int_equal(policy_parse_pcrs("1x"), -1);

    struct attest_policy p, q;
    char err[400];
    assert_int_equal(policy_make(&p, "sha256", kernel_path, NULL, "console=ttyS0", 2, 256, NULL,
                                 err, sizeof(err)),
                     0);
    json_t *j = policy_to_json(&p);
    assert_int_equal(policy_from_json(&q, j, err, sizeof(err)), 0);
    assert_memory_equal(q.kernel, p.kernel, 32);
    assert_string_equal(q.cmdline, "console=ttyS0");
    assert_int_equal(q.vcpus, 2);
    assert_int_equal(q.mem_mib, 256);
    assert_false(q.has_initrd);
    assert_int_equal(q.pcrs, POLICY_DEFAULT_PCRS);
    policy_free(&q);
    /* Each malformed field is named. */
    static const struct {
        const char *key, *value, *error;
    } bad[] = {
        { "bank", "\"md5\"", "bank: must be sha1, sha256, sha384 or sha512" },
        { "pcrs", "[24]", "pcrs: must be a list of PCR numbers 0-23" },
        { "pcrs", "[]", "pcrs: must be a non-empty list of PCR numbers" },
        { "kernel", "{\"file\": \"k\", \"digest\": \"00\"}",
          "kernel.digest: 2 hex digits, expected an even number from 64 to 64" },
        { "vcpus", "0", "vcpus: must be a positive integer" },
        { "cmdline", "1", "cmdline: must be a string" },
        { "hearth_attest_policy", "2",
          "hearth_attest_policy: must be 1 (the policy format's version)" },
        { "extra", "1", "extra: unknown key" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *c = json_deep_copy(j);
        json_object_set_new(c, bad[i].key, json_loads(bad[i].value, JSON_DECODE_ANY, NULL));
        assert_int_equal(policy_from_json(&q, c, err, sizeof(err)), -1);
        assert_string_equal(err, bad[i].error);
        policy_free(&q);
        json_decref(c);
    }
    json_decref(j);
    policy_free(&p);
    assert_int_equal(policy_make(&p, "sha256", "/nonexistent/k", NULL, "", -1, -1, NULL, err,
                                 sizeof(err)),
                     -1);
    assert_string_equal(err, "/nonexistent/k: No such file or directory");
    policy_free(&p);
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Measured boot hashes what hearth loaded, wired as src/vmm.c wires it:
 * the kernel file as read, the initrd in guest RAM. A kernel path that
 * names another file by then, an initrd truncated in place (under a
 * mapping: SIGBUS) change neither the digests nor what boots. */
static void test_measures_what_was_loaded(void **state)
{
    (void)state;
    static uint8_t kernel[0x2000], initrd[0x10000], other[0x2000];
    Elf64_Ehdr *eh = (Elf64_Ehdr *)kernel; /* one PT_LOAD at 2 MiB */
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_machine = EM_X86_64;
    eh->e_entry = 0x200000;
    eh->e_phoff = sizeof(*eh);
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = 1;
    const Elf64_Phdr ph = { .p_type = PT_LOAD,
                            .p_offset = 0x1000,
                            .p_paddr = 0x200000,
                            .p_filesz = 0x1000,
                            .p_memsz = 0x1000 };
    memcpy(kernel + sizeof(*eh), &ph, sizeof(ph));
    memset(kernel + 0x1000, 0x5a, 0x1000);
    memcpy(other, kernel, sizeof(other));
    memset(other + 0x1000, 0xa5, 0x1000);
    for (size_t i = 0; i < sizeof(initrd); i++)
        initrd[i] = (uint8_t)(i * 13);
    const char *kpath = "/tmp/test_attest_loaded.vmlinux", *rdpath = "/tmp/test_attest_loaded.rd";
    write_file(kpath, kernel, sizeof(kernel));
    write_file(rdpath, initrd, sizeof(initrd));

    struct guest_mem mem;
    assert_int_equal(guest_mem_init(&mem, 32 << 20, false), 0);
    struct loaded_kernel k;
    struct loaded_initrd rd;
    struct boot_entry e;
    char err[256];
    assert_int_equal(kernel_load(&mem, kpath, &k, err, sizeof(err)), 0);
    assert_int_equal(boot_prepare(&mem, &k, "console=ttyS0", rdpath, &e, &rd, err, sizeof(err)), 0);
    write_file("/tmp/test_attest_loaded.new", other, sizeof(other));
    assert_int_equal(rename("/tmp/test_attest_loaded.new", kpath), 0);
    assert_int_equal(truncate(rdpath, 0), 0);

    static struct pcr_tpm t;
    struct tpm_backend b = { .ops = &pcr_ops, .impl = &t, .max_command = TPM_BUFFER_MAX };
    const struct measure_inputs in = { .kernel_path = kpath,
                                       .initrd_path = rdpath,
                                       .kernel = k.image,
                                       .kernel_len = k.image_len,
                                       .initrd = gpa_to_hva(&mem, rd.gpa, rd.size),
                                       .initrd_len = rd.size,
                                       .cmdline = "console=ttyS0",
                                       .config_json = "{}" };
    struct measure_log m;
    static uint8_t log[0x10000];
    assert_int_equal(measure_boot(&m, &b, &in, log, sizeof(log), err, sizeof(err)), 0);
    kernel_release(&k);
    static struct evlog l;
    const struct evlog_alg *sha256 = evlog_alg_by_name("sha256");
    assert_int_equal(evlog_parse(&l, log, m.log_len, sha256, err, sizeof(err)), 0);
    assert_int_equal(l.nevents, 13);
    uint8_t d[32];
    assert_int_equal(l.events[10].pcr, 4);
    assert_int_equal(evlog_hash(sha256, kernel, sizeof(kernel), d), 0);
    assert_memory_equal(l.events[10].digest, d, 32);
    assert_int_equal(l.events[12].pcr, 9);
    assert_int_equal(evlog_hash(sha256, initrd, sizeof(initrd), d), 0);
    assert_memory_equal(l.events[12].digest, d, 32);
    guest_mem_free(&mem);
    unlink(kpath);
    unlink(rdpath);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_hearth_log),
        cmocka_unit_test(test_hostile_logs),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_measures_what_was_loaded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
