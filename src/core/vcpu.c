/* vCPU threads: KVM_RUN, exit dispatch through the trap registry, and the
 * fatal exits that stop the VM with a reason and the guest RIP. */
#include "core/log.h"
#include "core/seccomp.h"
#include "core/vm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#define VCPU_KICK_SIGNAL (SIGRTMIN + 1)
/* Exit handlers are shallow; the 8 MiB default would only inflate the
 * monitor's footprint. */
#define VCPU_STACK_SIZE (256 * 1024)

const char *const vcpu_exit_names[VCPU_EXIT_NKINDS] = {
    [VCPU_EXIT_IO_IN] = "exit_io_in",
    [VCPU_EXIT_IO_OUT] = "exit_io_out",
    [VCPU_EXIT_MMIO_READ] = "exit_mmio_read",
    [VCPU_EXIT_MMIO_WRITE] = "exit_mmio_write",
    [VCPU_EXIT_HLT] = "exit_hlt",
    [VCPU_EXIT_SHUTDOWN] = "exit_shutdown",
    [VCPU_EXIT_INTR] = "exit_intr",
    [VCPU_EXIT_SYSTEM_EVENT] = "exit_system_event",
    [VCPU_EXIT_FAILURE] = "failures",
};

static void count(struct vcpu *v, enum vcpu_exit_kind kind)
{
    atomic_fetch_add_explicit(&v->exits[kind], 1, memory_order_relaxed);
}

static void kick_handler(int sig) { (void)sig; /* exists only so KVM_RUN returns -EINTR */ }

static unsigned long long guest_rip(struct vcpu *v)
{
    struct kvm_regs regs;
    if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
        return ~0ULL;
    return regs.rip;
}

/* KVM on AMD reinitializes the VMCB on a shutdown intercept (its state is
 * undefined after one), so the vCPU comes back in the reset state: the
 * faulting RIP is gone, and 0xfff0 would be a lie. */
static bool vcpu_was_reset(struct vcpu *v, unsigned long long rip)
{
    struct kvm_sregs sregs;
    return rip == 0xfff0 && ioctl(v->fd, KVM_GET_SREGS, &sregs) == 0 &&
           sregs.cs.base == 0xffff0000ULL && sregs.cs.selector == 0xf000;
}

static void handle_io(struct vcpu *v)
{
    struct kvm_run *run = v->run;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
    /* A rep ins/outs arrives as `count` back-to-back accesses: one exit. */
    for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
        (i == 0 ? trap_dispatch : trap_dispatch_batched)(&v->vm->traps, TRAP_PIO, run->io.port,
                                                         data, run->io.size, is_write);
}

static void handle_internal_error(struct vcpu *v)
{
    struct kvm_run *run = v->run;
    char extra[160] = "";
    int off = 0;
    uint32_t n = run->internal.ndata;
    if (n > sizeof(run->internal.data) / sizeof(run->internal.data[0]))
        n = sizeof(run->internal.data) / sizeof(run->internal.data[0]);
    for (uint32_t i = 0; i < n && off < (int)sizeof(extra) - 20; i++)
        off += snprintf(extra + off, sizeof(extra) - (size_t)off, " 0x%llx",
                        (unsigned long long)run->internal.data[i]);
    const char *what = run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
                           ? " (instruction emulation failed)"
                           : "";
    vm_request_stop(v->vm, HEARTH_EXIT_ERROR,
                    "vcpu%d: KVM_EXIT_INTERNAL_ERROR suberror %u%s at guest rip 0x%llx; data:%s",
                    v->id, run->internal.suberror, what, guest_rip(v), n ? extra : " none");
}

/* Handles one exit; returns false when the vCPU must stop running. */
static bool handle_exit(struct vcpu *v)
{
    struct kvm_run *run = v->run;
    struct vm *vm = v->vm;
    /* Writes KVM batched happened before this exit: devices see them first. */
    vm_flush_coalesced(vm);
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        count(v, run->io.direction == KVM_EXIT_IO_OUT ? VCPU_EXIT_IO_OUT : VCPU_EXIT_IO_IN);
        handle_io(v);
        return true;
    case KVM_EXIT_MMIO:
        count(v, run->mmio.is_write ? VCPU_EXIT_MMIO_WRITE : VCPU_EXIT_MMIO_READ);
        trap_dispatch(&vm->traps, TRAP_MMIO, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
                      run->mmio.is_write);
        return true;
    case KVM_EXIT_INTR: count(v, VCPU_EXIT_INTR); return true;
    case KVM_EXIT_SHUTDOWN: {
        count(v, VCPU_EXIT_SHUTDOWN);
        unsigned long long rip = guest_rip(v);
        if (vcpu_was_reset(v, rip))
            vm_request_stop(vm, HEARTH_EXIT_ERROR,
                            "vcpu%d: triple fault (KVM_EXIT_SHUTDOWN) at an unknown guest rip "
                            "(KVM reset the vCPU on the shutdown, as it does on AMD SVM)",
                            v->id);
        else
            vm_request_stop(vm, HEARTH_EXIT_ERROR,
                            "vcpu%d: triple fault (KVM_EXIT_SHUTDOWN) at guest rip 0x%llx", v->id,
                            rip);
        return false;
    }
    case KVM_EXIT_INTERNAL_ERROR:
        count(v, VCPU_EXIT_FAILURE);
        handle_internal_error(v);
        return false;
    case KVM_EXIT_FAIL_ENTRY:
        count(v, VCPU_EXIT_FAILURE);
        vm_request_stop(vm, HEARTH_EXIT_ERROR,
                        "vcpu%d: KVM_EXIT_FAIL_ENTRY hardware reason 0x%llx on cpu %u at guest "
                        "rip 0x%llx",
                        v->id, (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
                        run->fail_entry.cpu, guest_rip(v));
        return false;
    case KVM_EXIT_SYSTEM_EVENT:
        count(v, VCPU_EXIT_SYSTEM_EVENT);
        if (run->system_event.type == KVM_SYSTEM_EVENT_RESET ||
            run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
            vm_request_stop(vm, HEARTH_EXIT_OK, "vcpu%d: guest %s", v->id,
                            run->system_event.type == KVM_SYSTEM_EVENT_RESET ? "reset"
                                                                             : "shutdown");
            return false;
        }
        break;
    case KVM_EXIT_HLT:
        count(v, VCPU_EXIT_HLT);
        vm_request_stop(vm, HEARTH_EXIT_OK, "vcpu%d: guest halted", v->id);
        return false;
    default: break;
    }
    count(v, VCPU_EXIT_FAILURE);
    vm_request_stop(vm, HEARTH_EXIT_ERROR, "vcpu%d: unexpected KVM exit %u at guest rip 0x%llx",
                    v->id, run->exit_reason, guest_rip(v));
    return false;
}

/* Waits outside KVM_RUN while the VM is paused. */
static void park(struct vcpu *v)
{
    struct vm *vm = v->vm;
    pthread_mutex_lock(&vm->pause_lock);
    v->parked = true;
    vm->nparked++;
    pthread_cond_broadcast(&vm->pause_cond);
    while (atomic_load(&vm->paused) && !atomic_load(&vm->stopping))
        pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
    v->parked = false;
    vm->nparked--;
    pthread_mutex_unlock(&vm->pause_lock);
}

/* Makes v leave KVM_RUN soon: immediate_exit covers a kick that lands just
 * before KVM_RUN, the signal one that lands inside it. */
static void kick(struct vcpu *v)
{
    v->run->immediate_exit = 1;
    pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vm_pause(struct vm *vm)
{
    if (atomic_exchange(&vm->paused, true))
        return;
    for (int i = 0; i < vm->nvcpus; i++)
        if (vm->vcpus[i].thread_started)
            kick(&vm->vcpus[i]);
    int running = 0;
    for (int i = 0; i < vm->nvcpus; i++)
        running += vm->vcpus[i].thread_started;
    pthread_mutex_lock(&vm->pause_lock);
    while (vm->nparked < running && !atomic_load(&vm->stopping))
        pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
    pthread_mutex_unlock(&vm->pause_lock);
}

void vm_resume(struct vm *vm)
{
    pthread_mutex_lock(&vm->pause_lock);
    atomic_store(&vm->paused, false);
    pthread_cond_broadcast(&vm->pause_cond);
    pthread_mutex_unlock(&vm->pause_lock);
}

uint64_t vm_exit_count(struct vm *vm, enum vcpu_exit_kind kind)
{
    uint64_t n = 0;
    for (int i = 0; i < vm->nvcpus; i++)
        n += atomic_load_explicit(&vm->vcpus[i].exits[kind], memory_order_relaxed);
    return n;
}

static void *vcpu_thread(void *arg)
{
    struct vcpu *v = arg;
    char name[16];
    snprintf(name, sizeof(name), "vcpu%d", v->id);
    log_set_thread_name(name);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, VCPU_KICK_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    /* Before the first guest instruction: every exit is guest-controlled. */
    if (seccomp_install(SECCOMP_VCPU, v->vm->seccomp) < 0) {
        vm_request_stop(v->vm, HEARTH_EXIT_ERROR, "vcpu%d: its seccomp filter failed", v->id);
        return NULL;
    }

    while (!atomic_load(&v->vm->stopping)) {
        if (atomic_load(&v->vm->paused)) {
            park(v);
            continue;
        }
        if (ioctl(v->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                v->run->immediate_exit = 0;
                continue;
            }
            count(v, VCPU_EXIT_FAILURE);
            vm_request_stop(v->vm, HEARTH_EXIT_ERROR, "vcpu%d: KVM_RUN: %s", v->id,
                            strerror(errno));
            break;
        }
        if (!handle_exit(v))
            break;
    }
    return NULL;
}

int vm_start_vcpus(struct vm *vm)
{
    struct sigaction sa = { .sa_handler = kick_handler };
    sigemptyset(&sa.sa_mask);
    if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
        return -errno;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, VCPU_STACK_SIZE);
    for (int i = 0; i < vm->nvcpus; i++) {
        struct vcpu *v = &vm->vcpus[i];
        int r = pthread_create(&v->thread, &attr, vcpu_thread, v);
        if (r) {
            pthread_attr_destroy(&attr);
            vm_request_stop(vm, HEARTH_EXIT_ERROR, "starting vcpu%d: %s", i, strerror(r));
            return -r;
        }
        v->thread_started = true;
    }
    pthread_attr_destroy(&attr);
    return 0;
}

void vm_join_vcpus(struct vm *vm)
{
    /* Parked vCPUs wake on the broadcast and see `stopping`. */
    pthread_mutex_lock(&vm->pause_lock);
    pthread_cond_broadcast(&vm->pause_cond);
    pthread_mutex_unlock(&vm->pause_lock);
    for (int i = 0; i < vm->nvcpus; i++)
        if (vm->vcpus[i].thread_started)
            kick(&vm->vcpus[i]);
    for (int i = 0; i < vm->nvcpus; i++) {
        struct vcpu *v = &vm->vcpus[i];
        if (v->thread_started) {
            pthread_join(v->thread, NULL);
            v->thread_started = false;
        }
    }
}
