/* swtpm for measurements: one manufactured state, a fresh copy per VM. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

int bench_swtpm_manufacture(const struct bench_ctx *c)
{
    char cmd[2048];
    snprintf(
        cmd, sizeof(cmd),
        "mkdir -p %s/base/state && swtpm_setup --tpm2 --tpmstate %s/base/state --createek "
        "--create-ek-cert --create-platform-cert --lock-nvram --overwrite > %s/base/setup.log 2>&1",
        c->tmp, c->tmp, c->tmp);
    return system(cmd) == 0 ? 0 : -1;
}

int bench_swtpm_start(const struct bench_ctx *c, const char *name, const char *log, char *sock,
                      size_t len)
{
    char cmd[4 * 1024], logopt[1200] = "";
    snprintf(sock, len, "%s/%s/ctrl.sock", c->tmp, name);
    /* Level 2 logs every command and response with its length. */
    if (log)
        snprintf(logopt, sizeof(logopt), "--log file=%s,level=2", log);
    snprintf(cmd, sizeof(cmd),
             "rm -rf %s/%s && mkdir -p %s/%s && cp -a %s/base/state %s/%s/state && "
             "swtpm socket --tpm2 --tpmstate dir=%s/%s/state --ctrl type=unixio,path=%s "
             "--pid file=%s/%s/pid %s --daemon",
             c->tmp, name, c->tmp, name, c->tmp, c->tmp, name, c->tmp, name, sock, c->tmp, name,
             logopt);
    return system(cmd) == 0 ? 0 : -1;
}

void bench_swtpm_stop(const struct bench_ctx *c, const char *name)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "kill $(cat %s/%s/pid 2>/dev/null) 2>/dev/null; rm -rf %s/%s",
             c->tmp, name, c->tmp, name);
    if (system(cmd) != 0)
        fprintf(stderr, "hearth-bench: could not stop swtpm %s\n", name);
}
