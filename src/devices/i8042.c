/* i8042 controller: enough of the command set for Linux's probe and reset. */
#include "devices/i8042.h"

#include "arch/x86_64/layout.h"
#include "bus/manager.h"
#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_OBF 0x01 /* output buffer full */
#define ST_SYS 0x04 /* self test passed */
#define ST_CMD 0x08 /* last write was a command */
#define CTR_KBD_INT 0x01
#define CTR_TRANSLATE 0x40

#define CMD_READ_CTR 0x20
#define CMD_WRITE_CTR 0x60
#define CMD_DISABLE_AUX 0xa7
#define CMD_ENABLE_AUX 0xa8
#define CMD_TEST_AUX 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_TEST_KBD 0xab
#define CMD_DISABLE_KBD 0xad
#define CMD_ENABLE_KBD 0xae
#define CMD_READ_OUTP 0xd0
#define CMD_WRITE_OUTP 0xd1
#define CMD_RESET_CPU 0xfe

#define KBD_ACK 0xfa
#define KBD_RESET 0xff
#define KBD_SELF_TEST_OK 0xaa

static void push_locked(struct i8042 *k, uint8_t b)
{
    if (k->buf_count < I8042_BUF_CAP) {
        k->buf[(k->buf_head + k->buf_count) % I8042_BUF_CAP] = b;
        k->buf_count++;
    }
    k->status |= ST_OBF;
}

static void data_read(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    (void)offset;
    struct i8042 *k = dev;
    uint8_t v = 0;
    pthread_mutex_lock(&k->lock);
    k->reads++;
    if (k->buf_count) {
        v = k->buf[k->buf_head];
        k->buf_head = (k->buf_head + 1) % I8042_BUF_CAP;
        k->buf_count--;
    }
    if (!k->buf_count)
        k->status &= (uint8_t)~ST_OBF;
    /* Linux reads one byte per interrupt: the next one needs its own. */
    bool irq = k->buf_count && (k->ctr & CTR_KBD_INT);
    pthread_mutex_unlock(&k->lock);
    memset(data, 0, len);
    data[0] = v;
    if (irq && k->irq)
        k->irq(k->ctx);
}

static void data_write(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    (void)offset;
    (void)len;
    struct i8042 *k = dev;
    bool irq = false;
    pthread_mutex_lock(&k->lock);
    k->writes++;
    k->status &= (uint8_t)~ST_CMD;
    switch (k->pending_cmd) {
    case CMD_WRITE_CTR: k->ctr = data[0]; break;
    case CMD_WRITE_OUTP: break; /* output port writes (A20, reset line) have no effect here */
    default:
        /* A byte for the keyboard itself: acknowledge it like a real one. */
        push_locked(k, KBD_ACK);
        if (data[0] == KBD_RESET)
            push_locked(k, KBD_SELF_TEST_OK);
        irq = k->ctr & CTR_KBD_INT;
        break;
    }
    k->pending_cmd = 0;
    pthread_mutex_unlock(&k->lock);
    if (irq && k->irq)
        k->irq(k->ctx);
}

static void cmd_read(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    (void)offset;
    struct i8042 *k = dev;
    pthread_mutex_lock(&k->lock);
    k->reads++;
    memset(data, 0, len);
    data[0] = k->status;
    pthread_mutex_unlock(&k->lock);
}

static void cmd_write(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    (void)offset;
    (void)len;
    struct i8042 *k = dev;
    uint8_t cmd = data[0];
    pthread_mutex_lock(&k->lock);
    k->writes++;
    if (cmd == CMD_RESET_CPU) {
        k->resets++;
        pthread_mutex_unlock(&k->lock);
        k->reset(k->ctx);
        return;
    }
    k->status |= ST_CMD;
    k->pending_cmd = 0;
    switch (cmd) {
    case CMD_READ_CTR: push_locked(k, k->ctr); break;
    case CMD_WRITE_CTR:
    case CMD_WRITE_OUTP: k->pending_cmd = cmd; break;
    case CMD_SELF_TEST: push_locked(k, 0x55); break;
    case CMD_TEST_KBD:
    case CMD_TEST_AUX: push_locked(k, 0x00); break;
    case CMD_READ_OUTP: push_locked(k, 0x01); break; /* reset line not asserted */
    case CMD_DISABLE_AUX: k->ctr |= 0x20; break;
    case CMD_ENABLE_AUX: k->ctr &= (uint8_t)~0x20; break;
    case CMD_DISABLE_KBD: k->ctr |= 0x10; break;
    case CMD_ENABLE_KBD: k->ctr &= (uint8_t)~0x10; break;
    default: break; /* unknown commands are ignored, as real controllers do */
    }
    pthread_mutex_unlock(&k->lock);
}

const struct trap_ops i8042_data_ops = { .name = "i8042-data",
                                         .read = data_read,
                                         .write = data_write };
const struct trap_ops i8042_cmd_ops = { .name = "i8042-cmd", .read = cmd_read, .write = cmd_write };

void i8042_init(struct i8042 *k, i8042_reset_fn *reset, i8042_irq_fn *irq, void *ctx)
{
    memset(k, 0, sizeof(*k));
    pthread_mutex_init(&k->lock, NULL);
    k->status = ST_SYS;
    k->ctr = 0x45; /* kbd interrupt on, system flag, translation */
    k->reset = reset;
    k->irq = irq;
    k->ctx = ctx;
}

void i8042_destroy(struct i8042 *k) { pthread_mutex_destroy(&k->lock); }

void i8042_ctrl_alt_del(struct i8042 *k)
{
    static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
    static const uint8_t set2[] = {
        0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14
    };
    pthread_mutex_lock(&k->lock);
    bool translated = k->ctr & CTR_TRANSLATE;
    const uint8_t *codes = translated ? set1 : set2;
    size_t n = translated ? sizeof(set1) : sizeof(set2);
    for (size_t i = 0; i < n; i++)
        push_locked(k, codes[i]);
    bool irq = k->ctr & CTR_KBD_INT;
    pthread_mutex_unlock(&k->lock);
    if (irq && k->irq)
        k->irq(k->ctx);
}

void i8042_counts(struct i8042 *k, uint64_t *reads, uint64_t *writes, uint64_t *resets)
{
    pthread_mutex_lock(&k->lock);
    *reads = k->reads;
    *writes = k->writes;
    *resets = k->resets;
    pthread_mutex_unlock(&k->lock);
}

/* The lifecycle: the controller at 0x60/0x64, its interrupt on IRQ_I8042;
 * the guest's reset through it stops the VM (status 0). */

static void i8042_vm_irq(void *ctx) { vm_irq_pulse(ctx, IRQ_I8042); }

static void i8042_vm_reset(void *ctx)
{
    vm_request_stop(ctx, HEARTH_EXIT_OK, "guest requested a reset through the i8042");
}

static void i8042_device_destroy(void *dev)
{
    i8042_destroy(dev);
    free(dev);
}

static int i8042_create(const struct device_env *env, int index, char *err, size_t errlen)
{
    (void)index;
    struct i8042 *k = calloc(1, sizeof(*k));
    if (!k) {
        snprintf(err, errlen, "i8042: out of memory");
        return -1;
    }
    i8042_init(k, i8042_vm_reset, i8042_vm_irq, env->dm->vm);
    const struct devmgr_device d = {
        .ops = &i8042_device,
        .name = "i8042",
        .dev = k,
        .nranges = 2,
        .ranges = { { TRAP_PIO, I8042_DATA_PORT, 1, &i8042_data_ops },
                    { TRAP_PIO, I8042_CMD_PORT, 1, &i8042_cmd_ops } },
        .acpi_name = "PS2_",
        .acpi_hid = "PNP0303",
        .nirq = 1,
        .irq = IRQ_I8042,
    };
    return devmgr_add(env->dm, &d, err, errlen) < 0 ? -1 : 0;
}

/* Firecracker's "i8042" group. */
static void i8042_metrics(void *const *devs, int n, json_t *o)
{
    static const char *const names[] = { "read_count", "write_count", "reset_count" };
    uint64_t v[3] = { 0 };
    if (n > 0)
        i8042_counts(devs[0], &v[0], &v[1], &v[2]);
    json_object_set_new(o, "i8042", metrics_counters(names, v, 3));
}

const struct device_ops i8042_device = {
    .name = "i8042",
    .section = CONFIG_NSECTIONS,
    .create = i8042_create,
    .destroy = i8042_device_destroy,
    .metrics = i8042_metrics,
};
