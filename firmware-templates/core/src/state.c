/*
 * state.c - the state table of protocol.md 5.3 as code.
 */
#include "prov/state.h"

#include <stddef.h>

prov_state_t prov_state_derive(const prov_state_facts_t *p_facts)
{
    prov_state_t state = PROV_STATE_EMPTY;

    if (p_facts == NULL || !p_facts->has_key) {
        state = PROV_STATE_EMPTY;
    } else if (p_facts->locked && p_facts->has_committed) {
        state = PROV_STATE_LOCKED;
    } else if (p_facts->has_staged) {
        state = PROV_STATE_STAGED;
    } else if (p_facts->has_committed) {
        state = PROV_STATE_PROVISIONED;
    } else {
        state = PROV_STATE_KEYED;
    }
    return state;
}

/* Bit i set = valid in state i (EMPTY=0 ... LOCKED=4). */
#define S_EMPTY (1u << PROV_STATE_EMPTY)
#define S_KEYED (1u << PROV_STATE_KEYED)
#define S_STAGED (1u << PROV_STATE_STAGED)
#define S_PROV (1u << PROV_STATE_PROVISIONED)
#define S_LOCKED (1u << PROV_STATE_LOCKED)
#define S_ALL (S_EMPTY | S_KEYED | S_STAGED | S_PROV | S_LOCKED)

static unsigned states_for(uint8_t msg_type)
{
    unsigned mask = 0u;

    switch (msg_type) {
    case PROV_MSG_HELLO:
    case PROV_MSG_STATUS:
    case PROV_MSG_PING:
    case PROV_MSG_SET_BAUD:
    case PROV_MSG_RESTART:
        mask = S_ALL;
        break;
    case PROV_MSG_GENERATE_KEY:
    case PROV_MSG_FACTORY_RESET:
        mask = S_EMPTY | S_KEYED | S_STAGED | S_PROV;
        break;
    case PROV_MSG_GET_CSR:
    case PROV_MSG_WRITE_CREDENTIALS:
        mask = S_KEYED | S_STAGED | S_PROV;
        break;
    case PROV_MSG_COMMIT:
        mask = S_STAGED;
        break;
    case PROV_MSG_LOCK:
        mask = S_PROV;
        break;
    default:
        mask = 0u;
        break;
    }
    return mask;
}

bool prov_state_allows(prov_state_t state, uint8_t msg_type)
{
    return ((unsigned)state <= (unsigned)PROV_STATE_LOCKED) && ((states_for(msg_type) & (1u << state)) != 0u);
}

const char *prov_state_hint(prov_state_t state, uint8_t msg_type)
{
    const char *hint = "check STATUS";

    if (state == PROV_STATE_LOCKED) {
        hint = "device is locked";
    } else if (state == PROV_STATE_EMPTY) {
        hint = "send GENERATE_KEY first";
    } else if (msg_type == PROV_MSG_COMMIT) {
        hint = "send WRITE_CREDENTIALS first";
    } else if (msg_type == PROV_MSG_LOCK) {
        hint = (state == PROV_STATE_STAGED) ? "send COMMIT first" : "provision the device first";
    }
    return hint;
}

const char *prov_msg_name(uint8_t msg_type)
{
    const char *name = "?";

    switch (msg_type) {
    case PROV_MSG_HELLO: name = "HELLO"; break;
    case PROV_MSG_STATUS: name = "STATUS"; break;
    case PROV_MSG_PING: name = "PING"; break;
    case PROV_MSG_SET_BAUD: name = "SET_BAUD"; break;
    case PROV_MSG_GENERATE_KEY: name = "GENERATE_KEY"; break;
    case PROV_MSG_GET_CSR: name = "GET_CSR"; break;
    case PROV_MSG_WRITE_CREDENTIALS: name = "WRITE_CREDENTIALS"; break;
    case PROV_MSG_COMMIT: name = "COMMIT"; break;
    case PROV_MSG_RESTART: name = "RESTART"; break;
    case PROV_MSG_LOCK: name = "LOCK"; break;
    case PROV_MSG_FACTORY_RESET: name = "FACTORY_RESET"; break;
    case PROV_MSG_EVENT: name = "EVENT"; break;
    default: break;
    }
    return name;
}
