/*
 * file_keystore.h - the twin's key store (store id 5 "file"): keys made
 * through prov/crypto.h and kept as PEM files in the state directory
 * (key-active.pem, key-pending.pem, mode 0600). Like a chip's key store it
 * has no export function; the MQTT app passes the file *path* to the TLS
 * library, which runs inside the "device", so the key never crosses the wire.
 */
#ifndef TWIN_FILE_KEYSTORE_H
#define TWIN_FILE_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "prov/crypto.h"
#include "prov/keystore.h"

#define TWIN_KEY_FILE_ACTIVE "key-active.pem"
#define TWIN_KEY_FILE_PENDING "key-pending.pem"

typedef struct twin_file_keystore {
    char dir[1024];
    uint32_t keygen_delay_ms; /* simulates a slow chip (RSA on an ESP32 takes seconds) */
    /* key references (private key DER) read lazily from the files; loaded[i] = 0 when not read yet */
    uint8_t refs[2][PROV_CRYPTO_KEY_REF_MAX];
    size_t ref_len[2];
    int loaded[2];
    uint8_t types[2];
} twin_file_keystore_t;

/* Fill *p_ks (the interface) bound to p_store. prov_crypto_init() must have run. */
void twin_file_keystore_init(twin_file_keystore_t *p_store, const char *dir, uint32_t keygen_delay_ms,
                             prov_keystore_t *p_ks);

/* Forget (and wipe) cached keys: the files are the truth; used after a restart. */
void twin_file_keystore_free(twin_file_keystore_t *p_store);

#endif /* TWIN_FILE_KEYSTORE_H */
