/*
 * credset.h - the credential set: the WRITE_CREDENTIALS payload of
 * protocol.md 5.3, which is also what the credential store commits. Parsing
 * gives views into the payload (nothing is copied) after checking every
 * field's presence, type and size.
 */
#ifndef PROV_CREDSET_H
#define PROV_CREDSET_H

#include <stddef.h>
#include <stdint.h>

#include "prov/app.h"
#include "prov/codes.h"

/* Field tags of the set */
enum {
    PROV_CRED_CERT = 0x01,
    PROV_CRED_CA = 0x02,
    PROV_CRED_ENDPOINT = 0x03,
    PROV_CRED_PORT = 0x04,
    PROV_CRED_THING = 0x05,
    PROV_CRED_TOPIC = 0x06,
    PROV_CRED_INTERVAL = 0x07,
    PROV_CRED_WIFI_SSID = 0x08,
    PROV_CRED_WIFI_PASSWORD = 0x09
};

/*
 * Parse a set into views of p_payload (generation left 0). On an error
 * p_why (why_size bytes, may be NULL) names the field and what is wrong.
 * Returns PROV_CODE_OK, ERR_BAD_PAYLOAD (missing, wrong type, empty, TLV
 * overrun) or ERR_TOO_LARGE (a field over its limit).
 */
prov_error_code_t prov_credset_parse(const uint8_t *p_payload, size_t len, prov_credentials_t *p_out, char *p_why,
                                     size_t why_size);

#endif /* PROV_CREDSET_H */
