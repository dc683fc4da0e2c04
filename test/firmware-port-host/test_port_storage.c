/*
 * Runs the ESP-IDF port's storage code (the key store of the rendered board,
 * and the credential store) on the host against fakes.c and real mbedTLS.
 * Prints "ok - ..." / "not ok - ..." per check, exits with the failure count.
 * argv[1]: where to write a CSR built by the core with this key store (DER),
 * which the TypeScript test verifies with openssl.
 */
#include <stdio.h>
#include <string.h>

#include "mbedtls/pk.h"
#include "mbedtls/sha256.h"

#include "fakes.h"
#include "nvs.h"
#include "port.h"
#include "prov/codes.h"
#include "prov/compat.h"
#include "prov/crypto.h"
#include "prov/config.h"
#include "prov/csr.h"

static int s_failures;
#define CHECK(cond, name)                                                       \
    do {                                                                        \
        if (cond) {                                                             \
            printf("ok - %s\n", name);                                          \
        } else {                                                                \
            printf("not ok - %s (%s:%d)\n", name, __FILE__, __LINE__);         \
            s_failures++;                                                       \
        }                                                                       \
    } while (0)

/* Signs a digest with the store and verifies it with the store's public key through mbedTLS. */
static int sign_verifies(const prov_keystore_t *ks, prov_key_slot_t slot)
{
    uint8_t pub[PROV_PUBKEY_DER_MAX], sig[PROV_SIGNATURE_MAX], hash[32];
    size_t pub_len = 0, sig_len = 0;
    mbedtls_pk_context pk;
    int ok;

    (void)prov_sha256((const unsigned char *)"provision", 9, hash);
    if (ks->public_key(ks->ctx, slot, pub, sizeof(pub), &pub_len) != PROV_STORAGE_OK) return 0;
    if (ks->sign_sha256(ks->ctx, slot, hash, sig, sizeof(sig), &sig_len) != PROV_STORAGE_OK) return 0;
    mbedtls_pk_init(&pk);
    ok = mbedtls_pk_parse_public_key(&pk, pub, pub_len) == 0 &&
         mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, hash, 32, sig, sig_len) == 0;
    mbedtls_pk_free(&pk);
    return ok;
}

static __attribute__((unused)) void pubkey(const prov_keystore_t *ks, prov_key_slot_t slot, uint8_t out[PROV_PUBKEY_DER_MAX], size_t *len)
{
    memset(out, 0, PROV_PUBKEY_DER_MAX);
    *len = 0;
    (void)ks->public_key(ks->ctx, slot, out, PROV_PUBKEY_DER_MAX, len);
}

static int write_csr(const prov_keystore_t *ks, const char *path)
{
    static uint8_t der[PROV_CSR_DER_MAX];
    size_t len = 0;
    prov_csr_subject_t subject;
    FILE *f;

    memset(&subject, 0, sizeof(subject));
    subject.cn.ptr = "thing-0001";
    subject.cn.len = 10;
    subject.o.ptr = "provision";
    subject.o.len = 9;
    if (prov_csr_build(ks, PROV_KEY_SLOT_ACTIVE, &subject, der, sizeof(der), &len) != PROV_CODE_OK) return 0;
    f = fopen(path, "wb");
    if (f == NULL) return 0;
    fwrite(der, 1, len, f);
    fclose(f);
    return 1;
}

#if PROV_KEYSTORE_IS_NVS || PROV_KEYSTORE_IS_NVS_ENCRYPTED
static void test_keystore(const prov_keystore_t *ks, const char *csr_path)
{
    uint8_t type = 0, pub_a[PROV_PUBKEY_DER_MAX], pub_b[PROV_PUBKEY_DER_MAX];
    size_t len_a, len_b;
    provision_key_t key;
    mbedtls_pk_context pk;

    CHECK(ks->key_type(ks->ctx, PROV_KEY_SLOT_ACTIVE, &type) == PROV_STORAGE_NOT_FOUND, "nvs: empty at first");
    CHECK(ks->generate(ks->ctx, PROV_KEY_SLOT_ACTIVE, 99) == PROV_STORAGE_UNSUPPORTED, "nvs: unknown key type refused");
    CHECK(ks->generate(ks->ctx, PROV_KEY_SLOT_ACTIVE, PROV_KEY_EC_P256) == PROV_STORAGE_OK, "nvs: P-256 generated");
    CHECK(fake_keygen_runs == 1, "nvs: generation ran in the key generation task");
    CHECK(ks->key_type(ks->ctx, PROV_KEY_SLOT_ACTIVE, &type) == PROV_STORAGE_OK && type == PROV_KEY_EC_P256,
          "nvs: reports P-256");
    CHECK(sign_verifies(ks, PROV_KEY_SLOT_ACTIVE), "nvs: P-256 signature verifies with the public key");
    CHECK(write_csr(ks, csr_path), "nvs: core builds a CSR with this key store");
    pubkey(ks, PROV_KEY_SLOT_ACTIVE, pub_a, &len_a);

    CHECK(prov_port_key_get(&key) == PROV_STORAGE_OK && key.kind == PROVISION_KEY_DER && key.p_der != NULL &&
              strcmp(key.key_type, "ec-p256") == 0,
          "nvs: the key handle is the DER key (Mbed TLS 2/3)");
    mbedtls_pk_init(&pk);
    CHECK(key.p_der != NULL && prov_pk_parse_key(&pk, key.p_der, key.der_len, prov_crypto_random, NULL) == 0,
          "nvs: TLS key parses");
    {
        uint8_t pub_tls[PROV_PUBKEY_DER_MAX];
        int n = mbedtls_pk_write_pubkey_der(&pk, pub_tls, sizeof(pub_tls));
        CHECK(n > 0 && (size_t)n == len_a && memcmp(pub_tls + sizeof(pub_tls) - n, pub_a, len_a) == 0,
              "nvs: TLS key is the active key");
    }
    mbedtls_pk_free(&pk);
    CHECK(prov_port_key_export_der(&key) == PROV_STORAGE_OK, "nvs: a DER handle needs no export");
    prov_port_key_free(&key);
    CHECK(key.p_der == NULL && key.kind == 0, "nvs: the handle is wiped when freed");

    CHECK(ks->generate(ks->ctx, PROV_KEY_SLOT_PENDING, PROV_KEY_EC_P384) == PROV_STORAGE_OK, "nvs: pending P-384");
    pubkey(ks, PROV_KEY_SLOT_ACTIVE, pub_b, &len_b);
    CHECK(len_a == len_b && memcmp(pub_a, pub_b, len_a) == 0, "nvs: active key unchanged by a pending key");
    CHECK(sign_verifies(ks, PROV_KEY_SLOT_PENDING), "nvs: pending P-384 signs");
    pubkey(ks, PROV_KEY_SLOT_PENDING, pub_b, &len_b);
    CHECK(ks->promote_pending(ks->ctx) == PROV_STORAGE_OK, "nvs: promote");
    pubkey(ks, PROV_KEY_SLOT_ACTIVE, pub_a, &len_a);
    CHECK(len_a == len_b && memcmp(pub_a, pub_b, len_a) == 0, "nvs: promoted key is now active");
    CHECK(ks->key_type(ks->ctx, PROV_KEY_SLOT_PENDING, &type) == PROV_STORAGE_NOT_FOUND, "nvs: no pending after");
    CHECK(ks->promote_pending(ks->ctx) == PROV_STORAGE_NOT_FOUND, "nvs: promote without pending is NOT_FOUND");
    CHECK(fake_nvs_count("prov_key") == 3, "nvs: old key blob erased (map, layout version, one key left)");

    CHECK(ks->generate(ks->ctx, PROV_KEY_SLOT_ACTIVE, PROV_KEY_RSA_2048) == PROV_STORAGE_OK, "nvs: RSA-2048 replaces");
    CHECK(sign_verifies(ks, PROV_KEY_SLOT_ACTIVE), "nvs: RSA-2048 signature verifies");
    CHECK(fake_nvs_count("prov_key") == 3, "nvs: the replaced key is erased from flash");
    CHECK(ks->destroy(ks->ctx, PROV_KEY_SLOT_ACTIVE) == PROV_STORAGE_OK &&
              ks->key_type(ks->ctx, PROV_KEY_SLOT_ACTIVE, &type) == PROV_STORAGE_NOT_FOUND,
          "nvs: destroy empties the slot");

    /* The slot map (keystore_slots.c) on an empty store. */
    CHECK(ks->generate(ks->ctx, PROV_KEY_SLOT_PENDING, PROV_KEY_EC_P256) == PROV_STORAGE_NOT_FOUND &&
              ks->key_type(ks->ctx, PROV_KEY_SLOT_PENDING, &type) == PROV_STORAGE_NOT_FOUND,
          "nvs: a pending key needs an active one");
    CHECK(ks->generate(ks->ctx, PROV_KEY_SLOT_ACTIVE, PROV_KEY_EC_P256) == PROV_STORAGE_OK &&
              ks->generate(ks->ctx, PROV_KEY_SLOT_PENDING, PROV_KEY_EC_P384) == PROV_STORAGE_OK,
          "nvs: active and pending made");
    CHECK(ks->destroy(ks->ctx, PROV_KEY_SLOT_PENDING) == PROV_STORAGE_OK &&
              ks->key_type(ks->ctx, PROV_KEY_SLOT_PENDING, &type) == PROV_STORAGE_NOT_FOUND &&
              ks->key_type(ks->ctx, PROV_KEY_SLOT_ACTIVE, &type) == PROV_STORAGE_OK && type == PROV_KEY_EC_P256,
          "nvs: destroying the pending key keeps the active one");
    CHECK(ks->generate(ks->ctx, PROV_KEY_SLOT_PENDING, PROV_KEY_EC_P384) == PROV_STORAGE_OK &&
              ks->destroy(ks->ctx, PROV_KEY_SLOT_ACTIVE) == PROV_STORAGE_OK &&
              ks->key_type(ks->ctx, PROV_KEY_SLOT_PENDING, &type) == PROV_STORAGE_NOT_FOUND,
          "nvs: destroying the active key takes the pending one with it");
    CHECK(fake_nvs_count("prov_key") == 2, "nvs: only the map and the layout version are left in flash");
    CHECK(ks->destroy(ks->ctx, PROV_KEY_SLOT_ACTIVE) == PROV_STORAGE_OK, "nvs: destroying an empty slot is OK");
}
#endif

#if PROV_KEYSTORE_IS_DS
static void test_keystore(const prov_keystore_t *ks, const char *csr_path)
{
    uint8_t type = 0;
    size_t len = 0;
    const uint8_t *p_record;
    provision_key_t key;

    CHECK(ks->generate(ks->ctx, PROV_KEY_SLOT_ACTIVE, PROV_KEY_EC_P256) == PROV_STORAGE_UNSUPPORTED,
          "ds: EC refused (RSA only)");
    CHECK(ks->generate(ks->ctx, PROV_KEY_SLOT_ACTIVE, PROV_KEY_RSA_2048) == PROV_STORAGE_OK, "ds: RSA-2048 made");
    CHECK(fake_efuse_burnt(PROV_DS_EFUSE_KEY_BLOCK), "ds: HMAC key burnt into the board's eFuse block");
    CHECK(ks->key_type(ks->ctx, PROV_KEY_SLOT_ACTIVE, &type) == PROV_STORAGE_OK && type == PROV_KEY_RSA_2048,
          "ds: reports RSA-2048");
    CHECK(sign_verifies(ks, PROV_KEY_SLOT_ACTIVE), "ds: DS signature (PKCS#1 v1.5, LE words) verifies");
    CHECK(fake_ds_param_errors == 0, "ds: Rb and M' are the Montgomery constants of the modulus");
    CHECK(write_csr(ks, csr_path), "ds: core builds a CSR signed by the DS peripheral");
    p_record = fake_nvs_value("prov_ds", "d0", &len);
    CHECK(p_record != NULL && len > 0, "ds: ciphertext record stored in NVS");
    CHECK(prov_port_key_get(&key) == PROV_STORAGE_OK && key.kind == PROVISION_KEY_DS && key.p_ds_data != NULL &&
              key.p_der == NULL && strcmp(key.key_type, "rsa-2048") == 0,
          "ds: the key handle is the DS context, no key bytes");
    CHECK(prov_port_key_export_der(&key) == PROV_STORAGE_UNSUPPORTED, "ds: no DER can be exported");
    prov_port_key_free(&key);

    CHECK(ks->generate(ks->ctx, PROV_KEY_SLOT_PENDING, PROV_KEY_RSA_2048) == PROV_STORAGE_OK,
          "ds: pending key on a second eFuse block");
    CHECK(fake_efuse_burnt(0), "ds: the next free block (KEY0) was used");
    CHECK(sign_verifies(ks, PROV_KEY_SLOT_PENDING) && sign_verifies(ks, PROV_KEY_SLOT_ACTIVE),
          "ds: both keys sign with their own blocks");
    CHECK(ks->promote_pending(ks->ctx) == PROV_STORAGE_OK && sign_verifies(ks, PROV_KEY_SLOT_ACTIVE), "ds: promote");
}
#endif

#if PROV_KEYSTORE_IS_ATECC608
static void test_keystore(const prov_keystore_t *ks, const char *csr_path)
{
    uint8_t type = 0;
    provision_key_t key;

    CHECK(ks->key_type(ks->ctx, PROV_KEY_SLOT_ACTIVE, &type) == PROV_STORAGE_NOT_FOUND, "atecc: not in use at first");
    CHECK(ks->generate(ks->ctx, PROV_KEY_SLOT_ACTIVE, PROV_KEY_RSA_2048) == PROV_STORAGE_UNSUPPORTED,
          "atecc: RSA refused");
    CHECK(ks->generate(ks->ctx, PROV_KEY_SLOT_PENDING, PROV_KEY_EC_P256) == PROV_STORAGE_UNSUPPORTED,
          "atecc: rotation refused");
    CHECK(ks->generate(ks->ctx, PROV_KEY_SLOT_ACTIVE, PROV_KEY_EC_P256) == PROV_STORAGE_OK, "atecc: key taken");
#if PROV_ATECC_TRUST_AND_GO
    CHECK(fake_atecc_genkey_calls == 0, "atecc: Trust&Go key adopted, GenKey never run");
#else
    CHECK(fake_atecc_genkey_calls == 1, "atecc: GenKey ran");
#endif
    CHECK(ks->key_type(ks->ctx, PROV_KEY_SLOT_ACTIVE, &type) == PROV_STORAGE_OK && type == PROV_KEY_EC_P256,
          "atecc: reports P-256");
    {
        /* Many signatures: r and s with the high bit set (needs a 0x00 pad) and with leading zero bytes
         * (shorter INTEGERs) both occur, and each must verify. */
        int all = 1;
        for (int i = 0; i < 200; i++) all = all && sign_verifies(ks, PROV_KEY_SLOT_ACTIVE);
        CHECK(all, "atecc: 200 raw r||s signatures converted to DER all verify");
    }
    CHECK(write_csr(ks, csr_path), "atecc: core builds a CSR signed in the secure element");
    CHECK(prov_port_key_get(&key) == PROV_STORAGE_OK && key.kind == PROVISION_KEY_SECURE_ELEMENT &&
              key.secure_element.slot == PROV_ATECC_SLOT && key.secure_element.i2c_address == PROV_ATECC_ADDRESS_8BIT,
          "atecc: the key handle is the element's slot and address");
    prov_port_key_free(&key);
    CHECK(ks->destroy(ks->ctx, PROV_KEY_SLOT_ACTIVE) == PROV_STORAGE_OK &&
              ks->key_type(ks->ctx, PROV_KEY_SLOT_ACTIVE, &type) == PROV_STORAGE_NOT_FOUND,
          "atecc: destroy releases the key");
}
#endif

static void test_credstore(void)
{
    prov_credstore_t cs;
    static uint8_t buf[PROV_DEVICE_PAYLOAD_MAX];
    size_t len = 0, rec_len = 0;
    uint32_t gen = 0;
    uint8_t *p_rec;
    const uint8_t set_a[] = "set A payload", set_b[] = "set B, a longer payload";

    prov_port_credstore_init(&cs);
    CHECK(cs.read_committed(cs.ctx, buf, sizeof(buf), &len, &gen) == PROV_STORAGE_NOT_FOUND, "cred: nothing at first");
    CHECK(cs.commit(cs.ctx, &gen) == PROV_STORAGE_NOT_FOUND, "cred: commit without staging is NOT_FOUND");
    CHECK(cs.stage(cs.ctx, set_a, sizeof(set_a)) == PROV_STORAGE_OK && cs.commit(cs.ctx, &gen) == PROV_STORAGE_OK &&
              gen == 1,
          "cred: first commit is generation 1");
    CHECK(cs.read_committed(cs.ctx, buf, sizeof(buf), &len, &gen) == PROV_STORAGE_OK && len == sizeof(set_a) &&
              memcmp(buf, set_a, len) == 0 && gen == 1,
          "cred: reads back the committed set");
    CHECK(cs.stage(cs.ctx, set_b, sizeof(set_b)) == PROV_STORAGE_OK, "cred: stage B");
    CHECK(cs.read_committed(cs.ctx, buf, sizeof(buf), &len, &gen) == PROV_STORAGE_OK && memcmp(buf, set_a, len) == 0,
          "cred: staging does not touch the committed set");
    CHECK(cs.discard_staged(cs.ctx) == PROV_STORAGE_OK && cs.commit(cs.ctx, &gen) == PROV_STORAGE_NOT_FOUND,
          "cred: discarded staging cannot be committed");
    CHECK(cs.stage(cs.ctx, set_b, sizeof(set_b)) == PROV_STORAGE_OK && cs.commit(cs.ctx, &gen) == PROV_STORAGE_OK &&
              gen == 2,
          "cred: second commit is generation 2");
    CHECK(cs.read_committed(cs.ctx, buf, sizeof(buf), &len, &gen) == PROV_STORAGE_OK && len == sizeof(set_b) &&
              memcmp(buf, set_b, len) == 0,
          "cred: reads the new set");
    CHECK(fake_nvs_value("prov_cred", "s0", &rec_len) != NULL, "cred: old set kept in the other slot until reused");
    CHECK(cs.read_committed(cs.ctx, buf, 3, &len, &gen) == PROV_STORAGE_TOO_LARGE, "cred: small buffer TOO_LARGE");
    p_rec = fake_nvs_value("prov_cred", "s1", &rec_len);
    if (p_rec != NULL) p_rec[rec_len - 1] ^= 0x01; /* flip one bit of the committed payload */
    CHECK(cs.read_committed(cs.ctx, buf, sizeof(buf), &len, &gen) == PROV_STORAGE_IO, "cred: corruption reads as IO");
    CHECK(cs.is_locked(cs.ctx) == 0 && cs.set_locked(cs.ctx) == PROV_STORAGE_OK && cs.is_locked(cs.ctx) == 1,
          "cred: LOCK flag persists");
    CHECK(fake_withdrawals == 0, "cred: nothing withdrawn before an erase");
    CHECK(cs.erase(cs.ctx) == PROV_STORAGE_OK && cs.is_locked(cs.ctx) == 0 &&
              cs.read_committed(cs.ctx, buf, sizeof(buf), &len, &gen) == PROV_STORAGE_NOT_FOUND,
          "cred: erase clears set and lock");
    CHECK(fake_withdrawals == 1, "cred: the product is told to stop before the erase (FACTORY_RESET)");
    CHECK(cs.stage(cs.ctx, buf, PROV_DEVICE_PAYLOAD_MAX + 1u) == PROV_STORAGE_TOO_LARGE, "cred: oversize staging");
}

/* The NVS layout version (docs/firmware.md): absent = layout 1, ours is written, a newer one is refused. */
static void test_layout_version(void)
{
    prov_credstore_t cs;
    static uint8_t buf[PROV_DEVICE_PAYLOAD_MAX];
    size_t len = 0;
    uint32_t gen = 0;
    uint8_t *p_ver;
    const uint8_t set[] = "a set";
    nvs_handle_t h;

    prov_port_credstore_init(&cs);
    CHECK(cs.stage(cs.ctx, set, sizeof(set)) == PROV_STORAGE_OK && cs.commit(cs.ctx, &gen) == PROV_STORAGE_OK,
          "layout: commit");
    p_ver = fake_nvs_value("prov_cred", "ver", &len);
    CHECK(p_ver != NULL && len == 1 && *p_ver == PROVISION_NVS_LAYOUT_VERSION, "layout: the commit writes ver");
    /* What the firmware before the field wrote: the same records, no "ver". */
    CHECK(nvs_open("prov_cred", NVS_READWRITE, &h) == ESP_OK && nvs_erase_key(h, "ver") == ESP_OK,
          "layout: ver removed, as an older firmware left it");
    CHECK(cs.read_committed(cs.ctx, buf, sizeof(buf), &len, &gen) == PROV_STORAGE_OK && memcmp(buf, set, len) == 0,
          "layout: a set without ver reads as layout 1");
    CHECK(nvs_set_u8(h, "ver", PROVISION_NVS_LAYOUT_VERSION + 1u) == ESP_OK, "layout: a newer layout written");
    CHECK(cs.read_committed(cs.ctx, buf, sizeof(buf), &len, &gen) == PROV_STORAGE_UNSUPPORTED,
          "layout: a newer layout is refused, not misread");
    CHECK(cs.stage(cs.ctx, set, sizeof(set)) == PROV_STORAGE_OK && cs.commit(cs.ctx, &gen) == PROV_STORAGE_UNSUPPORTED,
          "layout: and not written over");
    nvs_close(h);
    CHECK(prov_port_layout_check("prov_key") == PROV_STORAGE_OK || prov_port_layout_check("prov_ds") == PROV_STORAGE_OK ||
              prov_port_layout_check("prov_se") == PROV_STORAGE_OK,
          "layout: the key store's namespace is one this build reads");
}

int main(int argc, char **argv)
{
    prov_keystore_t ks;

    if (argc < 2) {
        fprintf(stderr, "usage: %s <csr.der>\n", argv[0]);
        return 2;
    }
#if PROV_KEYSTORE_IS_ATECC608 && PROV_ATECC_TRUST_AND_GO
    fake_atecc_factory_key(PROV_ATECC_SLOT);
#endif
    CHECK(prov_port_keystore_init(&ks) == 0, "key store init");
    CHECK(ks.store_id == PROV_KEYSTORE_ID, "key store id from the component's Kconfig");
    test_keystore(&ks, argv[1]);
    test_credstore();
    test_layout_version();
    printf("%d failed\n", s_failures);
    return s_failures;
}
