/* SQLite persistence for benchmark runs. */
#include "store.h"

#include <stdio.h>
#include <time.h>

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, label TEXT, setup TEXT,"
    " total_vms INTEGER, parallelism INTEGER, payload TEXT, started_at TEXT, host TEXT,"
    " command TEXT);"
    "CREATE TABLE IF NOT EXISTS vms(run_id INTEGER REFERENCES runs(id), setup TEXT, idx INTEGER,"
    " start_us INTEGER, tpm_ready_us INTEGER, exec_us INTEGER, boot_timer_us INTEGER,"
    " end_us INTEGER, exit_status INTEGER, error TEXT);"
    "CREATE INDEX IF NOT EXISTS vms_run ON vms(run_id);";

int store_open(const char *path, sqlite3 **db)
{
    if (sqlite3_open(path, db) != SQLITE_OK) {
        fprintf(stderr, "hearth-bench: %s: %s\n", path, sqlite3_errmsg(*db));
        return -1;
    }
    char *err = NULL;
    if (sqlite3_exec(*db, schema, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "hearth-bench: %s: %s\n", path, err);
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

int64_t store_add_run(sqlite3 *db, const char *label, const char *setup, int total, int parallelism,
                      const char *payload, const char *host, const char *command)
{
    sqlite3_stmt *st;
    char when[32];
    time_t t = time(NULL);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO runs(label, setup, total_vms, parallelism, payload,"
                           " started_at, host, command) VALUES(?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, label, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, setup, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, total);
    sqlite3_bind_int(st, 4, parallelism);
    sqlite3_bind_text(st, 5, payload, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, when, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, command, -1, SQLITE_TRANSIENT);
    int r = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return r == 0 ? sqlite3_last_insert_rowid(db) : -1;
}

int store_add_vm(sqlite3 *db, int64_t run_id, const char *setup, const struct vm_row *v)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO vms VALUES(?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, setup, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, v->idx);
    sqlite3_bind_int64(st, 4, v->start_us);
    sqlite3_bind_int64(st, 5, v->tpm_ready_us);
    sqlite3_bind_int64(st, 6, v->exec_us);
    if (v->boot_timer_us >= 0)
        sqlite3_bind_int64(st, 7, v->boot_timer_us);
    else
        sqlite3_bind_null(st, 7);
    sqlite3_bind_int64(st, 8, v->end_us);
    sqlite3_bind_int(st, 9, v->exit_status);
    if (v->error)
        sqlite3_bind_text(st, 10, v->error, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 10);
    int r = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return r;
}
