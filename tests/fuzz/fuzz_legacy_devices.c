/* libFuzzer target: a hostile guest drives every legacy device through the
 * trap registry with arbitrary addresses, widths and values. Each input is
 * a sequence of 12-byte accesses: space|write, width, address (u32), value
 * (u64, low bytes used). */
#include "arch/x86_64/layout.h"
#include "core/log.h"
#include "core/trap.h"
#include "devices/boot_timer.h"
#include "devices/i8042.h"
#include "devices/serial.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void no_irq(void *ctx, int level)
{
    (void)ctx;
    (void)level;
}
static void no_kbd_irq(void *ctx) { (void)ctx; }
static void count_reset(void *ctx) { (*(int *)ctx)++; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct trap_registry reg;
    static struct serial ser;
    static struct i8042 kbd;
    static struct boot_timer timer;
    int resets = 0;
    log_init(NULL, LOG_OFF, NULL);
    trap_init(&reg);
    serial_init(&ser, -1, no_irq, NULL);
    i8042_init(&kbd, count_reset, no_kbd_irq, &resets);
    boot_timer_init(&timer, 0, 0);
    trap_register(&reg, TRAP_PIO, SERIAL_PORT_BASE, SERIAL_PORT_LEN, &serial_ops, &ser, NULL);
    trap_register(&reg, TRAP_PIO, I8042_DATA_PORT, 1, &i8042_data_ops, &kbd, NULL);
    trap_register(&reg, TRAP_PIO, I8042_CMD_PORT, 1, &i8042_cmd_ops, &kbd, NULL);
    trap_register(&reg, TRAP_MMIO, LAYOUT_BOOT_TIMER, LAYOUT_BOOT_TIMER_SIZE, &boot_timer_ops,
                  &timer, NULL);
    for (size_t off = 0; off + 14 <= size; off += 14) {
        const uint8_t *a = data + off;
        enum trap_space space = (a[0] & 1) ? TRAP_MMIO : TRAP_PIO;
        bool write = a[0] & 2;
        uint32_t len = a[1] % 9;
        uint32_t addr;
        memcpy(&addr, a + 2, 4);
        if (space == TRAP_PIO)
            addr = 0x3f0 + addr % 0x20 -
                   0x390 * (addr & 0x100 ? 1 : 0); /* around COM1 and the i8042 */
        else
            addr = (uint32_t)LAYOUT_BOOT_TIMER + addr % 0x1010;
        uint8_t buf[8];
        memcpy(buf, a + 6, 8);
        trap_dispatch(&reg, space, addr, buf, len, write);
        if (a[0] & 4)
            serial_push_input(&ser, a + 6, a[13] % 8);
    }
    serial_destroy(&ser);
    i8042_destroy(&kbd);
    return 0;
}
