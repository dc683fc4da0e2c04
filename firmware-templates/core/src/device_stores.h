/*
 * device_stores.h - the device context's view of its stores (private to the core).
 */
#ifndef PROV_DEVICE_STORES_H
#define PROV_DEVICE_STORES_H

#include <stddef.h>

#include "prov/device.h"

/* Re-read keys, committed set and lock flag into p_dev. PROV_CODE_OK or ERR_STORAGE. */
prov_error_code_t prov_device_refresh(prov_device_t *p_dev);

/* Read the committed set into p_dev->work and parse it. PROV_CODE_OK, ERR_STORAGE, ERR_BAD_PAYLOAD. */
prov_error_code_t prov_device_read_committed(prov_device_t *p_dev, prov_credentials_t *p_creds, size_t *p_len);

#endif /* PROV_DEVICE_STORES_H */
