/* fake_swtpm: a control socket that misbehaves, for start-up error tests.
 *   fake_swtpm PATH silent      accept connections, never answer
 *   fake_swtpm PATH caps=HEX    answer GET_CAPABILITY with these caps only */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fake_swtpm PATH silent|caps=HEX\n");
        return 2;
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
    unlink(argv[1]);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 4) < 0) {
        perror("fake_swtpm");
        return 1;
    }
    bool silent = strcmp(argv[2], "silent") == 0;
    uint64_t caps = silent ? 0 : strtoull(argv[2] + 5, NULL, 16);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        uint8_t req[64];
        while (read(c, req, sizeof(req)) > 0) {
            if (silent)
                continue;
            uint8_t resp[8];
            for (int i = 0; i < 8; i++)
                resp[i] = (uint8_t)(caps >> (56 - 8 * i));
            if (write(c, resp, 8) != 8)
                break;
        }
        close(c);
    }
}
