/*
 * Device state machine (protocol.md 5.3 and 7). The state is never stored:
 * it is derived from what the stores hold, so a power loss cannot leave a
 * state that disagrees with the flash.
 */
#ifndef PROV_STATE_H
#define PROV_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "prov/codes.h"

/* What the stores hold right now. */
typedef struct prov_state_facts {
    bool has_key;       /* an ACTIVE key exists */
    bool has_committed; /* a committed credential set exists */
    bool has_staged;    /* a set is staged (RAM, never after boot) */
    bool locked;        /* LOCK flag persisted */
} prov_state_facts_t;

/* EMPTY, KEYED, STAGED, PROVISIONED or LOCKED for these facts. */
prov_state_t prov_state_derive(const prov_state_facts_t *p_facts);

/* True when a request of msg_type is valid in state (table of protocol.md 5.3; LOCK rules of 5.3 LOCK). */
bool prov_state_allows(prov_state_t state, uint8_t msg_type);

/*
 * What the host should do instead, for an ERR_WRONG_STATE text, e.g.
 * "send GENERATE_KEY first". Never NULL.
 */
const char *prov_state_hint(prov_state_t state, uint8_t msg_type);

/* Spec name of a message type ("GET_CSR"), "?" if unknown. */
const char *prov_msg_name(uint8_t msg_type);

#endif /* PROV_STATE_H */
