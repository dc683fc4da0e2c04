/*
 * Writes a CSR made by Debian's mbedTLS 2.28 to stdout, so the local CA is
 * tested against the exact encoding devices produce (mbedTLS 2.28 puts NULL
 * parameters in the ecdsa-with-SHA256 AlgorithmIdentifier).
 * Usage: mbedtls-csr ec|rsa "CN=subject"
 */
#include <stdio.h>
#include <string.h>
#include "mbedtls/ctr_drbg.h"
#include "mbedtls/ecp.h"
#include "mbedtls/entropy.h"
#include "mbedtls/pk.h"
#include "mbedtls/rsa.h"
#include "mbedtls/x509_csr.h"

int main(int argc, char **argv)
{
    int ret = 1;
    unsigned char pem[4096];
    const char *pers = "local-iot-test";
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509write_csr csr;

    mbedtls_pk_init(&key);
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509write_csr_init(&csr);

    if (argc != 3) {
        fprintf(stderr, "usage: %s ec|rsa SUBJECT\n", argv[0]);
        goto exit;
    }
    if ((ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, (const unsigned char *)pers,
                                     strlen(pers))) != 0) {
        fprintf(stderr, "mbedtls_ctr_drbg_seed failed: -0x%04x\n", -ret);
        goto exit;
    }
    if (strcmp(argv[1], "rsa") == 0) {
        if ((ret = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA))) == 0)
            ret = mbedtls_rsa_gen_key(mbedtls_pk_rsa(key), mbedtls_ctr_drbg_random, &drbg, 2048, 65537);
    } else {
        if ((ret = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) == 0)
            ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), mbedtls_ctr_drbg_random, &drbg);
    }
    if (ret != 0) {
        fprintf(stderr, "key generation failed: -0x%04x\n", -ret);
        goto exit;
    }
    mbedtls_x509write_csr_set_md_alg(&csr, MBEDTLS_MD_SHA256);
    mbedtls_x509write_csr_set_key(&csr, &key);
    if ((ret = mbedtls_x509write_csr_set_subject_name(&csr, argv[2])) != 0) {
        fprintf(stderr, "mbedtls_x509write_csr_set_subject_name failed: -0x%04x\n", -ret);
        goto exit;
    }
    if ((ret = mbedtls_x509write_csr_pem(&csr, pem, sizeof(pem), mbedtls_ctr_drbg_random, &drbg)) != 0) {
        fprintf(stderr, "mbedtls_x509write_csr_pem failed: -0x%04x\n", -ret);
        goto exit;
    }
    fputs((const char *)pem, stdout);
    ret = 0;
exit:
    mbedtls_x509write_csr_free(&csr);
    mbedtls_pk_free(&key);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    return ret == 0 ? 0 : 1;
}
