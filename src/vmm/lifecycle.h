/* The microVM's states and the actions that move it between them, and
 * what a front end (the API) may ask of the VMM: the contract between
 * them, so neither includes the other. */
#ifndef HEARTH_VMM_LIFECYCLE_H
#define HEARTH_VMM_LIFECYCLE_H

#include "config/config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum vmm_state { VMM_NOT_STARTED, VMM_RUNNING, VMM_PAUSED };

enum vmm_action {
    VMM_INSTANCE_START,
    VMM_SEND_CTRL_ALT_DEL,
    VMM_FLUSH_METRICS,
    VMM_PAUSE,
    VMM_RESUME,
};

/* What the API drives. Each returns 0, or -1 with a message for the client
 * in err. */
struct vmm_ops {
    enum vmm_state (*state)(void *ctx);
    /* One section through config_set, applied; after the start only the
     * PATCHes a device takes (drives, network interfaces), applied to the
     * running devices. */
    int (*configure)(void *ctx, enum config_section s, json_t *body, bool patch, char *err,
                     size_t errlen);
    int (*action)(void *ctx, enum vmm_action a, char *err, size_t errlen);
    const struct vm_config *(*config)(void *ctx);
    /* GET /tpm: the section plus what only the running VM knows (its
     * measurements); NULL: the section alone. A new reference. */
    json_t *(*tpm)(void *ctx);
};

#endif
