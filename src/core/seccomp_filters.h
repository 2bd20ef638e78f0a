/* The compiled filters (generated at build time by tools/seccomp_gen.c). */
#ifndef HEARTH_SECCOMP_FILTERS_H
#define HEARTH_SECCOMP_FILTERS_H

#include "core/seccomp.h"

#include <linux/filter.h>

extern const struct sock_fprog seccomp_filters[SECCOMP_NKINDS];

#endif
