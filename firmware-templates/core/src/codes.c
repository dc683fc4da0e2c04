/* Texts and mappings for codes.h. */
#include "prov/codes.h"
#include "prov/storage_status.h"

#include <stddef.h>

const char *prov_strerror(prov_status_t status)
{
    const char *p_text = "unknown status";

    switch (status) {
    case PROV_OK: p_text = "success"; break;
    case PROV_END: p_text = "no more items"; break;
    case PROV_ERR_BAD_PARAM: p_text = "bad parameter"; break;
    case PROV_ERR_NO_SPACE: p_text = "output buffer too small"; break;
    case PROV_ERR_BAD_CHAR: p_text = "byte not allowed inside a frame line"; break;
    case PROV_ERR_OVERSIZE: p_text = "frame line or body too long"; break;
    case PROV_ERR_BAD_BASE64: p_text = "frame line is not valid base64"; break;
    case PROV_ERR_TRUNCATED: p_text = "frame body shorter than 9 bytes"; break;
    case PROV_ERR_BAD_CRC: p_text = "frame CRC mismatch"; break;
    case PROV_ERR_BAD_VERSION: p_text = "unsupported protocol version"; break;
    case PROV_ERR_MALFORMED: p_text = "field overruns the payload"; break;
    case PROV_ERR_BAD_LENGTH: p_text = "integer field has the wrong length"; break;
    case PROV_ERR_BAD_VALUE: p_text = "field value not valid for its type"; break;
    case PROV_ERR_NOT_FOUND: p_text = "field not present"; break;
    case PROV_ERR_TAG_ORDER: p_text = "fields not in ascending tag order"; break;
    case PROV_ERR_CHUNK: p_text = "chunk out of order or inconsistent total"; break;
    case PROV_ERR_DIGEST: p_text = "reassembled payload does not match its digest"; break;
    case PROV_ERR_TOO_LARGE: p_text = "payload larger than accepted"; break;
    case PROV_ERR_CRYPTO: p_text = "SHA-256 function failed"; break;
    default: p_text = "unknown status"; break;
    }
    return p_text;
}

prov_error_code_t prov_status_to_error_code(prov_status_t status)
{
    prov_error_code_t code = PROV_CODE_ERR_INTERNAL;

    switch (status) {
    case PROV_OK: code = PROV_CODE_OK; break;
    case PROV_ERR_MALFORMED:
    case PROV_ERR_BAD_LENGTH:
    case PROV_ERR_BAD_VALUE:
    case PROV_ERR_NOT_FOUND: code = PROV_CODE_ERR_BAD_PAYLOAD; break;
    case PROV_ERR_CHUNK: code = PROV_CODE_ERR_CHUNK; break;
    case PROV_ERR_DIGEST: code = PROV_CODE_ERR_DIGEST; break;
    case PROV_ERR_TOO_LARGE:
    case PROV_ERR_NO_SPACE: code = PROV_CODE_ERR_TOO_LARGE; break;
    case PROV_ERR_CRYPTO: code = PROV_CODE_ERR_CRYPTO; break;
    case PROV_ERR_BAD_VERSION: code = PROV_CODE_ERR_VERSION; break;
    default: code = PROV_CODE_ERR_INTERNAL; break;
    }
    return code;
}

const char *prov_error_code_name(uint8_t code)
{
    static const char *const names[] = {
        "OK", "ERR_UNKNOWN_TYPE", "ERR_BAD_PAYLOAD", "ERR_WRONG_STATE", "ERR_UNSUPPORTED", "ERR_NO_KEY",
        "ERR_KEY_MISMATCH", "ERR_TOO_LARGE", "ERR_CHUNK", "ERR_DIGEST", "ERR_STORAGE", "ERR_CRYPTO",
        "ERR_LOCKED", "ERR_BAD_TOKEN", "ERR_VERSION", "ERR_BUSY", "ERR_BAD_CERT", "ERR_BAD_BAUD",
    };
    const char *p_name = "ERR_?";

    if (code < (sizeof(names) / sizeof(names[0]))) {
        p_name = names[code];
    } else if (code == (uint8_t)PROV_CODE_ERR_INTERNAL) {
        p_name = "ERR_INTERNAL";
    } else {
        p_name = "ERR_?";
    }
    return p_name;
}

const char *prov_state_name(uint8_t state)
{
    static const char *const names[] = {"EMPTY", "KEYED", "STAGED", "PROVISIONED", "LOCKED"};
    const char *p_name = "?";

    if (state < (sizeof(names) / sizeof(names[0]))) {
        p_name = names[state];
    }
    return p_name;
}

prov_error_code_t prov_storage_to_code(int storage_status)
{
    prov_error_code_t code = PROV_CODE_ERR_STORAGE;
    switch (storage_status) {
    case PROV_STORAGE_OK: code = PROV_CODE_OK; break;
    case PROV_STORAGE_NOT_FOUND: code = PROV_CODE_ERR_NO_KEY; break;
    case PROV_STORAGE_TOO_LARGE: code = PROV_CODE_ERR_TOO_LARGE; break;
    case PROV_STORAGE_UNSUPPORTED: code = PROV_CODE_ERR_UNSUPPORTED; break;
    case PROV_STORAGE_CRYPTO: code = PROV_CODE_ERR_CRYPTO; break;
    default: code = PROV_CODE_ERR_STORAGE; break;
    }
    return code;
}
