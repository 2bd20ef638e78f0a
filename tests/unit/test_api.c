/* Unit tests: the REST API's routes against a fake VMM: every endpoint's
 * answer, Firecracker's routing and state errors, request counters. */
#include "api/routes.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* The fake VMM: sections through the real setters, actions recorded. */
static struct {
    enum vmm_state state;
    struct vm_config cfg;
    int actions[8], nactions;
    bool fail_start;
} fake;

static enum vmm_state f_state(void *ctx)
{
    (void)ctx;
    return fake.state;
}
static const struct vm_config *f_config(void *ctx)
{
    (void)ctx;
    return &fake.cfg;
}
static int f_configure(void *ctx, enum config_section s, json_t *body, bool patch, char *err,
                       size_t errlen)
{
    (void)ctx;
    struct vm_config next;
    assert_int_equal(config_copy(&next, &fake.cfg), 0);
    if (config_set(&next, s, body, patch, err, errlen) < 0) {
        config_free(&next);
        return -1;
    }
    config_free(&fake.cfg);
    fake.cfg = next;
    return 0;
}
static int f_action(void *ctx, enum vmm_action a, char *err, size_t errlen)
{
    (void)ctx;
    fake.actions[fake.nactions++] = a;
    if (a == VMM_INSTANCE_START && fake.fail_start) {
        snprintf(err, errlen, "open /dev/kvm: No such file or directory");
        return -1;
    }
    if (a == VMM_INSTANCE_START || a == VMM_RESUME)
        fake.state = VMM_RUNNING;
    if (a == VMM_PAUSE)
        fake.state = VMM_PAUSED;
    return 0;
}
static const struct vmm_ops ops = { f_state, f_configure, f_action, f_config, NULL };
static struct api_router router;

static int setup(void **state)
{
    (void)state;
    config_free(&fake.cfg);
    memset(&fake, 0, sizeof(fake));
    config_init(&fake.cfg);
    api_router_init(&router, &ops, NULL, "vm-1");
    return 0;
}

/* Sends one request; returns the status, with the body in out (or ""). */
static unsigned req_n(const char *method, const char *path, const char *body, char *out, size_t n)
{
    struct api_reply r;
    api_route(&router, method, path, body, body ? strlen(body) : 0, &r);
    snprintf(out, n, "%s", r.body ? r.body : "");
    free(r.body);
    return r.code;
}

static unsigned req(const char *method, const char *path, const char *body, char *out)
{
    return req_n(method, path, body, out, 512);
}

static void expect_fault(const char *method, const char *path, const char *body, const char *msg)
{
    char out[512], want[600];
    assert_int_equal(req(method, path, body, out), 400);
    snprintf(want, sizeof(want), "{\"fault_message\":\"%s\"}", msg);
    assert_string_equal(out, want);
}

static void getting_started_flow(void **state)
{
    (void)state;
    char out[512];
    assert_int_equal(req("GET", "/", NULL, out), 200);
    assert_string_equal(
        out, "{\"id\":\"vm-1\",\"state\":\"Not started\",\"vmm_version\":\"" HEARTH_VERSION
             "\",\"app_name\":\"hearth\"}");
    assert_int_equal(req("PUT", "/boot-source",
                         "{\"kernel_image_path\": \"/k\", \"boot_args\": \"console=ttyS0\"}", out),
                     204);
    assert_string_equal(out, "");
    assert_int_equal(req("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}",
                         out),
                     204);
    assert_int_equal(req("PUT", "/tpm", "{\"socket\": \"/s\", \"model\": \"tis\"}", out), 204);
    assert_int_equal(req("GET", "/machine-config", NULL, out), 200);
    assert_string_equal(out, "{\"vcpu_count\":2,\"mem_size_mib\":256,\"smt\":false,"
                             "\"track_dirty_pages\":false,\"huge_pages\":\"None\"}");
    assert_int_equal(req("GET", "/tpm", NULL, out), 200);
    assert_string_equal(
        out, "{\"socket\":\"/s\",\"model\":\"tis\",\"timeout_ms\":2000,\"measured_boot\":true}");
    assert_int_equal(req("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", out), 204);
    assert_int_equal(fake.actions[0], VMM_INSTANCE_START);
    assert_int_equal(req("GET", "/", NULL, out), 200);
    assert_non_null(strstr(out, "\"state\":\"Running\""));
    assert_int_equal(req("PATCH", "/vm", "{\"state\": \"Paused\"}", out), 204);
    assert_non_null(req("GET", "/", NULL, out) == 200 ? strstr(out, "\"Paused\"") : NULL);
    assert_int_equal(req("PATCH", "/vm", "{\"state\": \"Resumed\"}", out), 204);
    assert_int_equal(req("PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", out), 204);
    assert_int_equal(req("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", out), 204);
    assert_int_equal(fake.nactions, 5);
    assert_int_equal(fake.actions[4], VMM_FLUSH_METRICS);
    assert_int_equal(req("GET", "/version", NULL, out), 200);
    assert_string_equal(out, "{\"firecracker_version\":\"" HEARTH_VERSION "\"}");
}

/* Found by fuzz_api: a GET whose answer is JSON null still has a body. */
static void get_tpm_without_a_tpm_is_null(void **state)
{
    (void)state;
    char out[512];
    assert_int_equal(req("GET", "/tpm", NULL, out), 200);
    assert_string_equal(out, "null");
}

/* Firecracker's routing errors, word for word. */
static void routing_errors(void **state)
{
    (void)state;
    expect_fault("GET", "/foo/bar", NULL, "Invalid request method and/or path: GET foo.");
    expect_fault("DELETE", "/boot-source", NULL,
                 "Invalid request method and/or path: DELETE boot-source.");
    expect_fault("PATCH", "/boot-source", "{\"a\": 1}",
                 "Invalid request method and/or path: PATCH boot-source.");
    expect_fault("GET", "/vm", NULL, "Invalid request method and/or path: GET vm.");
    expect_fault("PUT", "/boot-source", NULL, "Empty PUT request.");
    expect_fault("PATCH", "/machine-config", NULL, "Empty PATCH request.");
    expect_fault("PATCH", "/machine-config", "{}", "Empty PATCH request.");
    expect_fault("GET", "/", "x", "GET request cannot have a body.");
    expect_fault("PUT", "/boot-source", "{\"kernel_image_path\": ",
                 "An error occurred when deserializing the json body of a request: unexpected "
                 "token near end of file at line 1 column 22.");
    expect_fault("PUT", "/boot-source", "[1]", "boot-source: must be an object, got an array");
    expect_fault("PUT", "/balloon", "{\"amount_mib\": 1}",
                 "Invalid request method and/or path: PUT balloon.");
    /* A trailing slash, a query and the absolute form still route. */
    char out[512];
    assert_int_equal(req("GET", "/machine-config/", NULL, out), 200);
    assert_int_equal(req("GET", "/machine-config?x=1", NULL, out), 200);
    assert_int_equal(req("GET", "http://localhost/version", NULL, out), 200);
}

static void bodies_name_the_field(void **state)
{
    (void)state;
    expect_fault("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\", \"kernal\": 1}",
                 "boot-source: unknown key \\\"kernal\\\"");
    expect_fault("PUT", "/machine-config", "{\"vcpu_count\": 40, \"mem_size_mib\": 1}",
                 "machine-config.vcpu_count: must be between 1 and 32, got 40");
    expect_fault("PUT", "/actions", "{\"action_type\": \"Reboot\"}",
                 "actions.action_type: must be one of \\\"InstanceStart\\\", "
                 "\\\"SendCtrlAltDel\\\", \\\"FlushMetrics\\\", got \\\"Reboot\\\"");
    expect_fault("PUT", "/actions", "{\"action_type\": \"InstanceStart\", \"x\": 1}",
                 "actions: unknown key \\\"x\\\"");
    expect_fault("PUT", "/actions", "{}", "actions.action_type: missing required field");
    /* Non-ASCII reaches the message escaped, never as broken UTF-8. */
    expect_fault("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\", \"\xc3\xa9\": 1}",
                 "boot-source: unknown key \\\"\\\\xc3\\\\xa9\\\"");
    /* A failed setter leaves the configuration as it was. */
    char out[512];
    assert_int_equal(req("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 64}",
                         out),
                     204);
    expect_fault("PATCH", "/machine-config", "{\"mem_size_mib\": 0}",
                 "machine-config.mem_size_mib: must be between 1 and 1048576, got 0");
    assert_int_equal(fake.cfg.machine.mem_size_mib, 64);
}

static void state_rules(void **state)
{
    (void)state;
    static const char before[] =
        "The requested operation is not supported before starting the microVM.";
    static const char after[] =
        "The requested operation is not supported after starting the microVM.";
    expect_fault("PATCH", "/vm", "{\"state\": \"Paused\"}", before);
    expect_fault("PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", before);
    expect_fault("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", before);
    fake.fail_start = true;
    expect_fault("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}",
                 "open /dev/kvm: No such file or directory");
    assert_int_equal(fake.state, VMM_NOT_STARTED);
    fake.fail_start = false;
    char out[512];
    assert_int_equal(req("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", out), 204);
    expect_fault("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", after);
    expect_fault("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\"}", after);
    expect_fault("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 1}", after);
    expect_fault("PATCH", "/machine-config", "{\"vcpu_count\": 1}", after);
    expect_fault("PUT", "/logger", "{\"level\": \"Debug\"}", after);
    expect_fault("PUT", "/metrics", "{\"metrics_path\": \"/m\"}", after);
    expect_fault("PUT", "/tpm", "{\"socket\": \"/s\"}", after);
    expect_fault("PATCH", "/vm", "{\"state\": \"Stopped\"}",
                 "vm.state: must be one of \\\"Paused\\\", \\\"Resumed\\\", got \\\"Stopped\\\"");
    /* Reads work in every state. */
    assert_int_equal(req("GET", "/vm/config", NULL, out), 200);
}

/* Firecracker's device endpoints: the id in the path, checked before the
 * body, and matching the body's. */
static void device_routes(void **state)
{
    (void)state;
    char out[512];
    const char *drive = "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r\","
                        " \"is_root_device\": true}";
    assert_int_equal(req("PUT", "/drives/rootfs", drive, out), 204);
    assert_int_equal(fake.cfg.ndrives, 1);
    expect_fault("PUT", "/drives", drive, "The ID cannot be empty.");
    expect_fault("PUT", "/drives/", drive, "The ID cannot be empty.");
    expect_fault("PUT", "/drives/root-fs", "{",
                 "API Resource IDs can only contain alphanumeric "
                 "characters and underscores.");
    expect_fault("PUT", "/drives/other", drive,
                 "The id from the path does not match the id from the body!");
    expect_fault("PUT", "/network-interfaces/eth1",
                 "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}",
                 "The id from the path [eth1] does not match the id from the body [eth0]!");
    assert_int_equal(req("PUT", "/network-interfaces/eth0",
                         "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}", out),
                     204);
    assert_int_equal(req("PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/v\"}", out), 204);
    assert_int_equal(req("PUT", "/entropy", "{}", out), 204);
    char big[4096];
    assert_int_equal(req_n("GET", "/vm/config", NULL, big, sizeof(big)), 200);
    assert_non_null(strstr(big, "\"drives\":[{\"drive_id\":\"rootfs\""));
    assert_non_null(strstr(big, "\"vsock\":{\"guest_cid\":3,\"uds_path\":\"/v\"}"));
    assert_non_null(strstr(big, "\"entropy\":{\"rate_limiter\":null}"));
    /* PATCH only once running; PUT only before. */
    const char *patch = "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r2\"}";
    expect_fault("PATCH", "/drives/rootfs", patch,
                 "The requested operation is not supported before starting the microVM.");
    fake.state = VMM_RUNNING;
    assert_int_equal(req("PATCH", "/drives/rootfs", patch, out), 204);
    assert_string_equal(fake.cfg.drives[0].path_on_host, "/r2");
    expect_fault("PATCH", "/drives/rootfs", "{}", "Empty PATCH request.");
    assert_int_equal(req("PATCH", "/network-interfaces/eth0",
                         "{\"iface_id\": \"eth0\", \"tx_rate_limiter\": {\"ops\":"
                         " {\"size\": 10, \"refill_time\": 100}}}",
                         out),
                     204);
    assert_int_equal(fake.cfg.nets[0].tx_rate_limiter.ops.size, 10);
    static const char after[] =
        "The requested operation is not supported after starting the microVM.";
    expect_fault("PUT", "/drives/rootfs", drive, after);
    expect_fault("PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/v\"}", after);
    expect_fault("PUT", "/entropy", "{}", after);
    json_t *m = json_object();
    api_router_metrics(&router, m);
    json_t *put = json_object_get(m, "put_api_requests");
    assert_int_equal(json_integer_value(json_object_get(put, "drive_count")), 6);
    assert_int_equal(json_integer_value(json_object_get(put, "drive_fails")), 5);
    assert_null(json_object_get(put, "entropy_count"));
    json_decref(m);
}

static void counters_feed_metrics(void **state)
{
    (void)state;
    char out[512];
    req("GET", "/", NULL, out);
    req("GET", "/", NULL, out);
    req("PUT", "/boot-source", "{}", out);
    req("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\"}", out);
    json_t *m = json_object();
    api_router_metrics(&router, m);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "get_api_requests"),
                                                        "instance_info_count")),
                     2);
    json_t *put = json_object_get(m, "put_api_requests");
    assert_int_equal(json_integer_value(json_object_get(put, "boot_source_count")), 2);
    assert_int_equal(json_integer_value(json_object_get(put, "boot_source_fails")), 1);
    assert_int_equal(json_integer_value(json_object_get(put, "actions_count")), 0);
    json_decref(m);
}

/* The state rules as a table: "paused only" (for snapshots) refuses a
 * microVM not started or running, each with its reason. */
static void state_rule_table(void **state)
{
    (void)state;
    assert_null(api_state_fault(API_ANY, VMM_RUNNING));
    assert_null(api_state_fault(API_PRE_BOOT, VMM_NOT_STARTED));
    assert_non_null(strstr(api_state_fault(API_PRE_BOOT, VMM_PAUSED), "after starting"));
    assert_null(api_state_fault(API_POST_BOOT, VMM_PAUSED));
    assert_non_null(strstr(api_state_fault(API_POST_BOOT, VMM_NOT_STARTED), "before starting"));
    assert_null(api_state_fault(API_PAUSED, VMM_PAUSED));
    assert_non_null(
        strstr(api_state_fault(API_PAUSED, VMM_RUNNING), "while the microVM is paused"));
    assert_non_null(strstr(api_state_fault(API_PAUSED, VMM_NOT_STARTED), "before starting"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(getting_started_flow, setup),
        cmocka_unit_test_setup(get_tpm_without_a_tpm_is_null, setup),
        cmocka_unit_test_setup(routing_errors, setup),
        cmocka_unit_test_setup(bodies_name_the_field, setup),
        cmocka_unit_test_setup(state_rules, setup),
        cmocka_unit_test(state_rule_table),
        cmocka_unit_test_setup(device_routes, setup),
        cmocka_unit_test_setup(counters_feed_metrics, setup),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    config_free(&fake.cfg);
    return r;
}
