/* Unit tests: the API's HTTP/1.1 parser and response writer. */
#include "api/http.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static enum http_parse_result parse(const char *s, struct http_request *r)
{
    return http_parse(s, strlen(s), 100, r);
}

static void requests_parse_one_at_a_time(void **state)
{
    (void)state;
    struct http_request r;
    const char *two = "PUT /boot-source HTTP/1.1\r\nHost: x\r\ncontent-length:  3 \r\n\r\n{}\n"
                      "GET /vm/config?x HTTP/1.1\r\n\r\n";
    assert_int_equal(parse(two, &r), HTTP_COMPLETE);
    assert_string_equal(r.method, "PUT");
    assert_string_equal(r.target, "/boot-source");
    assert_int_equal(r.body_len, 3);
    assert_memory_equal(r.body, "{}\n", 3);
    assert_true(r.keep_alive);
    assert_int_equal(parse(two + r.consumed, &r), HTTP_COMPLETE);
    assert_string_equal(r.target, "/vm/config?x");
    assert_int_equal(r.body_len, 0);
    assert_int_equal(strlen(two), (size_t)(strstr(two, "GET") - two) + r.consumed);
}

static void incomplete_until_the_body_arrives(void **state)
{
    (void)state;
    struct http_request r;
    assert_int_equal(parse("GET / HTTP/1.1\r\n", &r), HTTP_INCOMPLETE);
    assert_int_equal(parse("PUT /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", &r), HTTP_INCOMPLETE);
    assert_false(r.expect_continue);
    assert_int_equal(parse("PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
                           &r),
                     HTTP_INCOMPLETE);
    assert_true(r.expect_continue);
}

static void connection_semantics(void **state)
{
    (void)state;
    struct http_request r;
    assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &r), HTTP_COMPLETE);
    assert_false(r.keep_alive);
    assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &r), HTTP_COMPLETE);
    assert_false(r.keep_alive);
    assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r), HTTP_COMPLETE);
    assert_true(r.keep_alive);
    /* A body over the limit is answered unread, and the connection closes. */
    assert_int_equal(parse("PUT / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", &r), HTTP_COMPLETE);
    assert_true(r.too_large);
    assert_false(r.keep_alive);
    assert_int_equal(r.content_length, 101);
}

static void malformed_requests_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *req, *why;
    } cases[] = {
        { "GET /\r\n\r\n", "Invalid request line." },
        { "GET / HTTP/2.0\r\n\r\n", "Unsupported HTTP version." },
        { "get / HTTP/1.1\r\n\r\n", "Invalid HTTP method." },
        { "GET /a\x01 HTTP/1.1\r\n\r\n", "Invalid request target." },
        { "PUT / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", "Invalid Content-Length." },
        { "PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
          "Invalid Content-Length." },
        { "PUT / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
          "Invalid Content-Length." },
        { "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
          "Transfer-Encoding is not supported; send a Content-Length." },
        { "GET / HTTP/1.1\r\nno colon\r\n\r\n", "Invalid header line." },
        { "GET / HTTP/1.1\r\n folded: x\r\n\r\n", "Invalid header line." },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct http_request r;
        assert_int_equal(parse(cases[i].req, &r), HTTP_BAD);
        assert_string_equal(r.error, cases[i].why);
    }
    static char big[HTTP_HEAD_MAX + 64];
    memset(big, 'a', sizeof(big) - 1);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    struct http_request r;
    assert_int_equal(parse(big, &r), HTTP_BAD);
    assert_string_equal(r.error, "Request headers too long.");
    const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
    assert_int_equal(http_parse(nul, sizeof(nul) - 1, 100, &r), HTTP_BAD);
}

/* Blank lines before a request count toward the head limit: a request
 * behind thousands of them would not fit the server's buffer of head
 * limit + body limit, and could never complete. */
static void blank_lines_count_toward_the_head_limit(void **state)
{
    (void)state;
    const char get[] = "GET / HTTP/1.1\r\n\r\n";
    static char buf[HTTP_HEAD_MAX + sizeof(get)];
    size_t blank = HTTP_HEAD_MAX;
    for (size_t i = 0; i < blank; i += 2)
        memcpy(buf + i, "\r\n", 2);
    memcpy(buf + blank, get, sizeof(get));
    struct http_request r;
    assert_int_equal(parse(buf, &r), HTTP_BAD);
    assert_string_equal(r.error, "Request headers too long.");
    /* Blank lines alone, past the limit, are refused too. */
    assert_int_equal(http_parse(buf, blank, 100, &r), HTTP_BAD);
    /* A few are fine. */
    assert_int_equal(parse("\r\n\r\nGET / HTTP/1.1\r\n\r\n", &r), HTTP_COMPLETE);
    assert_int_equal(r.consumed, 4 + sizeof(get) - 1);
}

static void responses(void **state)
{
    (void)state;
    char out[256];
    size_t n = http_response(out, sizeof(out), 204, NULL, true);
    out[n] = 0;
    assert_string_equal(out, "HTTP/1.1 204 No Content\r\nServer: hearth API\r\n"
                             "Connection: keep-alive\r\n\r\n");
    n = http_response(out, sizeof(out), 400, "{\"a\":1}", false);
    out[n] = 0;
    assert_string_equal(out,
                        "HTTP/1.1 400 Bad Request\r\nServer: hearth API\r\nConnection: close\r\n"
                        "Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
    assert_int_equal(http_response(out, 40, 200, "{}", true), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(requests_parse_one_at_a_time),
        cmocka_unit_test(incomplete_until_the_body_arrives),
        cmocka_unit_test(connection_semantics),
        cmocka_unit_test(malformed_requests_are_refused),
        cmocka_unit_test(blank_lines_count_toward_the_head_limit),
        cmocka_unit_test(responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
