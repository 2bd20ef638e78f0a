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
/* Output the console has not taken yet: a Linux boot log is ~50 KiB, and a
 * reader that keeps up never lets this fill. */
#define SERIAL_TX_CAP 65536

/* Raises (1) or lowers (0) the device's interrupt line. */
typedef void serial_irq_fn(void *ctx, int level);

/*
 * Output path: a vCPU writing THR only appends to the tx ring under the lock
 * and, when the ring was idle, bumps kick_fd (an eventfd). The event loop
 * then calls serial_drain, which writes to out_fd without blocking. So no
 * vCPU ever waits on the console, and a stalled console only fills the ring;
 * past that, bytes are dropped and counted.
 */
struct serial {
    pthread_mutex_t lock;
    int out_fd;  /* non-blocking unless it is a regular file; -1: discard */
    int kick_fd; /* -1: no loop; output waits for serial_drain / serial_flush */
    serial_irq_fn *irq;
    void *irq_ctx;
    int irq_level;

    uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
    bool thr_pending; /* "transmitter empty" interrupt not yet acknowledged */

    uint8_t rx[SERIAL_RX_CAP];
    size_t rx_head, rx_count;
    uint64_t rx_dropped;

    uint8_t tx[SERIAL_TX_CAP];
    size_t tx_head, tx_count;
    bool tx_kicked;              /* kick_fd bumped and the ring not yet drained empty */
    bool tx_broken;              /* out_fd failed for good: output is discarded */
    uint64_t tx_dropped;         /* bytes lost to a full ring or a broken console */
    uint64_t rx_bytes, tx_bytes; /* bytes the guest read and wrote */
    bool tx_drop_logged;
};

extern const struct trap_ops serial_ops;

void serial_init(struct serial *s, int out_fd, serial_irq_fn *irq, void *irq_ctx);
/* Discards what is still buffered (call serial_flush first) and logs how
 * much output was dropped over the run, if any. */
void serial_destroy(struct serial *s);

/* Sets the eventfd bumped when output is waiting; call before the vCPUs run. */
void serial_set_kick(struct serial *s, int kick_fd);

/* Queues guest input; returns how many bytes were accepted (the rest is
 * dropped and counted when the receive buffer is full). */
size_t serial_push_input(struct serial *s, const uint8_t *data, size_t len);

/* For the event loop: writes buffered output to out_fd until the ring is
 * empty (returns 0) or out_fd would block (returns -EAGAIN: call again when
 * it is writable). A hard write error discards output from then on and
 * returns 0. Never blocks unless out_fd does. */
int serial_drain(struct serial *s);

/* At shutdown, with no vCPU running: drains, waiting at most timeout_ms in
 * all for a slow console. Returns how many bytes could not be written. */
size_t serial_flush(struct serial *s, int timeout_ms);

/* For metrics: bytes the guest read and wrote, and those lost each way. */
struct serial_counts {
    uint64_t rx_bytes, tx_bytes, rx_dropped, tx_dropped;
};
void serial_counts(struct serial *s, struct serial_counts *out);

/* Bytes of output dropped so far. */
uint64_t serial_tx_dropped(struct serial *s);

#endif
