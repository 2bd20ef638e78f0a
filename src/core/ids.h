/* Instance ids, as Firecracker and its jailer accept them. */
#ifndef HEARTH_IDS_H
#define HEARTH_IDS_H

#include <stdbool.h>
#include <string.h>

/* 1 to 64 characters of [A-Za-z0-9-]: safe in paths, logs and cgroup names. */
static inline bool id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

#endif
