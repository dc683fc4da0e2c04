/*
 * The frame receiver's output collected as a list (test code: it allocates),
 * and compared with a vector's "expect" list, as the TypeScript suite does.
 */
#ifndef PROV_TEST_RX_EVENTS_H
#define PROV_TEST_RX_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "prov/frame.h"

typedef struct prov_test_rx_event {
    prov_rx_event_kind_t kind;
    prov_status_t error;
    prov_frame_t header;  /* p_payload unused */
    uint8_t *p_data;      /* payload or log bytes (malloc'ed) */
    size_t len;
} prov_test_rx_event_t;

typedef struct prov_test_rx_list {
    prov_test_rx_event_t *p_ev;
    size_t n;
    size_t cap;
} prov_test_rx_list_t;

/** A prov_frame_rx callback: appends a copy of the event to the prov_test_rx_list_t in p_context. */
void prov_test_rx_collect(void *p_context, const prov_rx_event_t *p_event);

/** Frees what prov_test_rx_collect allocated and empties the list. */
void prov_test_rx_free(prov_test_rx_list_t *p_list);

/** Fails the cmocka test (saying p_how) unless the list equals the vector's "expect" array. */
void prov_test_rx_check(const prov_test_rx_list_t *p_got, const cJSON *p_expect, const char *p_how);

#endif /* PROV_TEST_RX_EVENTS_H */
