/*
 * csr.c - PKCS#10 request written with mbedTLS asn1write, signed through the
 * key store; public-key digests for the certificate/key match check.
 *
 * asn1write writes backwards from the end of a buffer, so the request is
 * assembled tail first: subject and attributes, then the info SEQUENCE,
 * then (after signing the info) the signature and the outer SEQUENCE.
 */
#include "prov/csr.h"

#include <string.h>

#include "mbedtls/asn1write.h"
#include "mbedtls/oid.h"
#include "mbedtls/pk.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/x509_crt.h"
#include "prov/crypto.h"
#include "prov/config.h"
#include "prov/storage_status.h"
#include "spki.h"

/* X.520 attribute OIDs (2.5.4.x) */
static const char OID_C[] = MBEDTLS_OID_AT_COUNTRY;
static const char OID_ST[] = MBEDTLS_OID_AT_STATE;
static const char OID_L[] = MBEDTLS_OID_AT_LOCALITY;
static const char OID_O[] = MBEDTLS_OID_AT_ORGANIZATION;
static const char OID_OU[] = MBEDTLS_OID_AT_ORG_UNIT;
static const char OID_CN[] = MBEDTLS_OID_AT_CN;
/* ecdsa-with-SHA256 1.2.840.10045.4.3.2, sha256WithRSAEncryption 1.2.840.113549.1.1.11 */
static const char OID_ECDSA_SHA256[] = MBEDTLS_OID_ECDSA_SHA256;
static const char OID_RSA_SHA256[] = MBEDTLS_OID_PKCS1_SHA256;

#define ASN1_CONSTRUCTED_SEQ (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)
#define ASN1_CONSTRUCTED_SET (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET)

int prov_utf8_valid(const char *p, size_t len)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    int ok = 1;

    while (ok && i < len) {
        unsigned c = s[i];
        size_t n = 0;
        unsigned cp = 0;
        unsigned min = 0;
        if (c == 0u) {
            ok = 0;
        } else if (c < 0x80u) {
            n = 0;
        } else if ((c & 0xE0u) == 0xC0u) {
            n = 1; cp = c & 0x1Fu; min = 0x80u;
        } else if ((c & 0xF0u) == 0xE0u) {
            n = 2; cp = c & 0x0Fu; min = 0x800u;
        } else if ((c & 0xF8u) == 0xF0u) {
            n = 3; cp = c & 0x07u; min = 0x10000u;
        } else {
            ok = 0;
        }
        if (ok && n > 0u) {
            if (i + n >= len) {
                ok = 0;
            }
            for (size_t k = 1; ok && k <= n; k++) {
                if ((s[i + k] & 0xC0u) != 0x80u) {
                    ok = 0;
                } else {
                    cp = (cp << 6) | (s[i + k] & 0x3Fu);
                }
            }
            if (ok && (cp < min || cp > 0x10FFFFu || (cp >= 0xD800u && cp <= 0xDFFFu))) {
                ok = 0;
            }
        }
        i += n + 1u;
    }
    return ok;
}

static int printable_country(const prov_strview_t *p_c)
{
    int ok = (p_c->len == 2u);
    for (size_t i = 0; ok && i < p_c->len; i++) {
        char ch = p_c->ptr[i];
        ok = ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'));
    }
    return ok;
}

/* One RDN: SET { SEQUENCE { OID, string } }, written backwards. Returns bytes written or a negative mbedTLS error. */
static int write_rdn(unsigned char **pp, unsigned char *start, const char *oid, size_t oid_len, int tag,
                     const prov_strview_t *p_value)
{
    int ret = 0;
    size_t len = 0;

    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tagged_string(pp, start, tag, p_value->ptr, p_value->len));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(pp, start, oid, oid_len));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(pp, start, len));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(pp, start, ASN1_CONSTRUCTED_SEQ));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(pp, start, len));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(pp, start, ASN1_CONSTRUCTED_SET));
    return (int)len;
}

/* Name ::= SEQUENCE OF RDN in the order C, ST, L, O, OU, CN (written last first). */
static int write_name(unsigned char **pp, unsigned char *start, const prov_csr_subject_t *p_s)
{
    int ret = 0;
    size_t len = 0;
    const struct {
        const char *oid;
        size_t oid_len;
        int tag;
        const prov_strview_t *value;
    } rdns[6] = {
        {OID_CN, sizeof(OID_CN) - 1u, MBEDTLS_ASN1_UTF8_STRING, &p_s->cn},
        {OID_OU, sizeof(OID_OU) - 1u, MBEDTLS_ASN1_UTF8_STRING, &p_s->ou},
        {OID_O, sizeof(OID_O) - 1u, MBEDTLS_ASN1_UTF8_STRING, &p_s->o},
        {OID_L, sizeof(OID_L) - 1u, MBEDTLS_ASN1_UTF8_STRING, &p_s->l},
        {OID_ST, sizeof(OID_ST) - 1u, MBEDTLS_ASN1_UTF8_STRING, &p_s->st},
        {OID_C, sizeof(OID_C) - 1u, MBEDTLS_ASN1_PRINTABLE_STRING, &p_s->c},
    };

    for (size_t i = 0; i < 6u; i++) {
        if (rdns[i].value->len > 0u) {
            MBEDTLS_ASN1_CHK_ADD(len, write_rdn(pp, start, rdns[i].oid, rdns[i].oid_len, rdns[i].tag, rdns[i].value));
        }
    }
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(pp, start, len));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(pp, start, ASN1_CONSTRUCTED_SEQ));
    return (int)len;
}

static prov_error_code_t check_subject(const prov_csr_subject_t *p_s)
{
    prov_error_code_t code = PROV_CODE_OK;
    const prov_strview_t *fields[6] = {&p_s->c, &p_s->st, &p_s->l, &p_s->o, &p_s->ou, &p_s->cn};

    for (size_t i = 0; code == PROV_CODE_OK && i < 6u; i++) {
        if (fields[i]->len > PROV_SUBJECT_FIELD_MAX) {
            code = PROV_CODE_ERR_TOO_LARGE;
        } else if (fields[i]->len > 0u && !prov_utf8_valid(fields[i]->ptr, fields[i]->len)) {
            code = PROV_CODE_ERR_BAD_PAYLOAD;
        }
    }
    if (code == PROV_CODE_OK && p_s->c.len > 0u && !printable_country(&p_s->c)) {
        code = PROV_CODE_ERR_BAD_PAYLOAD;
    }
    return code;
}

prov_error_code_t prov_csr_build(const prov_keystore_t *p_ks, prov_key_slot_t slot, const prov_csr_subject_t *p_subject,
                                 uint8_t *p_out, size_t out_size, size_t *p_out_len)
{
    prov_error_code_t code = PROV_CODE_OK;
    uint8_t spki[PROV_PUBKEY_DER_MAX];
    size_t spki_len = 0;
    uint8_t key_type = 0;
    uint8_t hash[32];
    uint8_t sig[PROV_SIGNATURE_MAX];
    size_t sig_len = 0;
    /* signature BIT STRING + AlgorithmIdentifier, written backwards into tail[] */
    unsigned char tail[PROV_SIGNATURE_MAX + 32u];
    unsigned char *p = NULL;
    size_t info_len = 0;
    size_t tail_len = 0;
    size_t len = 0;
    int ret = 0;

    if (p_ks == NULL || p_subject == NULL || p_out == NULL || p_out_len == NULL) {
        return PROV_CODE_ERR_INTERNAL;
    }
    code = check_subject(p_subject);
    if (code == PROV_CODE_OK) {
        code = prov_storage_to_code(p_ks->key_type(p_ks->ctx, slot, &key_type));
    }
    if (code == PROV_CODE_OK) {
        code = prov_storage_to_code(p_ks->public_key(p_ks->ctx, slot, spki, sizeof(spki), &spki_len));
    }

    /* CertificationRequestInfo ::= SEQUENCE { version 0, subject, subjectPKInfo, attributes [0] {} } */
    if (code == PROV_CODE_OK) {
        p = p_out + out_size;
        len = 0;
        ret = mbedtls_asn1_write_len(&p, p_out, 0);
        if (ret >= 0) { len += (size_t)ret; ret = mbedtls_asn1_write_tag(&p, p_out, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED); }
        if (ret >= 0) { len += (size_t)ret; ret = mbedtls_asn1_write_raw_buffer(&p, p_out, spki, spki_len); }
        if (ret >= 0) { len += (size_t)ret; ret = write_name(&p, p_out, p_subject); }
        if (ret >= 0) { len += (size_t)ret; ret = mbedtls_asn1_write_int(&p, p_out, 0); }
        if (ret >= 0) { len += (size_t)ret; ret = mbedtls_asn1_write_len(&p, p_out, len); }
        if (ret >= 0) { len += (size_t)ret; ret = mbedtls_asn1_write_tag(&p, p_out, ASN1_CONSTRUCTED_SEQ); }
        if (ret >= 0) {
            len += (size_t)ret;
            info_len = len;
        } else {
            code = (ret == MBEDTLS_ERR_ASN1_BUF_TOO_SMALL) ? PROV_CODE_ERR_TOO_LARGE : PROV_CODE_ERR_CRYPTO;
        }
    }
    if (code == PROV_CODE_OK && prov_crypto_sha256(p, info_len, hash) != 0) {
        code = PROV_CODE_ERR_CRYPTO;
    }
    if (code == PROV_CODE_OK) {
        code = prov_storage_to_code(p_ks->sign_sha256(p_ks->ctx, slot, hash, sig, sizeof(sig), &sig_len));
    }

    /* signatureAlgorithm, signature BIT STRING */
    if (code == PROV_CODE_OK) {
        unsigned char *t = tail + sizeof(tail);
        const int is_rsa = (key_type == PROV_KEY_RSA_2048 || key_type == PROV_KEY_RSA_3072);
        len = 0;
        ret = mbedtls_asn1_write_bitstring(&t, tail, sig, sig_len * 8u);
        if (ret >= 0 && is_rsa) {
            len += (size_t)ret;
            /* writes NULL parameters, as RFC 4055 asks for RSA */
            ret = mbedtls_asn1_write_algorithm_identifier(&t, tail, OID_RSA_SHA256, sizeof(OID_RSA_SHA256) - 1u, 0);
        } else if (ret >= 0) {
            size_t alg_len = 0;
            len += (size_t)ret;
            /* parameters absent (RFC 5758), unlike mbedTLS 2.28's own CSR writer */
            ret = mbedtls_asn1_write_oid(&t, tail, OID_ECDSA_SHA256, sizeof(OID_ECDSA_SHA256) - 1u);
            if (ret >= 0) { alg_len = (size_t)ret; ret = mbedtls_asn1_write_len(&t, tail, alg_len); }
            if (ret >= 0) { alg_len += (size_t)ret; ret = mbedtls_asn1_write_tag(&t, tail, ASN1_CONSTRUCTED_SEQ); }
            if (ret >= 0) { ret += (int)alg_len; }
        }
        if (ret >= 0) {
            len += (size_t)ret;
            tail_len = len;
        } else {
            code = PROV_CODE_ERR_CRYPTO;
        }
    }

    /* Move info down to make room for the tail, then wrap everything in the outer SEQUENCE. */
    if (code == PROV_CODE_OK) {
        if ((size_t)(p - p_out) < tail_len + 8u) {
            code = PROV_CODE_ERR_TOO_LARGE;
        } else {
            unsigned char *info_new = p - tail_len;
            memmove(info_new, p, info_len);
            memcpy(info_new + info_len, tail + sizeof(tail) - tail_len, tail_len);
            p = info_new;
            len = info_len + tail_len;
            ret = mbedtls_asn1_write_len(&p, p_out, len);
            if (ret >= 0) { len += (size_t)ret; ret = mbedtls_asn1_write_tag(&p, p_out, ASN1_CONSTRUCTED_SEQ); }
            if (ret >= 0) {
                len += (size_t)ret;
                memmove(p_out, p, len);
                *p_out_len = len;
            } else {
                code = PROV_CODE_ERR_TOO_LARGE;
            }
        }
    }
    mbedtls_platform_zeroize(hash, sizeof(hash));
    return code;
}

prov_error_code_t prov_spki_digest(const uint8_t *p_spki, size_t spki_len, uint8_t digest[32])
{
    prov_error_code_t code = PROV_CODE_OK;
    mbedtls_pk_context pk;
    unsigned char der[PROV_PUBKEY_DER_MAX];
    size_t der_len = 0;

    mbedtls_pk_init(&pk);
    if (mbedtls_pk_parse_public_key(&pk, p_spki, spki_len) != 0) {
        code = PROV_CODE_ERR_CRYPTO;
    } else {
        if (prov_spki_write(&pk, der, sizeof(der), &der_len) != PROV_STORAGE_OK ||
            prov_crypto_sha256(der, der_len, digest) != 0) {
            code = PROV_CODE_ERR_CRYPTO;
        }
    }
    mbedtls_pk_free(&pk);
    return code;
}

static prov_error_code_t parse_pem_chain(const char *p_pem, size_t pem_len, uint8_t *p_work, size_t work_size,
                                         mbedtls_x509_crt *p_crt)
{
    prov_error_code_t code = PROV_CODE_OK;

    const unsigned char *text = (const unsigned char *)p_pem;

    if (p_work != NULL && pem_len + 1u > work_size) {
        code = PROV_CODE_ERR_TOO_LARGE;
    } else {
        if (p_work != NULL) {
            memcpy(p_work, p_pem, pem_len);
            p_work[pem_len] = 0u; /* mbedTLS recognises PEM only with the NUL counted in the length */
            text = p_work;
        }
        /* > 0 means some certificates of a bundle failed; the leaf must be the first and parse */
        if (mbedtls_x509_crt_parse(p_crt, text, pem_len + 1u) < 0 || p_crt->raw.len == 0u) {
            code = PROV_CODE_ERR_BAD_CERT;
        }
    }
    return code;
}

prov_error_code_t prov_cert_spki_digest(const char *p_pem, size_t pem_len, uint8_t *p_work, size_t work_size,
                                        uint8_t digest[32])
{
    mbedtls_x509_crt crt;
    unsigned char der[PROV_PUBKEY_DER_MAX];
    prov_error_code_t code = PROV_CODE_OK;
    size_t der_len = 0;

    mbedtls_x509_crt_init(&crt);
    code = parse_pem_chain(p_pem, pem_len, p_work, work_size, &crt);
    if (code == PROV_CODE_OK) {
        if (prov_spki_write(&crt.pk, der, sizeof(der), &der_len) != PROV_STORAGE_OK ||
            prov_crypto_sha256(der, der_len, digest) != 0) {
            code = PROV_CODE_ERR_BAD_CERT;
        }
    }
    mbedtls_x509_crt_free(&crt);
    return code;
}

prov_error_code_t prov_pem_certs_check(const char *p_pem, size_t pem_len, uint8_t *p_work, size_t work_size)
{
    mbedtls_x509_crt crt;
    prov_error_code_t code = PROV_CODE_OK;

    mbedtls_x509_crt_init(&crt);
    code = parse_pem_chain(p_pem, pem_len, p_work, work_size, &crt);
    mbedtls_x509_crt_free(&crt);
    return code;
}

prov_error_code_t prov_key_digest(const prov_keystore_t *p_ks, prov_key_slot_t slot, uint8_t digest[32])
{
    uint8_t spki[PROV_PUBKEY_DER_MAX];
    size_t spki_len = 0;
    prov_error_code_t code = prov_storage_to_code(p_ks->public_key(p_ks->ctx, slot, spki, sizeof(spki), &spki_len));

    if (code == PROV_CODE_OK) {
        code = prov_spki_digest(spki, spki_len, digest);
    }
    return code;
}
