/* i8042: the controller answers Linux's probe commands, and command 0xFE
 * resets the machine so nothing after it runs. */
#include "guest.h"

static int read_data(void)
{
    for (int i = 0; i < 100; i++)
        if (inb(0x64) & 1)
            return inb(0x60);
    return -1;
}

void guest_main(const struct boot_info *bi)
{
    (void)bi;
    tap_ok((inb(0x64) & 0x05) == 0x04, "status: system flag set, output buffer empty");
    outb(0x64, 0xaa);
    tap_ok(read_data() == 0x55, "controller self-test passes");
    outb(0x64, 0x20);
    int ctr = read_data();
    tap_ok(ctr >= 0, "command byte reads 0x%x", ctr);
    outb(0x64, 0x60);
    outb(0x60, 0x65);
    outb(0x64, 0x20);
    tap_ok(read_data() == 0x65, "command byte write round-trips");
    outb(0x60, 0xff);
    int ack = read_data(), st = read_data();
    tap_ok(ack == 0xfa && st == 0xaa, "keyboard reset answers ACK, self-test ok");
    tap_ok(read_data() == -1, "output buffer drained");
    printf("# guest: i8042 reset now\n");
    outb(0x64, 0xfe);
    /* Only reached when the reset did not stop the VM. */
    printf("not ok 99 - still running after the i8042 reset\n");
    tap_done();
}
