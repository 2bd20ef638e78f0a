/* hearth-bench's SQLite store. Schema:
 *   runs(id INTEGER PRIMARY KEY, label, setup, total_vms, parallelism,
 *        payload, started_at, host, command)      -- one row per setup of a run
 *   vms(run_id, setup, idx, start_us, tpm_ready_us, exec_us, boot_timer_us,
 *       end_us, exit_status, error)
 * Times are microseconds since the run started (monotonic clock):
 * start_us just before the TPM is allocated, tpm_ready_us when it is ready
 * (= start_us without a TPM), exec_us just before the monitor is executed,
 * end_us when its process has exited. boot_timer_us is the monitor's own
 * Guest-boot-time (since its start), NULL where there is none (QEMU). A VM
 * that failed has a non-NULL error and is never dropped. */
#ifndef BENCH_STORE_H
#define BENCH_STORE_H

#include <sqlite3.h>
#include <stdint.h>

struct vm_row {
    int idx;
    int64_t start_us, tpm_ready_us, exec_us, boot_timer_us, end_us; /* boot_timer_us < 0: NULL */
    int exit_status;
    const char *error; /* NULL: success */
};

int store_open(const char *path, sqlite3 **db);
/* Adds a runs row; returns its id or -1. */
int64_t store_add_run(sqlite3 *db, const char *label, const char *setup, int total, int parallelism,
                      const char *payload, const char *host, const char *command);
int store_add_vm(sqlite3 *db, int64_t run_id, const char *setup, const struct vm_row *v);

#endif
