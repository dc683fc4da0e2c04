/*
 * ds_params.h - the DS peripheral's plaintext operands from an RSA private
 * key, in the little-endian 32-bit words the peripheral reads:
 *   Y = d, M = n, Rb = 2^(2 * bits) mod n (Montgomery), M' = -n^-1 mod 2^32.
 * Pure C over Mbed TLS's public ASN.1 reader (the same on Mbed TLS 2, 3 and
 * 4, whose bignum API is private): it also runs on the host, where
 * test/firmware-port-host checks it against the DS fake.
 */
#ifndef PROV_DS_PARAMS_H
#define PROV_DS_PARAMS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Fill y, m, rb (bits / 32 words each) and *p_m_prime from a PKCS#1
 * RSAPrivateKey DER whose modulus has exactly `bits` bits (2048 or 3072).
 * Returns 0, or -1 when the DER is not such a key.
 */
int prov_ds_params_from_der(const uint8_t *p_der, size_t der_len, unsigned bits, uint32_t *p_y, uint32_t *p_m,
                            uint32_t *p_rb, uint32_t *p_m_prime);

#endif /* PROV_DS_PARAMS_H */
