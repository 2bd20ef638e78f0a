/* The virtio devices a configuration asks for (drives, network
 * interfaces, vsock, entropy): attached at start in Firecracker's order,
 * updated by PATCH while the VM runs, counted in the metrics. */
#ifndef HEARTH_VDEVS_H
#define HEARTH_VDEVS_H

#include "config/config.h"
#include "devices/manager.h"

#include <jansson.h>

struct virtio_rng;
struct virtio_blk;
struct virtio_vsock;
struct virtio_net;

struct vdevs {
    int nblk;
    struct virtio_blk *blk[CONFIG_MAX_DRIVES]; /* in cfg->drives' order */
    int nnet;
    struct virtio_net *net[CONFIG_MAX_NETS]; /* in cfg->nets' order */
    struct virtio_vsock *vsock;
    struct virtio_rng *rng;
};

/* PUT-time checks, like Firecracker's (which opens a drive's file when it
 * is configured): what section s of `next` names must be usable. -1 with a
 * message. */
int vdevs_check(enum config_section s, const struct vm_config *next, char *err, size_t errlen);

/* Attaches every configured device to dm (which owns them from then on,
 * even on failure). -1 with a message naming the device on failure. */
int vdevs_attach(struct vdevs *v, const struct vm_config *cfg, struct devmgr *dm, char *err,
                 size_t errlen);

/* Forgets the devices (after dm's teardown freed them). */
void vdevs_clear(struct vdevs *v);

/* A PATCH of a running VM's drive or interface: what changed from `old`
 * to `next` (a drive's backing file, rate limiters) applied to the live
 * device. -1 with a message, the device unchanged, on failure. */
int vdevs_update(struct vdevs *v, enum config_section s, const struct vm_config *old,
                 const struct vm_config *next, char *err, size_t errlen);

/* Firecracker's device metric groups ("block", "net", "vsock", "entropy"),
 * added to o. */
void vdevs_metrics(struct vdevs *v, json_t *o);

#endif
