/* The system calls each hearth thread may make once its filter is on. */
#include "core/seccomp.h"

#include <asm/ioctls.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/syscall.h>

/* Hand-laid tables: clang-format 14 lays a macro whose body is a braced list
 * out as a block, and these lists one entry a line. */
/* clang-format off */
#define ANY(call) { SYS_##call, #call, 0, 0, { 0, 0, 0, NULL } }
#define ARG(call, i, m, v, w) { SYS_##call, #call, 0, 1, { i, m, v, w } }
/* Not allowed, but answered with errno e rather than stopping hearth. */
#define FAIL(call, e) { SYS_##call, #call, e, 0, { 0, 0, 0, NULL } }
#define IOCTL(cmd) ARG(ioctl, 1, ~0ull, cmd, #cmd)
/* No executable mappings: nothing hearth does after start-up needs one. */
#define NO_EXEC(call) ARG(call, 2, PROT_EXEC, 0, "prot without PROT_EXEC")

const char *const seccomp_thread_names[SECCOMP_NKINDS] = {
    [SECCOMP_VMM] = "vmm", [SECCOMP_API] = "api", [SECCOMP_VCPU] = "vcpu", [SECCOMP_TPM] = "tpm",
    [SECCOMP_IO] = "io",
};

/* What every thread does: log (write), lock (futex), end (exit, madvise of
 * its stack), take the vCPU kick or a fatal signal, and end the process
 * (exit_group: the violation handler's _exit). */
#define COMMON                                                                               \
    ANY(write), ANY(futex), ANY(exit), ANY(exit_group), ANY(madvise), ANY(rt_sigreturn),     \
        ANY(rt_sigprocmask), ANY(clock_gettime)

/* The main thread once the VM runs: the event loop (console, stdin,
 * eventfds, timers, metrics), the vCPUs' pause/kick, swtpm's SHUTDOWN and
 * the detached teardown (a fork), the exit path (unlink: the API socket
 * and the vsock listener's), KVM's exit counters (pread of the stats fds
 * opened with the vCPUs). It starts no thread: every one exists before its
 * filter goes on. */
static const struct seccomp_rule vmm[] = {
    COMMON,
    ANY(read),          ANY(close),         ANY(epoll_wait),   ANY(epoll_ctl),
    ANY(timerfd_settime), ANY(fcntl),       ANY(tgkill),       ANY(getpid),
    ANY(brk),           ANY(munmap),        ANY(mremap),       NO_EXEC(mmap),
    NO_EXEC(mprotect),  ANY(poll),          ANY(recvfrom),     ANY(sendto),       ANY(sendmsg),
    ANY(set_robust_list), ANY(pipe2),       ANY(unlink),       ANY(pread64),
    IOCTL(KVM_IRQ_LINE), IOCTL(TCGETS),     IOCTL(TCSETS),
    /* glibc's fork, for the detached teardown, and nothing else: no thread
     * (CLONE_VM, CLONE_THREAD), no namespace. clone3 answers ENOSYS, as on
     * kernels before 5.3, so that glibc falls back to clone. */
    ARG(clone, 0, ~0ull, CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD,
        "CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD (fork)"),
    FAIL(clone3, ENOSYS),
    /* PATCH /drives/{id} after boot opens the new backing file and sizes it,
     * after waiting for the old one's requests in flight (as teardown does),
     * and puts it in the drive's ring (the one register call its ring takes).
     * Only that open (path_open_checked's flags): no file is created or
     * truncated. */
    ARG(openat, 2, 0xffffffffull, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
        "O_RDONLY|O_NONBLOCK|O_NOCTTY|O_CLOEXEC"),
    ARG(openat, 2, 0xffffffffull, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
        "O_RDWR|O_NONBLOCK|O_NOCTTY|O_CLOEXEC"),
    ANY(fstat),         ANY(newfstatat),    ANY(lseek),        ANY(io_uring_enter),
    ARG(io_uring_register, 1, ~0ull, IORING_REGISTER_FILES_UPDATE, "IORING_REGISTER_FILES_UPDATE"),
};

/* The API thread: connections on its own epoll, buffers on the heap. */
static const struct seccomp_rule api[] = {
    COMMON,
    ANY(epoll_wait), ANY(epoll_ctl), ANY(accept4), ANY(recvfrom), ANY(sendto), ANY(read),
    ANY(close),      ANY(brk),       ANY(munmap),  ANY(mremap),   NO_EXEC(mmap), NO_EXEC(mprotect),
};

/* A vCPU: KVM_RUN, the registers for a fatal exit's report, interrupts
 * raised by device handlers; eventfd kicks go through write. A virtio
 * status write runs on the vCPU that made it: a reset waits for a drive's
 * requests in flight (io_uring) and closes vsock connections, DRIVER_OK
 * sets a TAP's offloads and re-arms its watch on the I/O loop. */
static const struct seccomp_rule vcpu[] = {
    COMMON,
    IOCTL(KVM_RUN), IOCTL(KVM_GET_REGS), IOCTL(KVM_GET_SREGS), IOCTL(KVM_IRQ_LINE),
    ANY(io_uring_enter), ANY(epoll_ctl), ANY(close), ANY(brk), ANY(munmap),
    IOCTL(TUNSETOFFLOAD),
};

/* The TPM thread: swtpm's data channel (send, receive, wait), its control
 * channel for cancels, and virtio-tpm's used-ring interrupt. */
static const struct seccomp_rule tpm[] = {
    COMMON,
    ANY(poll), ANY(read), ANY(recvfrom), ANY(sendto), ANY(sendmsg), IOCTL(KVM_IRQ_LINE),
};

/* The I/O thread: its epoll loop over ioeventfds, io_uring completions,
 * TAPs, vsock sockets and rate-limiter timers; drives through io_uring
 * (or preadv/pwritev/fsync where the kernel refuses it), TAP frames with
 * readv/writev, guest vsock connections to <uds_path>_<port> (socket,
 * connect), host ones accepted, entropy from getrandom; interrupts are
 * irqfd writes. Nothing is opened by path. */
static const struct seccomp_rule io[] = {
    COMMON,
    ANY(epoll_wait),    ANY(epoll_ctl),  ANY(read),    ANY(readv),    ANY(writev),
    ANY(preadv),        ANY(pwritev),    ANY(fsync),   ANY(io_uring_enter),
    ANY(getrandom),     ANY(accept4),    ANY(connect), ANY(recvfrom), ANY(sendto),
    ANY(shutdown),      ANY(close),      ANY(timerfd_settime), ANY(timerfd_gettime),
    ARG(socket, 0, ~0ull, AF_UNIX, "AF_UNIX"),
    ANY(brk),           ANY(munmap),     ANY(mremap),  NO_EXEC(mmap), NO_EXEC(mprotect),
};

#define RULES(a) { a, sizeof(a) / sizeof(a[0]) }
const struct seccomp_rules seccomp_rules[SECCOMP_NKINDS] = {
    [SECCOMP_VMM] = RULES(vmm),
    [SECCOMP_API] = RULES(api),
    [SECCOMP_VCPU] = RULES(vcpu),
    [SECCOMP_TPM] = RULES(tpm),
    [SECCOMP_IO] = RULES(io),
};
/* clang-format on */
