/* Limits that several layers must agree on, stated once. */
#ifndef HEARTH_LIMITS_H
#define HEARTH_LIMITS_H

/* vCPUs per VM. The config refuses more, struct vm has a slot for each, and
 * the MADT and MP table builders are sized for (and check) this many: APIC
 * ids stay 8-bit and the tables fit between the EBDA and 1 MiB. */
#define HEARTH_MAX_VCPUS 32

#endif
