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
    assert_int_equal(
        parse("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": \"a=b\","
              " \"initrd_path\": \"/i\"},"
              " \"machine-config\": {\"vcpu_count\": 4, \"mem_size_mib\": 8192,"
              " \"smt\": true, \"huge_pages\": \"2M\"},"
              " \"serial\": {\"serial_out_path\": \"/s\"},"
              " \"logger\": {\"log_path\": \"/l\", \"level\": \"warning\"}}",
              &c, err),
        0);
    assert_string_equal(c.boot.kernel_image_path, "/k");
    assert_string_equal(c.boot.boot_args, "a=b");
    assert_string_equal(c.boot.initrd_path, "/i");
    assert_int_equal(c.machine.vcpu_count, 4);
    assert_int_equal(c.machine.mem_size_mib, 8192);
    assert_true(c.machine.smt);
    assert_true(c.machine.huge_pages);
    assert_string_equal(c.serial.serial_out_path, "/s");
    assert_string_equal(c.logger.log_path, "/l");
    assert_true(c.has_logger);
    assert_int_equal(c.logger.level, LOG_WARN);
    config_free(&c);
}

static void defaults_match_firecracker(void **state)
{
    (void)state;
    struct vm_config c;
    char err[256];
    assert_int_equal(
        parse("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"initrd_path\": null}}", &c, err),
        0);
    assert_null(c.boot.boot_args);
    assert_string_equal(config_boot_args(&c), CONFIG_DEFAULT_BOOT_ARGS);
    assert_null(c.boot.initrd_path);
    assert_int_equal(c.machine.vcpu_count, 1);
    assert_int_equal(c.machine.mem_size_mib, 128);
    assert_false(c.machine.smt);
    assert_false(c.machine.huge_pages);
    assert_false(c.has_logger);
    assert_int_equal(c.tpm.model, TPM_MODEL_NONE);
    config_free(&c);
}

static void errors_name_the_key(void **state)
{
    (void)state;
    static const struct {
        const char *json, *msg;
    } cases[] = {
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
          "drives[0].drive_id: missing required field" },
        { "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"balloon\": {}}",
          "balloon: not supported by this version of hearth" },
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
        assert_null(c.boot.kernel_image_path); /* nothing left to free */
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
    assert_int_equal(parse("{\"boot-source\": {\"kernel_image_path\": \"a\\u0000b\"}}", &c, err),
                     -1);
    assert_non_null(strstr(err, "is not allowed"));
}

static json_t *js(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    assert_non_null(j);
    return j;
}

static int set(struct vm_config *c, enum config_section s, const char *body, bool patch, char *err)
{
    json_t *j = js(body);
    int r = config_set(c, s, j, patch, err, 256);
    json_decref(j);
    return r;
}

/* Firecracker's rule: a PUT replaces the section, fields it leaves out take
 * their defaults; a PATCH changes only what it names. */
static void machine_config_put_resets_patch_merges(void **state)
{
    (void)state;
    struct vm_config c;
    char err[256];
    config_init(&c);
    assert_int_equal(set(&c, CONFIG_MACHINE,
                         "{\"vcpu_count\": 4, \"mem_size_mib\": 512, \"smt\": true}", false, err),
                     0);
    assert_int_equal(set(&c, CONFIG_MACHINE, "{\"mem_size_mib\": 1024}", true, err), 0);
    assert_int_equal(c.machine.vcpu_count, 4);
    assert_int_equal(c.machine.mem_size_mib, 1024);
    assert_true(c.machine.smt);
    /* A PATCH is checked as a whole against what it keeps. */
    assert_int_equal(set(&c, CONFIG_MACHINE, "{\"vcpu_count\": 3}", true, err), -1);
    assert_string_equal(err, "machine-config.vcpu_count: must be 1 or even when smt is enabled, "
                             "got 3");
    assert_int_equal(set(&c, CONFIG_MACHINE, "{\"vcpu_count\": 2, \"mem_size_mib\": 256}", false,
                         err),
                     0);
    assert_false(c.machine.smt);
    assert_int_equal(set(&c, CONFIG_MACHINE, "{\"vcpu_count\": 2}", false, err), -1);
    assert_string_equal(err, "machine-config.mem_size_mib: missing required field");
    /* Only machine-config can be patched. */
    assert_int_equal(set(&c, CONFIG_BOOT_SOURCE, "{\"kernel_image_path\": \"/k\"}", true, err), -1);
    assert_string_equal(err, "boot-source: cannot be patched");
    config_free(&c);
}

static void sections_validate_their_fields(void **state)
{
    (void)state;
    static const struct {
        enum config_section s;
        const char *body, *msg;
    } cases[] = {
        { CONFIG_TPM, "{\"model\": \"crb\"}", "tpm.socket: missing required field" },
        { CONFIG_TPM, "{\"socket\": \"/s\", \"model\": \"tpm\"}",
          "tpm.model: must be \"crb\", \"tis\" or \"virtio\", got \"tpm\"" },
        { CONFIG_TPM, "{\"socket\": \"/s\", \"timeout_ms\": 1}",
          "tpm.timeout_ms: must be between 10 and 600000, got 1" },
        { CONFIG_METRICS, "{}", "metrics.metrics_path: missing required field" },
        { CONFIG_METRICS, "{\"metrics_path\": \"\"}", "metrics.metrics_path: must not be empty" },
        { CONFIG_LOGGER, "{\"level\": \"Loud\"}",
          "logger.level: must be one of Off, Error, Warning, Info, Debug, Trace; got \"Loud\"" },
        { CONFIG_LOGGER, "{\"module\": \"vmm\"}",
          "logger.module: module filters are not supported (hearth has one module)" },
        { CONFIG_SERIAL, "[]", "serial: must be an object, got an array" },
        { CONFIG_BOOT_SOURCE, "{\"kernel_image_path\": \"/k\", \"initrd_path\": \"\"}",
          "boot-source.initrd_path: must not be empty" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vm_config c;
        char err[256] = "";
        config_init(&c);
        assert_int_equal(set(&c, cases[i].s, cases[i].body, false, err), -1);
        assert_string_equal(err, cases[i].msg);
        config_free(&c);
    }
}

/* A logger section without a level means Info (Firecracker's rule). */
static void logger_level_defaults_to_info(void **state)
{
    (void)state;
    struct vm_config c;
    char err[256];
    config_init(&c);
    assert_int_equal(set(&c, CONFIG_LOGGER, "{\"level\": \"Debug\"}", false, err), 0);
    assert_int_equal(c.logger.level, LOG_DEBUG);
    assert_int_equal(set(&c, CONFIG_LOGGER, "{\"show_log_origin\": true}", false, err), 0);
    assert_int_equal(c.logger.level, LOG_INFO);
    assert_true(c.logger.show_log_origin);
    config_free(&c);
}

/* GET /vm/config's output boots the same VM through the config file path. */
static void vm_config_round_trips(void **state)
{
    (void)state;
    struct vm_config a, b;
    char err[256];
    assert_int_equal(parse("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": \"x\","
                           " \"initrd_path\": \"/i\"},"
                           " \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 300,"
                           " \"smt\": true, \"huge_pages\": \"2M\"},"
                           " \"tpm\": {\"socket\": \"/t\", \"model\": \"tis\", \"timeout_ms\": 70},"
                           " \"serial\": {\"serial_out_path\": \"/s\"}}",
                           &a, err),
                     0);
    json_t *out = config_to_json(&a);
    assert_int_equal(config_parse_json(out, &b, err, sizeof(err)), 0);
    json_t *again = config_to_json(&b);
    assert_true(json_equal(out, again));
    assert_string_equal(b.boot.initrd_path, "/i");
    assert_int_equal(b.machine.mem_size_mib, 300);
    assert_true(b.machine.huge_pages);
    assert_int_equal(b.tpm.model, TPM_MODEL_TIS);
    assert_int_equal(b.tpm.timeout_ms, 70);
    assert_string_equal(b.serial.serial_out_path, "/s");
    /* Unconfigured sections are null, and null reads back as unconfigured. */
    assert_true(json_is_null(json_object_get(out, "vsock")));
    json_decref(out);
    json_decref(again);
    config_free(&a);
    config_free(&b);
}

static void copy_is_deep(void **state)
{
    (void)state;
    struct vm_config a, b;
    char err[256];
    assert_int_equal(parse("{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
                           " \"tpm\": {\"socket\": \"/t\"}}",
                           &a, err),
                     0);
    assert_int_equal(config_copy(&b, &a), 0);
    assert_ptr_not_equal(a.boot.kernel_image_path, b.boot.kernel_image_path);
    assert_ptr_not_equal(a.tpm.socket, b.tpm.socket);
    assert_int_equal(b.tpm.model, TPM_MODEL_CRB);
    config_free(&a);
    assert_string_equal(b.boot.kernel_image_path, "/k");
    config_free(&b);
}

/* "fd:N" names a descriptor hearth inherited (the jailer's vTPM channel):
 * the config file may, an API request (config_set) may not, since there N
 * could be any of hearth's own descriptors. */
static void inherited_tpm_fd_only_from_the_file(void **state)
{
    (void)state;
    struct vm_config c;
    char err[256] = "";
    config_init(&c);
    assert_int_equal(set(&c, CONFIG_TPM, "{\"socket\": \"fd:3\"}", false, err), -1);
    assert_string_equal(err, "tpm.socket: \"fd:3\" names an inherited descriptor: only the "
                             "config file may (give swtpm's socket path)");
    assert_int_equal(set(&c, CONFIG_TPM, "{\"socket\": \"fd: 3\"}", false, err), -1);
    assert_string_equal(err, "tpm.socket: \"fd:N\" needs a descriptor number 3 <= N < 1024, "
                             "got \"fd: 3\"");
    config_free(&c);
    assert_int_equal(parse("{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
                           " \"tpm\": {\"socket\": \"fd:3\"}}",
                           &c, err),
                     0);
    assert_string_equal(c.tpm.socket, "fd:3");
    config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_config_parses),
        cmocka_unit_test(defaults_match_firecracker),
        cmocka_unit_test(errors_name_the_key),
        cmocka_unit_test(invalid_json_reports_position),
        cmocka_unit_test(machine_config_put_resets_patch_merges),
        cmocka_unit_test(sections_validate_their_fields),
        cmocka_unit_test(logger_level_defaults_to_info),
        cmocka_unit_test(vm_config_round_trips),
        cmocka_unit_test(copy_is_deep),
        cmocka_unit_test(inherited_tpm_fd_only_from_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
