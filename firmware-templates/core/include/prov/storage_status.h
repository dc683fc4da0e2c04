/*
 * Return codes shared by the key store and credential store interfaces.
 * Every store function returns one of these; the dispatcher maps them to
 * wire error codes (PROV_STORAGE_IO -> ERR_STORAGE, PROV_STORAGE_CRYPTO ->
 * ERR_CRYPTO, PROV_STORAGE_UNSUPPORTED -> ERR_UNSUPPORTED, ...).
 */
#ifndef PROV_STORAGE_STATUS_H
#define PROV_STORAGE_STATUS_H

typedef enum prov_storage_status {
    PROV_STORAGE_OK = 0,           /* done */
    PROV_STORAGE_NOT_FOUND = -1,   /* nothing stored in that place (not an error for has/read) */
    PROV_STORAGE_IO = -2,          /* flash / file / NVS / secure element access failed */
    PROV_STORAGE_TOO_LARGE = -3,   /* caller's buffer or the store's capacity is too small */
    PROV_STORAGE_UNSUPPORTED = -4, /* key type or operation not available in this store */
    PROV_STORAGE_CRYPTO = -5,      /* the crypto library failed (key generation, signing) */
    PROV_STORAGE_BAD_ARG = -6      /* caller bug: NULL pointer, bad slot */
} prov_storage_status_t;

#include "prov/codes.h"

/* The wire error code for a store's return value (PROV_STORAGE_OK -> PROV_CODE_OK). */
prov_error_code_t prov_storage_to_code(int storage_status);

#endif /* PROV_STORAGE_STATUS_H */
