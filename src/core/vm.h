/* A KVM virtual machine: its fds, guest RAM, trap registry, vCPUs, and the
 * single place that decides when and why the VM stops. */
#ifndef HEARTH_VM_H
#define HEARTH_VM_H

#include "core/limits.h"
#include "core/mem.h"
#include "core/trap.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Process exit codes, aligned with Firecracker's where they overlap. */
enum hearth_exit {
    HEARTH_EXIT_OK = 0,            /* guest asked for a reset / clean stop */
    HEARTH_EXIT_ERROR = 1,         /* host failure or a guest that broke the VM */
    HEARTH_EXIT_BAD_CONFIG = 152,  /* configuration rejected before start */
    HEARTH_EXIT_ARG_PARSING = 153, /* command line rejected */
};

struct vm;

/* VM exits of one vCPU by reason, counted by its own thread. */
enum vcpu_exit_kind {
    VCPU_EXIT_IO_IN,
    VCPU_EXIT_IO_OUT,
    VCPU_EXIT_MMIO_READ,
    VCPU_EXIT_MMIO_WRITE,
    VCPU_EXIT_HLT,
    VCPU_EXIT_SHUTDOWN,
    VCPU_EXIT_INTR,
    VCPU_EXIT_SYSTEM_EVENT,
    VCPU_EXIT_FAILURE, /* internal error, failed entry, unknown exit, KVM_RUN error */
    VCPU_EXIT_NKINDS,
};

extern const char *const vcpu_exit_names[VCPU_EXIT_NKINDS];

struct vcpu {
    struct vm *vm;
    int id;
    int fd;
    int stats_fd; /* KVM's binary statistics, or -1 (Linux < 5.14) */
    struct kvm_run *run;
    pthread_t thread;
    bool thread_started;
    bool parked; /* waiting in a pause; under vm->pause_lock */
    atomic_uint_fast64_t exits[VCPU_EXIT_NKINDS];
};

/* Memory a device backs itself, mapped for the guest when the VM is
 * created: a memory slot added after the irqchip exists waits for an SRCU
 * grace period (4-8 ms on the nested hosts here), one made before costs
 * ~20 us. `host` is filled in by vm_create. */
#define VM_MAX_DEVMEM 2
struct vm_devmem {
    uint64_t gpa, size; /* page-aligned */
    bool readonly;      /* guest reads are memory, guest writes exit as MMIO */
    uint8_t *host;
};

struct vm {
    int kvm_fd;
    int vm_fd;
    int vcpu_mmap_size;
    struct guest_mem mem;
    int ndevmem;
    struct vm_devmem devmem[VM_MAX_DEVMEM];
    struct trap_registry traps;
    int nvcpus;
    struct vcpu vcpus[HEARTH_MAX_VCPUS];
    bool seccomp; /* vCPU threads install their filter */

    /* Pause: vCPUs park outside KVM_RUN while `paused` is set. */
    pthread_mutex_t pause_lock;
    pthread_cond_t pause_cond;
    atomic_bool paused;
    int nparked;

    /* KVM's coalesced MMIO ring, shared by the vCPUs (NULL without one):
     * writes KVM batched there instead of exiting, drained in order. */
    struct kvm_coalesced_mmio_ring *coalesced;
    uint32_t coalesced_max; /* entries in the ring */
    pthread_mutex_t coalesced_lock;

    atomic_bool stopping; /* set once, by the first vm_request_stop */
    int exit_code;        /* valid once stopping */
    char stop_reason[256];
    int stop_efd; /* readable once stopping: wakes the event loop */
};

/* Opens /dev/kvm, creates the VM with an in-kernel irqchip and PIT, maps
 * `mem_bytes` of RAM and devmem[0..ndevmem) (zeroed memory for devices;
 * vm_devmem finds it later) and creates `nvcpus` vCPUs (not yet configured
 * or running). On failure everything is released and a message is in err. */
int vm_create(struct vm *vm, uint64_t mem_bytes, bool huge_pages, int nvcpus,
              const struct vm_devmem *devmem, int ndevmem, char *err, size_t errlen);

/* The host side of the device memory vm_create mapped at exactly
 * [gpa, gpa + size), or NULL. */
uint8_t *vm_devmem(struct vm *vm, uint64_t gpa, uint64_t size);
void vm_destroy(struct vm *vm);

/* Like vm_destroy, but KVM's own teardown of the VM (irqchip and PIT wait
 * for RCU/SRCU grace periods, ~20 ms on a nested host) finishes in a short
 * child process, so the caller can exit as soon as the VM has stopped.
 * Call only once no other thread uses the VM. Falls back to vm_destroy. */
void vm_destroy_detached(struct vm *vm);

/* Raises (level 1) or lowers (0) a GSI on the in-kernel irqchip. */
int vm_irq_line(struct vm *vm, uint32_t gsi, int level);
/* Pulses an edge-triggered GSI. */
void vm_irq_pulse(struct vm *vm, uint32_t gsi);

/* KVM_IRQFD: a write to eventfd `fd` pulses `gsi` inside KVM, from any
 * thread, without a trip through the VMM. 0 or -errno. */
int vm_irqfd(struct vm *vm, int fd, uint32_t gsi);
/* KVM_IOEVENTFD: a guest write of `len` bytes equal to `value` at MMIO
 * address `addr` signals eventfd `fd` inside KVM; the vCPU goes on without
 * a VM exit to the VMM. 0 or -errno. */
int vm_ioeventfd(struct vm *vm, int fd, uint64_t addr, uint32_t len, uint64_t value);

/* Asks the VM to stop with `exit_code`. The first request wins; later ones
 * are ignored. Safe from any thread, never blocks. */
void vm_request_stop(struct vm *vm, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Starts one thread per vCPU running KVM_RUN and the exit dispatch. */
int vm_start_vcpus(struct vm *vm);
/* Kicks every vCPU out of KVM_RUN and joins its thread. A device that may
 * hold a vCPU in an exit (the vTPM) must have let go first (the device
 * manager's quiesce), or the join waits for it. */
void vm_join_vcpus(struct vm *vm);

/* Stops every vCPU outside KVM_RUN and returns once all are parked (or the
 * VM is stopping); vm_resume lets them run on. Both are idempotent; call
 * them from one thread at a time, with the devices quiesced (as above). */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);

/* Sum of one exit kind over the vCPUs. */
uint64_t vm_exit_count(struct vm *vm, enum vcpu_exit_kind kind);

/* Lets KVM batch the guest's writes to [addr, addr + len) instead of
 * exiting to hearth for each (KVM_REGISTER_COALESCED_MMIO): they reach the
 * trap registry, in order, before the next exit any vCPU handles, and
 * before the VM's accounting is read at the end. Only for registers whose
 * writes need neither an answer nor an effect the guest could see without
 * a read (which exits). -errno when KVM cannot: the VM then works as
 * before, an exit per write. */
int vm_coalesce_mmio(struct vm *vm, uint64_t addr, uint32_t len);

/* Hands the writes KVM batched to their devices; cheap when there are
 * none. Called by every vCPU before it handles an exit. */
void vm_flush_coalesced(struct vm *vm);

#endif
