/*
 * CSR and key checks built on the key store interface.
 *
 * The core writes the PKCS#10 request itself (mbedTLS asn1write) and asks
 * the key store only to sign its SHA-256 digest, so a store whose key cannot
 * be an mbedtls_pk_context (ATECC608, DS peripheral) works the same way, and
 * the subject encoding is ours: C as PrintableString, every other field as
 * UTF8String (so "株式会社テスト" survives), ECDSA algorithm identifiers
 * without parameters (RFC 5758).
 */
#ifndef PROV_CSR_H
#define PROV_CSR_H

#include <stddef.h>
#include <stdint.h>

#include "prov/app.h"
#include "prov/codes.h"
#include "prov/keystore.h"

/* Subject fields; a field with len 0 is left out. Values are UTF-8 (C: 2 printable ASCII letters). */
typedef struct prov_csr_subject {
    prov_strview_t c, st, l, o, ou, cn;
} prov_csr_subject_t;

/*
 * Build a DER CSR for the key in slot into p_out[0..*p_out_len), signed with
 * SHA-256. p_out needs PROV_CSR_DER_MAX bytes for any key.
 * Returns PROV_CODE_OK, ERR_BAD_PAYLOAD (C not 2 printable letters, a field
 * not valid UTF-8 or containing NUL), ERR_TOO_LARGE (field longer than
 * PROV_SUBJECT_FIELD_MAX or p_out too small), ERR_NO_KEY, ERR_CRYPTO,
 * ERR_STORAGE.
 */
prov_error_code_t prov_csr_build(const prov_keystore_t *p_ks, prov_key_slot_t slot, const prov_csr_subject_t *p_subject,
                                 uint8_t *p_out, size_t out_size, size_t *p_out_len);

/*
 * SHA-256 of a SubjectPublicKeyInfo in canonical form (parsed and written
 * again by mbedTLS, so equal keys give equal digests whatever encoding the
 * source used). Returns PROV_CODE_OK or ERR_CRYPTO (does not parse).
 */
prov_error_code_t prov_spki_digest(const uint8_t *p_spki, size_t spki_len, uint8_t digest[32]);

/*
 * SHA-256 of the canonical SubjectPublicKeyInfo of the first certificate in
 * a PEM text (the leaf of a chain). p_work must hold pem_len + 1 bytes (PEM
 * parsing needs a NUL); p_work may be NULL when p_pem[pem_len] is already NUL. Returns PROV_CODE_OK, ERR_BAD_CERT, ERR_TOO_LARGE.
 */
prov_error_code_t prov_cert_spki_digest(const char *p_pem, size_t pem_len, uint8_t *p_work, size_t work_size,
                                        uint8_t digest[32]);

/*
 * Check that a PEM text holds at least one parseable certificate (root CA
 * bundle). Same buffer rule and returns as prov_cert_spki_digest().
 */
prov_error_code_t prov_pem_certs_check(const char *p_pem, size_t pem_len, uint8_t *p_work, size_t work_size);

/* SHA-256 of the key in slot (canonical SPKI). Returns PROV_CODE_OK, ERR_NO_KEY, ERR_STORAGE, ERR_CRYPTO. */
prov_error_code_t prov_key_digest(const prov_keystore_t *p_ks, prov_key_slot_t slot, uint8_t digest[32]);

/* True if p/len is well-formed UTF-8 without NUL (no overlongs, no surrogates). */
int prov_utf8_valid(const char *p, size_t len);

#endif /* PROV_CSR_H */
