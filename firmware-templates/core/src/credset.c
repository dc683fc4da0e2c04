/*
 * credset.c - parse the credential set (prov/credset.h).
 */
#include "prov/credset.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "prov/config.h"
#include "prov/tlv.h"

/* Formats why into the caller's buffer; returns code for one-line use. */
static prov_error_code_t why(char *p_why, size_t size, prov_error_code_t code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static prov_error_code_t why(char *p_why, size_t size, prov_error_code_t code, const char *fmt, ...)
{
    va_list ap;

    if (p_why != NULL && size > 0u) {
        va_start(ap, fmt);
        (void)vsnprintf(p_why, size, fmt, ap);
        va_end(ap);
    }
    return code;
}

prov_error_code_t prov_credset_parse(const uint8_t *p_payload, size_t len, prov_credentials_t *p_c, char *p_why,
                                     size_t why_size)
{
    static const struct {
        uint8_t tag;
        const char *name;
        size_t max;
        bool required;
    } strs[] = {
        {PROV_CRED_CERT, "certificate", PROV_DEVICE_PAYLOAD_MAX, true},
        {PROV_CRED_CA, "root CA", PROV_DEVICE_PAYLOAD_MAX, true},
        {PROV_CRED_ENDPOINT, "endpoint", PROV_ENDPOINT_MAX, true},
        {PROV_CRED_THING, "thing name", PROV_THING_NAME_MAX, true},
        {PROV_CRED_TOPIC, "topic", PROV_TOPIC_MAX, true},
        {PROV_CRED_WIFI_SSID, "Wi-Fi SSID", 32u, false},
        {PROV_CRED_WIFI_PASSWORD, "Wi-Fi password", 64u, false},
    };
    prov_strview_t *outs[] = {&p_c->cert_pem,   &p_c->ca_pem,    &p_c->endpoint,     &p_c->thing_name,
                              &p_c->topic,      &p_c->wifi_ssid, &p_c->wifi_password};
    prov_error_code_t code = PROV_CODE_OK;

    memset(p_c, 0, sizeof(*p_c));
    if (prov_tlv_validate(p_payload, len) != PROV_OK) {
        return why(p_why, why_size, PROV_CODE_ERR_BAD_PAYLOAD, "credential fields overrun the payload");
    }
    for (size_t i = 0; code == PROV_CODE_OK && i < sizeof(strs) / sizeof(strs[0]); i++) {
        prov_status_t st = strs[i].required
                               ? prov_tlv_find_str(p_payload, len, strs[i].tag, &outs[i]->ptr, &outs[i]->len)
                               : prov_tlv_find_str_or_empty(p_payload, len, strs[i].tag, &outs[i]->ptr, &outs[i]->len);
        if (st != PROV_OK) {
            code = why(p_why, why_size, PROV_CODE_ERR_BAD_PAYLOAD, "%s (tag 0x%02x) missing or not a string",
                                    strs[i].name, strs[i].tag);
        } else if (outs[i]->len > strs[i].max) {
            code = why(p_why, why_size, PROV_CODE_ERR_TOO_LARGE, "%s longer than %u bytes", strs[i].name,
                                    (unsigned)strs[i].max);
        } else if (strs[i].required && outs[i]->len == 0u) {
            code = why(p_why, why_size, PROV_CODE_ERR_BAD_PAYLOAD, "%s is empty", strs[i].name);
        }
    }
    if (code == PROV_CODE_OK &&
        (prov_tlv_find_u16(p_payload, len, PROV_CRED_PORT, &p_c->port) != PROV_OK || p_c->port == 0u)) {
        code = why(p_why, why_size, PROV_CODE_ERR_BAD_PAYLOAD, "MQTT port (tag 0x04 u16, not 0) missing");
    }
    if (code == PROV_CODE_OK &&
        (prov_tlv_find_u32(p_payload, len, PROV_CRED_INTERVAL, &p_c->publish_interval_ms) != PROV_OK ||
         p_c->publish_interval_ms == 0u)) {
        code = why(p_why, why_size, PROV_CODE_ERR_BAD_PAYLOAD,
                                "publish interval (tag 0x07 u32 ms, not 0) missing");
    }
    return code;
}
