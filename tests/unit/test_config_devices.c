/* Unit tests: the device sections (drives, network-interfaces, vsock,
 * entropy) and their rate limiters: Firecracker's fields and id rules,
 * PUT replaces, PATCH merges, errors name the field, GET /vm/config
 * round-trips. */
#include "config/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static struct vm_config c;
static char err[256];

static int setup(void **state)
{
    (void)state;
    config_init(&c);
    err[0] = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    config_free(&c);
    return 0;
}

static int set(enum config_section s, const char *body, bool patch)
{
    json_error_t e;
    json_t *j = json_loads(body, 0, &e);
    assert_non_null(j);
    int r = config_set(&c, s, j, patch, err, sizeof(err));
    json_decref(j);
    return r;
}

static void drives_put_replace_and_keep_the_root_first(void **state)
{
    (void)state;
    assert_int_equal(set(CONFIG_DRIVES,
                         "{\"drive_id\": \"data\", \"path_on_host\": \"/d\","
                         " \"is_root_device\": false, \"is_read_only\": true}",
                         false),
                     0);
    assert_int_equal(set(CONFIG_DRIVES,
                         "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r\","
                         " \"is_root_device\": true, \"cache_type\": \"Writeback\","
                         " \"rate_limiter\": {\"bandwidth\": {\"size\": 1000,"
                         " \"refill_time\": 100, \"one_time_burst\": 5}}}",
                         false),
                     0);
    assert_int_equal(c.ndrives, 2);
    assert_string_equal(c.drives[0].drive_id, "rootfs"); /* /dev/vda */
    assert_int_equal(c.drives[0].cache_type, CACHE_WRITEBACK);
    assert_int_equal(c.drives[0].rate_limiter.bandwidth.size, 1000);
    assert_int_equal(c.drives[0].rate_limiter.bandwidth.refill_time, 100);
    assert_int_equal(c.drives[0].rate_limiter.bandwidth.one_time_burst, 5);
    assert_false(tbucket_config_enabled(&c.drives[0].rate_limiter.ops));
    assert_string_equal(c.drives[1].drive_id, "data");
    assert_true(c.drives[1].is_read_only);
    char root[64];
    config_root_args(&c, root, sizeof(root));
    assert_string_equal(root, "root=/dev/vda rw");
    /* A second root is refused; the same id replaces. */
    assert_int_equal(set(CONFIG_DRIVES,
                         "{\"drive_id\": \"data\", \"path_on_host\": \"/d\","
                         " \"is_root_device\": true}",
                         false),
                     -1);
    assert_string_equal(err, "drives.is_root_device: a root block device already exists "
                             "(drive \"rootfs\")");
    assert_int_equal(set(CONFIG_DRIVES,
                         "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r2\","
                         " \"is_root_device\": true, \"is_read_only\": true,"
                         " \"partuuid\": \"0eaa91a0-01\"}",
                         false),
                     0);
    assert_int_equal(c.ndrives, 2);
    assert_string_equal(c.drives[0].path_on_host, "/r2");
    assert_int_equal(c.drives[0].cache_type, CACHE_UNSAFE); /* a PUT resets */
    assert_false(ratelimit_config_enabled(&c.drives[0].rate_limiter));
    config_root_args(&c, root, sizeof(root));
    assert_string_equal(root, "root=PARTUUID=0eaa91a0-01 ro");
}

static void drive_patch_changes_path_and_limiter_only(void **state)
{
    (void)state;
    assert_int_equal(set(CONFIG_DRIVES,
                         "{\"drive_id\": \"d\", \"path_on_host\": \"/d\","
                         " \"is_root_device\": false, \"rate_limiter\": {"
                         "\"bandwidth\": {\"size\": 10, \"refill_time\": 1},"
                         " \"ops\": {\"size\": 5, \"refill_time\": 2}}}",
                         false),
                     0);
    assert_int_equal(set(CONFIG_DRIVES,
                         "{\"drive_id\": \"d\", \"rate_limiter\": {\"ops\": "
                         "{\"size\": 7, \"refill_time\": 3}}}",
                         true),
                     0);
    const struct drive_config *d = config_drive(&c, "d");
    assert_int_equal(d->rate_limiter.bandwidth.size, 10); /* left out: kept */
    assert_int_equal(d->rate_limiter.ops.size, 7);
    assert_int_equal(set(CONFIG_DRIVES, "{\"drive_id\": \"d\", \"path_on_host\": \"/e\"}", true),
                     0);
    assert_string_equal(d->path_on_host, "/e");
    assert_int_equal(set(CONFIG_DRIVES, "{\"drive_id\": \"d\", \"is_read_only\": true}", true), -1);
    assert_string_equal(err, "drives: unknown key \"is_read_only\"");
    assert_int_equal(set(CONFIG_DRIVES, "{\"drive_id\": \"x\", \"path_on_host\": \"/e\"}", true),
                     -1);
    assert_string_equal(err, "drives.drive_id: no drive \"x\" to update");
}

static void network_interfaces(void **state)
{
    (void)state;
    assert_int_equal(set(CONFIG_NETS,
                         "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\","
                         " \"guest_mac\": \"06:00:AC:10:00:02\", \"mtu\": 1400,"
                         " \"tx_rate_limiter\": {\"ops\": {\"size\": 100,"
                         " \"refill_time\": 1000}}}",
                         false),
                     0);
    const struct net_config *n = config_net(&c, "eth0");
    assert_non_null(n);
    assert_true(n->has_mac);
    assert_memory_equal(n->guest_mac, "\x06\x00\xac\x10\x00\x02", 6);
    assert_int_equal(n->mtu, 1400);
    assert_int_equal(n->tx_rate_limiter.ops.size, 100);
    assert_false(ratelimit_config_enabled(&n->rx_rate_limiter));
    assert_int_equal(set(CONFIG_NETS,
                         "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\","
                         " \"guest_mac\": \"06:00:ac:10:00:02\"}",
                         false),
                     -1);
    assert_string_equal(err, "network-interfaces.guest_mac: already in use by network "
                             "interface \"eth0\"");
    assert_int_equal(set(CONFIG_NETS, "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap0\"}",
                         false),
                     -1);
    assert_string_equal(err, "network-interfaces.host_dev_name: already used by network "
                             "interface \"eth0\"");
    assert_int_equal(set(CONFIG_NETS,
                         "{\"iface_id\": \"eth0\", \"rx_rate_limiter\": "
                         "{\"bandwidth\": {\"size\": 1, \"refill_time\": 1}}}",
                         true),
                     0);
    assert_int_equal(n->rx_rate_limiter.bandwidth.size, 1);
    assert_int_equal(n->tx_rate_limiter.ops.size, 100);
    assert_int_equal(set(CONFIG_NETS, "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap9\"}",
                         true),
                     -1);
    assert_string_equal(err, "network-interfaces: unknown key \"host_dev_name\"");
}

static void vsock_and_entropy(void **state)
{
    (void)state;
    assert_int_equal(set(CONFIG_VSOCK,
                         "{\"guest_cid\": 3, \"uds_path\": \"/v.sock\","
                         " \"vsock_id\": \"vsock0\"}",
                         false),
                     0);
    assert_true(c.vsock.on);
    assert_int_equal(c.vsock.guest_cid, 3);
    assert_string_equal(c.vsock.uds_path, "/v.sock");
    assert_int_equal(set(CONFIG_ENTROPY, "{}", false), 0);
    assert_true(c.entropy.on);
    assert_false(ratelimit_config_enabled(&c.entropy.rate_limiter));
    assert_int_equal(set(CONFIG_ENTROPY,
                         "{\"rate_limiter\": {\"bandwidth\": {\"size\": 64,"
                         " \"refill_time\": 10, \"one_time_burst\": null}}}",
                         false),
                     0);
    assert_int_equal(c.entropy.rate_limiter.bandwidth.size, 64);
    assert_int_equal(set(CONFIG_VSOCK, "{\"guest_cid\": 3}", true), -1);
    assert_string_equal(err, "vsock: cannot be patched");
}

static void bad_fields_are_named(void **state)
{
    (void)state;
    static const struct {
        enum config_section s;
        const char *body, *msg;
    } cases[] = {
        { CONFIG_DRIVES,
          "{\"drive_id\": \"a-b\", \"path_on_host\": \"/d\", \"is_root_device\": false}",
          "drives.drive_id: must be 1 to 64 letters, digits or underscores, got \"a-b\"" },
        { CONFIG_DRIVES, "{\"drive_id\": \"a\", \"is_root_device\": false}",
          "drives.path_on_host: missing required field" },
        { CONFIG_DRIVES, "{\"drive_id\": \"a\", \"path_on_host\": \"/d\"}",
          "drives.is_root_device: missing required field" },
        { CONFIG_DRIVES,
          "{\"drive_id\": \"a\", \"path_on_host\": \"/d\", \"is_root_device\": false,"
          " \"cache_type\": \"Fast\"}",
          "drives.cache_type: must be \"Unsafe\" or \"Writeback\", got \"Fast\"" },
        { CONFIG_DRIVES, "{\"drive_id\": \"a\", \"socket\": \"/s\", \"is_root_device\": false}",
          "drives.socket: vhost-user drives are not supported" },
        { CONFIG_DRIVES,
          "{\"drive_id\": \"a\", \"path_on_host\": \"/d\", \"is_root_device\": false,"
          " \"rate_limiter\": {\"bandwidth\": {\"size\": 1}}}",
          "drives.rate_limiter.bandwidth.refill_time: missing required field" },
        { CONFIG_DRIVES,
          "{\"drive_id\": \"a\", \"path_on_host\": \"/d\", \"is_root_device\": false,"
          " \"rate_limiter\": {\"bw\": {}}}",
          "drives.rate_limiter: unknown key \"bw\"" },
        { CONFIG_DRIVES,
          "{\"drive_id\": \"a\", \"path_on_host\": \"/d\", \"is_root_device\": false,"
          " \"rate_limiter\": {\"ops\": {\"size\": -1, \"refill_time\": 1}}}",
          "drives.rate_limiter.ops.size: must be between 0 and 9223372036854775807, got -1" },
        { CONFIG_NETS,
          "{\"iface_id\": \"e\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"06:00\"}",
          "network-interfaces.guest_mac: must be six hex bytes like \"06:00:ac:10:00:02\", got "
          "\"06:00\"" },
        { CONFIG_NETS, "{\"iface_id\": \"e\", \"host_dev_name\": \"a-very-long-tap-name\"}",
          "network-interfaces.host_dev_name: must be at most 15 characters" },
        { CONFIG_NETS, "{\"iface_id\": \"e\", \"host_dev_name\": \"t\", \"mtu\": 20}",
          "network-interfaces.mtu: must be between 68 and 65535, got 20" },
        { CONFIG_VSOCK, "{\"guest_cid\": 2, \"uds_path\": \"/v\"}",
          "vsock.guest_cid: must be between 3 and 4294967294, got 2" },
        { CONFIG_VSOCK, "{\"guest_cid\": 3}", "vsock.uds_path: missing required field" },
        { CONFIG_ENTROPY, "{\"rate_limiter\": 5}",
          "entropy.rate_limiter: must be an object or null, got an integer" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(set(cases[i].s, cases[i].body, false), -1);
        assert_string_equal(err, cases[i].msg);
    }
    assert_int_equal(c.ndrives, 0);
    assert_int_equal(c.nnets, 0);
    /* At most CONFIG_MAX_DRIVES drives. */
    for (int i = 0; i <= CONFIG_MAX_DRIVES; i++) {
        char body[128];
        snprintf(body, sizeof(body),
                 "{\"drive_id\": \"d%d\", \"path_on_host\": \"/d\", \"is_root_device\": false}", i);
        assert_int_equal(set(CONFIG_DRIVES, body, false), i < CONFIG_MAX_DRIVES ? 0 : -1);
    }
    assert_string_equal(err, "drives: at most 8 drives");
}

/* The file's lists, GET /vm/config's shapes, and back. */
static void file_lists_and_round_trip(void **state)
{
    (void)state;
    const char *json =
        "{\"boot-source\": {\"kernel_image_path\": \"/k\"},"
        " \"drives\": [{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r\", \"is_root_device\": true,"
        "   \"is_read_only\": false},"
        "  {\"drive_id\": \"scratch\", \"path_on_host\": \"/s\", \"is_root_device\": false,"
        "   \"rate_limiter\": {\"bandwidth\": {\"size\": 1048576, \"refill_time\": 1000},"
        "   \"ops\": null}}],"
        " \"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\","
        "   \"guest_mac\": \"06:00:ac:10:00:02\"}],"
        " \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/v\"}, \"entropy\": {}}";
    config_free(&c);
    assert_int_equal(config_parse_buffer(json, strlen(json), &c, err, sizeof(err)), 0);
    json_t *out = config_to_json(&c);
    char *text = json_dumps(json_object_get(out, "drives"), JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(
        text, "[{\"drive_id\":\"rootfs\",\"partuuid\":null,\"is_root_device\":true,"
              "\"cache_type\":\"Unsafe\",\"is_read_only\":false,\"path_on_host\":\"/r\","
              "\"rate_limiter\":null,\"io_engine\":\"Sync\",\"socket\":null},"
              "{\"drive_id\":\"scratch\",\"partuuid\":null,\"is_root_device\":false,"
              "\"cache_type\":\"Unsafe\",\"is_read_only\":false,\"path_on_host\":\"/s\","
              "\"rate_limiter\":{\"bandwidth\":{\"size\":1048576,\"one_time_burst\":null,"
              "\"refill_time\":1000},\"ops\":null},\"io_engine\":\"Sync\",\"socket\":null}]");
    free(text);
    text =
        json_dumps(json_object_get(out, "network-interfaces"), JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(text, "[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\","
                              "\"guest_mac\":\"06:00:ac:10:00:02\",\"mtu\":null,"
                              "\"rx_rate_limiter\":null,\"tx_rate_limiter\":null}]");
    free(text);
    text = json_dumps(json_object_get(out, "vsock"), JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(text, "{\"guest_cid\":3,\"uds_path\":\"/v\"}");
    free(text);
    text = json_dumps(json_object_get(out, "entropy"), JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(text, "{\"rate_limiter\":null}");
    free(text);
    struct vm_config b;
    assert_int_equal(config_parse_json(out, &b, err, sizeof(err)), 0);
    json_t *again = config_to_json(&b);
    assert_true(json_equal(out, again));
    /* A deep copy survives the original. */
    struct vm_config d;
    assert_int_equal(config_copy(&d, &b), 0);
    config_free(&b);
    assert_string_equal(d.drives[1].path_on_host, "/s");
    assert_string_equal(d.nets[0].host_dev_name, "tap0");
    assert_string_equal(d.vsock.uds_path, "/v");
    config_free(&d);
    json_decref(out);
    json_decref(again);
    /* An element's errors name its index. */
    const char *bad = "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"network-interfaces\":"
                      " [{\"iface_id\": \"a\", \"host_dev_name\": \"t\"}, {\"iface_id\": \"b\"}]}";
    struct vm_config e;
    assert_int_equal(config_parse_buffer(bad, strlen(bad), &e, err, sizeof(err)), -1);
    assert_string_equal(err, "network-interfaces[1].host_dev_name: missing required field");
    assert_int_equal(e.nnets, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(drives_put_replace_and_keep_the_root_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(drive_patch_changes_path_and_limiter_only, setup, teardown),
        cmocka_unit_test_setup_teardown(network_interfaces, setup, teardown),
        cmocka_unit_test_setup_teardown(vsock_and_entropy, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_fields_are_named, setup, teardown),
        cmocka_unit_test_setup_teardown(file_lists_and_round_trip, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
