/* tpm_hostile: abuses the transport named by tpm=crb|tis|virtio. Every abuse
 * must get a defined TPM error or be ignored, and a good command must still
 * work afterwards. */
#include "tpm.h"

#define CRB_LOC_CTRL 0x08
#define CRB_CTRL_REQ 0x40
#define CRB_CTRL_STS 0x44
#define CRB_CANCEL 0x48
#define CRB_START 0x4c
#define CRB_BUF 0x80
#define TIS_ACCESS 0x00
#define TIS_STS 0x18
#define TIS_FIFO 0x24
#define TPM_RC_SIZE 0x095

static struct tpm_ctx t;
static uint8_t get_random[12] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 32 };

/* TPM2_CreatePrimary(owner, RSA-2048 storage key): slow on purpose. */
static void create_primary_rsa(struct tpm_cmd *c)
{
    cmd_begin(c, 0x8002, 0x131);
    cmd_u32(c, 0x40000001); /* TPM_RH_OWNER */
    cmd_pw_session(c);
    cmd_u16(c, 4); /* inSensitive: empty auth, no data */
    cmd_u32(c, 0);
    cmd_u16(c, 26);         /* inPublic */
    cmd_u16(c, 0x0001);     /* RSA */
    cmd_u16(c, 0x000b);     /* SHA-256 name */
    cmd_u32(c, 0x00030072); /* fixedTPM fixedParent sensitiveDataOrigin userWithAuth restricted
                               decrypt */
    cmd_u16(c, 0);          /* no policy */
    cmd_u16(c, 0x0006);     /* AES-128-CFB */
    cmd_u16(c, 128);
    cmd_u16(c, 0x0043);
    cmd_u16(c, 0x0010); /* no scheme */
    cmd_u16(c, 2048);
    cmd_u32(c, 0); /* default exponent */
    cmd_u16(c, 0); /* unique */
    cmd_u16(c, 0); /* outsideInfo */
    cmd_u32(c, 0); /* no creation PCRs */
    cmd_end(c);
}

static void flush(uint32_t handle)
{
    struct tpm_cmd c;
    cmd_begin(&c, 0x8001, 0x165);
    cmd_u32(&c, handle);
    tpm_run(&t, &c);
}

static void good_command_works(const char *after)
{
    uint8_t r[32];
    tap_ok(t.drv->probe() == 0 && tpm_get_random(&t, r, 32) == 0, "a good command works after %s",
           after);
}

static uint32_t rc_of(const uint8_t *rsp) { return be32(rsp + 6); }

/* ---- CRB ---- */
static uint32_t crb(uint32_t off) { return mmio_read32(TPM_BASE + off); }
static void crb_set(uint32_t off, uint32_t v) { mmio_write32(TPM_BASE + off, v); }

static bool crb_wait_idle_start(void)
{
    for (uint64_t end = deadline_ms(TPM_WAIT_MS); !expired(end);)
        if (!(crb(CRB_START) & 1))
            return true;
    return false;
}

static void crb_put(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mmio_write8(TPM_BASE + CRB_BUF + i, p[i]);
}

static uint32_t crb_rc(void)
{
    uint8_t h[10];
    for (int i = 0; i < 10; i++)
        h[i] = mmio_read8(TPM_BASE + CRB_BUF + i);
    return rc_of(h);
}

static void crb_attack(void)
{
    t.drv->probe();
    uint8_t big[12];
    memcpy(big, get_random, 12);
    big[4] = 0x13;
    big[5] = 0x88; /* claims 5000 bytes */
    crb_set(CRB_CTRL_REQ, 1);
    crb_put(big, 12);
    crb_set(CRB_START, 1);
    tap_ok(crb_wait_idle_start() && crb_rc() == TPM_RC_COMMAND_SIZE,
           "CRB: a command larger than the buffer gets TPM_RC_COMMAND_SIZE");

    uint8_t liar[12];
    memcpy(liar, get_random, 12);
    liar[5] = 200; /* claims 200 bytes, 12 written */
    crb_set(CRB_CTRL_REQ, 1);
    crb_put(liar, 12);
    crb_set(CRB_START, 1);
    tap_ok(crb_wait_idle_start() && crb_rc() == TPM_RC_COMMAND_SIZE,
           "CRB: a size field beyond the bytes written gets TPM_RC_COMMAND_SIZE");

    /* An RSA-2048 primary key takes swtpm tens of ms: the START write
     * returns with its answer in (hearth holds the vCPU until it is), so
     * the guest's first look sees it. (START while busy, which the only
     * vCPU can no longer reach, is a unit test of the device.) */
    struct tpm_cmd slow;
    create_primary_rsa(&slow);
    crb_set(CRB_CTRL_REQ, 1);
    crb_put(slow.b, slow.len);
    crb_set(CRB_START, 1);
    bool answered = !(crb(CRB_START) & 1);
    bool idle = crb_wait_idle_start();
    uint8_t hdr[14];
    for (int i = 0; i < 14; i++)
        hdr[i] = mmio_read8(TPM_BASE + CRB_BUF + i);
    tap_ok(answered && idle && rc_of(hdr) == 0 && be32(hdr + 2) > 300,
           "CRB: START returns with a slow command's answer in (CreatePrimary, RSA-2048)");
    flush(be32(hdr + 10));

    crb_set(CRB_CTRL_REQ, 1);
    crb_put(get_random, 12);
    crb_set(CRB_START, 1);
    crb_set(CRB_CANCEL, 1);
    bool done = crb_wait_idle_start();
    uint32_t rc = crb_rc();
    crb_set(CRB_CANCEL, 0);
    tap_ok(done && (rc == 0 || rc == TPM_RC_CANCELED),
           "CRB: cancel mid-command completes (rc 0x%x)", rc);

    /* Every register offset and width, read and written with junk. */
    for (uint32_t off = 0; off < CRB_BUF; off++) {
        (void)mmio_read8(TPM_BASE + off);
        mmio_write8(TPM_BASE + off, 0xff);
        if (off % 2 == 0) {
            (void)mmio_read16(TPM_BASE + off);
            mmio_write16(TPM_BASE + off, 0xffff);
        }
        if (off % 4 == 0) {
            (void)mmio_read32(TPM_BASE + off);
            mmio_write32(TPM_BASE + off, 0xfffffffe);
        }
        if (off % 8 == 0) {
            (void)mmio_read64(TPM_BASE + off);
            mmio_write64(TPM_BASE + off, ~0ull);
        }
    }
    tap_ok((crb(CRB_CTRL_STS) & 1) == 0, "CRB: no fatal status after the register storm");
    crb_set(CRB_LOC_CTRL, 2); /* relinquish */
    good_command_works("the CRB register storm");
}

/* ---- TIS ---- */
static uint32_t tis_sts(void) { return mmio_read32(TPM_BASE + TIS_STS); }
static void tis_sts_set(uint8_t v) { mmio_write8(TPM_BASE + TIS_STS, v); }

static bool tis_wait(uint32_t mask, uint32_t want)
{
    for (uint64_t end = deadline_ms(TPM_WAIT_MS); !expired(end);)
        if ((tis_sts() & mask) == want)
            return true;
    return false;
}

static void tis_send_raw(const uint8_t *p, size_t n)
{
    tis_sts_set(0x40);
    tis_wait(0x40, 0x40);
    for (size_t i = 0; i < n; i++)
        mmio_write8(TPM_BASE + TIS_FIFO, p[i]);
}

static uint32_t tis_read_rc(void)
{
    uint8_t h[10];
    for (int i = 0; i < 10; i++)
        h[i] = mmio_read8(TPM_BASE + TIS_FIFO);
    return rc_of(h);
}

static void tis_attack(void)
{
    t.drv->probe();
    tis_sts_set(0x40);
    tis_wait(0x40, 0x40);
    tap_ok(mmio_read8(TPM_BASE + TIS_FIFO) == 0xff && !(tis_sts() & 0x10),
           "TIS: a FIFO read before any response returns 0xff, no dataAvail");

    uint8_t big[12];
    memcpy(big, get_random, 12);
    big[4] = 0x13;
    big[5] = 0x88;
    tis_send_raw(big, 12);
    uint32_t s = tis_sts();
    tis_sts_set(0x20); /* tpmGo while the TPM still expects data */
    tap_ok((s & 0x08) && !(tis_sts() & 0x10), "TIS: tpmGo is ignored while Expect is set");

    uint8_t liar[14];
    memcpy(liar, get_random, 12);
    liar[12] = liar[13] = 0xaa; /* two bytes beyond the claimed 12 */
    tis_send_raw(liar, 14);
    tis_sts_set(0x20);
    tap_ok(tis_wait(0x90, 0x90) && tis_read_rc() == TPM_RC_COMMAND_SIZE,
           "TIS: more bytes than the size field gets TPM_RC_COMMAND_SIZE");

    uint8_t small[10];
    memcpy(small, get_random, 10);
    small[5] = 8; /* claims less than a header */
    tis_send_raw(small, 10);
    tis_sts_set(0x20);
    tap_ok(tis_wait(0x90, 0x90) && tis_read_rc() == TPM_RC_COMMAND_SIZE,
           "TIS: a size field below the header size gets TPM_RC_COMMAND_SIZE");

    /* responseRetry replays the response from its start. */
    tis_send_raw(get_random, 12);
    tis_sts_set(0x20);
    tis_wait(0x90, 0x90);
    uint8_t a[44], b[44];
    for (int i = 0; i < 44; i++)
        a[i] = mmio_read8(TPM_BASE + TIS_FIFO);
    tis_sts_set(0x02);
    for (int i = 0; i < 44; i++)
        b[i] = mmio_read8(TPM_BASE + TIS_FIFO);
    tap_ok(rc_of(a) == 0 && memcmp(a, b, 44) == 0 && !(tis_sts() & 0x10),
           "TIS: responseRetry replays the whole response");

    /* commandReady during execution aborts: the TPM ends up ready again. */
    tis_send_raw(get_random, 12);
    tis_sts_set(0x20);
    tis_sts_set(0x40);
    tap_ok(tis_wait(0x50, 0x40), "TIS: commandReady during execution aborts the command");

    tis_send_raw(get_random, 12);
    tis_sts_set(0x20);
    mmio_write8(TPM_BASE + TIS_STS + 3, 0x01); /* commandCancel */
    bool done = tis_wait(0x90, 0x90);
    uint32_t rc = tis_read_rc();
    tap_ok(done && (rc == 0 || rc == TPM_RC_CANCELED),
           "TIS: cancel mid-command completes (rc 0x%x)", rc);

    /* Localities 1-4 reach PCRs 17-22 (DRTM's): never granted, neither
     * requested nor seized, not even once 0 lets go; their ACCESS reads 0. */
    mmio_write8(TPM_BASE + 0x1000, 0x02);
    mmio_write8(TPM_BASE + 0x4000, 0x08);
    uint8_t a0 = mmio_read8(TPM_BASE), a1 = mmio_read8(TPM_BASE + 0x1000);
    mmio_write8(TPM_BASE, 0x20); /* 0 relinquishes */
    uint8_t b1 = mmio_read8(TPM_BASE + 0x1000), b4 = mmio_read8(TPM_BASE + 0x4000);
    tap_ok((a0 & 0xb4) == 0xa0 && a1 == 0 && b1 == 0 && b4 == 0,
           "TIS: localities 1-4 are never granted (0x%x 0x%x 0x%x 0x%x)", a0, a1, b1, b4);
    tap_ok(mmio_read32(TPM_BASE + TIS_STS) == 0xffffffffu,
           "TIS: a non-active locality reads all ones");
    mmio_write8(TPM_BASE + 0x1000, 0x20);

    /* Every register offset and width of every locality. */
    for (uint32_t loc = 0; loc < 5; loc++)
        for (uint32_t off = 0; off < 0x40; off++) {
            uint64_t a = TPM_BASE + loc * 0x1000 + off;
            (void)mmio_read8(a);
            mmio_write8(a, (uint8_t)(off * 37));
            if (off % 4 == 0) {
                (void)mmio_read32(a);
                mmio_write32(a, 0xffffffffu);
            }
            if (off % 8 == 0) {
                (void)mmio_read64(a);
                mmio_write64(a, ~0ull);
            }
        }
    for (uint32_t loc = 0; loc < 5; loc++)
        mmio_write8(TPM_BASE + loc * 0x1000, 0x20); /* everyone relinquishes */
    good_command_works("the TIS register storm");
}

/* ---- virtio ---- */
static uint8_t vcmd[64], vrsp[4096];

static int vsend(const uint8_t *cmd, uint32_t cmdlen, uint32_t rsplen)
{
    memcpy(vcmd, cmd, cmdlen);
    uint64_t a[2] = { (uint64_t)vcmd, (uint64_t)vrsp };
    uint32_t l[2] = { cmdlen, rsplen };
    bool w[2] = { false, true };
    return virtio_tpm_chain(a, l, w, 2);
}

static void virtio_attack(void)
{
    t.drv->probe();
    int used = vsend(get_random, 12, 16);
    tap_ok(used == 10 && rc_of(vrsp) == TPM_RC_SIZE,
           "virtio: a response buffer too small for the answer gets TPM_RC_SIZE");
    used = vsend(get_random, 12, 4);
    tap_ok(used == 0, "virtio: a response buffer below a header gets used length 0");

    uint8_t liar[14];
    memcpy(liar, get_random, 12);
    used = vsend(liar, 14, 64);
    tap_ok(used == 10 && rc_of(vrsp) == TPM_RC_COMMAND_SIZE,
           "virtio: readable bytes that disagree with the size field get TPM_RC_COMMAND_SIZE");

    uint64_t a[2] = { 0x3fff0000000ull, (uint64_t)vrsp }; /* far outside RAM */
    uint32_t l[2] = { 12, 64 };
    bool w[2] = { false, true };
    used = virtio_tpm_chain(a, l, w, 2);
    tap_ok(used == -1 && (virtio_tpm_status() & 0x40),
           "virtio: a descriptor outside RAM marks the device DEVICE_NEEDS_RESET");
    good_command_works("a device reset");
}

void guest_main(const struct boot_info *bi)
{
    if (!tpm_open(&t, bi))
        return;
    if (t.drv == &tpm_crb_driver)
        crb_attack();
    else if (t.drv == &tpm_tis_driver)
        tis_attack();
    else
        virtio_attack();
}
