/* Firecracker-style metrics: one JSON line per flush, counters as deltas
 * since the previous line, written to a file or FIFO that never blocks the
 * writer. What to count is the caller's: it hands in a tree of cumulative
 * counters (objects of integers), and this turns it into the line. */
#ifndef HEARTH_METRICS_H
#define HEARTH_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define METRICS_PERIOD_MS 60000

struct metrics {
    int fd;                 /* -1: metrics not configured */
    json_t *last;           /* the cumulative counters of the previous line */
    uint64_t lines, missed; /* lines written, lines a full or failing target lost */
};

void metrics_init(struct metrics *mt);
/* Opens path (a file, appended to, or a FIFO) non-blocking. -errno. */
int metrics_open(struct metrics *mt, const char *path);
bool metrics_enabled(const struct metrics *mt);

/* Writes one line: utc_timestamp_ms, then `now` with every integer turned
 * into its increase since the previous line, except "store" metrics, which
 * are written as they are (Firecracker's SharedStoreMetric): everything in
 * "latencies_us" and "api_server", keys ending in "max_us", "num_faults".
 * Takes the reference to now. 0, or -errno when the line was lost (counted
 * in missed; the deltas then carry over to the next line). */
int metrics_write(struct metrics *mt, json_t *now);
void metrics_close(struct metrics *mt);

/* A metrics group: {names[i]: values[i]} for i < n. A new reference. */
json_t *metrics_counters(const char *const *names, const uint64_t *values, int n);

/* Firecracker's per-device group "<group>_<id>" (block_rootfs, net_eth0)
 * into o, its values added to sum[0..n) for the summed "<group>". */
void metrics_add_device(json_t *o, const char *group, const char *id, const char *const *names,
                        const uint64_t *values, uint64_t *sum, int n);

#endif
