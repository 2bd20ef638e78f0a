/* libFuzzer target: the config parser sees arbitrary operator input. */
#include "config/config.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vm_config cfg;
    char err[512];
    if (config_parse_buffer((const char *)data, size, &cfg, err, sizeof(err)) == 0)
        config_free(&cfg);
    return 0;
}
