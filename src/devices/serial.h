/* COM1: a 16550A-compatible UART whose output goes to a file descriptor and
 * whose input is fed by the event loop. */
#ifndef HEARTH_SERIAL_H
#define HEARTH_SERIAL_H

#include "core/trap.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_PORT_BASE 0x3f8
#define SERIAL_PORT_LEN 8
#define SERIAL_RX_CAP 4096
#define SERIAL_TX_CAP 256

/* Raises (1) or lowers (0) the device's interrupt line. */
typedef void serial_irq_fn(void *ctx, int level);

struct serial {
    pthread_mutex_t lock;
    int out_fd;
    serial_irq_fn *irq;
    void *irq_ctx;
    int irq_level;

    uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
    bool thr_pending; /* "transmitter empty" interrupt not yet acknowledged */

    uint8_t rx[SERIAL_RX_CAP];
    size_t rx_head, rx_count;
    uint64_t rx_dropped;

    uint8_t tx[SERIAL_TX_CAP]; /* output is written a line at a time */
    size_t tx_len;
};

extern const struct trap_ops serial_ops;

void serial_init(struct serial *s, int out_fd, serial_irq_fn *irq, void *irq_ctx);
void serial_destroy(struct serial *s);

/* Queues guest input; returns how many bytes were accepted (the rest is
 * dropped and counted when the receive buffer is full). */
size_t serial_push_input(struct serial *s, const uint8_t *data, size_t len);

/* Writes out any buffered output. */
void serial_flush(struct serial *s);

#endif
