/*
 * spki.h - the SubjectPublicKeyInfo DER of an Mbed TLS pk context, the one
 * form the core compares and hashes keys in (private to the core; the crypto
 * implementations and csr.c use it).
 */
#ifndef PROV_SPKI_H
#define PROV_SPKI_H

#include <stddef.h>
#include <stdint.h>

#include "mbedtls/pk.h"

/* Write it to p_out[0..*p_len). Returns PROV_STORAGE_OK, _TOO_LARGE (size too small) or _CRYPTO. */
int prov_spki_write(const mbedtls_pk_context *p_pk, uint8_t *p_out, size_t size, size_t *p_len);

/* The end of every "public key of a stored key": when st (how loading the key went) is
 * PROV_STORAGE_OK, writes the SPKI; frees the context either way; returns the outcome. */
int prov_spki_take(int st, mbedtls_pk_context *p_pk, uint8_t *p_out, size_t size, size_t *p_len);

#endif /* PROV_SPKI_H */
