/* A fake hearth-tpmd backend for the API fuzzers: every answer a route can
 * get (success, each error) is picked by the bits of one mode byte. */
#ifndef HEARTH_FAKE_API_BACKEND_H
#define HEARTH_FAKE_API_BACKEND_H

#include "../../tpmd/api.h"

#include <stdint.h>

/* Fills b with the fake, reading *mode at each call: allocate answers by
 * mode & 3 (success, -EAGAIN, -EIO, -ENOMEM; its error text is not UTF-8),
 * release by (mode >> 2) % 3 (success, -ENOENT, -EBUSY), get finds the id
 * when mode & 0x10, the CA is there when mode & 0x20. */
void fake_api_backend(struct api_backend *b, const uint8_t *mode);

#endif
