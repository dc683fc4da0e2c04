/*
 * DS operands from an RSA private key (see ds_params.h). The arithmetic is
 * the textbook one on little-endian words: it runs once per key generation,
 * where a few milliseconds do not matter, and needs no bignum library.
 */
#include "ds_params.h"

#include <string.h>

#include "mbedtls/asn1.h"

#define MAX_WORDS (3072u / 32u)

/* Next INTEGER of the sequence as little-endian words (exactly n_words; bigger values fail). */
static int read_integer(unsigned char **pp, const unsigned char *p_end, uint32_t *p_words, size_t n_words)
{
    size_t len = 0;

    if (mbedtls_asn1_get_tag(pp, p_end, &len, MBEDTLS_ASN1_INTEGER) != 0) {
        return -1;
    }
    const unsigned char *p = *pp;
    *pp += len;
    while (len > 0u && *p == 0u) { /* DER puts a 0 before a high bit */
        p++;
        len--;
    }
    if (len > n_words * 4u) {
        return -1;
    }
    memset(p_words, 0, n_words * 4u);
    for (size_t i = 0; i < len; i++) {
        size_t byte = len - 1u - i; /* i-th least significant byte */
        p_words[i / 4u] |= (uint32_t)p[byte] << (8u * (i % 4u));
    }
    return 0;
}

/* r >= m ? */
static int ge(const uint32_t *p_r, const uint32_t *p_m, size_t n)
{
    for (size_t i = n; i-- > 0u;) {
        if (p_r[i] != p_m[i]) {
            return p_r[i] > p_m[i];
        }
    }
    return 1;
}

static void sub(uint32_t *p_r, const uint32_t *p_m, size_t n)
{
    uint64_t borrow = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = (uint64_t)p_r[i] - p_m[i] - borrow;
        p_r[i] = (uint32_t)d;
        borrow = (d >> 63) & 1u;
    }
}

int prov_ds_params_from_der(const uint8_t *p_der, size_t der_len, unsigned bits, uint32_t *p_y, uint32_t *p_m,
                            uint32_t *p_rb, uint32_t *p_m_prime)
{
    unsigned char *p = (unsigned char *)p_der;
    const unsigned char *p_end = p_der + der_len;
    const size_t n = bits / 32u;
    uint32_t e[MAX_WORDS];
    size_t len = 0;
    int version = -1;
    uint32_t inv = 1u;

    if ((bits != 2048u && bits != 3072u) ||
        mbedtls_asn1_get_tag(&p, p_end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 ||
        mbedtls_asn1_get_int(&p, p_end, &version) != 0 || version != 0) {
        return -1;
    }
    /* RSAPrivateKey ::= SEQUENCE { version, modulus n, publicExponent e, privateExponent d, ... } */
    if (read_integer(&p, p_end, p_m, n) != 0 || read_integer(&p, p_end, e, n) != 0 ||
        read_integer(&p, p_end, p_y, n) != 0 || (p_m[n - 1u] >> 31) == 0u || (p_m[0] & 1u) == 0u) {
        return -1; /* not a key of this size, or an even modulus */
    }
    /* Rb = 2^(2*bits) mod n: double 2*bits times from 1, subtracting n whenever it is reached */
    memset(p_rb, 0, n * 4u);
    p_rb[0] = 1u;
    for (unsigned i = 0; i < 2u * bits; i++) {
        uint32_t carry = p_rb[n - 1u] >> 31;
        for (size_t w = n - 1u; w > 0u; w--) {
            p_rb[w] = (p_rb[w] << 1) | (p_rb[w - 1u] >> 31);
        }
        p_rb[0] <<= 1;
        if (carry != 0u || ge(p_rb, p_m, n)) {
            sub(p_rb, p_m, n);
        }
    }
    /* n^-1 mod 2^32 by Newton's iteration (each step doubles the correct low bits: 1, 2, 4, ... 32) */
    for (int i = 0; i < 5; i++) {
        inv *= 2u - p_m[0] * inv;
    }
    *p_m_prime = 0u - inv;
    memset(e, 0, sizeof(e));
    return 0;
}
