/* TPM TIS interface: locality arbitration and the FIFO state machine. */
#include "devices/tpm_tis.h"

#include "core/clock.h"
#include "tpm/wire.h"

#include <string.h>

enum {
    ACCESS = 0x00,
    INT_ENABLE = 0x08,
    INT_VECTOR = 0x0c,
    INT_STATUS = 0x10,
    INTF_CAPABILITY = 0x14,
    STS = 0x18,
    DATA_FIFO = TIS_DATA_FIFO,
    INTERFACE_ID = 0x30,
    XDATA_FIFO = TIS_XDATA_FIFO,
    DID_VID = 0xf00,
    RID = 0xf04,
};

#define ACCESS_ESTABLISHMENT 0x01
#define ACCESS_REQUEST_USE 0x02
#define ACCESS_PENDING 0x04
#define ACCESS_SEIZE 0x08
#define ACCESS_BEEN_SEIZED 0x10
#define ACCESS_ACTIVE 0x20
#define ACCESS_VALID 0x80

#define STS_RESPONSE_RETRY 0x02
#define STS_SELF_TEST_DONE 0x04
#define STS_EXPECT 0x08
#define STS_DATA_AVAIL 0x10
#define STS_GO 0x20
#define STS_COMMAND_READY 0x40
#define STS_VALID 0x80
#define STS_CANCEL (1u << 24)
#define STS_FAMILY_TPM2 (1u << 26)

/* Polling only (no interrupt capabilities), 64-byte transfers, TIS 1.3 for
 * TPM 2.0. */
#define TIS_INTF_CAPABILITY (0x3u << 9 | 0x3u << 28)
/* FIFO interface type, locality support, 64-byte transfers, FIFO capable. */
#define TIS_INTERFACE_ID (0x1u << 8 | 0x3u << 11 | 0x1u << 13)
#define TIS_DID_VID 0x00011014u
#define TIS_RID 0x01

static bool fifo_reg(uint32_t reg)
{
    return (reg >= DATA_FIFO && reg < DATA_FIFO + 4) || (reg >= XDATA_FIFO && reg < XDATA_FIFO + 4);
}

/* Expect: more command bytes are needed. */
static bool expecting(const struct tpm_tis *t)
{
    if (t->state != TIS_RECEPTION || t->overrun)
        return false;
    uint32_t want = tpm_header_size(t->buf, t->len);
    return t->len < TPM_HEADER_SIZE || t->len < want;
}

static uint32_t sts_locked(const struct tpm_tis *t)
{
    uint32_t v = STS_FAMILY_TPM2 | STS_VALID | STS_SELF_TEST_DONE, burst = 0;
    switch (t->state) {
    case TIS_IDLE:
    case TIS_EXECUTION: break;
    case TIS_READY:
        v |= STS_COMMAND_READY;
        burst = sizeof(t->buf);
        break;
    case TIS_RECEPTION:
        if (expecting(t))
            v |= STS_EXPECT;
        burst = sizeof(t->buf) - t->len;
        break;
    case TIS_COMPLETION:
        if (t->read_pos < t->len)
            v |= STS_DATA_AVAIL;
        burst = t->len - t->read_pos;
        break;
    }
    if (burst > 0xffff)
        burst = 0xffff;
    return v | burst << 8;
}

static uint8_t access_locked(const struct tpm_tis *t, int loc)
{
    if (loc != 0)
        return 0; /* not present: the guest has locality 0 only (tpm_tis.h) */
    uint8_t v = ACCESS_VALID | ACCESS_ESTABLISHMENT;
    if (t->active == loc)
        v |= ACCESS_ACTIVE;
    if (t->pending[loc])
        v |= ACCESS_REQUEST_USE;
    if (t->seized[loc])
        v |= ACCESS_BEEN_SEIZED;
    for (int i = 0; i < TIS_LOCALITIES; i++)
        if (i != loc && t->pending[i])
            v |= ACCESS_PENDING;
    return v;
}

/* Waits (lock held) until the command in flight completes, the backend's
 * bound passes or the VMM needs the vCPU. */
static void wait_for_answer_locked(struct tpm_tis *t)
{
    struct timespec deadline = tpm_sync_deadline(t->backend);
    while (t->backend->sync_wait_ns && !t->no_hold && t->state == TIS_EXECUTION &&
           pthread_cond_timedwait(&t->done, &t->lock, &deadline) == 0)
        ;
}

/* A status read during execution that follows the previous one closely is
 * a guest spinning: it waits for the answer instead. */
static void throttle_spin_locked(struct tpm_tis *t)
{
    if (t->state != TIS_EXECUTION)
        return;
    uint64_t now = mono_ns();
    if (t->last_sts_ns && now - t->last_sts_ns < TPM_SPIN_NS)
        wait_for_answer_locked(t);
    t->last_sts_ns = mono_ns();
}

static void tis_read(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    struct tpm_tis *t = dev;
    int loc = (int)(offset / TIS_LOCALITY_SIZE);
    uint32_t reg = (uint32_t)(offset % TIS_LOCALITY_SIZE);
    uint64_t v = ~0ULL;
    pthread_mutex_lock(&t->lock);
    bool active = t->active == loc;
    if (reg == ACCESS) {
        v = access_locked(t, loc);
    } else if (reg >= INT_ENABLE && reg < INT_ENABLE + 4) {
        v = t->int_enable[loc] >> (8 * (reg - INT_ENABLE));
    } else if (reg == INT_VECTOR) {
        v = t->int_vector[loc];
    } else if (reg == INT_STATUS) {
        v = 0;
    } else if (reg >= INTF_CAPABILITY && reg < INTF_CAPABILITY + 4) {
        v = TIS_INTF_CAPABILITY >> (8 * (reg - INTF_CAPABILITY));
    } else if (reg >= STS && reg < STS + 4) {
        /* Status belongs to the active locality; others read all ones. */
        if (active) {
            throttle_spin_locked(t);
            v = sts_locked(t) >> (8 * (reg - STS));
        }
    } else if (fifo_reg(reg)) {
        if (active) {
            uint8_t *d = (uint8_t *)&v;
            for (uint32_t i = 0; i < len && i < 8; i++) {
                if (t->state == TIS_COMPLETION && t->read_pos < t->len)
                    d[i] = t->buf[t->read_pos++];
                else
                    d[i] = 0xff; /* nothing to read: no response yet, or past its end */
            }
        }
    } else if (reg >= INTERFACE_ID && reg < INTERFACE_ID + 4) {
        v = TIS_INTERFACE_ID >> (8 * (reg - INTERFACE_ID));
    } else if (reg >= DID_VID && reg < DID_VID + 4) {
        v = TIS_DID_VID >> (8 * (reg - DID_VID));
    } else if (reg == RID) {
        v = TIS_RID;
    }
    pthread_mutex_unlock(&t->lock);
    memcpy(data, &v, len);
}

/* Gives the TPM to the highest pending locality, if any. */
static void grant_pending_locked(struct tpm_tis *t)
{
    for (int i = TIS_LOCALITIES - 1; i >= 0; i--) {
        if (t->pending[i]) {
            t->pending[i] = false;
            t->active = i;
            return;
        }
    }
}

static void access_write_locked(struct tpm_tis *t, int loc, uint8_t v)
{
    if (loc != 0)
        return; /* localities 1-4 are never granted (tpm_tis.h) */
    if (v & ACCESS_SEIZE) {
        if (t->active != loc && loc > t->active) {
            if (t->active >= 0)
                t->seized[t->active] = true;
            t->active = loc;
            t->pending[loc] = false;
        }
    } else if (v & ACCESS_REQUEST_USE) {
        if (t->active < 0)
            t->active = loc;
        else if (t->active != loc)
            t->pending[loc] = true;
    } else if (v & ACCESS_ACTIVE) {
        if (t->active == loc) {
            t->active = -1;
            t->seized[loc] = false;
            grant_pending_locked(t);
        } else {
            t->pending[loc] = false; /* withdraw a pending request */
        }
    } else if (v & ACCESS_BEEN_SEIZED) {
        t->seized[loc] = false;
    }
}

/* Runs on the backend's thread. */
static void command_done(void *ctx, const uint8_t *rsp, size_t len)
{
    struct tpm_tis *t = ctx;
    pthread_mutex_lock(&t->lock);
    if (t->abort_pending) {
        t->abort_pending = false;
        t->state = TIS_READY;
        t->len = 0;
    } else {
        if (len > sizeof(t->buf))
            len = tpm_error_response(t->buf, TPM_RC_FAILURE);
        else
            memcpy(t->buf, rsp, len);
        t->len = len;
        t->read_pos = 0;
        t->state = TIS_COMPLETION;
    }
    pthread_cond_broadcast(&t->done);
    pthread_mutex_unlock(&t->lock);
}

static void complete_locally(struct tpm_tis *t, uint32_t rc)
{
    t->len = tpm_error_response(t->buf, rc);
    t->read_pos = 0;
    t->state = TIS_COMPLETION;
}

static void go_locked(struct tpm_tis *t)
{
    if (t->state != TIS_RECEPTION || expecting(t))
        return; /* tpmGo before the whole command arrived is ignored */
    size_t max =
        t->backend->max_command < sizeof(t->buf) ? t->backend->max_command : sizeof(t->buf);
    size_t len = t->overrun ? 0 : tpm_command_length(t->buf, t->len, max);
    t->commands++;
    if (len == 0 || len != t->len) {
        complete_locally(t, TPM_RC_COMMAND_SIZE);
        return;
    }
    t->state = TIS_EXECUTION;
    t->abort_pending = false;
    t->last_sts_ns = 0;
    /* Locality 0 whatever the guest did: 1-4 reach PCRs 17-22 (tpm_tis.h). */
    if (tpm_submit(t->backend, t->buf, len, 0, command_done, t) < 0) {
        complete_locally(t, TPM_RC_FAILURE);
        return;
    }
    /* Briefly: most commands then complete before the guest's first poll. */
    wait_for_answer_locked(t);
}

static void sts_write_locked(struct tpm_tis *t, uint32_t v)
{
    if (v & STS_COMMAND_READY) {
        switch (t->state) {
        case TIS_IDLE:
        case TIS_READY:
        case TIS_RECEPTION:
        case TIS_COMPLETION:
            t->state = TIS_READY; /* aborts a command being written or read */
            t->len = 0;
            t->overrun = false;
            break;
        case TIS_EXECUTION:
            t->abort_pending = true;
            tpm_cancel(t->backend);
            break;
        }
        return;
    }
    if (v & STS_GO)
        go_locked(t);
    if ((v & STS_RESPONSE_RETRY) && t->state == TIS_COMPLETION)
        t->read_pos = 0;
    if ((v & STS_CANCEL) && t->state == TIS_EXECUTION)
        tpm_cancel(t->backend);
}

static void fifo_write_locked(struct tpm_tis *t, const uint8_t *data, uint32_t len)
{
    if (t->state == TIS_READY) {
        t->state = TIS_RECEPTION;
        t->len = 0;
        t->overrun = false;
    }
    if (t->state != TIS_RECEPTION)
        return; /* data outside reception is dropped */
    for (uint32_t i = 0; i < len; i++) {
        uint32_t want = tpm_header_size(t->buf, t->len);
        if (t->len == sizeof(t->buf) || (want && t->len >= want)) {
            t->overrun = true; /* more than the command claims: refused at tpmGo */
            return;
        }
        t->buf[t->len++] = data[i];
    }
}

static void tis_write(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
    struct tpm_tis *t = dev;
    int loc = (int)(offset / TIS_LOCALITY_SIZE);
    uint32_t reg = (uint32_t)(offset % TIS_LOCALITY_SIZE);
    uint32_t v = 0;
    memcpy(&v, data, len < 4 ? len : 4);
    pthread_mutex_lock(&t->lock);
    bool active = t->active == loc;
    if (reg == ACCESS) {
        access_write_locked(t, loc, (uint8_t)v);
    } else if (reg >= INT_ENABLE && reg < INT_ENABLE + 4 && reg + len <= INT_ENABLE + 4) {
        uint32_t shift = 8 * (reg - INT_ENABLE);
        uint32_t mask = (len == 4 ? 0xffffffffu : ((1u << (8 * len)) - 1)) << shift;
        t->int_enable[loc] = (t->int_enable[loc] & ~mask) | ((v << shift) & mask);
    } else if (reg == INT_VECTOR) {
        t->int_vector[loc] = (uint8_t)(v & 0x0f);
    } else if (active && reg >= STS && reg < STS + 4 && reg + len <= STS + 4) {
        sts_write_locked(t, v << (8 * (reg - STS)));
    } else if (active && fifo_reg(reg)) {
        fifo_write_locked(t, data, len);
    }
    /* Everything else is read-only, reserved, or not this locality's turn. */
    pthread_mutex_unlock(&t->lock);
}

const struct trap_ops tpm_tis_ops = {
    .name = "tpm-tis",
    .read = tis_read,
    .write = tis_write,
};

void tpm_tis_init(struct tpm_tis *t, struct tpm_backend *backend)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    tpm_cond_init(&t->done);
    t->backend = backend;
    t->active = -1;
    t->state = TIS_IDLE;
}

void tpm_tis_allow_hold(struct tpm_tis *t, bool allowed)
{
    pthread_mutex_lock(&t->lock);
    t->no_hold = !allowed;
    pthread_cond_broadcast(&t->done);
    pthread_mutex_unlock(&t->lock);
}

void tpm_tis_destroy(struct tpm_tis *t)
{
    pthread_cond_destroy(&t->done);
    pthread_mutex_destroy(&t->lock);
}
