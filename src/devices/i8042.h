/* The i8042 keyboard controller, present so guests can reset the machine:
 * command 0xFE on port 0x64 stops the VM with exit status 0. */
#ifndef HEARTH_I8042_H
#define HEARTH_I8042_H

#include "bus/device.h"
#include "core/trap.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_BUF_CAP 16

typedef void i8042_reset_fn(void *ctx);
typedef void i8042_irq_fn(void *ctx);

struct i8042 {
    pthread_mutex_t lock;
    uint8_t status;
    uint8_t ctr;         /* controller configuration ("command byte") */
    uint8_t pending_cmd; /* command waiting for its data byte, or 0 */
    uint8_t buf[I8042_BUF_CAP];
    int buf_head, buf_count;
    i8042_reset_fn *reset;
    i8042_irq_fn *irq;
    void *ctx;
    uint64_t reads, writes, resets; /* for metrics, under lock */
};

/* Both ports use these ops; register data at 0x60 and command at 0x64. */
extern const struct trap_ops i8042_data_ops;
extern const struct trap_ops i8042_cmd_ops;

void i8042_init(struct i8042 *k, i8042_reset_fn *reset, i8042_irq_fn *irq, void *ctx);
void i8042_destroy(struct i8042 *k);

/* Presses and releases Ctrl+Alt+Del on the keyboard (scan code set 1
 * while the controller translates, as Linux sets it up; set 2 otherwise)
 * and interrupts the guest: Linux then reboots, or signals its init. */
void i8042_ctrl_alt_del(struct i8042 *k);

/* Counters for metrics: data/command reads and writes, reset requests. */
void i8042_counts(struct i8042 *k, uint64_t *reads, uint64_t *writes, uint64_t *resets);

/* The lifecycle: one controller, always. */
extern const struct device_ops i8042_device;

#endif
