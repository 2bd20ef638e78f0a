/* Unit tests: paths from the API opened without waiting (a FIFO refused at
 * once, naming the field) by the helper and by every caller. */
#include "boot/loader.h"
#include "config/config.h"
#include "core/path.h"
#include "devices/console.h"
#include "devices/virtio/blk.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[] = "/tmp/hearth-paths-XXXXXX";
static char fifo[64], file[64];

/* Each test has a second: an open that waits on the FIFO is killed by the
 * alarm, failing the test instead of hanging it. */
static int arm(void **state)
{
    (void)state;
    alarm(1);
    return 0;
}

static void helper_refuses_a_fifo_without_waiting(void **state)
{
    (void)state;
    char err[256];
    /* For reading (waits for a writer) and writing (waits for a reader). */
    assert_int_equal(path_open_checked(fifo, O_RDONLY, 0, PATH_REG, "boot-source.kernel_image_path",
                                       err, sizeof(err)),
                     -EINVAL);
    char want[256];
    snprintf(want, sizeof(want), "boot-source.kernel_image_path %s: is a FIFO, not a regular file",
             fifo);
    assert_string_equal(err, want);
    assert_int_equal(path_open_checked(fifo, O_WRONLY | O_CREAT | O_APPEND, 0600, PATH_REG, "f",
                                       err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "is a FIFO, not a regular file"));
    assert_int_equal(path_open_checked(dir, O_RDONLY, 0, PATH_REG | PATH_BLK, "f", err,
                                       sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, ": is a directory, not a regular file or block device"));
    assert_int_equal(path_open_checked("/nonexistent/x", O_RDONLY, 0, PATH_REG, "f", err,
                                       sizeof(err)),
                     -ENOENT);
    assert_string_equal(err, "f /nonexistent/x: No such file or directory");
}

static void helper_opens_what_it_allows(void **state)
{
    (void)state;
    char err[256];
    /* A regular file: O_NONBLOCK does not stay on. */
    int fd = path_open_checked(file, O_RDWR, 0, PATH_REG, "f", err, sizeof(err));
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    close(fd);
    /* A FIFO allowed for writing: refused while nobody reads, opened when
     * somebody does, non-blocking only when asked for. */
    assert_int_equal(path_open_checked(fifo, O_WRONLY, 0, PATH_FIFO, "f", err, sizeof(err)),
                     -ENXIO);
    assert_non_null(strstr(err, ": is a FIFO nobody has open for reading"));
    int reader = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(reader >= 0);
    fd = path_open_checked(fifo, O_WRONLY, 0, PATH_FIFO, "f", err, sizeof(err));
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    close(fd);
    fd = path_open_checked(fifo, O_WRONLY | O_NONBLOCK, 0, PATH_FIFO, "f", err, sizeof(err));
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    close(fd);
    close(reader);
}

static void kernel_and_initrd_fifos_are_refused(void **state)
{
    (void)state;
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, 32 << 20, false), 0);
    struct loaded_kernel k;
    char err[256], want[256];
    assert_int_equal(kernel_load(&m, fifo, &k, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want), "boot-source.kernel_image_path %s: is a FIFO, not a regular file",
             fifo);
    assert_string_equal(err, want);
    memset(&k, 0, sizeof(k));
    k.load_end = 0x300000;
    struct boot_entry e;
    struct loaded_initrd rd;
    assert_int_equal(boot_prepare(&m, &k, "", fifo, &e, &rd, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want), "boot-source.initrd_path %s: is a FIFO, not a regular file", fifo);
    assert_string_equal(err, want);
    guest_mem_free(&m);
}

static void drive_fifo_is_refused(void **state)
{
    (void)state;
    struct drive_config d = { .drive_id = "rootfs", .path_on_host = fifo, .is_read_only = true };
    char err[256], want[256];
    assert_int_equal(virtio_blk_check(&d, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want),
             "drives[rootfs].path_on_host %s: is a FIFO, not a regular file or block device", fifo);
    assert_string_equal(err, want);
    d.is_read_only = false;
    assert_int_equal(virtio_blk_check(&d, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, want);
}

static void serial_fifo_needs_its_reader(void **state)
{
    (void)state;
    struct console c;
    char err[256], want[256];
    assert_int_equal(console_open(&c, fifo, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "serial.serial_out_path %s: is a FIFO nobody has open for reading",
             fifo);
    assert_string_equal(err, want);
    int reader = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(reader >= 0);
    assert_int_equal(console_open(&c, fifo, err, sizeof(err)), 0);
    assert_int_equal(write(c.out_fd, "x", 1), 1);
    char ch;
    assert_int_equal(read(reader, &ch, 1), 1);
    console_close(&c);
    close(reader);
    assert_int_equal(console_open(&c, dir, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ": is a directory, not a regular file, character device or FIFO"));
}

static int setup(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    snprintf(file, sizeof(file), "%s/file", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    alarm(0);
    unlink(fifo);
    unlink(file);
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(helper_refuses_a_fifo_without_waiting, arm),
        cmocka_unit_test_setup(helper_opens_what_it_allows, arm),
        cmocka_unit_test_setup(kernel_and_initrd_fifos_are_refused, arm),
        cmocka_unit_test_setup(drive_fifo_is_refused, arm),
        cmocka_unit_test_setup(serial_fifo_needs_its_reader, arm),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
