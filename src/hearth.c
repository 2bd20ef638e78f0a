/* hearth: a Firecracker-compatible KVM microVM monitor; command-line entry. */
#include "api/server.h"
#include "config/config.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/seccomp.h"
#include "core/vm.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef HEARTH_VERSION
#define HEARTH_VERSION "0.0.0"
#endif

#define DEFAULT_API_SOCK "/run/hearth.socket"

/* The API server's requests, answered on the VMM thread. */
static void on_api(void *ctx, int fd, uint32_t events)
{
    (void)fd, (void)events;
    api_server_process(ctx);
}

static void api_metrics(void *ctx, json_t *o) { api_router_metrics(ctx, o); }

static const char usage[] =
    "Usage: hearth [--api-sock PATH] [--config-file PATH [--no-api]] [options]\n"
    "\n"
    "Runs one microVM, configured through Firecracker's REST API on a Unix socket\n"
    "and/or a Firecracker-style JSON config file (which boots it at once).\n"
    "\n"
    "  --api-sock PATH     the API socket (default " DEFAULT_API_SOCK ")\n"
    "  --config-file PATH  VM configuration (boot-source, machine-config, ...)\n"
    "  --no-api            no API: boot from --config-file only\n"
    "  --http-api-max-payload-size N  largest request body, bytes (default 51200)\n"
    "  --boot-timer        attach the boot-timer device at 0xC0000000\n"
    "  --id ID             instance id for log lines ([A-Za-z0-9-], at most 64)\n"
    "  --log-path PATH     append log lines to PATH instead of stderr\n"
    "  --level LEVEL       Off, Error, Warning, Info (default), Debug or Trace\n"
    "  --show-level, --show-log-origin   log line format (level is shown by default)\n"
    "  --metrics-path PATH write metrics (JSON lines) to PATH\n"
    "  --no-seccomp        run without seccomp filters (debugging only)\n"
    "  --print-seccomp     print every thread's seccomp allowlist and exit\n"
    "  --start-time-us N, --start-time-cpu-us N, --parent-cpu-time-us N\n"
    "                      when and how much CPU the process started with (a jailer's)\n"
    "  --help, --version\n"
    "\n"
    "Exit status: 0 when the guest resets the VM, 1 on a start-up or VM failure,\n"
    "148 when a thread made a system call its seccomp filter forbids,\n"
    "152 for a rejected configuration, 153 for a rejected command line.\n";

static int arg_error(const char *msg, const char *arg)
{
    fprintf(stderr, "hearth: %s%s%s\nTry 'hearth --help'.\n", msg, arg ? ": " : "", arg ? arg : "");
    return HEARTH_EXIT_ARG_PARSING;
}

static bool parse_u64(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v > max)
        return false;
    *out = v;
    return true;
}

struct args {
    const char *config_path, *id, *log_path, *level_name, *api_sock, *metrics_path;
    bool no_api, show_level, show_origin, no_seccomp;
    unsigned long long max_payload, start_us, start_cpu_us, parent_cpu_us;
    bool has_start_us, has_start_cpu_us;
};

static int parse_args(int argc, char **argv, struct args *a, struct vmm_options *opt)
{
    enum {
        OPT_CONFIG = 1,
        OPT_NO_API,
        OPT_BOOT_TIMER,
        OPT_ID,
        OPT_LOG_PATH,
        OPT_LEVEL,
        OPT_HELP,
        OPT_VERSION,
        OPT_API_SOCK,
        OPT_MAX_PAYLOAD,
        OPT_SHOW_LEVEL,
        OPT_SHOW_ORIGIN,
        OPT_METRICS,
        OPT_START_US,
        OPT_START_CPU_US,
        OPT_PARENT_CPU_US,
        OPT_NO_SECCOMP,
        OPT_PRINT_SECCOMP
    };
    static const struct option longopts[] = {
        { "config-file", required_argument, NULL, OPT_CONFIG },
        { "no-api", no_argument, NULL, OPT_NO_API },
        { "api-sock", required_argument, NULL, OPT_API_SOCK },
        { "http-api-max-payload-size", required_argument, NULL, OPT_MAX_PAYLOAD },
        { "boot-timer", no_argument, NULL, OPT_BOOT_TIMER },
        { "id", required_argument, NULL, OPT_ID },
        { "log-path", required_argument, NULL, OPT_LOG_PATH },
        { "level", required_argument, NULL, OPT_LEVEL },
        { "show-level", no_argument, NULL, OPT_SHOW_LEVEL },
        { "show-log-origin", no_argument, NULL, OPT_SHOW_ORIGIN },
        { "metrics-path", required_argument, NULL, OPT_METRICS },
        { "start-time-us", required_argument, NULL, OPT_START_US },
        { "start-time-cpu-us", required_argument, NULL, OPT_START_CPU_US },
        { "parent-cpu-time-us", required_argument, NULL, OPT_PARENT_CPU_US },
        { "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
        { "print-seccomp", no_argument, NULL, OPT_PRINT_SECCOMP },
        { "help", no_argument, NULL, OPT_HELP },
        { "version", no_argument, NULL, OPT_VERSION },
        { NULL, 0, NULL, 0 },
    };
    opterr = 0;
    int c;
    while ((c = getopt_long_only(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_CONFIG: a->config_path = optarg; break;
        case OPT_NO_API: a->no_api = true; break;
        case OPT_API_SOCK: a->api_sock = optarg; break;
        case OPT_MAX_PAYLOAD:
            if (!parse_u64(optarg, 1ULL << 30, &a->max_payload) || !a->max_payload)
                return arg_error("--http-api-max-payload-size must be 1 to 2^30 bytes", optarg);
            break;
        case OPT_BOOT_TIMER: opt->boot_timer = true; break;
        case OPT_ID: a->id = optarg; break;
        case OPT_LOG_PATH: a->log_path = optarg; break;
        case OPT_LEVEL: a->level_name = optarg; break;
        case OPT_SHOW_LEVEL: a->show_level = true; break;
        case OPT_SHOW_ORIGIN: a->show_origin = true; break;
        case OPT_METRICS: a->metrics_path = optarg; break;
        case OPT_START_US:
        case OPT_START_CPU_US:
        case OPT_PARENT_CPU_US: {
            unsigned long long v;
            if (!parse_u64(optarg, ~0ULL, &v))
                return arg_error("a time must be a number of microseconds", argv[optind - 1]);
            if (c == OPT_START_US)
                a->start_us = v, a->has_start_us = true;
            else if (c == OPT_START_CPU_US)
                a->start_cpu_us = v, a->has_start_cpu_us = true;
            else
                a->parent_cpu_us = v;
            break;
        }
        case OPT_NO_SECCOMP: a->no_seccomp = true; break;
        case OPT_PRINT_SECCOMP: seccomp_print(stdout); return -1;
        case OPT_HELP: fputs(usage, stdout); return -1;
        case OPT_VERSION: printf("hearth %s\n", HEARTH_VERSION); return -1;
        default: return arg_error("unknown or incomplete option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return arg_error("unexpected argument", argv[optind]);
    if (a->no_api && !a->config_path)
        return arg_error("--no-api needs --config-file", NULL);
    if (a->no_api && a->api_sock)
        return arg_error("--api-sock and --no-api exclude each other", NULL);
    if (a->id && !id_valid(a->id))
        return arg_error("--id must be 1-64 characters of [A-Za-z0-9-]", a->id);
    return 0;
}

/* The config file's sections, with the command line's logger settings
 * winning over its logger section. */
static int load_config_file(struct vmm *m, const struct args *a, bool level_given,
                            enum log_level level)
{
    struct vm_config cfg;
    char err[512];
    if (config_parse_file(a->config_path, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "hearth: config %s: %s\n", a->config_path, err);
        return HEARTH_EXIT_BAD_CONFIG;
    }
    if (cfg.has_logger) {
        if (level_given)
            cfg.logger.level = level;
        if (a->log_path) {
            free(cfg.logger.log_path);
            cfg.logger.log_path = NULL; /* already the target */
        }
        cfg.logger.show_level |= a->show_level;
        cfg.logger.show_log_origin |= a->show_origin;
    }
    if (vmm_load_config(m, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "hearth: config %s: %s\n", a->config_path, err);
        config_free(&cfg);
        return HEARTH_EXIT_BAD_CONFIG;
    }
    return 0;
}

static int set_metrics_path(struct vmm *m, const char *path)
{
    char err[512];
    json_t *body = json_pack("{s:s}", "metrics_path", path);
    int r = vmm_configure(m, CONFIG_METRICS, body, false, err, sizeof(err));
    json_decref(body);
    if (r < 0)
        fprintf(stderr, "hearth: --metrics-path: %s\n", err);
    return r;
}

int main(int argc, char **argv)
{
    struct inherited_fds inherited;
    struct vmm_options opt = {
        .start_wall_ns = clock_ns(CLOCK_MONOTONIC),
        .start_cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID),
        .inherited = &inherited,
    };
    /* Before hearth opens anything: what a tpm.socket "fd:N" may name. */
    inherited_fds_scan(&inherited);
    struct args a = { .max_payload = API_DEFAULT_MAX_PAYLOAD };
    int r = parse_args(argc, argv, &a, &opt);
    if (r)
        return r < 0 ? HEARTH_EXIT_OK : r;
    /* A jailer knows when the process really started; else main did. */
    if (a.has_start_us)
        opt.start_wall_ns = a.start_us * 1000;
    if (a.has_start_cpu_us)
        opt.start_cpu_ns = a.start_cpu_us * 1000;
    opt.instance_id = a.id;
    opt.seccomp = !a.no_seccomp;
    enum log_level level = LOG_INFO;
    if (a.level_name && !log_parse_level(a.level_name, &level))
        return arg_error("--level must be Off, Error, Warning, Info, Debug or Trace", a.level_name);
    if ((r = log_init(a.id, level, a.log_path)) < 0) {
        fprintf(stderr, "hearth: --log-path %s: %s\n", a.log_path, strerror(-r));
        return HEARTH_EXIT_ARG_PARSING;
    }
    log_configure(NULL, level, true, a.show_origin);

    /* One malloc arena: hearth allocates little, and glibc's per-thread
     * arenas open /proc/sys/vm/overcommit_memory when they shrink, which
     * no thread's seccomp filter allows (nothing opens files once the VM
     * runs). It also keeps the monitor's memory down. */
    mallopt(M_ARENA_MAX, 1);
    /* Before any thread exists: every thread inherits no_new_privs. */
    if (opt.seccomp && (r = seccomp_prepare()) < 0) {
        log_error("start-up failed: preparing seccomp: %s", strerror(-r));
        return HEARTH_EXIT_ERROR;
    }
    if (!opt.seccomp)
        log_warn("seccomp filters are off (--no-seccomp)");
    char err[512];
    struct vmm *m = vmm_create(&opt, err, sizeof(err));
    if (!m) {
        log_error("start-up failed: %s", err);
        return HEARTH_EXIT_ERROR;
    }
    int code = 0;
    if (a.config_path)
        code = load_config_file(m, &a, a.level_name != NULL, level);
    if (!code && a.metrics_path && set_metrics_path(m, a.metrics_path) < 0)
        code = HEARTH_EXIT_BAD_CONFIG;
    struct api_server srv;
    struct api_router router;
    memset(&srv, 0, sizeof(srv));
    srv.listen_fd = srv.efd = -1;
    api_router_init(&router, &vmm_ops, m, a.id ? a.id : "anonymous-instance");
    vmm_add_metrics(m, api_metrics, &router);
    if (!code && !a.no_api) {
        const char *sock = a.api_sock ? a.api_sock : DEFAULT_API_SOCK;
        if (api_server_start(&srv, sock, a.max_payload, &router, opt.seccomp, err, sizeof(err)) <
                0 ||
            vmm_watch(m, api_server_fd(&srv), on_api, &srv, err, sizeof(err)) < 0) {
            log_error("start-up failed: %s", err);
            code = HEARTH_EXIT_ERROR;
        } else {
            uint64_t cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID) / 1000 -
                           (a.has_start_cpu_us ? a.start_cpu_us : 0) + a.parent_cpu_us;
            uint64_t wall = (mono_ns() - opt.start_wall_ns) / 1000;
            vmm_set_startup_times(m, wall, cpu);
            log_info("API server listening on %s (%llu us, %llu CPU us after the process "
                     "started)",
                     sock, (unsigned long long)wall, (unsigned long long)cpu);
        }
    }
    /* A config file boots the VM at once, API or not (Firecracker's rule). */
    if (!code && a.config_path && vmm_start(m, err, sizeof(err)) < 0) {
        log_error("start-up failed: %s", err);
        code = HEARTH_EXIT_ERROR;
    }
    if (!code)
        code = vmm_run(m);
    api_server_close(&srv);
    api_server_stop(&srv);
    vmm_destroy(m);
    log_close();
    return code;
}
