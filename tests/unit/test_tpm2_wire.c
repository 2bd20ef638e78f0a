/* Unit tests: lib/tpm2_wire.c, the TPM 2.0 marshalling shared by the
 * monitor, hearth-tpmd and the guest payloads: writes and reads stay in
 * bounds and say so, headers and responses. */
#include "tpm2_wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static void a_command_is_marshalled_big_endian(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct tpm2w_writer w;
    tpm2w_command(&w, buf, sizeof(buf), TPM_ST_SESSIONS, TPM_CC_PCR_EXTEND);
    tpm2w_put32(&w, 0x01020304);
    tpm2w_put_pw_session(&w);
    tpm2w_put16(&w, 0xa1b2);
    tpm2w_put8(&w, 0xc3);
    size_t len = tpm2w_finish(&w);
    static const uint8_t want[] = {
        0x80, 0x02, 0,    0, 0,    30, 0, 0, 0x01, 0x82,          /* header */
        1,    2,    3,    4,                                      /* handle */
        0,    0,    0,    9, 0x40, 0,  0, 9, 0,    0,    0, 0, 0, /* password session */
        0xa1, 0xb2, 0xc3,
    };
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    struct tpm2w_header h;
    assert_true(tpm2w_header_parse(buf, len, &h));
    assert_int_equal(h.tag, TPM_ST_SESSIONS);
    assert_int_equal(h.size, 30);
    assert_int_equal(h.code, TPM_CC_PCR_EXTEND);
    assert_false(tpm2w_header_parse(buf, TPM_HEADER_SIZE - 1, &h));
}

/* Nothing lands past the end, a write after an overflow does not land
 * either, and the command is not finished. */
static void an_overflow_writes_nothing_past_the_end(void **state)
{
    (void)state;
    uint8_t buf[16];
    memset(buf, 0xee, sizeof(buf));
    struct tpm2w_writer w;
    tpm2w_command(&w, buf, 13, TPM_ST_NO_SESSIONS, TPM_CC_GET_RANDOM);
    tpm2w_put16(&w, 1);
    assert_false(w.overflow);
    tpm2w_put16(&w, 2); /* one byte left: refused whole */
    assert_true(w.overflow);
    tpm2w_put8(&w, 3); /* would fit, but follows a gap */
    assert_int_equal(w.pos, 12);
    assert_int_equal(buf[12], 0xee);
    assert_int_equal(tpm2w_finish(&w), 0);

    tpm2w_command(&w, buf, sizeof(buf), TPM_ST_NO_SESSIONS, TPM_CC_GET_RANDOM);
    tpm2w_put_bytes(&w, buf, 7);
    assert_true(w.overflow);
    tpm2w_command(&w, buf, sizeof(buf), TPM_ST_NO_SESSIONS, TPM_CC_GET_RANDOM);
    assert_false(w.overflow); /* a new command starts clean */
    tpm2w_put_zeros(&w, 7);
    assert_true(w.overflow);
    assert_int_equal(buf[10], 0);
    assert_int_equal(buf[15], 0xee);
}

static void sized_areas_get_their_size(void **state)
{
    (void)state;
    uint8_t buf[32];
    struct tpm2w_writer w;
    tpm2w_writer_init(&w, buf, sizeof(buf));
    size_t at = tpm2w_sized_begin(&w);
    tpm2w_put32(&w, 0xdeadbeef);
    tpm2w_put_sized(&w, "ab", 2);
    tpm2w_sized_end(&w, at);
    static const uint8_t want[] = { 0, 8, 0xde, 0xad, 0xbe, 0xef, 0, 2, 'a', 'b' };
    assert_false(w.overflow);
    assert_int_equal(w.pos, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    tpm2w_put_sized(&w, buf, 70000); /* no TPM2B is that long */
    assert_true(w.overflow);
}

static void little_endian_for_the_event_log(void **state)
{
    (void)state;
    uint8_t buf[6];
    struct tpm2w_writer w;
    tpm2w_writer_init(&w, buf, sizeof(buf));
    tpm2w_put32_le(&w, 0x04030201);
    tpm2w_put16_le(&w, 0x0605);
    static const uint8_t want[] = { 1, 2, 3, 4, 5, 6 };
    assert_memory_equal(buf, want, sizeof(want));
    tpm2w_put16_le(&w, 7);
    assert_true(w.overflow);
}

static void reads_stop_at_the_end(void **state)
{
    (void)state;
    static const uint8_t in[] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde };
    struct tpm2w_reader r;
    tpm2w_reader_init(&r, in, sizeof(in));
    assert_int_equal(tpm2w_get32(&r), 0x12345678);
    assert_int_equal(tpm2w_get8(&r), 0x9a);
    assert_int_equal(tpm2w_remaining(&r), 2);
    uint8_t out[4] = { 0 };
    tpm2w_get_bytes(&r, out, 4); /* 2 left: nothing copied */
    assert_true(r.overflow);
    assert_int_equal(out[0], 0);
    assert_int_equal(tpm2w_get16(&r), 0); /* still refused: it follows a gap */
    assert_int_equal(tpm2w_remaining(&r), 0);
    assert_null(tpm2w_get_span(&r, 0));

    tpm2w_reader_init(&r, in, sizeof(in));
    tpm2w_skip(&r, 5);
    assert_int_equal(tpm2w_get16(&r), 0xbcde);
    assert_false(r.overflow);
    tpm2w_skip(&r, (size_t)-1); /* a hostile length cannot wrap the cursor */
    assert_true(r.overflow);
}

static void only_a_whole_response_counts(void **state)
{
    (void)state;
    uint8_t rsp[14];
    tpm2w_header_write(rsp, TPM_ST_NO_SESSIONS, sizeof(rsp), TPM_RC_SUCCESS);
    rsp[10] = 0xaa, rsp[11] = 0xbb, rsp[12] = 0xcc, rsp[13] = 0xdd;
    struct tpm2w_reader r;
    assert_int_equal(tpm2w_response(&r, rsp, sizeof(rsp)), 0);
    assert_int_equal(tpm2w_get32(&r), 0xaabbccdd);
    assert_false(r.overflow);

    assert_int_equal(tpm2w_response(&r, rsp, sizeof(rsp) - 1), -1); /* size disagrees */
    assert_true(r.overflow);
    assert_int_equal(tpm2w_response(&r, rsp, 9), -1); /* no whole header */
    tpm2w_header_write(rsp, TPM_ST_NO_SESSIONS, TPM_HEADER_SIZE, TPM_RC_INITIALIZE);
    assert_int_equal(tpm2w_response(&r, rsp, TPM_HEADER_SIZE), TPM_RC_INITIALIZE);
    assert_int_equal(tpm2w_remaining(&r), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_command_is_marshalled_big_endian),
        cmocka_unit_test(an_overflow_writes_nothing_past_the_end),
        cmocka_unit_test(sized_areas_get_their_size),
        cmocka_unit_test(little_endian_for_the_event_log),
        cmocka_unit_test(reads_stop_at_the_end),
        cmocka_unit_test(only_a_whole_response_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
