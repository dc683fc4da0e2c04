/*
 * Key store: the only place a device private key exists. It makes keys
 * inside itself and uses them (public key, sign a SHA-256 hash); there is
 * deliberately NO function that returns private key material, and none may
 * be added (docs/protocol.md 5.3). Implementations: mbedTLS key in NVS
 * (plain or encrypted), the DS peripheral, an ATECC608, a file (twin).
 *
 * Two slots: ACTIVE (the identity in use) and PENDING (a rotation key made
 * by GENERATE_KEY force in PROVISIONED; COMMIT promotes it).
 *
 * Every function returns a prov_storage_status_t (0 = PROV_STORAGE_OK).
 */
#ifndef PROV_KEYSTORE_H
#define PROV_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "prov/storage_status.h"

typedef enum prov_key_slot {
    PROV_KEY_SLOT_ACTIVE = 0,
    PROV_KEY_SLOT_PENDING = 1
} prov_key_slot_t;

typedef struct prov_keystore {
    void *ctx;

    /* Wire value of this store (key store ids of protocol 5.3: 1 nvs ... 5 file). */
    uint8_t store_id;

    /* Key types (wire values 1..4) this store can make, for HELLO. */
    const uint8_t *key_types;
    size_t n_key_types;

    /*
     * Report the key in slot: *key_type = wire key type. Returns OK,
     * NOT_FOUND when the slot is empty, IO on storage failure.
     */
    int (*key_type)(void *ctx, prov_key_slot_t slot, uint8_t *key_type);

    /*
     * Make a new key of key_type inside the store, in slot, replacing the one
     * there only once the new one is safely stored (a power loss leaves the
     * old key or the new one). May take seconds (RSA on a chip). Returns OK,
     * UNSUPPORTED (type not possible here), CRYPTO, IO.
     */
    int (*generate)(void *ctx, prov_key_slot_t slot, uint8_t key_type);

    /*
     * Write the key's SubjectPublicKeyInfo DER to out[0..*out_len). Returns
     * OK, NOT_FOUND, TOO_LARGE (out_size too small), IO.
     */
    int (*public_key)(void *ctx, prov_key_slot_t slot, uint8_t *out, size_t out_size, size_t *out_len);

    /*
     * Sign a SHA-256 digest with the key in slot. EC keys: DER
     * Ecdsa-Sig-Value; RSA keys: PKCS#1 v1.5 with the SHA-256 DigestInfo.
     * Returns OK, NOT_FOUND, TOO_LARGE, CRYPTO, IO.
     */
    int (*sign_sha256)(void *ctx, prov_key_slot_t slot, const uint8_t hash[32], uint8_t *sig, size_t sig_size,
                       size_t *sig_len);

    /*
     * Make the PENDING key the ACTIVE one; the old active key is destroyed.
     * Atomic: after a power loss either (old active, pending) or (new active)
     * exists. Returns OK, NOT_FOUND (no pending key), IO.
     */
    int (*promote_pending)(void *ctx);

    /* Destroy the key in slot. Returns OK (also when the slot was empty) or IO. */
    int (*destroy)(void *ctx, prov_key_slot_t slot);
} prov_keystore_t;

#endif /* PROV_KEYSTORE_H */
