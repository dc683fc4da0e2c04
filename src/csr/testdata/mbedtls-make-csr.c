/*
 * Test helper: makes a P-256 key and a CSR with the system mbedTLS (Debian 12:
 * 2.28), exactly the calls the firmware core uses, so the host-side CSR check
 * is tested on bytes mbedTLS really writes (ecdsa-with-SHA256 with NULL
 * parameters in 2.28). Usage: mbedtls-make-csr SUBJECT CSR_DER_OUT SPKI_DER_OUT
 */
#include <stdio.h>
#include <string.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/ecp.h"
#include "mbedtls/entropy.h"
#include "mbedtls/pk.h"
#include "mbedtls/x509_csr.h"

static int write_file(const char *path, const unsigned char *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) return -1;
    size_t n = fwrite(buf, 1, len, f);
    fclose(f);
    return n == len ? 0 : -1;
}

int main(int argc, char **argv)
{
    int ret = 1;
    unsigned char buf[2048];
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509write_csr req;

    mbedtls_pk_init(&key);
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509write_csr_init(&req);

    if (argc != 4) { fprintf(stderr, "usage: %s SUBJECT CSR_OUT SPKI_OUT\n", argv[0]); goto exit; }
    if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0) goto exit;
    if (mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0) goto exit;
    if (mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), mbedtls_ctr_drbg_random, &drbg) != 0) goto exit;

    mbedtls_x509write_csr_set_md_alg(&req, MBEDTLS_MD_SHA256);
    mbedtls_x509write_csr_set_key(&req, &key);
    if (mbedtls_x509write_csr_set_subject_name(&req, argv[1]) != 0) goto exit;

    /* The _der writers fill the END of the buffer and return the length. */
    int len = mbedtls_x509write_csr_der(&req, buf, sizeof buf, mbedtls_ctr_drbg_random, &drbg);
    if (len < 0 || write_file(argv[2], buf + sizeof buf - len, (size_t)len) != 0) goto exit;
    len = mbedtls_pk_write_pubkey_der(&key, buf, sizeof buf);
    if (len < 0 || write_file(argv[3], buf + sizeof buf - len, (size_t)len) != 0) goto exit;
    ret = 0;

exit:
    if (ret != 0) fprintf(stderr, "mbedtls-make-csr failed\n");
    mbedtls_x509write_csr_free(&req);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    mbedtls_pk_free(&key);
    return ret;
}
