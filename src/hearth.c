/* hearth: a Firecracker-compatible KVM microVM monitor; command-line entry. */
#include "config/config.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/vm.h"
#include "vmm.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#ifndef HEARTH_VERSION
#define HEARTH_VERSION "0.0.0"
#endif

static const char usage[] =
    "Usage: hearth --config-file PATH --no-api [options]\n"
    "\n"
    "Boots a microVM described by a Firecracker-style JSON config file.\n"
    "\n"
    "  --config-file PATH  VM configuration (boot-source, machine-config, ...)\n"
    "  --no-api            run without the REST API (required in this version)\n"
    "  --boot-timer        attach the boot-timer device at 0xC0000000\n"
    "  --id ID             instance id for log lines ([A-Za-z0-9-], at most 64)\n"
    "  --log-path PATH     append log lines to PATH instead of stderr\n"
    "  --level LEVEL       Off, Error, Warning, Info (default), Debug or Trace\n"
    "  --help, --version\n"
    "\n"
    "Exit status: 0 when the guest resets the VM, 1 on a start-up or VM failure,\n"
    "152 for a rejected configuration, 153 for a rejected command line.\n";

static bool valid_id(const char *id)
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

static int arg_error(const char *msg, const char *arg)
{
    fprintf(stderr, "hearth: %s%s%s\nTry 'hearth --help'.\n", msg, arg ? ": " : "",
            arg ? arg : "");
    return HEARTH_EXIT_ARG_PARSING;
}

int main(int argc, char **argv)
{
    struct vmm_options opt = {
        .start_wall_ns = clock_ns(CLOCK_MONOTONIC),
        .start_cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID),
    };
    const char *config_path = NULL, *id = NULL, *log_path = NULL, *level_name = NULL;
    bool no_api = false;
    enum { OPT_CONFIG = 1, OPT_NO_API, OPT_BOOT_TIMER, OPT_ID, OPT_LOG_PATH, OPT_LEVEL,
           OPT_HELP, OPT_VERSION };
    static const struct option longopts[] = {
        { "config-file", required_argument, NULL, OPT_CONFIG },
        { "no-api", no_argument, NULL, OPT_NO_API },
        { "boot-timer", no_argument, NULL, OPT_BOOT_TIMER },
        { "id", required_argument, NULL, OPT_ID },
        { "log-path", required_argument, NULL, OPT_LOG_PATH },
        { "level", required_argument, NULL, OPT_LEVEL },
        { "help", no_argument, NULL, OPT_HELP },
        { "version", no_argument, NULL, OPT_VERSION },
        { NULL, 0, NULL, 0 },
    };
    opterr = 0;
    int c;
    while ((c = getopt_long_only(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_CONFIG: config_path = optarg; break;
        case OPT_NO_API: no_api = true; break;
        case OPT_BOOT_TIMER: opt.boot_timer = true; break;
        case OPT_ID: id = optarg; break;
        case OPT_LOG_PATH: log_path = optarg; break;
        case OPT_LEVEL: level_name = optarg; break;
        case OPT_HELP: fputs(usage, stdout); return HEARTH_EXIT_OK;
        case OPT_VERSION: printf("hearth %s\n", HEARTH_VERSION); return HEARTH_EXIT_OK;
        default: return arg_error("unknown or incomplete option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return arg_error("unexpected argument", argv[optind]);
    if (!config_path)
        return arg_error("--config-file is required", NULL);
    if (!no_api)
        return arg_error("the REST API is not available in this version; pass --no-api", NULL);
    if (id && !valid_id(id))
        return arg_error("--id must be 1-64 characters of [A-Za-z0-9-]", id);
    enum log_level level = LOG_INFO;
    if (level_name && !log_parse_level(level_name, &level))
        return arg_error("--level must be Off, Error, Warning, Info, Debug or Trace", level_name);

    struct vm_config cfg;
    char err[512];
    if (config_parse_file(config_path, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "hearth: config %s: %s\n", config_path, err);
        return HEARTH_EXIT_BAD_CONFIG;
    }
    /* The command line wins over the config file's logger section. */
    if (!level_name && cfg.has_log_level)
        level = cfg.log_level;
    const char *path = log_path ? log_path : cfg.log_path;
    int r = log_init(id, level, path);
    if (r < 0) {
        fprintf(stderr, "hearth: log file %s: %s\n", path, strerror(-r));
        config_free(&cfg);
        return log_path ? HEARTH_EXIT_ARG_PARSING : HEARTH_EXIT_BAD_CONFIG;
    }
    int code = vmm_run(&cfg, &opt);
    config_free(&cfg);
    log_close();
    return code;
}
