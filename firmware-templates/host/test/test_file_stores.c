/*
 * test_file_stores.c - the twin's flash: key files (0600, atomic, no
 * export), committed set file (generation, atomic replace, checksum).
 */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_credstore.h"
#include "file_keystore.h"
#include "fsutil.h"
#include "prov/codes.h"
#include "prov/crypto.h"
#include "prov/csr.h"

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/twin-store-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_key_file_private_and_consistent(void **state)
{
    twin_file_keystore_t store;
    prov_keystore_t ks;
    uint8_t spki[PROV_PUBKEY_DER_MAX];
    size_t spki_len = 0;
    uint8_t type = 0;
    char path[400];
    struct stat st;
    uint8_t a[32];
    uint8_t b[32];
    (void)state;

    twin_file_keystore_init(&store, g_dir, 0, &ks);
    assert_int_equal(ks.key_type(ks.ctx, PROV_KEY_SLOT_ACTIVE, &type), PROV_STORAGE_NOT_FOUND);
    assert_int_equal(ks.generate(ks.ctx, PROV_KEY_SLOT_ACTIVE, PROV_KEY_EC_P384), PROV_STORAGE_OK);
    snprintf(path, sizeof(path), "%s/%s", g_dir, TWIN_KEY_FILE_ACTIVE);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(ks.key_type(ks.ctx, PROV_KEY_SLOT_ACTIVE, &type), PROV_STORAGE_OK);
    assert_int_equal(type, PROV_KEY_EC_P384);
    assert_int_equal(ks.public_key(ks.ctx, PROV_KEY_SLOT_ACTIVE, spki, sizeof(spki), &spki_len), PROV_STORAGE_OK);
    assert_int_equal(ks.public_key(ks.ctx, PROV_KEY_SLOT_ACTIVE, spki, 10, &spki_len), PROV_STORAGE_TOO_LARGE);

    /* a second store instance (after a "reboot") reads the same key from the file */
    {
        twin_file_keystore_t store2;
        prov_keystore_t ks2;
        uint8_t spki2[PROV_PUBKEY_DER_MAX];
        size_t len2 = 0;
        twin_file_keystore_init(&store2, g_dir, 0, &ks2);
        assert_int_equal(ks2.public_key(ks2.ctx, PROV_KEY_SLOT_ACTIVE, spki, sizeof(spki), &spki_len), 0);
        assert_int_equal(ks.public_key(ks.ctx, PROV_KEY_SLOT_ACTIVE, spki2, sizeof(spki2), &len2), 0);
        assert_int_equal(len2, spki_len);
        assert_memory_equal(spki, spki2, len2);
        twin_file_keystore_free(&store2);
    }

    /* rotation: pending then promote */
    assert_int_equal(prov_key_digest(&ks, PROV_KEY_SLOT_ACTIVE, a), PROV_CODE_OK);
    assert_int_equal(ks.generate(ks.ctx, PROV_KEY_SLOT_PENDING, PROV_KEY_EC_P256), PROV_STORAGE_OK);
    assert_int_equal(prov_key_digest(&ks, PROV_KEY_SLOT_PENDING, b), PROV_CODE_OK);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(ks.promote_pending(ks.ctx), PROV_STORAGE_OK);
    assert_int_equal(prov_key_digest(&ks, PROV_KEY_SLOT_ACTIVE, a), PROV_CODE_OK);
    assert_memory_equal(a, b, 32);
    assert_int_equal(ks.key_type(ks.ctx, PROV_KEY_SLOT_PENDING, &type), PROV_STORAGE_NOT_FOUND);
    assert_int_equal(ks.promote_pending(ks.ctx), PROV_STORAGE_NOT_FOUND);
    assert_int_equal(ks.destroy(ks.ctx, PROV_KEY_SLOT_ACTIVE), PROV_STORAGE_OK);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(ks.generate(ks.ctx, PROV_KEY_SLOT_ACTIVE, 9), PROV_STORAGE_UNSUPPORTED);
    twin_file_keystore_free(&store);
}

static void test_credstore_commit_generations_and_corruption(void **state)
{
    static twin_file_credstore_t store;
    prov_credstore_t cs;
    uint8_t buf[256];
    size_t len = 0;
    uint32_t gen = 0;
    char path[400];
    FILE *f = NULL;
    (void)state;

    twin_file_credstore_init(&store, g_dir, &cs);
    assert_int_equal(cs.read_committed(cs.ctx, buf, sizeof(buf), &len, &gen), PROV_STORAGE_NOT_FOUND);
    assert_int_equal(cs.commit(cs.ctx, &gen), PROV_STORAGE_NOT_FOUND);
    assert_int_equal(cs.stage(cs.ctx, (const uint8_t *)"first", 5), PROV_STORAGE_OK);
    assert_int_equal(cs.commit(cs.ctx, &gen), PROV_STORAGE_OK);
    assert_int_equal(gen, 1);
    assert_int_equal(cs.stage(cs.ctx, (const uint8_t *)"second!", 7), PROV_STORAGE_OK);
    /* staged but not committed: the committed set is still the first */
    assert_int_equal(cs.read_committed(cs.ctx, buf, sizeof(buf), &len, &gen), PROV_STORAGE_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "first", 5);
    assert_int_equal(cs.commit(cs.ctx, &gen), PROV_STORAGE_OK);
    assert_int_equal(gen, 2);
    assert_int_equal(cs.read_committed(cs.ctx, buf, 3, &len, &gen), PROV_STORAGE_TOO_LARGE);

    /* a leftover temp file of an interrupted write changes nothing */
    assert_int_equal(twin_atomic_write(g_dir, "x", "y", 1, 0600), 0);
    snprintf(path, sizeof(path), "%s/%s.tmp", g_dir, TWIN_CRED_FILE);
    f = fopen(path, "wb");
    fputs("garbage", f);
    fclose(f);
    twin_remove_temp_files(g_dir);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(cs.read_committed(cs.ctx, buf, sizeof(buf), &len, &gen), PROV_STORAGE_OK);
    assert_memory_equal(buf, "second!", 7);

    /* a damaged file is reported, never returned */
    snprintf(path, sizeof(path), "%s/%s", g_dir, TWIN_CRED_FILE);
    f = fopen(path, "r+b");
    fseek(f, TWIN_CRED_HEADER_BYTES + 1, SEEK_SET);
    fputc('X', f);
    fclose(f);
    assert_int_equal(cs.read_committed(cs.ctx, buf, sizeof(buf), &len, &gen), PROV_STORAGE_IO);

    assert_int_equal(cs.is_locked(cs.ctx), 0);
    assert_int_equal(cs.set_locked(cs.ctx), PROV_STORAGE_OK);
    assert_int_equal(cs.is_locked(cs.ctx), 1);
    assert_int_equal(cs.erase(cs.ctx), PROV_STORAGE_OK);
    assert_int_equal(cs.is_locked(cs.ctx), 0);
    assert_int_equal(cs.read_committed(cs.ctx, buf, sizeof(buf), &len, &gen), PROV_STORAGE_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_key_file_private_and_consistent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credstore_commit_generations_and_corruption, setup, teardown),
    };
    if (prov_crypto_init() != 0) {
        return 1;
    }
    return cmocka_run_group_tests_name("twin file stores", tests, NULL, NULL);
}
