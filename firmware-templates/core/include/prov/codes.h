/*
 * codes.h - numbers of the host<->device wire protocol v1 (docs/protocol.md)
 * and the one status type returned by every function of the portable core.
 *
 * Two different kinds of code live here and must not be mixed up:
 *  - prov_status_t: what a C function of the core returns (library status,
 *    never sent on the wire);
 *  - prov_error_code_t: the status byte of a response frame (section 5.4).
 * prov_status_to_error_code() is the one place that maps the first to the
 * second, so the dispatcher answers a codec failure with the code the spec
 * names for it.
 */
#ifndef PROV_CODES_H
#define PROV_CODES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Protocol version implemented by this core (frame byte 0). */
#define PROV_PROTOCOL_VERSION 1u

/* ------------------------------------------------------------------------ */
/* Library status                                                            */
/* ------------------------------------------------------------------------ */

/** Status returned by every core function. 0 is success. */
typedef enum prov_status {
    PROV_OK = 0,            /**< Success. */
    PROV_END,               /**< An iterator has no more items (not an error). */
    PROV_ERR_BAD_PARAM,     /**< A public argument was NULL or out of range. */
    PROV_ERR_NO_SPACE,      /**< The caller's output buffer is too small. */
    PROV_ERR_BAD_CHAR,      /**< Frame line: a byte outside base64/'='/CR/LF (wire error "bad_char"). */
    PROV_ERR_OVERSIZE,      /**< Frame line longer than PROV_FRAME_LINE_MAX or body longer than PROV_FRAME_BODY_MAX ("oversize"). */
    PROV_ERR_BAD_BASE64,    /**< Frame line is not valid padded base64 ("bad_base64"). */
    PROV_ERR_TRUNCATED,     /**< Frame body shorter than 9 bytes ("truncated"). */
    PROV_ERR_BAD_CRC,       /**< Frame body CRC-32 does not match ("bad_crc"). */
    PROV_ERR_BAD_VERSION,   /**< Frame version is not PROV_PROTOCOL_VERSION ("bad_version"). */
    PROV_ERR_MALFORMED,     /**< TLV field or chunk header overruns the payload. */
    PROV_ERR_BAD_LENGTH,    /**< TLV integer field has the wrong length for its type. */
    PROV_ERR_BAD_VALUE,     /**< TLV value is not acceptable for its type (e.g. NUL inside a str). */
    PROV_ERR_NOT_FOUND,     /**< The requested TLV tag is not in the payload. */
    PROV_ERR_TAG_ORDER,     /**< TLV writer: tag not strictly greater than the previous one (spec 5.1). */
    PROV_ERR_CHUNK,         /**< Chunk out of order, or inconsistent total/offset. */
    PROV_ERR_DIGEST,        /**< Reassembled payload does not match its SHA-256. */
    PROV_ERR_TOO_LARGE,     /**< Chunked payload total larger than the reassembly buffer / PROV_PAYLOAD_MAX. */
    PROV_ERR_CRYPTO,        /**< The caller's SHA-256 function reported a failure. */
    PROV_STATUS_COUNT_      /**< Number of values; not a status. */
} prov_status_t;

/**
 * Short English text for a status, e.g. "bad CRC". Never NULL; unknown
 * values give "unknown status".
 */
const char *prov_strerror(prov_status_t status);

/* ------------------------------------------------------------------------ */
/* Frame header fields (section 3)                                           */
/* ------------------------------------------------------------------------ */

/** Message types (section 5.3). */
typedef enum prov_msg_type {
    PROV_MSG_HELLO = 0x01,
    PROV_MSG_STATUS = 0x02,
    PROV_MSG_PING = 0x03,
    PROV_MSG_SET_BAUD = 0x04,
    PROV_MSG_GENERATE_KEY = 0x10,
    PROV_MSG_GET_CSR = 0x11,
    PROV_MSG_WRITE_CREDENTIALS = 0x20,
    PROV_MSG_COMMIT = 0x21,
    PROV_MSG_RESTART = 0x22,
    PROV_MSG_LOCK = 0x23,
    PROV_MSG_FACTORY_RESET = 0x24,
    PROV_MSG_EVENT = 0x70 /**< device -> host only, never answered */
} prov_msg_type_t;

/** Frame flag bits (section 3). Bits 2..7 are reserved: sent 0, ignored. */
#define PROV_FLAG_RESPONSE 0x01u /**< answers the request with the same seq and type */
#define PROV_FLAG_CHUNK 0x02u    /**< payload is a chunk (section 4) */

/* ------------------------------------------------------------------------ */
/* Message field values                                                      */
/* ------------------------------------------------------------------------ */

/** Key types (GENERATE_KEY 0x01, HELLO 0x05, STATUS 0x10). */
typedef enum prov_key_type {
    PROV_KEY_NONE = 0, /**< not on the wire: "no key" inside the core */
    PROV_KEY_EC_P256 = 1,
    PROV_KEY_EC_P384 = 2,
    PROV_KEY_RSA_2048 = 3,
    PROV_KEY_RSA_3072 = 4
} prov_key_type_t;

/** Key stores (GENERATE_KEY 0x02, HELLO 0x06, STATUS 0x11). */
typedef enum prov_key_store {
    PROV_STORE_NONE = 0, /**< not on the wire */
    PROV_STORE_NVS = 1,
    PROV_STORE_NVS_ENCRYPTED = 2,
    PROV_STORE_DS = 3,       /**< digital signature peripheral, RSA only */
    PROV_STORE_ATECC608 = 4, /**< P-256 only */
    PROV_STORE_FILE = 5      /**< device twin */
} prov_key_store_t;

/** Device states (section 7; HELLO/STATUS field 0x07). */
typedef enum prov_state {
    PROV_STATE_EMPTY = 0,
    PROV_STATE_KEYED = 1,
    PROV_STATE_STAGED = 2,
    PROV_STATE_PROVISIONED = 3,
    PROV_STATE_LOCKED = 4
} prov_state_t;

/** EVENT codes (EVENT field 0x01). */
typedef enum prov_event_code {
    PROV_EVENT_BOOT = 1,
    PROV_EVENT_NETWORK_UP = 2,
    PROV_EVENT_NETWORK_DOWN = 3,
    PROV_EVENT_MQTT_CONNECTED = 4,
    PROV_EVENT_MQTT_DISCONNECTED = 5,
    PROV_EVENT_PUBLISHED = 6,       /**< value = counter */
    PROV_EVENT_ERROR = 7,           /**< value = error code */
    PROV_EVENT_MESSAGE_RECEIVED = 8 /**< text = topic */
} prov_event_code_t;

/** Response status byte (section 5.4). */
typedef enum prov_error_code {
    PROV_CODE_OK = 0,
    PROV_CODE_ERR_UNKNOWN_TYPE = 1,  /**< message type not known to this firmware */
    PROV_CODE_ERR_BAD_PAYLOAD = 2,   /**< TLV malformed or a required field missing */
    PROV_CODE_ERR_WRONG_STATE = 3,   /**< command not valid in the current state */
    PROV_CODE_ERR_UNSUPPORTED = 4,   /**< key type, key store or option not supported */
    PROV_CODE_ERR_NO_KEY = 5,        /**< no key yet */
    PROV_CODE_ERR_KEY_MISMATCH = 6,  /**< certificate's public key is not the device's key */
    PROV_CODE_ERR_TOO_LARGE = 7,     /**< payload or field larger than the device accepts */
    PROV_CODE_ERR_CHUNK = 8,         /**< chunk out of order or inconsistent total */
    PROV_CODE_ERR_DIGEST = 9,        /**< reassembled payload does not match its digest */
    PROV_CODE_ERR_STORAGE = 10,      /**< flash or key storage failed */
    PROV_CODE_ERR_CRYPTO = 11,       /**< crypto library failed */
    PROV_CODE_ERR_LOCKED = 12,       /**< device is locked */
    PROV_CODE_ERR_BAD_TOKEN = 13,    /**< factory-reset token wrong or stale */
    PROV_CODE_ERR_VERSION = 14,      /**< protocol version not supported */
    PROV_CODE_ERR_BUSY = 15,         /**< a previous command is still running */
    PROV_CODE_ERR_BAD_CERT = 16,     /**< certificate or CA text does not parse */
    PROV_CODE_ERR_BAD_BAUD = 17,     /**< baud rate not supported */
    PROV_CODE_ERR_INTERNAL = 255     /**< bug in the firmware */
} prov_error_code_t;

/** Maximum length of the English text (TLV 0x01) of an error response. */
#define PROV_ERROR_TEXT_MAX_BYTES 96u

/**
 * The response code the spec names for a failing core call:
 * MALFORMED/BAD_LENGTH/BAD_VALUE/NOT_FOUND -> ERR_BAD_PAYLOAD,
 * CHUNK -> ERR_CHUNK, DIGEST -> ERR_DIGEST, TOO_LARGE/NO_SPACE -> ERR_TOO_LARGE,
 * CRYPTO -> ERR_CRYPTO, BAD_VERSION -> ERR_VERSION, PROV_OK -> OK,
 * anything else (a bug in the caller) -> ERR_INTERNAL.
 */
prov_error_code_t prov_status_to_error_code(prov_status_t status);

/** Spec name of a response code, e.g. "ERR_CHUNK"; "ERR_?" if unknown. */
const char *prov_error_code_name(uint8_t code);

/** Spec name of a state, e.g. "PROVISIONED" (for ERR_WRONG_STATE texts); "?" if unknown. */
const char *prov_state_name(uint8_t state);

#ifdef __cplusplus
}
#endif

#endif /* PROV_CODES_H */
