/* The system calls each hearth thread may make once its filter is on. */
#include "core/seccomp.h"

#include <asm/ioctls.h>
#include <linux/kvm.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define ANY(call) { SYS_##call, #call, 0, { 0, 0, 0, NULL } }
#define ARG(call, i, m, v, w) { SYS_##call, #call, 1, { i, m, v, w } }
#define IOCTL(cmd) ARG(ioctl, 1, ~0ull, cmd, #cmd)
/* No executable mappings: nothing hearth does after start-up needs one. */
#define NO_EXEC(call) ARG(call, 2, PROT_EXEC, 0, "prot without PROT_EXEC")

const char *const seccomp_thread_names[SECCOMP_NKINDS] = {
    [SECCOMP_VMM] = "vmm", [SECCOMP_API] = "api", [SECCOMP_VCPU] = "vcpu", [SECCOMP_TPM] = "tpm",
};

/* What every thread does: log (write), lock (futex), end (exit, madvise of
 * its stack), take the vCPU kick or a fatal signal, and end the process
 * (exit_group: the violation handler's _exit). */
#define COMMON                                                                               \
    ANY(write), ANY(futex), ANY(exit), ANY(exit_group), ANY(madvise), ANY(rt_sigreturn),     \
        ANY(rt_sigprocmask), ANY(clock_gettime)

/* The main thread once the VM runs: the event loop (console, stdin,
 * eventfds, timers, metrics), the vCPUs' pause/kick, swtpm's SHUTDOWN and
 * the detached teardown (a fork), the exit path. No file is opened. */
static const struct seccomp_rule vmm[] = {
    COMMON,
    ANY(read),          ANY(close),         ANY(epoll_wait),   ANY(epoll_ctl),
    ANY(timerfd_settime), ANY(fcntl),       ANY(tgkill),       ANY(getpid),
    ANY(brk),           ANY(munmap),        ANY(mremap),       NO_EXEC(mmap),
    NO_EXEC(mprotect),  ANY(poll),          ANY(recvfrom),     ANY(sendto),       ANY(sendmsg),
    ANY(clone),         ANY(clone3),        ANY(set_robust_list), ANY(pipe2),
    ANY(unlink),
    IOCTL(KVM_IRQ_LINE), IOCTL(TCGETS),     IOCTL(TCSETS),
};

/* The API thread: connections on its own epoll, buffers on the heap. */
static const struct seccomp_rule api[] = {
    COMMON,
    ANY(epoll_wait), ANY(epoll_ctl), ANY(accept4), ANY(recvfrom), ANY(sendto), ANY(read),
    ANY(close),      ANY(brk),       ANY(munmap),  ANY(mremap),   NO_EXEC(mmap), NO_EXEC(mprotect),
};

/* A vCPU: KVM_RUN, the registers for a fatal exit's report, interrupts
 * raised by device handlers; eventfd kicks go through write. */
static const struct seccomp_rule vcpu[] = {
    COMMON,
    IOCTL(KVM_RUN), IOCTL(KVM_GET_REGS), IOCTL(KVM_GET_SREGS), IOCTL(KVM_IRQ_LINE),
};

/* The TPM thread: swtpm's data channel (send, receive, wait), its control
 * channel for cancels, and virtio-tpm's used-ring interrupt. */
static const struct seccomp_rule tpm[] = {
    COMMON,
    ANY(poll), ANY(read), ANY(recvfrom), ANY(sendto), ANY(sendmsg), IOCTL(KVM_IRQ_LINE),
};

#define RULES(a) { a, sizeof(a) / sizeof(a[0]) }
const struct seccomp_rules seccomp_rules[SECCOMP_NKINDS] = {
    [SECCOMP_VMM] = RULES(vmm),
    [SECCOMP_API] = RULES(api),
    [SECCOMP_VCPU] = RULES(vcpu),
    [SECCOMP_TPM] = RULES(tpm),
};
