/* The device manager's loops over every device's lifecycle: create in the
 * kinds' order, find, quiesce and resume, reset, save and restore, PUT
 * checks, PATCH, metrics. */
#include "bus/manager.h"

#include <stdio.h>

int devmgr_create_all(struct devmgr *dm, const struct device_env *env, char *err, size_t errlen)
{
    for (int k = 0; k < dm->nkinds; k++) {
        const struct device_ops *ops = dm->kinds[k];
        int n = ops->count ? ops->count(env) : 1;
        for (int i = 0; i < n; i++)
            if (ops->create(env, i, err, errlen) < 0)
                return -1;
    }
    return 0;
}

void *devmgr_find(const struct devmgr *dm, const struct device_ops *ops, int index)
{
    for (int i = 0; i < dm->ndevs; i++)
        if (dm->devs[i].ops == ops && dm->devs[i].index == index)
            return dm->devs[i].dev;
    return NULL;
}

void devmgr_quiesce(struct devmgr *dm)
{
    if (dm->quiesced)
        return;
    dm->quiesced = true;
    for (int i = 0; i < dm->ndevs; i++)
        if (dm->devs[i].ops->quiesce)
            dm->devs[i].ops->quiesce(dm->devs[i].dev);
}

void devmgr_resume(struct devmgr *dm)
{
    if (!dm->quiesced)
        return;
    dm->quiesced = false;
    for (int i = dm->ndevs - 1; i >= 0; i--)
        if (dm->devs[i].ops->resume)
            dm->devs[i].ops->resume(dm->devs[i].dev);
}

void devmgr_reset(struct devmgr *dm)
{
    for (int i = 0; i < dm->ndevs; i++) {
        const struct devmgr_instance *d = &dm->devs[i];
        if (d->mmio)
            virtio_mmio_reset(d->mmio); /* the transport resets its device */
        else if (d->ops->reset)
            d->ops->reset(d->dev);
    }
}

int devmgr_save(struct devmgr *dm, struct snap_writer *w, char *err, size_t errlen)
{
    for (int i = 0; i < dm->ndevs; i++) {
        const struct devmgr_instance *d = &dm->devs[i];
        if (!d->ops->save) {
            snprintf(err, errlen, "%s: cannot be saved in a snapshot yet", d->name);
            return -1;
        }
        if (d->ops->save(d->dev, w, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int devmgr_restore(struct devmgr *dm, struct snap_reader *r, char *err, size_t errlen)
{
    for (int i = 0; i < dm->ndevs; i++) {
        const struct devmgr_instance *d = &dm->devs[i];
        if (!d->ops->restore) {
            snprintf(err, errlen, "%s: cannot be restored from a snapshot yet", d->name);
            return -1;
        }
        if (d->ops->restore(d->dev, r, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int devmgr_check(const struct devmgr *dm, enum config_section s, const struct vm_config *next,
                 char *err, size_t errlen)
{
    for (int k = 0; k < dm->nkinds; k++) {
        const struct device_ops *ops = dm->kinds[k];
        if (ops->section == s && ops->check && ops->check(next, err, errlen) < 0)
            return -1;
    }
    return 0;
}

bool devmgr_updatable(const struct devmgr *dm, enum config_section s)
{
    for (int k = 0; k < dm->nkinds; k++)
        if (dm->kinds[k]->section == s && dm->kinds[k]->update)
            return true;
    return false;
}

int devmgr_update(struct devmgr *dm, enum config_section s, const struct vm_config *old,
                  const struct vm_config *next, char *err, size_t errlen)
{
    for (int i = 0; i < dm->ndevs; i++) {
        const struct devmgr_instance *d = &dm->devs[i];
        if (d->ops->section == s && d->ops->update &&
            d->ops->update(d->dev, d->index, old, next, err, errlen) < 0)
            return -1;
    }
    return 0;
}

void devmgr_metrics(const struct devmgr *dm, json_t *o)
{
    for (int k = 0; k < dm->nkinds; k++) {
        const struct device_ops *ops = dm->kinds[k];
        if (!ops->metrics)
            continue;
        void *devs[DEVMGR_MAX_DEVICES];
        int n = 0;
        for (int i = 0; i < dm->ndevs; i++)
            if (dm->devs[i].ops == ops)
                devs[n++] = dm->devs[i].dev;
        ops->metrics(devs, n, o);
    }
}
