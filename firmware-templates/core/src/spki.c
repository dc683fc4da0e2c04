/*
 * spki.c - SubjectPublicKeyInfo DER of a pk context (spki.h).
 */
#include "spki.h"

#include <string.h>

#include "prov/config.h"
#include "prov/storage_status.h"

int prov_spki_write(const mbedtls_pk_context *p_pk, uint8_t *p_out, size_t size, size_t *p_len)
{
    unsigned char der[PROV_PUBKEY_DER_MAX];
    /* Mbed TLS writes DER backwards, at the end of the buffer */
    int n = mbedtls_pk_write_pubkey_der((mbedtls_pk_context *)p_pk, der, sizeof(der));
    int st = PROV_STORAGE_OK;

    if (n <= 0) {
        st = PROV_STORAGE_CRYPTO;
    } else if ((size_t)n > size) {
        st = PROV_STORAGE_TOO_LARGE;
    } else {
        memcpy(p_out, der + sizeof(der) - (size_t)n, (size_t)n);
        *p_len = (size_t)n;
    }
    return st;
}

int prov_spki_take(int st, mbedtls_pk_context *p_pk, uint8_t *p_out, size_t size, size_t *p_len)
{
    if (st == PROV_STORAGE_OK) {
        st = prov_spki_write(p_pk, p_out, size, p_len);
    }
    mbedtls_pk_free(p_pk);
    return st;
}
