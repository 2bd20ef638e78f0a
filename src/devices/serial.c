/* 16550A UART emulation for COM1. */
#include "devices/serial.h"

#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

enum {
    REG_DATA = 0, /* RBR / THR, or DLL with DLAB */
    REG_IER = 1,  /* or DLM with DLAB */
    REG_IIR = 2,  /* read; FCR on write */
    REG_LCR = 3,
    REG_MCR = 4,
    REG_LSR = 5,
    REG_MSR = 6,
    REG_SCR = 7,
};

#define IER_RDI 0x01
#define IER_THRI 0x02
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xc0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_LOOP 0x10
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_DCD 0x80

static void kick_locked(struct serial *s)
{
    uint64_t one = 1;
    if (s->kick_fd >= 0 && write(s->kick_fd, &one, sizeof(one)) < 0) {
        /* An eventfd only refuses at a counter near 2^64: already signalled. */
    }
}

/*
 * A full ring drops the byte instead of clearing THRE to hold the guest
 * back: a real UART's line never waits for a listener, and Linux writes its
 * console polling THRE with interrupts off, so backpressure from a console
 * nobody reads would stall the guest kernel rather than lose log lines.
 */
static void tx_put_locked(struct serial *s, uint8_t b)
{
    if (s->out_fd < 0)
        return;
    if (s->tx_broken || s->tx_count == SERIAL_TX_CAP) {
        if (s->tx_dropped++ == 0 && !s->tx_broken)
            kick_locked(s); /* the loop logs the first loss now, not at exit */
        return;
    }
    s->tx[(s->tx_head + s->tx_count) % SERIAL_TX_CAP] = b;
    s->tx_count++;
    if (!s->tx_kicked) {
        s->tx_kicked = true; /* one wake-up per burst, not one per byte */
        kick_locked(s);
    }
}

static uint8_t iir_locked(const struct serial *s)
{
    uint8_t fifo = (s->fcr & FCR_ENABLE) ? IIR_FIFO : 0;
    if ((s->ier & IER_RDI) && s->rx_count)
        return fifo | IIR_RDI;
    if ((s->ier & IER_THRI) && s->thr_pending)
        return fifo | IIR_THRI;
    return fifo | IIR_NONE;
}

static void update_irq_locked(struct serial *s)
{
    int level = (iir_locked(s) & IIR_NONE) ? 0 : 1;
    if (level != s->irq_level) {
        s->irq_level = level;
        if (s->irq)
            s->irq(s->irq_ctx, level);
    }
}

static void rx_put_locked(struct serial *s, uint8_t b)
{
    if (s->rx_count == SERIAL_RX_CAP) {
        s->rx_dropped++;
        return;
    }
    s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_CAP] = b;
    s->rx_count++;
}

static void transmit_locked(struct serial *s, uint8_t b)
{
    if (s->mcr & MCR_LOOP) {
        rx_put_locked(s, b);
    } else {
        tx_put_locked(s, b);
    }
    s->thr_pending = true; /* transmission is instant: THR is empty again */
}

static uint8_t msr_locked(const struct serial *s)
{
    if (!(s->mcr & MCR_LOOP))
        return MSR_DCD | MSR_DSR | MSR_CTS;
    /* Loopback mirrors the modem outputs onto the inputs (Linux probes this). */
    return (uint8_t)(((s->mcr & 0x02) << 3) | ((s->mcr & 0x01) << 5) | ((s->mcr & 0x04) << 4) |
                     ((s->mcr & 0x08) << 4));
}

static void serial_read(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    struct serial *s = dev;
    uint8_t v = 0;
    pthread_mutex_lock(&s->lock);
    switch (offset) {
    case REG_DATA:
        if (s->lcr & LCR_DLAB) {
            v = s->dll;
        } else if (s->rx_count) {
            v = s->rx[s->rx_head];
            s->rx_head = (s->rx_head + 1) % SERIAL_RX_CAP;
            s->rx_count--;
            s->rx_bytes++;
        }
        break;
    case REG_IER: v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier; break;
    case REG_IIR:
        v = iir_locked(s);
        if ((v & 0x0f) == IIR_THRI)
            s->thr_pending = false; /* reading IIR acknowledges THRE */
        break;
    case REG_LCR: v = s->lcr; break;
    case REG_MCR: v = s->mcr; break;
    case REG_LSR: v = (uint8_t)(LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0)); break;
    case REG_MSR: v = msr_locked(s); break;
    case REG_SCR: v = s->scr; break;
    default: break;
    }
    update_irq_locked(s);
    pthread_mutex_unlock(&s->lock);
    memset(data, 0, len);
    data[0] = v;
}

static void serial_write(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    (void)len;
    struct serial *s = dev;
    uint8_t v = data[0];
    pthread_mutex_lock(&s->lock);
    switch (offset) {
    case REG_DATA:
        if (s->lcr & LCR_DLAB) {
            s->dll = v;
        } else {
            s->tx_bytes++;
            transmit_locked(s, v);
        }
        break;
    case REG_IER:
        if (s->lcr & LCR_DLAB) {
            s->dlm = v;
        } else {
            if (!(s->ier & IER_THRI) && (v & IER_THRI))
                s->thr_pending = true; /* enabling THRI with THR empty fires at once */
            s->ier = v & 0x0f;
        }
        break;
    case REG_IIR:
        s->fcr = v;
        if (v & FCR_CLEAR_RX)
            s->rx_head = s->rx_count = 0;
        break;
    case REG_LCR: s->lcr = v; break;
    case REG_MCR: s->mcr = v & 0x1f; break;
    case REG_SCR: s->scr = v; break;
    default: break; /* LSR and MSR are read-only */
    }
    update_irq_locked(s);
    pthread_mutex_unlock(&s->lock);
}

const struct trap_ops serial_ops = {
    .name = "serial",
    .read = serial_read,
    .write = serial_write,
};

void serial_init(struct serial *s, int out_fd, serial_irq_fn *irq, void *irq_ctx)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->out_fd = out_fd;
    s->kick_fd = -1;
    s->irq = irq;
    s->irq_ctx = irq_ctx;
    s->dll = 0x0c; /* 9600 baud, as firmware would leave it */
    s->lcr = 0x03; /* 8N1 */
    s->mcr = 0x08; /* OUT2 */
}

void serial_destroy(struct serial *s)
{
    pthread_mutex_lock(&s->lock);
    s->tx_dropped += s->tx_count;
    s->tx_head = s->tx_count = 0;
    uint64_t dropped = s->tx_dropped;
    pthread_mutex_unlock(&s->lock);
    if (dropped)
        log_warn("serial: %llu bytes of guest output were dropped in all",
                 (unsigned long long)dropped);
    pthread_mutex_destroy(&s->lock);
}

void serial_set_kick(struct serial *s, int kick_fd)
{
    pthread_mutex_lock(&s->lock);
    s->kick_fd = kick_fd;
    pthread_mutex_unlock(&s->lock);
}

size_t serial_push_input(struct serial *s, const uint8_t *data, size_t len)
{
    pthread_mutex_lock(&s->lock);
    size_t room = SERIAL_RX_CAP - s->rx_count;
    size_t n = len < room ? len : room;
    for (size_t i = 0; i < len; i++)
        rx_put_locked(s, data[i]);
    update_irq_locked(s);
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void report_drops(struct serial *s)
{
    pthread_mutex_lock(&s->lock);
    bool first = s->tx_dropped && !s->tx_drop_logged;
    s->tx_drop_logged |= first;
    pthread_mutex_unlock(&s->lock);
    if (first)
        log_warn("serial: the console is not taking output; guest output is being dropped");
}

static void tx_break(struct serial *s, int err)
{
    pthread_mutex_lock(&s->lock);
    s->tx_broken = true;
    s->tx_dropped += s->tx_count;
    s->tx_head = s->tx_count = 0;
    s->tx_kicked = false;
    s->tx_drop_logged = true; /* this line says it */
    pthread_mutex_unlock(&s->lock);
    log_warn("serial: writing guest output failed (%s); it is discarded from now on",
             strerror(err));
}

int serial_drain(struct serial *s)
{
    report_drops(s);
    for (;;) {
        /* Only this thread consumes, and producers only fill the free part of
         * the ring, so the bytes at head stay put while written unlocked. */
        pthread_mutex_lock(&s->lock);
        size_t head = s->tx_head, n = s->tx_count;
        if (n == 0 || s->tx_broken) {
            s->tx_kicked = false; /* the next byte must wake the loop again */
            pthread_mutex_unlock(&s->lock);
            return 0;
        }
        pthread_mutex_unlock(&s->lock);
        if (n > SERIAL_TX_CAP - head)
            n = SERIAL_TX_CAP - head;
        ssize_t w = write(s->out_fd, s->tx + head, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return -EAGAIN;
        if (w <= 0) {
            tx_break(s, w < 0 ? errno : EIO);
            return 0;
        }
        pthread_mutex_lock(&s->lock);
        s->tx_head = (s->tx_head + (size_t)w) % SERIAL_TX_CAP;
        s->tx_count -= (size_t)w;
        pthread_mutex_unlock(&s->lock);
    }
}

size_t serial_flush(struct serial *s, int timeout_ms)
{
    uint64_t deadline = mono_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000;
    while (serial_drain(s) == -EAGAIN) {
        uint64_t now = mono_ns();
        if (now >= deadline)
            break;
        struct pollfd p = { .fd = s->out_fd, .events = POLLOUT };
        int wait_ms = (int)((deadline - now + 999999) / 1000000);
        if (poll(&p, 1, wait_ms) < 0 && errno != EINTR)
            break;
    }
    pthread_mutex_lock(&s->lock);
    size_t left = s->tx_count;
    pthread_mutex_unlock(&s->lock);
    return left;
}

uint64_t serial_tx_dropped(struct serial *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t n = s->tx_dropped;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void serial_counts(struct serial *s, struct serial_counts *out)
{
    pthread_mutex_lock(&s->lock);
    *out = (struct serial_counts){ s->rx_bytes, s->tx_bytes, s->rx_dropped, s->tx_dropped };
    pthread_mutex_unlock(&s->lock);
}
