/* virtio_hostile: abuses the virtio-mmio transport and the virtio-blk and
 * virtio-rng devices (blk=ADDR rng=ADDR on the command line; the disk's
 * first bytes are "HEARTH-DISK", it has `sectors=N` sectors). Every abuse
 * must leave the device in DEVICE_NEEDS_RESET or fail the request (or be
 * ignored), never stop the monitor, and a good request must work after. */
#include "virtio.h"

#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_UNSUPP 2

#define IOAPIC 0xfec00000ull
#define LAPIC 0xfee00000ull

static struct gv v;
static uint64_t blk_base, rng_base, sectors;
static struct {
    uint32_t type, reserved;
    uint64_t sector;
} hdr __attribute__((aligned(16)));
static uint8_t data[8192] __attribute__((aligned(4096)));
static uint8_t status;

static void setup(uint16_t qsize)
{
    if (gv_setup(&v, blk_base, 2, 0, 0, qsize) < 0)
        tap_ok(false, "virtio-blk set up");
}

static int blk_request(uint32_t type, uint64_t sector, uint32_t len)
{
    hdr.type = type;
    hdr.sector = sector;
    status = 0xff;
    struct gv_seg s[3] = { { (uint64_t)&hdr, 16, false },
                           { (uint64_t)data, len, type != BLK_T_OUT },
                           { (uint64_t)&status, 1, true } };
    return gv_chain(&v, 0, s, 3);
}

static bool good_read_works(void)
{
    memset(data, 0, 512);
    return blk_request(BLK_T_IN, 0, 512) == 513 && status == BLK_S_OK &&
           memcmp(data, "HEARTH-DISK", 11) == 0;
}

/* A broken queue: the device says DEVICE_NEEDS_RESET, and works again
 * after the driver resets it. */
static void expect_needs_reset(const char *what)
{
    bool broken = gv_wait(&v) == -1 && (gv_rd(&v, 0x070) & GV_NEEDS_RESET);
    setup(8);
    tap_ok(broken && good_read_works(), "%s: DEVICE_NEEDS_RESET, then works after a reset", what);
}

static void publish_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    gv_ring_desc[i] = (struct gv_desc){ addr, len, flags, next };
}

/* Routes IOAPIC pin `gsi` (edge, active high, unmasked) to `vector` on
 * this CPU. With interrupts off the vector stays pending in the LAPIC's
 * IRR, where the test can see it arrived. */
static void route_irq(uint32_t gsi, uint8_t vector)
{
    mmio_write32(LAPIC + 0xf0, 0x1ff); /* software enable, spurious 0xff */
    uint32_t id = mmio_read32(LAPIC + 0x20) >> 24;
    mmio_write32(IOAPIC, 0x11 + 2 * gsi);
    mmio_write32(IOAPIC + 0x10, id << 24);
    mmio_write32(IOAPIC, 0x10 + 2 * gsi);
    mmio_write32(IOAPIC + 0x10, vector);
}

static bool irq_pending(uint8_t vector)
{
    return mmio_read32(LAPIC + 0x200 + 0x10 * (vector / 32)) & (1u << (vector % 32));
}

static void queue_attacks(void)
{
    setup(8);
    route_irq(5, 0x40); /* slot 0's GSI */
    bool quiet = !irq_pending(0x40);
    tap_ok(good_read_works(), "a good read returns the disk's first sector");
    tap_ok(quiet && irq_pending(0x40), "its interrupt arrived on GSI 5 (the irqfd)");

    publish_desc(0, (uint64_t)&hdr, 16, 1, 1); /* 0 -> 1 -> 0 ... */
    publish_desc(1, (uint64_t)data, 512, 1 | 2, 0);
    gv_publish(&v, 0, 0);
    expect_needs_reset("a cyclic chain");

    struct gv_seg far[3] = { { (uint64_t)&hdr, 16, false },
                             { 0x3fff00000000ull, 512, true },
                             { (uint64_t)&status, 1, true } };
    hdr.type = BLK_T_IN;
    hdr.sector = 0;
    gv_post(&v, 0, far, 3);
    expect_needs_reset("a buffer outside guest RAM");

    /* An address whose length runs past the end of the address space. */
    struct gv_seg wrap[3] = { { (uint64_t)&hdr, 16, false },
                              { ~0ull - 255, 4096, true },
                              { (uint64_t)&status, 1, true } };
    gv_post(&v, 0, wrap, 3);
    expect_needs_reset("a buffer whose length wraps the address space");

    struct gv_seg huge[3] = { { (uint64_t)&hdr, 16, false },
                              { (uint64_t)data, 0xfffffff0u, true },
                              { (uint64_t)&status, 1, true } };
    gv_post(&v, 0, huge, 3);
    expect_needs_reset("a 4 GiB length from a small buffer");

    gv_publish(&v, 0, 200); /* head beyond an 8-entry ring */
    expect_needs_reset("a head index beyond the ring");

    /* The avail index far beyond what the ring can hold. */
    gv_ring_avail[1] = 100;
    gv_wr(&v, 0x050, 0);
    expect_needs_reset("an avail index a ring's worth ahead");

    publish_desc(0, (uint64_t)&hdr, 16, 4, 0); /* INDIRECT, never offered */
    gv_publish(&v, 0, 0);
    expect_needs_reset("an indirect descriptor that was not negotiated");

    /* Requests the device refuses, queue intact. */
    tap_ok(blk_request(BLK_T_IN, sectors, 512) == 1 && status == BLK_S_IOERR,
           "a read past the disk's end fails with IOERR");
    tap_ok(blk_request(BLK_T_OUT, sectors - 1, 1024) == 1 && status == BLK_S_IOERR,
           "a write straddling the disk's end fails with IOERR");
    tap_ok(blk_request(BLK_T_IN, ~0ull >> 9, 1024) == 1 && status == BLK_S_IOERR,
           "a sector number that would wrap fails with IOERR");
    tap_ok(blk_request(BLK_T_IN, 0, 100) == 1 && status == BLK_S_IOERR,
           "a length not a multiple of 512 fails with IOERR");
    tap_ok(blk_request(99, 0, 512) == 1 && status == BLK_S_UNSUPP,
           "an unknown request type gets UNSUPP");
    tap_ok(!(gv_rd(&v, 0x070) & GV_NEEDS_RESET) && good_read_works(),
           "refused requests leave the device working");
}

static void register_attacks(void)
{
    setup(8);
    /* Notifications of queues that do not exist. */
    for (uint32_t q = 1; q < 8; q++)
        gv_wr(&v, 0x050, q);
    gv_wr(&v, 0x050, 0xffffffffu);
    tap_ok(good_read_works(), "notifying queues that do not exist changes nothing");

    /* The queue moved or resized after DRIVER_OK: ignored. */
    gv_wr(&v, 0x030, 0);
    gv_wr(&v, 0x038, 256);
    gv_wr(&v, 0x080, 0x1000);
    tap_ok(good_read_works(), "queue size and address changed after DRIVER_OK are ignored");

    /* Status out of order: DRIVER_OK before FEATURES_OK is refused. */
    gv_wr(&v, 0x070, 0);
    gv_wr(&v, 0x070, 1);
    gv_wr(&v, 0x070, 3);
    gv_wr(&v, 0x070, 7);
    tap_ok(gv_rd(&v, 0x070) == 3, "DRIVER_OK without FEATURES_OK is refused (status 0x%x)",
           gv_rd(&v, 0x070));
    /* A feature never offered leaves FEATURES_OK clear. */
    gv_wr(&v, 0x024, 1);
    gv_wr(&v, 0x020, 1u | (1u << 28));
    gv_wr(&v, 0x070, 11);
    tap_ok(!(gv_rd(&v, 0x070) & 8), "a feature never offered is refused");

    /* Configuration space: inside it the capacity, beyond it zeros; and
     * writes do not change it. */
    setup(8);
    uint64_t cap = mmio_read64(blk_base + 0x100);
    mmio_write64(blk_base + 0x100, 5);
    tap_ok(cap == sectors && mmio_read64(blk_base + 0x100) == sectors,
           "capacity %llu sectors, not writable", (unsigned long long)cap);
    tap_ok(mmio_read32(blk_base + 0x110) == 0 && mmio_read64(blk_base + 0xff8) == 0 &&
               mmio_read8(blk_base + 0x10f) == 0,
           "configuration reads beyond its size are zeros");
    /* Registers at widths the spec forbids: reads zero, writes dropped. */
    tap_ok(mmio_read8(blk_base) == 0 && mmio_read16(blk_base) == 0,
           "narrow register reads are zeros");
    mmio_write8(blk_base + 0x070, 0);
    mmio_write64(blk_base + 0x070, 0);
    tap_ok(good_read_works(), "narrow and wide register writes are ignored");

    /* QueueReady 0 stops the queue: requests are not served until the
     * driver resets and sets it up again. */
    gv_wr(&v, 0x030, 0);
    gv_wr(&v, 0x044, 0);
    hdr.type = BLK_T_IN;
    hdr.sector = 0;
    struct gv_seg s[3] = { { (uint64_t)&hdr, 16, false },
                           { (uint64_t)data, 512, true },
                           { (uint64_t)&status, 1, true } };
    uint16_t before = gv_used_idx();
    gv_post(&v, 0, s, 3);
    for (volatile int i = 0; i < 200000; i++)
        ;
    bool idle = gv_used_idx() == before;
    setup(8);
    tap_ok(idle && good_read_works(),
           "a stopped queue serves nothing; a reset brings the device back");
}

static void rng_attacks(void)
{
    struct gv r;
    if (gv_setup(&r, rng_base, 4, 0, 0, 8) < 0) {
        tap_ok(false, "virtio-rng set up");
        return;
    }
    memset(data, 0, 64);
    route_irq(6, 0x41); /* slot 1's GSI */
    struct gv_seg good = { (uint64_t)data, 64, true };
    int len = gv_chain(&r, 0, &good, 1);
    tap_ok(irq_pending(0x41), "virtio-rng's interrupt arrived on GSI 6");
    bool nonzero = false;
    for (int i = 0; i < 64; i++)
        nonzero |= data[i] != 0;
    tap_ok(len == 64 && nonzero, "virtio-rng fills a buffer (%d bytes)", len);
    struct gv_seg bad = { 0x3fff00000000ull, 64, true };
    bool broken = gv_chain(&r, 0, &bad, 1) == -1 && (gv_rd(&r, 0x070) & GV_NEEDS_RESET);
    gv_setup(&r, rng_base, 4, 0, 0, 8);
    tap_ok(broken && gv_chain(&r, 0, &good, 1) == 64,
           "virtio-rng: a buffer outside RAM needs a reset, then it works");
}

void guest_main(const struct boot_info *bi)
{
    blk_base = opt_u64(bi, "blk", 0xc0001000);
    rng_base = opt_u64(bi, "rng", 0xc0002000);
    sectors = opt_u64(bi, "sectors", 2048);
    queue_attacks();
    register_attacks();
    rng_attacks();
}
