/* The device sections' setters and JSON (drives, network-interfaces,
 * vsock, entropy), for config.c's dispatch: internal to src/config. */
#ifndef HEARTH_CONFIG_DEVICES_H
#define HEARTH_CONFIG_DEVICES_H

#include "config/config.h"
#include "config/json.h"

int config_set_drive(struct jctx *c, json_t *o, struct vm_config *cfg, bool patch);
int config_set_net(struct jctx *c, json_t *o, struct vm_config *cfg, bool patch);
int config_set_vsock(struct jctx *c, json_t *o, struct vm_config *cfg);
int config_set_entropy(struct jctx *c, json_t *o, struct vm_config *cfg);

void config_free_devices(struct vm_config *cfg);
/* Deep-copies the device sections' strings (dst starts as a shallow copy
 * of src); -1 when out of memory. */
int config_copy_devices(struct vm_config *dst, const struct vm_config *src);

/* Adds "drives", "network-interfaces", "vsock" and "entropy" to o. */
void config_devices_to_json(const struct vm_config *cfg, json_t *o);

#endif
