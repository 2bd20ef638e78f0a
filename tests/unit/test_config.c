/* Unit tests: Firecracker-schema config parsing and its error messages. */
#include "config/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static int parse(const char *json, struct vm_config *cfg, char *err)
{
    return config_parse_buffer(json, strlen(json), cfg, err, 256);
}

static void full_config_parses(void **state)
{
    (void)state;
    struct vm_config c;
    char err[256];
    assert_int_equal(parse("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": \"a=b\","
                           " \"initrd_path\": \"/i\"},"
                           " \"machine-config\": {\"vcpu_count\": 4, \"mem_size_mib\": 8192,"
                           " \"smt\": true, \"huge_pages\": \"2M\"},"
                           " \"serial\": {\"serial_out_path\": \"/s\"},"
                           " \"logger\": {\"log_path\": \"/l\", \"level\": \"warning\"}}",
                           &c, err),
                     0);
    assert_string_equal(c.kernel_image_path, "/k");
    assert_string_equal(c.boot_args, "a=b");
    assert_string_equal(c.initrd_path, "/i");
    assert_int_equal(c.vcpu_count, 4);
    assert_int_equal(c.mem_size_mib, 8192);
    assert_true(c.smt);
    assert_true(c.huge_pages);
    assert_string_equal(c.serial_out_path, "/s");
    assert_string_equal(c.log_path, "/l");
    assert_true(c.has_log_level);
    assert_int_equal(c.log_level, LOG_WARN);
    config_free(&c);
}

static void defaults_match_firecracker(void **state)
{
    (void)state;
    struct vm_config c;
    char err[256];
    assert_int_equal(parse("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"initrd_path\": null}}",
                           &c, err), 0);
    assert_string_equal(c.boot_args, CONFIG_DEFAULT_BOOT_ARGS);
    assert_null(c.initrd_path);
    assert_int_equal(c.vcpu_count, 1);
    assert_int_equal(c.mem_size_mib, 128);
    assert_false(c.smt);
    assert_false(c.huge_pages);
    assert_false(c.has_log_level);
    config_free(&c);
}

static void errors_name_the_key(void **state)
{
    (void)state;
    static const struct { const char *json, *msg; } cases[] = {
        { "{}", "boot-source: missing required field" },
        { "{\"boot-source\": {}}", "boot-source.kernel_image_path: missing required field" },
        { "{\"boot-source\": 1}", "boot-source: must be an object, got an integer" },
        { "{\"boot-source\": {\"kernel_image_path\": \"\"}}",
          "boot-source.kernel_image_path: must not be empty" },
        { "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
          "{\"vcpu_count\": 0, \"mem_size_mib\": 1}}",
          "machine-config.vcpu_count: must be between 1 and 32, got 0" },
        { "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
          "{\"vcpu_count\": 1, \"mem_size_mib\": 0}}",
          "machine-config.mem_size_mib: must be between 1 and 1048576, got 0" },
        { "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
          "{\"vcpu_count\": 1, \"mem_size_mib\": 3, \"huge_pages\": \"2M\"}}",
          "machine-config.mem_size_mib: must be a multiple of 2 with 2M huge pages" },
        { "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
          "{\"vcpu_count\": 1, \"mem_size_mib\": 8, \"track_dirty_pages\": true}}",
          "machine-config.track_dirty_pages: dirty page tracking is not supported yet" },
        { "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{}]}",
          "drives: not supported by this version of hearth" },
        { "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"serial\": {\"path\": 1}}",
          "serial: unknown key \"path\"" },
        { "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"logger\": {\"level\": 3}}",
          "logger.level: must be a string, got an integer" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vm_config c;
        char err[256] = "";
        assert_int_equal(parse(cases[i].json, &c, err), -1);
        assert_string_equal(err, cases[i].msg);
        assert_null(c.kernel_image_path); /* nothing left to free */
    }
}

static void invalid_json_reports_position(void **state)
{
    (void)state;
    struct vm_config c;
    char err[256];
    assert_int_equal(parse("{\n  \"boot-source\": ,\n}", &c, err), -1);
    assert_non_null(strstr(err, "invalid JSON at line 2"));
    /* Embedded NULs never reach a path: the parser refuses them. */
    assert_int_equal(parse("{\"boot-source\": {\"kernel_image_path\": \"a\\u0000b\"}}", &c, err), -1);
    assert_non_null(strstr(err, "is not allowed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_config_parses),
        cmocka_unit_test(defaults_match_firecracker),
        cmocka_unit_test(errors_name_the_key),
        cmocka_unit_test(invalid_json_reports_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
