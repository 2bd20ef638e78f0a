/* KVM VM lifecycle: creation, memory slots, irqchip, stop requests. */
#include "core/vm.h"

#include "arch/x86_64/layout.h"
#include "core/kvm_stats.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, const char *what, int e)
{
    snprintf(err, errlen, "%s: %s", what, strerror(e));
    return -e;
}

static int check_caps(struct vm *vm, char *err, size_t errlen)
{
    static const struct {
        int cap;
        const char *name;
    } required[] = {
        { KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
        { KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
        { KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
        { KVM_CAP_PIT2, "KVM_CAP_PIT2" },
        { KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
        { KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
    };
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, required[i].cap) <= 0) {
            snprintf(err, errlen, "KVM lacks %s", required[i].name);
            return -ENOTSUP;
        }
    }
    return 0;
}

static int set_memslots(struct vm *vm, char *err, size_t errlen)
{
    for (int i = 0; i < vm->mem.nregions; i++) {
        const struct mem_region *r = &vm->mem.regions[i];
        struct kvm_userspace_memory_region slot = {
            .slot = (uint32_t)i,
            .guest_phys_addr = r->gpa,
            .memory_size = r->size,
            .userspace_addr = (uint64_t)(uintptr_t)r->host,
        };
        if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
            return fail(err, errlen, "KVM_SET_USER_MEMORY_REGION", errno);
    }
    return 0;
}

static int map_devmem(struct vm *vm, const struct vm_devmem *devmem, int n, char *err,
                      size_t errlen)
{
    long page = sysconf(_SC_PAGESIZE);
    if (n > VM_MAX_DEVMEM) {
        snprintf(err, errlen, "more than %d device memory regions", VM_MAX_DEVMEM);
        return -EINVAL;
    }
    if (n && ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0) {
        snprintf(err, errlen, "KVM lacks KVM_CAP_READONLY_MEM");
        return -ENOTSUP;
    }
    for (int i = 0; i < n; i++) {
        struct vm_devmem *d = &vm->devmem[i];
        *d = devmem[i];
        if (!d->size || d->gpa % (uint64_t)page || d->size % (uint64_t)page) {
            snprintf(err, errlen, "device memory at 0x%llx: not page-aligned",
                     (unsigned long long)d->gpa);
            return -EINVAL;
        }
        d->host = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (d->host == MAP_FAILED) {
            d->host = NULL;
            return fail(err, errlen, "mapping device memory", errno);
        }
        vm->ndevmem = i + 1;
        struct kvm_userspace_memory_region slot = {
            .slot = (uint32_t)(vm->mem.nregions + i),
            .flags = d->readonly ? KVM_MEM_READONLY : 0,
            .guest_phys_addr = d->gpa,
            .memory_size = d->size,
            .userspace_addr = (uint64_t)(uintptr_t)d->host,
        };
        if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
            return fail(err, errlen, "KVM_SET_USER_MEMORY_REGION (device memory)", errno);
    }
    return 0;
}

uint8_t *vm_devmem(struct vm *vm, uint64_t gpa, uint64_t size)
{
    for (int i = 0; i < vm->ndevmem; i++)
        if (vm->devmem[i].gpa == gpa && vm->devmem[i].size == size)
            return vm->devmem[i].host;
    return NULL;
}

static int create_vcpus(struct vm *vm, int nvcpus, char *err, size_t errlen)
{
    vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vm->vcpu_mmap_size < (int)sizeof(struct kvm_run))
        return fail(err, errlen, "KVM_GET_VCPU_MMAP_SIZE", errno ? errno : EINVAL);
    for (int i = 0; i < nvcpus; i++) {
        struct vcpu *v = &vm->vcpus[i];
        v->vm = vm;
        v->id = i;
        v->stats_fd = -1;
        v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, i);
        if (v->fd < 0)
            return fail(err, errlen, "KVM_CREATE_VCPU", errno);
        vm->nvcpus = i + 1;
        int sfd = kvm_stats_open(v->fd);
        v->stats_fd = sfd < 0 ? -1 : sfd;
        v->run =
            mmap(NULL, (size_t)vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
        if (v->run == MAP_FAILED) {
            v->run = NULL;
            return fail(err, errlen, "mmap(kvm_run)", errno);
        }
    }
    /* Every vCPU's mapping shows the VM's one coalesced ring at the page
     * KVM_CAP_COALESCED_MMIO names; vCPU 0's is as good as any. */
    long page = sysconf(_SC_PAGESIZE);
    int ring_page = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
    if (ring_page > 0 && (long)(ring_page + 1) * page <= vm->vcpu_mmap_size) {
        vm->coalesced = (void *)((uint8_t *)vm->vcpus[0].run + (long)ring_page * page);
        vm->coalesced_max = (uint32_t)(((size_t)page - sizeof(struct kvm_coalesced_mmio_ring)) /
                                       sizeof(struct kvm_coalesced_mmio));
    }
    return 0;
}

int vm_coalesce_mmio(struct vm *vm, uint64_t addr, uint32_t len)
{
    if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO) <= 0)
        return -ENOTSUP;
    struct kvm_coalesced_mmio_zone zone = { .addr = addr, .size = len };
    return ioctl(vm->vm_fd, KVM_REGISTER_COALESCED_MMIO, &zone) < 0 ? -errno : 0;
}

void vm_flush_coalesced(struct vm *vm)
{
    struct kvm_coalesced_mmio_ring *ring = vm->coalesced;
    if (!ring || __atomic_load_n(&ring->first, __ATOMIC_RELAXED) ==
                     __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE))
        return;
    /* One drainer at a time keeps the writes in the guest's order. */
    pthread_mutex_lock(&vm->coalesced_lock);
    uint32_t first = __atomic_load_n(&ring->first, __ATOMIC_RELAXED);
    while (first != __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE)) {
        if (first >= vm->coalesced_max)
            break; /* the kernel's index; never trusted with our memory */
        struct kvm_coalesced_mmio e = ring->coalesced_mmio[first];
        trap_dispatch_batched(&vm->traps, e.pio ? TRAP_PIO : TRAP_MMIO, e.phys_addr, e.data, e.len,
                              true);
        first = (first + 1) % vm->coalesced_max;
        __atomic_store_n(&ring->first, first, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&vm->coalesced_lock);
}

int vm_create(struct vm *vm, uint64_t mem_bytes, bool huge_pages, int nvcpus,
              const struct vm_devmem *devmem, int ndevmem, char *err, size_t errlen)
{
    memset(vm, 0, sizeof(*vm));
    vm->kvm_fd = vm->vm_fd = vm->stop_efd = -1;
    trap_init(&vm->traps);
    pthread_mutex_init(&vm->pause_lock, NULL);
    pthread_cond_init(&vm->pause_cond, NULL);
    pthread_mutex_init(&vm->coalesced_lock, NULL);
    int r;
    if (nvcpus < 1 || nvcpus > HEARTH_MAX_VCPUS) {
        snprintf(err, errlen, "vcpu count %d outside 1..%d", nvcpus, HEARTH_MAX_VCPUS);
        return -EINVAL;
    }

    vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (vm->stop_efd < 0) {
        r = fail(err, errlen, "eventfd", errno);
        goto out;
    }
    vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0) {
        r = fail(err, errlen, "open /dev/kvm", errno);
        goto out;
    }
    if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        snprintf(err, errlen, "unsupported KVM API version");
        r = -ENOTSUP;
        goto out;
    }
    if ((r = check_caps(vm, err, errlen)) < 0)
        goto out;
    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        r = fail(err, errlen, "KVM_CREATE_VM", errno);
        goto out;
    }
    if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS) < 0) {
        r = fail(err, errlen, "KVM_SET_TSS_ADDR", errno);
        goto out;
    }
    /* Memory slots go in before the irqchip exists: afterwards every slot
     * update waits for an SRCU grace period (~7 ms on a nested host). */
    if ((r = guest_mem_init(&vm->mem, mem_bytes, huge_pages)) < 0) {
        fail(err, errlen,
             huge_pages ? "mapping guest memory with 2 MiB huge pages" : "mapping guest memory",
             -r);
        goto out;
    }
    if ((r = set_memslots(vm, err, errlen)) < 0 ||
        (r = map_devmem(vm, devmem, ndevmem, err, errlen)) < 0)
        goto out;
    if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
        r = fail(err, errlen, "KVM_CREATE_IRQCHIP", errno);
        goto out;
    }
    struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
    if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
        r = fail(err, errlen, "KVM_CREATE_PIT2", errno);
        goto out;
    }
    if ((r = create_vcpus(vm, nvcpus, err, errlen)) < 0)
        goto out;
    return 0;
out:
    vm_destroy(vm);
    return r;
}

/* The child side of vm_destroy_detached: async-signal-safe calls only. */
static void teardown_child(struct vm *vm, int wait_fd)
{
    char c;
    /* EOF arrives once the parent has dropped its references (or exited). */
    while (read(wait_fd, &c, 1) < 0 && errno == EINTR)
        ;
    for (int i = 0; i < vm->nvcpus; i++) {
        close(vm->vcpus[i].stats_fd); /* each holds the VM too */
        close(vm->vcpus[i].fd);
    }
    close(vm->vm_fd);
    close(vm->kvm_fd);
    _exit(0);
}

void vm_destroy_detached(struct vm *vm)
{
    int p[2];
    if (vm->vm_fd < 0 || pipe2(p, O_CLOEXEC) < 0) {
        vm_destroy(vm);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        teardown_child(vm, p[0]);
    }
    close(p[0]);
    if (pid < 0)
        log_debug("fork for detached teardown failed: %s", strerror(errno));
    vm_destroy(vm); /* cheap while the child still holds the VM */
    close(p[1]);
}

void vm_destroy(struct vm *vm)
{
    for (int i = 0; i < vm->nvcpus; i++) {
        struct vcpu *v = &vm->vcpus[i];
        if (v->run)
            munmap(v->run, (size_t)vm->vcpu_mmap_size);
        if (v->fd >= 0)
            close(v->fd);
        if (v->stats_fd >= 0)
            close(v->stats_fd);
    }
    vm->nvcpus = 0;
    vm->coalesced = NULL; /* lived in vCPU 0's mapping */
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    if (vm->stop_efd >= 0)
        close(vm->stop_efd);
    vm->vm_fd = vm->kvm_fd = vm->stop_efd = -1;
    guest_mem_free(&vm->mem);
    for (int i = 0; i < vm->ndevmem; i++)
        munmap(vm->devmem[i].host, vm->devmem[i].size);
    vm->ndevmem = 0;
}

int vm_irq_line(struct vm *vm, uint32_t gsi, int level)
{
    struct kvm_irq_level irq = { .irq = gsi, .level = (uint32_t)level };
    return ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

void vm_irq_pulse(struct vm *vm, uint32_t gsi)
{
    vm_irq_line(vm, gsi, 1);
    vm_irq_line(vm, gsi, 0);
}

int vm_irqfd(struct vm *vm, int fd, uint32_t gsi)
{
    struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi };
    return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

int vm_ioeventfd(struct vm *vm, int fd, uint64_t addr, uint32_t len, uint64_t value)
{
    struct kvm_ioeventfd io = { .datamatch = value,
                                .addr = addr,
                                .len = len,
                                .fd = fd,
                                .flags = KVM_IOEVENTFD_FLAG_DATAMATCH };
    return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

void vm_request_stop(struct vm *vm, int exit_code, const char *fmt, ...)
{
    bool expected = false;
    if (!atomic_compare_exchange_strong(&vm->stopping, &expected, true))
        return;
    vm->exit_code = exit_code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->stop_reason, sizeof(vm->stop_reason), fmt, ap);
    va_end(ap);
    uint64_t one = 1;
    ssize_t w = write(vm->stop_efd, &one, sizeof(one));
    (void)w;
    /* A vm_pause waiting for vCPUs that will never park. */
    pthread_mutex_lock(&vm->pause_lock);
    pthread_cond_broadcast(&vm->pause_cond);
    pthread_mutex_unlock(&vm->pause_lock);
}
