/* uid ranges for vTPMs: each state directory owns one range, registered
 * host-wide so two hearth-tpmd never hand out the same uid (wiping a vTPM
 * kills every process of its uid). */
#ifndef TPMD_UIDS_H
#define TPMD_UIDS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define UIDS_REGISTRY "/run/hearth-tpmd/uid-ranges"
#define UIDS_DEFAULT_BASE 1900000000u

/* Claims [*base, *base + count) for state_dir. With `chosen`, *base is the
 * operator's and must not overlap a range another existing state directory
 * holds; without, the range state_dir held before is kept, or the first
 * free one from UIDS_DEFAULT_BASE up (in steps of count) is taken. The
 * claim is recorded in the registry and in STATE/uid-range. Ranges of state
 * directories that no longer exist are free. -1 with err on a conflict. */
int uids_claim(const char *state_dir, uid_t *base, int count, bool chosen, char *err,
               size_t errlen);

#endif
