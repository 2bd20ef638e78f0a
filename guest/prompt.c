/* prompt: prints a shell-like prompt without a newline and waits, as an
 * interactive guest does, so a test can see the console show it at once.
 * flood=N first prints N bytes of filler (to fill a console nobody reads);
 * halt then waits forever at no CPU cost; otherwise the guest reads a name
 * typed on hearth's stdin, answers and ends the VM right after. */
#include "guest.h"

void guest_main(const struct boot_info *bi)
{
    static const char filler[] = "# prompt: filler for a console that nobody reads\n";
    uint64_t flood = opt_u64(bi, "flood", 0);
    for (uint64_t sent = 0; sent < flood; sent += sizeof(filler) - 1)
        serial_write(filler, sizeof(filler) - 1);

    printf("login: ");
    if (opt_get(bi, "halt", NULL, 0))
        for (;;)
            __asm__ volatile("cli; hlt");

    char name[32];
    size_t n = 0;
    int c;
    do
        c = serial_getc(1000000);
    while (c < 0);
    while (c >= 0 && c != '\r' && c != '\n' && n + 1 < sizeof(name)) {
        name[n++] = (char)c;
        c = serial_getc(1000000);
    }
    name[n] = 0;
    printf("\nhello, %s\n", name);
    tap_ok(n > 0, "read a name typed after the prompt");
}
