/* See rx_events.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rx_events.h"
#include "vectors.h"

void prov_test_rx_collect(void *p_context, const prov_rx_event_t *p_event)
{
    prov_test_rx_list_t *p_list = p_context;
    prov_test_rx_event_t *p_e;
    const uint8_t *p_src = NULL;
    size_t len = 0;

    if (p_list->n == p_list->cap) {
        p_list->cap = (p_list->cap == 0u) ? 16u : (2u * p_list->cap);
        p_list->p_ev = realloc(p_list->p_ev, p_list->cap * sizeof(*p_list->p_ev));
        assert_non_null(p_list->p_ev);
    }
    p_e = &p_list->p_ev[p_list->n++];
    memset(p_e, 0, sizeof(*p_e));
    p_e->kind = p_event->kind;
    p_e->error = p_event->error;
    p_e->header = p_event->frame;
    p_e->header.p_payload = NULL;
    if (p_event->kind == PROV_RX_EVENT_LOG) {
        p_src = p_event->p_log;
        len = p_event->log_len;
    } else {
        p_src = p_event->frame.p_payload;
        len = p_event->frame.payload_len;
    }
    p_e->p_data = malloc(len + 1u);
    assert_non_null(p_e->p_data);
    if (len > 0u) {
        memcpy(p_e->p_data, p_src, len);
    }
    p_e->len = len;
}

void prov_test_rx_free(prov_test_rx_list_t *p_list)
{
    size_t i;

    for (i = 0; i < p_list->n; i++) {
        free(p_list->p_ev[i].p_data);
    }
    free(p_list->p_ev);
    memset(p_list, 0, sizeof(*p_list));
}

static const char *kind_name(prov_rx_event_kind_t kind)
{
    return (kind == PROV_RX_EVENT_FRAME) ? "frame" : ((kind == PROV_RX_EVENT_LOG) ? "log" : "error");
}

void prov_test_rx_check(const prov_test_rx_list_t *p_got, const cJSON *p_expect, const char *p_how)
{
    size_t i = 0;
    const cJSON *p_e = NULL;

    if ((size_t)cJSON_GetArraySize(p_expect) != p_got->n) {
        fail_msg("%s: %zu events, vector expects %d", p_how, p_got->n, cJSON_GetArraySize(p_expect));
    }
    cJSON_ArrayForEach(p_e, p_expect) {
        const prov_test_rx_event_t *p_g = &p_got->p_ev[i];
        const char *p_kind = prov_test_json_str(p_e, "kind");

        if (strcmp(p_kind, kind_name(p_g->kind)) != 0) {
            fail_msg("%s: event %zu is %s, vector expects %s", p_how, i, kind_name(p_g->kind), p_kind);
        }
        if (p_g->kind == PROV_RX_EVENT_FRAME) {
            char *p_hex = prov_test_hex_encode(p_g->p_data, p_g->len);
            assert_int_equal(p_g->header.version, prov_test_json_int(p_e, "version"));
            assert_int_equal(p_g->header.type, prov_test_json_int(p_e, "type"));
            assert_int_equal(p_g->header.seq, prov_test_json_int(p_e, "seq"));
            assert_int_equal(p_g->header.flags, prov_test_json_int(p_e, "flags"));
            assert_string_equal(p_hex, prov_test_json_str(p_e, "payload_hex"));
            free(p_hex);
        } else if (p_g->kind == PROV_RX_EVENT_LOG) {
            /* the host decodes log bytes as UTF-8 with replacement */
            char *p_text = prov_test_utf8_decode_replace(p_g->p_data, p_g->len);
            assert_string_equal(p_text, prov_test_json_str(p_e, "text"));
            free(p_text);
        } else {
            const char *p_name = prov_frame_error_name(p_g->error);
            assert_non_null(p_name);
            assert_string_equal(p_name, prov_test_json_str(p_e, "error"));
            if (p_g->error == PROV_ERR_BAD_VERSION) {
                assert_int_equal(p_g->header.version, prov_test_json_int(p_e, "version"));
                assert_int_equal(p_g->header.type, prov_test_json_int(p_e, "type"));
                assert_int_equal(p_g->header.seq, prov_test_json_int(p_e, "seq"));
            }
        }
        i++;
    }
}
