/*
 * mbedTLS 2.28 (Debian 12, the twin) vs 3.x (ESP-IDF v5) differences, in one
 * place. Use these wrappers instead of the raw calls.
 *
 * Only the 2.x branch is built, linked and tested on the development host
 * (Debian ships 2.28 only). The 3.x branch is compiled for syntax and types
 * against mbedTLS v3.6.6 headers (`make -C host check-mbedtls3
 * MBEDTLS3_INCLUDE=...`) but never linked or run here: an ESP-IDF v5 build is
 * its first real test. mbedTLS 4.0 (ESP-IDF v6, PSA-only) is not supported.
 */
#ifndef PROV_COMPAT_H
#define PROV_COMPAT_H

#include "mbedtls/version.h"
#include "mbedtls/pk.h"
#include "mbedtls/sha256.h"

#if MBEDTLS_VERSION_NUMBER >= 0x04000000
#error "mbedTLS 4.x is not supported by the provisioning core (PSA-only API)"
#endif

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
/* ---- mbedTLS 3.x (NOT compiled here: no 3.x on Debian 12) ---- */
#define PROV_MBEDTLS3 1

/* 3.x: parse and check_pair take an RNG (for blinding). */
#define prov_pk_parse_key(pk, key, keylen, f_rng, p_rng) \
    mbedtls_pk_parse_key((pk), (key), (keylen), NULL, 0, (f_rng), (p_rng))
#define prov_pk_check_pair(pub, prv, f_rng, p_rng) mbedtls_pk_check_pair((pub), (prv), (f_rng), (p_rng))
/* 3.x: pk_sign takes the signature buffer size. */
#define prov_pk_sign(pk, md, hash, hash_len, sig, sig_size, sig_len, f_rng, p_rng) \
    mbedtls_pk_sign((pk), (md), (hash), (hash_len), (sig), (sig_size), (sig_len), (f_rng), (p_rng))
#define prov_sha256(in, len, out) mbedtls_sha256((in), (len), (out), 0)
#define prov_sha256_starts(ctx) mbedtls_sha256_starts((ctx), 0)
#define prov_sha256_update(ctx, in, len) mbedtls_sha256_update((ctx), (in), (len))
#define prov_sha256_finish(ctx, out) mbedtls_sha256_finish((ctx), (out))

#else
/* ---- mbedTLS 2.28 ---- */
#define PROV_MBEDTLS3 0

#ifndef MBEDTLS_PRIVATE
#define MBEDTLS_PRIVATE(member) member
#endif

#define prov_pk_parse_key(pk, key, keylen, f_rng, p_rng) \
    ((void)(f_rng), (void)(p_rng), mbedtls_pk_parse_key((pk), (key), (keylen), NULL, 0))
#define prov_pk_check_pair(pub, prv, f_rng, p_rng) ((void)(f_rng), (void)(p_rng), mbedtls_pk_check_pair((pub), (prv)))
/* 2.28 has no sig_size: the caller's buffer must hold MBEDTLS_PK_SIGNATURE_MAX_SIZE bytes; checked below. */
#define prov_pk_sign(pk, md, hash, hash_len, sig, sig_size, sig_len, f_rng, p_rng)                      \
    (((sig_size) < MBEDTLS_PK_SIGNATURE_MAX_SIZE) ? MBEDTLS_ERR_PK_BAD_INPUT_DATA                       \
                                                  : mbedtls_pk_sign((pk), (md), (hash), (hash_len), (sig), \
                                                                    (sig_len), (f_rng), (p_rng)))
#define prov_sha256(in, len, out) mbedtls_sha256_ret((in), (len), (out), 0)
#define prov_sha256_starts(ctx) mbedtls_sha256_starts_ret((ctx), 0)
#define prov_sha256_update(ctx, in, len) mbedtls_sha256_update_ret((ctx), (in), (len))
#define prov_sha256_finish(ctx, out) mbedtls_sha256_finish_ret((ctx), (out))
#endif

#endif /* PROV_COMPAT_H */
