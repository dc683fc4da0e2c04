/*
 * test_state.c - the state table of protocol.md 5.3/7, written out here
 * independently of state.c, and the state derivation from store facts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "prov/state.h"

/* Row per message type: valid in EMPTY, KEYED, STAGED, PROVISIONED, LOCKED (copied from the spec table). */
static const struct {
    uint8_t type;
    int valid[5];
} SPEC[] = {
    {PROV_MSG_HELLO, {1, 1, 1, 1, 1}},        {PROV_MSG_STATUS, {1, 1, 1, 1, 1}},
    {PROV_MSG_PING, {1, 1, 1, 1, 1}},         {PROV_MSG_SET_BAUD, {1, 1, 1, 1, 1}},
    {PROV_MSG_GENERATE_KEY, {1, 1, 1, 1, 0}}, {PROV_MSG_GET_CSR, {0, 1, 1, 1, 0}},
    {PROV_MSG_WRITE_CREDENTIALS, {0, 1, 1, 1, 0}}, {PROV_MSG_COMMIT, {0, 0, 1, 0, 0}},
    {PROV_MSG_RESTART, {1, 1, 1, 1, 1}},      {PROV_MSG_LOCK, {0, 0, 0, 1, 0}},
    {PROV_MSG_FACTORY_RESET, {1, 1, 1, 1, 0}}, {PROV_MSG_EVENT, {0, 0, 0, 0, 0}},
    {0x55, {0, 0, 0, 0, 0}},
};

static void test_table_matches_spec(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(SPEC) / sizeof(SPEC[0]); i++) {
        for (int s = 0; s < 5; s++) {
            if (prov_state_allows((prov_state_t)s, SPEC[i].type) != (SPEC[i].valid[s] != 0)) {
                fail_msg("type 0x%02x state %d: expected %d", SPEC[i].type, s, SPEC[i].valid[s]);
            }
        }
    }
    assert_false(prov_state_allows((prov_state_t)7, PROV_MSG_HELLO));
}

static void test_derive(void **state)
{
    prov_state_facts_t f = {false, false, false, false};
    (void)state;
    assert_int_equal(prov_state_derive(&f), PROV_STATE_EMPTY);
    f.has_key = true;
    assert_int_equal(prov_state_derive(&f), PROV_STATE_KEYED);
    f.has_staged = true;
    assert_int_equal(prov_state_derive(&f), PROV_STATE_STAGED);
    f.has_committed = true; /* staged over a committed set (re-provisioning) is still STAGED */
    assert_int_equal(prov_state_derive(&f), PROV_STATE_STAGED);
    f.has_staged = false;
    assert_int_equal(prov_state_derive(&f), PROV_STATE_PROVISIONED);
    f.locked = true;
    assert_int_equal(prov_state_derive(&f), PROV_STATE_LOCKED);
    f.has_key = false; /* no key: nothing else counts */
    assert_int_equal(prov_state_derive(&f), PROV_STATE_EMPTY);
    assert_int_equal(prov_state_derive(NULL), PROV_STATE_EMPTY);
}

static void test_hints_and_names(void **state)
{
    (void)state;
    assert_string_equal(prov_state_hint(PROV_STATE_EMPTY, PROV_MSG_GET_CSR), "send GENERATE_KEY first");
    assert_string_equal(prov_state_hint(PROV_STATE_KEYED, PROV_MSG_COMMIT), "send WRITE_CREDENTIALS first");
    assert_string_equal(prov_state_hint(PROV_STATE_STAGED, PROV_MSG_LOCK), "send COMMIT first");
    assert_string_equal(prov_msg_name(PROV_MSG_WRITE_CREDENTIALS), "WRITE_CREDENTIALS");
    assert_string_equal(prov_msg_name(0x99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_matches_spec),
        cmocka_unit_test(test_derive),
        cmocka_unit_test(test_hints_and_names),
    };
    return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
