/*
 * crypto.h - the one seam between the provisioning code and a crypto library.
 *
 * Two implementations, exactly one compiled in:
 *   - crypto_mbedtls.c: Mbed TLS 2.28 / 3.x with its classic API (the twin on
 *     Debian's 2.28, ESP-IDF v5's 3.6);
 *   - crypto_psa.c: the PSA Crypto API (Mbed TLS 4 / TF-PSA-Crypto in ESP-IDF
 *     v6, where the classic key APIs are gone).
 * The Mbed TLS version picks one; PROV_CRYPTO_USE_PSA=1 would force PSA on
 * 3.6, whose PSA API is complete enough, but only 4.x is checked.
 *
 * Software keys (the "nvs" and "file" stores) are handled through a key
 * reference that the store keeps in its own slot record:
 *   - classic: the private key DER itself (the store persists the bytes);
 *   - PSA: a 4-byte key id; the key lives in PSA's own storage (on ESP-IDF:
 *     PSA ITS in NVS) and never passes through our buffers.
 * A store chooses the PSA key id (one per record, so that a new key never
 * overwrites the one in use); key_id 0 asks for a volatile, exportable key
 * (for a store that wraps the key elsewhere at once, e.g. the DS peripheral).
 *
 * Key functions return prov_storage_status_t values (0 = PROV_STORAGE_OK).
 * Not thread-safe: the port serialises calls (the dispatcher task, or the key
 * generation task while the dispatcher waits for it).
 */
#ifndef PROV_CRYPTO_H
#define PROV_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "mbedtls/version.h"

#ifndef PROV_CRYPTO_USE_PSA
#if MBEDTLS_VERSION_NUMBER >= 0x04000000
#define PROV_CRYPTO_USE_PSA 1
#else
#define PROV_CRYPTO_USE_PSA 0
#endif
#endif

/* Largest key reference: a classic RSA-3072 private key DER is about 1.8 KB. */
#define PROV_CRYPTO_KEY_REF_MAX 2400u
/* Largest private key DER prov_crypto_key_private_der() writes (same bound). */
#define PROV_CRYPTO_PRIVATE_DER_MAX 2400u

/* Start the library (PSA: psa_crypto_init; classic: seed a CTR-DRBG from the platform entropy). 0 or negative. */
int prov_crypto_init(void);

/* Random bytes from the library's DRBG. Same shape as Mbed TLS's f_rng. 0 or non-zero. */
int prov_crypto_random(void *p_ctx, unsigned char *p_out, size_t len);

/* SHA-256 of data. 0 or non-zero. */
int prov_crypto_sha256(const uint8_t *p_data, size_t len, uint8_t digest[32]);

/*
 * Make a key of wire type key_type (PROV_KEY_*). key_id: the PSA key id the
 * key gets (persistent), or 0 for a volatile exportable one; the classic
 * implementation ignores it. Any old key under that id is destroyed first.
 * Writes the reference to p_ref[0..*p_ref_len). Returns OK, UNSUPPORTED,
 * TOO_LARGE, CRYPTO.
 */
int prov_crypto_key_generate(uint8_t key_type, uint32_t key_id, uint8_t *p_ref, size_t ref_size, size_t *p_ref_len);

/* The wire key type of a referenced key. Returns OK, NOT_FOUND (PSA key gone), CRYPTO. */
int prov_crypto_key_type(const uint8_t *p_ref, size_t ref_len, uint8_t *p_key_type);

/* Its SubjectPublicKeyInfo DER. Returns OK, NOT_FOUND, TOO_LARGE, CRYPTO. */
int prov_crypto_key_public(const uint8_t *p_ref, size_t ref_len, uint8_t *p_spki, size_t spki_size,
                           size_t *p_spki_len);

/*
 * Sign a SHA-256 digest: EC keys give a DER Ecdsa-Sig-Value, RSA keys a
 * PKCS#1 v1.5 signature. Returns OK, NOT_FOUND, TOO_LARGE, CRYPTO.
 */
int prov_crypto_key_sign_sha256(const uint8_t *p_ref, size_t ref_len, const uint8_t hash[32], uint8_t *p_sig,
                                size_t sig_size, size_t *p_sig_len);

/*
 * The private key as DER (SEC1 ECPrivateKey or PKCS#1 RSAPrivateKey), for
 * the device's own use: its TLS client (esp-tls and libmosquitto take no key
 * handle) and the DS store's wrapping. Never reachable from the protocol: no
 * command reads a private key. Returns OK, NOT_FOUND, TOO_LARGE, CRYPTO.
 */
int prov_crypto_key_private_der(const uint8_t *p_ref, size_t ref_len, uint8_t *p_der, size_t der_size,
                                size_t *p_der_len);

/* Forget the key (PSA: psa_destroy_key; classic: nothing, the store wipes its bytes). Returns OK or IO. */
int prov_crypto_key_destroy(const uint8_t *p_ref, size_t ref_len);

#endif /* PROV_CRYPTO_H */
