/*
 * dispatch.h - the command half of the device (dispatch.c), as the link half
 * (device.c) calls it: one complete request in, one answer out. Private to
 * the core; calls go one way, device.c -> dispatch.c -> device_stores.c.
 */
#ifndef PROV_DISPATCH_H
#define PROV_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "prov/device.h"
#include "reply.h"

/*
 * Run one complete request (after reassembly) and fill p_reply. Returns the
 * response status byte; on an error p_reply->text says why.
 */
prov_error_code_t prov_dispatch(prov_device_t *p_dev, uint8_t type, const uint8_t *p_payload, size_t len,
                                prov_reply_t *p_reply);

#endif /* PROV_DISPATCH_H */
