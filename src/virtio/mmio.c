/* virtio-mmio version 2 register interface. */
#include "virtio/mmio.h"

#include "core/log.h"
#include "core/ratelimit.h"

#include <string.h>
#include <unistd.h>

enum {
    MAGIC = 0x000,
    VERSION = 0x004,
    DEVICE_ID = 0x008,
    VENDOR_ID = 0x00c,
    DEVICE_FEATURES = 0x010,
    DEVICE_FEATURES_SEL = 0x014,
    DRIVER_FEATURES = 0x020,
    DRIVER_FEATURES_SEL = 0x024,
    QUEUE_SEL = 0x030,
    QUEUE_NUM_MAX = 0x034,
    QUEUE_NUM = 0x038,
    QUEUE_READY = 0x044,
    QUEUE_NOTIFY = 0x050,
    INTERRUPT_STATUS = 0x060,
    INTERRUPT_ACK = 0x064,
    STATUS = 0x070,
    QUEUE_DESC_LOW = 0x080,
    QUEUE_DESC_HIGH = 0x084,
    QUEUE_DRIVER_LOW = 0x090,
    QUEUE_DRIVER_HIGH = 0x094,
    QUEUE_DEVICE_LOW = 0x0a0,
    QUEUE_DEVICE_HIGH = 0x0a4,
    CONFIG_GENERATION = 0x0fc,
};

#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */
#define VIRTIO_VENDOR_ID 0x48525448  /* "HRTH" */

static uint64_t all_features(const struct virtio_mmio *m)
{
    return m->features | VIRTIO_F_VERSION_1;
}

static struct virtq *selected(struct virtio_mmio *m)
{
    return m->queue_sel < (uint32_t)m->ops->nqueues ? &m->queues[m->queue_sel] : NULL;
}

/* Ends the current life of queue i: whatever the device took from it under
 * the old generation must not be returned into it. */
static void queue_retire_locked(struct virtio_mmio *m, int i)
{
    m->queues[i].ready = false;
    m->queue_gen[i]++;
}

static void reset_locked(struct virtio_mmio *m)
{
    m->ops->reset(m->dev);
    m->status = m->int_status = m->queue_sel = 0;
    m->dev_features_sel = m->drv_features_sel = 0;
    m->driver_features = 0;
    memset(m->queues, 0, sizeof(m->queues));
    for (int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
        queue_retire_locked(m, i);
}

/* True when every bit of `set` and none of `clear` is in the status. */
static bool status_is(const struct virtio_mmio *m, uint32_t set, uint32_t clear)
{
    return (m->status & set) == set && !(m->status & clear);
}

#define CONFIG_SPACE 0x100

/* Device configuration space: any width, checked here against the
 * device's size so the hooks never see an access outside it. */
static void config_access(struct virtio_mmio *m, uint64_t offset, uint8_t *data, uint32_t len,
                          bool write)
{
    uint64_t off = offset - CONFIG_SPACE;
    if (off >= m->ops->config_size || len > m->ops->config_size - off)
        return;
    pthread_mutex_lock(&m->lock);
    if (write && m->ops->config_write)
        m->ops->config_write(m->dev, (uint32_t)off, data, len);
    else if (!write && m->ops->config_read)
        m->ops->config_read(m->dev, (uint32_t)off, data, len);
    pthread_mutex_unlock(&m->lock);
}

static void mmio_read(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    struct virtio_mmio *m = dev;
    uint32_t v = 0;
    memset(data, 0, len);
    if (offset >= CONFIG_SPACE) {
        config_access(m, offset, data, len, false);
        return;
    }
    if (len != 4)
        return; /* the spec allows only 32-bit register access */
    pthread_mutex_lock(&m->lock);
    struct virtq *q = selected(m);
    switch (offset) {
    case MAGIC: v = VIRTIO_MMIO_MAGIC; break;
    case VERSION: v = 2; break;
    case DEVICE_ID: v = m->ops->device_id; break;
    case VENDOR_ID: v = VIRTIO_VENDOR_ID; break;
    case DEVICE_FEATURES:
        v = m->dev_features_sel < 2 ? (uint32_t)(all_features(m) >> (32 * m->dev_features_sel)) : 0;
        break;
    case QUEUE_NUM_MAX: v = q ? m->ops->queue_max : 0; break;
    case QUEUE_READY: v = q ? q->ready : 0; break;
    case INTERRUPT_STATUS: v = m->int_status; break;
    case STATUS: v = m->status; break;
    case CONFIG_GENERATION: v = m->config_gen; break;
    default: break;
    }
    pthread_mutex_unlock(&m->lock);
    memcpy(data, &v, 4);
}

static void set_addr(uint64_t *a, bool high, uint32_t v)
{
    *a = high ? (*a & 0xffffffffULL) | (uint64_t)v << 32 : (*a & ~0xffffffffULL) | v;
}

#define S_ACK VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRIVER VIRTIO_STATUS_DRIVER
#define S_FEATURES_OK VIRTIO_STATUS_FEATURES_OK
#define S_DRIVER_OK VIRTIO_STATUS_DRIVER_OK

/* The driver's initialization sequence (virtio 1.2 §3.1.1) as the only
 * status each step may move to: one bit more, in order. Anything else but
 * a reset (0) or FAILED is a driver bug the device refuses. */
static const struct {
    uint32_t from, to;
} status_steps[] = {
    { 0, S_ACK },
    { S_ACK, S_ACK | S_DRIVER },
    { S_ACK | S_DRIVER, S_ACK | S_DRIVER | S_FEATURES_OK },
    { S_ACK | S_DRIVER | S_FEATURES_OK, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK },
};

static bool status_step_valid(uint32_t from, uint32_t to)
{
    for (size_t i = 0; i < sizeof(status_steps) / sizeof(status_steps[0]); i++)
        if (status_steps[i].from == from && status_steps[i].to == to)
            return true;
    return false;
}

static void status_write_locked(struct virtio_mmio *m, uint32_t v)
{
    if (v == 0) {
        reset_locked(m);
        return;
    }
    /* DEVICE_NEEDS_RESET is ours: a driver writes back what it read. */
    v &= ~(uint32_t)VIRTIO_STATUS_NEEDS_RESET;
    uint32_t cur = m->status & ~(uint32_t)VIRTIO_STATUS_NEEDS_RESET;
    if (v & VIRTIO_STATUS_FAILED) {
        /* The driver gave up; allowed at any step. Nothing runs until a reset. */
        m->status |= VIRTIO_STATUS_FAILED;
        return;
    }
    if (v == cur)
        return; /* a rewrite of the same bits changes nothing */
    if (!status_step_valid(cur, v)) {
        if (!m->warned_status)
            log_warn("virtio-%s: status 0x%x -> 0x%x refused (not the next step of the "
                     "initialization sequence); logged once",
                     m->ops->name, cur, v);
        m->warned_status = true;
        return;
    }
    if (v & ~cur & VIRTIO_STATUS_FEATURES_OK) {
        /* Only what we offered, and never without VERSION_1 on version 2.
         * Refused features leave FEATURES_OK clear: the driver reads the
         * status back to learn that. */
        uint64_t f = m->driver_features;
        if ((f & ~all_features(m)) || !(f & VIRTIO_F_VERSION_1)) {
            if (!m->warned_features)
                log_warn("virtio-%s: driver features 0x%llx refused; logged once", m->ops->name,
                         (unsigned long long)f);
            m->warned_features = true;
            return;
        }
    }
    m->status = v | (m->status & VIRTIO_STATUS_NEEDS_RESET);
    if ((v & VIRTIO_STATUS_DRIVER_OK) && m->ops->activate)
        m->ops->activate(m->dev, m);
}

static void mmio_write(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    struct virtio_mmio *m = dev;
    if (offset >= CONFIG_SPACE) {
        config_access(m, offset, data, len, true);
        return;
    }
    if (len != 4)
        return;
    uint32_t v;
    memcpy(&v, data, 4);
    pthread_mutex_lock(&m->lock);
    struct virtq *q = selected(m);
    /* Queues are set up after feature negotiation and before DRIVER_OK
     * (§3.1.1 step 7), each while it is not live. */
    bool q_setup =
        status_is(m, VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED);
    bool q_config = q && !q->ready && q_setup;
    switch (offset) {
    case DEVICE_FEATURES_SEL: m->dev_features_sel = v; break;
    case DRIVER_FEATURES_SEL: m->drv_features_sel = v; break;
    case DRIVER_FEATURES:
        if (m->drv_features_sel < 2 &&
            status_is(m, VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_FAILED))
            set_addr(&m->driver_features, m->drv_features_sel == 1, v);
        break;
    case QUEUE_SEL: m->queue_sel = v; break;
    case QUEUE_NUM:
        if (q_config)
            q->size = (uint16_t)(v > 0xffff ? 0 : v);
        break;
    case QUEUE_READY:
        if (!q)
            break;
        if (v == 1 && !q->ready && q_setup) {
            if (virtq_valid(q, m->mem, m->ops->queue_max)) {
                q->ready = true;
                q->event_idx = m->driver_features & VIRTIO_RING_F_EVENT_IDX;
            } else {
                /* NEEDS_RESET does not stop the driver's next QueueReady:
                 * once per device, like every other driver mistake. */
                if (!m->warned_queue)
                    log_warn("virtio-%s: queue %u refused (size %u or rings outside RAM); "
                             "logged once",
                             m->ops->name, m->queue_sel, q->size);
                m->warned_queue = true;
                m->status |= VIRTIO_STATUS_NEEDS_RESET;
            }
        } else if (v == 0 && q->ready) {
            /* Stopping a queue is allowed at any time (the mmio transport's
             * way to stop using one); what is in flight for it is dropped,
             * but not before it is done with the buffers. */
            queue_retire_locked(m, (int)m->queue_sel);
            if (m->ops->queue_stop)
                m->ops->queue_stop(m->dev, (int)m->queue_sel);
        }
        break;
    case QUEUE_NOTIFY:
        if (v >= (uint32_t)m->ops->nqueues)
            break; /* no such queue: nothing to do */
        if (m->notify_fd[v] >= 0) {
            /* KVM's ioeventfd takes these writes before they trap; one
             * that traps anyway goes the same way, to the I/O thread. */
            uint64_t one = 1;
            ssize_t w = write(m->notify_fd[v], &one, sizeof(one));
            (void)w;
        } else if (m->queues[v].ready && virtio_mmio_live_locked(m)) {
            m->ops->notify(m->dev, m, (int)v);
        }
        break;
    case INTERRUPT_ACK: m->int_status &= ~v; break;
    case STATUS: status_write_locked(m, v); break;
    case QUEUE_DESC_LOW:
    case QUEUE_DESC_HIGH:
        if (q_config)
            set_addr(&q->desc_gpa, offset == QUEUE_DESC_HIGH, v);
        break;
    case QUEUE_DRIVER_LOW:
    case QUEUE_DRIVER_HIGH:
        if (q_config)
            set_addr(&q->avail_gpa, offset == QUEUE_DRIVER_HIGH, v);
        break;
    case QUEUE_DEVICE_LOW:
    case QUEUE_DEVICE_HIGH:
        if (q_config)
            set_addr(&q->used_gpa, offset == QUEUE_DEVICE_HIGH, v);
        break;
    default: break; /* read-only or reserved */
    }
    pthread_mutex_unlock(&m->lock);
}

const struct trap_ops virtio_mmio_ops = {
    .name = "virtio-mmio",
    .read = mmio_read,
    .write = mmio_write,
};

void virtio_mmio_init(struct virtio_mmio *m, const struct virtio_device_ops *ops, void *dev,
                      const struct guest_mem *mem)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    m->ops = ops;
    m->dev = dev;
    m->mem = mem;
    m->features = ops->features;
    for (int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
        m->notify_fd[i] = -1;
}

void virtio_mmio_kick(struct virtio_mmio *m, int q)
{
    pthread_mutex_lock(&m->lock);
    if (q >= 0 && q < m->ops->nqueues && m->queues[q].ready && virtio_mmio_live_locked(m))
        m->ops->notify(m->dev, m, q);
    pthread_mutex_unlock(&m->lock);
}

void virtio_mmio_set_irq(struct virtio_mmio *m, virtio_irq_fn *irq, void *irq_ctx)
{
    m->irq = irq;
    m->irq_ctx = irq_ctx;
}

void virtio_mmio_config_changed_locked(struct virtio_mmio *m)
{
    m->config_gen++;
    m->int_status |= VIRTIO_INT_CONFIG;
    if (m->irq)
        m->irq(m->irq_ctx);
}

void virtio_mmio_destroy(struct virtio_mmio *m) { pthread_mutex_destroy(&m->lock); }

void virtio_mmio_signal_used_locked(struct virtio_mmio *m)
{
    m->int_status |= VIRTIO_INT_USED_RING;
    if (m->irq)
        m->irq(m->irq_ctx);
}

void virtio_mmio_queue_signal_locked(struct virtio_mmio *m, int q)
{
    if (virtq_should_signal(&m->queues[q], m->mem))
        virtio_mmio_signal_used_locked(m);
}

void virtio_mmio_reset(struct virtio_mmio *m)
{
    pthread_mutex_lock(&m->lock);
    reset_locked(m);
    pthread_mutex_unlock(&m->lock);
}

int virtio_mmio_pop_locked(struct virtio_mmio *m, int q, struct virtq_chain *c)
{
    int got = virtq_pop(&m->queues[q], m->mem, c);
    if (got < 0)
        virtio_mmio_needs_reset_locked(m);
    return got;
}

void virtio_mmio_limiter_fired(struct virtio_mmio *m, struct ratelimit *rl, int which)
{
    pthread_mutex_lock(&m->lock);
    ratelimit_timer_fired(rl);
    if (m->ops->limiter_ready)
        m->ops->limiter_ready(m->dev, which);
    pthread_mutex_unlock(&m->lock);
}

void virtio_mmio_needs_reset_locked(struct virtio_mmio *m)
{
    /* Once per device: a guest that breaks and resets in a loop must not
     * flood the log. */
    if (!m->warned_broken)
        log_warn("virtio-%s: the driver broke a queue; device needs a reset (logged once)",
                 m->ops->name);
    m->warned_broken = true;
    m->status |= VIRTIO_STATUS_NEEDS_RESET;
    m->int_status |= VIRTIO_INT_CONFIG;
    if (m->irq)
        m->irq(m->irq_ctx);
}

bool virtio_mmio_live_locked(const struct virtio_mmio *m)
{
    return status_is(m, VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED);
}

uint32_t virtio_mmio_queue_gen_locked(const struct virtio_mmio *m, int q)
{
    return m->queue_gen[q];
}

bool virtio_mmio_queue_current_locked(const struct virtio_mmio *m, int q, uint32_t gen)
{
    return m->queue_gen[q] == gen && m->queues[q].ready && virtio_mmio_live_locked(m);
}
