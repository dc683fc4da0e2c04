/*
 * file_keystore.h - the twin's key store (store id 5 "file"): mbedTLS keys
 * kept as PEM files in the state directory (key-active.pem,
 * key-pending.pem, mode 0600). Like a chip's key store it has no export
 * function; the MQTT app passes the file *path* to the TLS library, which
 * runs inside the "device", so the key still never crosses the wire.
 */
#ifndef TWIN_FILE_KEYSTORE_H
#define TWIN_FILE_KEYSTORE_H

#include <stdint.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/pk.h"
#include "prov/keystore.h"

#define TWIN_KEY_FILE_ACTIVE "key-active.pem"
#define TWIN_KEY_FILE_PENDING "key-pending.pem"

typedef struct twin_file_keystore {
    char dir[1024];
    mbedtls_ctr_drbg_context *p_drbg;
    uint32_t keygen_delay_ms; /* simulates a slow chip (RSA on an ESP32 takes seconds) */
    /* parsed keys, loaded lazily from the files; loaded[i] = 0 when not read yet */
    mbedtls_pk_context keys[2];
    int loaded[2];
    uint8_t types[2];
} twin_file_keystore_t;

/* Fill *p_ks (the interface) bound to p_store; p_store->dir must be set. */
void twin_file_keystore_init(twin_file_keystore_t *p_store, const char *dir, mbedtls_ctr_drbg_context *p_drbg,
                             uint32_t keygen_delay_ms, prov_keystore_t *p_ks);

/* Forget cached keys (files are the truth; used after a restart). */
void twin_file_keystore_free(twin_file_keystore_t *p_store);

#endif /* TWIN_FILE_KEYSTORE_H */
