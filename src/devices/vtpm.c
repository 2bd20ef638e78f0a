/* The vTPM device: an swtpm backend behind its transport, its place in
 * the guest, its lifecycle. */
#include "devices/vtpm.h"

#include "arch/x86_64/layout.h"
#include "core/log.h"
#include "core/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TPM2_START_METHOD_TIS 6
#define TPM2_START_METHOD_CRB 7

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Runs once the vCPUs have stopped: no guest access is in flight. */
static void vtpm_destroy(void *dev)
{
    struct vtpm *t = dev;
    if (t->backend_open) {
        swtpm_log_stats(&t->swtpm);
        swtpm_close(&t->swtpm); /* completes what is in flight first */
        t->backend_open = false;
    }
    if (t->model == TPM_MODEL_CRB)
        tpm_crb_destroy(&t->crb);
    else if (t->model == TPM_MODEL_TIS)
        tpm_tis_destroy(&t->tis);
    else if (t->model == TPM_MODEL_VIRTIO)
        virtio_tpm_destroy(&t->virtio);
    free(t);
}

int vtpm_devmem(const struct tpm_config *cfg, struct vm_devmem *out)
{
    if (cfg->model != TPM_MODEL_CRB)
        return 0;
    *out = (struct vm_devmem){ .gpa = LAYOUT_TPM_BASE, .size = CRB_PAGE_SIZE, .readonly = true };
    return 1;
}

/* Writes the guest need not see answered at once go to KVM's coalesced
 * ring instead of exiting one by one: the CRB command buffer (a memcpy_toio
 * of a whole command then costs one exit, handled in the kernel) and each
 * locality's TIS data FIFOs. The next exit, at the latest the guest's
 * START or its status read, hands them to the device in order. Without
 * KVM's support every write exits, as before. */
static void coalesce_writes(struct vtpm *t, struct vm *vm)
{
    int r = 0;
    if (t->model == TPM_MODEL_CRB) {
        r = vm_coalesce_mmio(vm, LAYOUT_TPM_BASE + CRB_BUFFER_OFFSET, CRB_BUFFER_SIZE);
    } else {
        for (int loc = 0; loc < TIS_LOCALITIES && r == 0; loc++) {
            uint64_t base = LAYOUT_TPM_BASE + (uint64_t)loc * TIS_LOCALITY_SIZE;
            r = vm_coalesce_mmio(vm, base + TIS_DATA_FIFO, 4);
            if (r == 0)
                r = vm_coalesce_mmio(vm, base + TIS_XDATA_FIFO, 4);
        }
    }
    if (r < 0)
        log_debug("TPM: writes not coalesced (%s): each is an exit", strerror(-r));
}

/* START and tpmGo hold the vCPU for the answer (tpm/backend.h) but while
 * the VMM needs its vCPUs: a pause, a snapshot, the stop. */
static void allow_hold(struct vtpm *t, bool allowed)
{
    if (t->model == TPM_MODEL_CRB)
        tpm_crb_allow_hold(&t->crb, allowed);
    else if (t->model == TPM_MODEL_TIS)
        tpm_tis_allow_hold(&t->tis, allowed);
}

static void vtpm_quiesce(void *dev) { allow_hold(dev, false); }
static void vtpm_resume(void *dev) { allow_hold(dev, true); }

/* CRB or TIS at LAYOUT_TPM_BASE, MSFT0101 and the TPM2 table. */
static int place_fixed(struct vtpm *t, struct devmgr *dm, char *err, size_t errlen)
{
    bool crb = t->model == TPM_MODEL_CRB;
    struct devmgr_device d = {
        .ops = &vtpm_device,
        .name = crb ? "tpm-crb" : "tpm-tis",
        .dev = t,
        .trap_dev = crb ? (void *)&t->crb : (void *)&t->tis,
        .nranges = 1,
        .ranges = { { TRAP_MMIO, LAYOUT_TPM_BASE, crb ? CRB_PAGE_SIZE : TIS_MMIO_SIZE,
                      crb ? &tpm_crb_ops : &tpm_tis_ops } },
        .acpi_name = "TPM_",
        .acpi_hid = "MSFT0101",
    };
    if (crb)
        tpm_crb_init(&t->crb, &t->backend, LAYOUT_TPM_BASE,
                     vm_devmem(dm->vm, LAYOUT_TPM_BASE, CRB_PAGE_SIZE));
    else
        tpm_tis_init(&t->tis, &t->backend);
    int r = devmgr_add(dm, &d, err, errlen);
    if (r < 0)
        return r;
    coalesce_writes(t, dm->vm);
    /* TPM2 table, revision 4: platform class (client), reserved, control
     * area (CRB only), start method, 12 bytes of start-method parameters,
     * then the event log's minimum length (LAML) and address (LASA). */
    memset(t->tpm2_table, 0, sizeof(t->tpm2_table));
    put64(t->tpm2_table + 4, crb ? LAYOUT_TPM_BASE + CRB_CTRL_AREA_OFFSET : 0);
    put32(t->tpm2_table + 12, crb ? TPM2_START_METHOD_CRB : TPM2_START_METHOD_TIS);
    size_t len = sizeof(t->tpm2_table) - 12; /* without the log fields */
    if (t->measured) {
        put32(t->tpm2_table + 28, (uint32_t)LAYOUT_TPM_LOG_SIZE);
        put64(t->tpm2_table + 32, LAYOUT_TPM_LOG);
        len = sizeof(t->tpm2_table);
    }
    return devmgr_add_table(dm, "the TPM", "TPM2", 4, t->tpm2_table, len, err, errlen);
}

int vtpm_place(struct vtpm *t, struct devmgr *dm, char *err, size_t errlen)
{
    switch (t->model) {
    case TPM_MODEL_CRB:
    case TPM_MODEL_TIS: return place_fixed(t, dm, err, errlen);
    case TPM_MODEL_VIRTIO: {
        virtio_tpm_init(&t->virtio, &t->backend, &dm->vm->mem);
        const struct devmgr_virtio v = {
            .ops = &vtpm_device, .name = "virtio-tpm", .mmio = &t->virtio.mmio, .dev = t
        };
        return devmgr_attach_virtio(dm, &v, NULL, err, errlen);
    }
    default: return 0;
    }
}

/* Opens the backend cfg names and places the transport. A socket "fd:N"
 * must be one of `inherited` (may be NULL: none), which it then takes:
 * that start consumes it, closing it when it fails or when the VM stops,
 * and a later start cannot name it again. */
static int vtpm_create(const struct device_env *env, int index, char *err, size_t errlen)
{
    (void)index;
    const struct tpm_config *cfg = &env->cfg->tpm;
    struct vtpm *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "tpm: out of memory");
        return -1;
    }
    t->model = cfg->model;
    t->measured = cfg->measured_boot;
    int fd = inherited_fd_parse(cfg->socket);
    if (fd >= 0 && (fd = inherited_fd_take(env->inherited, fd)) < 0) {
        snprintf(err, errlen,
                 "tpm.socket %s: not a descriptor hearth inherited at start, or "
                 "one an earlier start consumed",
                 cfg->socket);
        free(t);
        return -1;
    }
    int r = swtpm_open(&t->swtpm, cfg->socket, fd, cfg->timeout_ms, err, errlen);
    if (r < 0) {
        free(t);
        return -1;
    }
    t->backend_open = true;
    t->swtpm.seccomp = env->seccomp;
    if ((r = swtpm_start(&t->swtpm, &t->backend)) < 0) {
        snprintf(err, errlen, "starting the TPM thread: %s", strerror(-r));
        swtpm_close(&t->swtpm);
        free(t);
        return -1;
    }
    return vtpm_place(t, env->dm, err, errlen) < 0 ? -1 : 0;
}

static int vtpm_count(const struct device_env *env)
{
    return env->cfg->tpm.model != TPM_MODEL_NONE;
}

/* Firecracker has no TPM: hearth's "tpm" group (zeros without one). */
static void vtpm_metrics(void *const *devs, int n, json_t *o)
{
    static const char *const names[] = { "commands",  "failures",       "bytes_in",
                                         "bytes_out", "latency_sum_us", "latency_max_us" };
    struct swtpm_stats st = { 0 };
    if (n > 0 && ((struct vtpm *)devs[0])->backend_open)
        swtpm_get_stats(&((struct vtpm *)devs[0])->swtpm, &st);
    const uint64_t v[] = { st.commands,
                           st.failures,
                           st.bytes_in,
                           st.bytes_out,
                           st.latency_ns_total / 1000,
                           st.latency_ns_max / 1000 };
    json_object_set_new(o, "tpm", metrics_counters(names, v, 6));
}

const struct device_ops vtpm_device = {
    .name = "tpm",
    .section = CONFIG_TPM,
    .count = vtpm_count,
    .create = vtpm_create,
    .destroy = vtpm_destroy,
    .quiesce = vtpm_quiesce,
    .resume = vtpm_resume,
    .metrics = vtpm_metrics,
};

int vtpm_measure(struct vtpm *t, struct guest_mem *mem, const struct measure_inputs *in, char *err,
                 size_t errlen)
{
    if (!t || !t->measured)
        return 0;
    uint8_t *log = gpa_to_hva(mem, LAYOUT_TPM_LOG, LAYOUT_TPM_LOG_SIZE);
    if (!log) {
        snprintf(err, errlen, "measured boot: no guest RAM for the event log");
        return -1;
    }
    return measure_boot(&t->measure, &t->backend, in, log, LAYOUT_TPM_LOG_SIZE, err, errlen);
}

json_t *vtpm_to_json(const struct vtpm *t, json_t *section)
{
    if (json_is_object(section) && t && t->measure.nevents)
        json_object_set_new(section, "measurements", measure_to_json(&t->measure));
    return section;
}
