/*
 * frame.h - frame line codec (protocol.md sections 2 and 3).
 *
 *   line = 0x1E base64(body) 0x0A
 *   body = version(1) type(1) seq(2, BE) flags(1) payload(n) crc32(4, BE)
 *
 * Encoder: prov_frame_encode() writes a complete line into a caller buffer.
 * Receiver: prov_rx_t is a byte-driven state machine that splits a UART
 * stream shared with log output into log lines, frames and errors, delivered
 * to a callback. It keeps no pointer to the caller's data between calls,
 * allocates nothing and never reads or writes outside its own struct, for
 * any input (fuzzed: see docs/fuzzing.md).
 */
#ifndef PROV_FRAME_H
#define PROV_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prov/base64.h"
#include "prov/codes.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Configuration (override with -D or before including)                      */
/* ------------------------------------------------------------------------ */

/**
 * Largest frame body in bytes (header + payload + CRC). The protocol
 * ceiling is 2048; a device may build with less (>= 256) and announce it in
 * HELLO max_frame. Bodies above it are rejected with "oversize".
 */
#ifndef PROV_FRAME_BODY_MAX
#define PROV_FRAME_BODY_MAX 2048u
#endif

/**
 * Longest frame line in base64 characters (start marker, CR and LF not
 * counted); longer lines are aborted with "oversize". Protocol value 2736 =
 * base64 length of PROV_FRAME_BODY_MAX + 4 bytes.
 */
#ifndef PROV_FRAME_LINE_MAX
#define PROV_FRAME_LINE_MAX PROV_BASE64_ENCODED_LEN(PROV_FRAME_BODY_MAX + 4u)
#endif

/** Longest log line delivered at once; longer lines come in pieces of this size. */
#ifndef PROV_LOG_LINE_MAX
#define PROV_LOG_LINE_MAX 1024u
#endif

/* ------------------------------------------------------------------------ */
/* Wire constants                                                            */
/* ------------------------------------------------------------------------ */

#define PROV_FRAME_START_BYTE 0x1Eu /**< ASCII RS, starts a frame line */
#define PROV_FRAME_END_BYTE 0x0Au   /**< LF, ends any line */
#define PROV_FRAME_CR_BYTE 0x0Du    /**< CR, ignored before LF */

#define PROV_FRAME_HEADER_BYTES 5u   /**< version, type, seq, flags */
#define PROV_FRAME_CRC_BYTES 4u      /**< CRC-32 trailer */
#define PROV_FRAME_OVERHEAD_BYTES 9u /**< header + CRC: smallest valid body */

/** Largest payload that fits one frame of body size max_body_bytes. */
#define PROV_FRAME_PAYLOAD_MAX_FOR(max_body_bytes) ((size_t)(max_body_bytes) - PROV_FRAME_OVERHEAD_BYTES)

/** Largest payload of one frame at this build's PROV_FRAME_BODY_MAX. */
#define PROV_FRAME_PAYLOAD_MAX PROV_FRAME_PAYLOAD_MAX_FOR(PROV_FRAME_BODY_MAX)

/** Bytes of a complete line (0x1E + base64 + 0x0A) for a payload of n bytes. */
#define PROV_FRAME_LINE_BYTES_FOR(n) (PROV_BASE64_ENCODED_LEN((size_t)(n) + PROV_FRAME_OVERHEAD_BYTES) + 2u)

/** Buffer size that holds any line prov_frame_encode() can produce. */
#define PROV_FRAME_LINE_BYTES_MAX PROV_FRAME_LINE_BYTES_FOR(PROV_FRAME_PAYLOAD_MAX)

/* ------------------------------------------------------------------------ */
/* Frame                                                                     */
/* ------------------------------------------------------------------------ */

/** A decoded frame, or the frame to encode. */
typedef struct prov_frame {
    uint8_t version;           /**< PROV_PROTOCOL_VERSION for frames we send */
    uint8_t type;              /**< prov_msg_type_t */
    uint16_t seq;              /**< request number; responses echo it */
    uint8_t flags;             /**< PROV_FLAG_* ; reserved bits passed through as received */
    const uint8_t *p_payload;  /**< payload bytes (may be NULL when payload_len is 0) */
    size_t payload_len;        /**< payload length in bytes */
} prov_frame_t;

/**
 * Encode p_frame as a complete line (0x1E, base64 body, 0x0A) into p_out.
 * The version is taken from p_frame as given (tests encode other versions).
 * @param out_cap    size of p_out; PROV_FRAME_LINE_BYTES_FOR(payload_len) needed
 * @param p_out_len  set to the line length on success
 * @return PROV_OK; PROV_ERR_BAD_PARAM (NULL pointer); PROV_ERR_OVERSIZE
 *         (body would exceed PROV_FRAME_BODY_MAX); PROV_ERR_NO_SPACE.
 */
prov_status_t prov_frame_encode(const prov_frame_t *p_frame, uint8_t *p_out, size_t out_cap, size_t *p_out_len);

/**
 * Decode a frame line's base64 text (without 0x1E, CR, LF) per section 3, in
 * order: bad_base64, truncated, oversize, bad_crc, bad_version. The decoded
 * body goes into p_body (PROV_BASE64_DECODED_MAX(text_len) bytes, or at
 * least PROV_FRAME_BODY_MAX + 4 for any line) and p_frame->p_payload points
 * into it. p_body may alias p_text (in-place decoding).
 * On PROV_ERR_BAD_VERSION the header fields of *p_frame are filled in (so
 * the device can answer ERR_VERSION with the same type and seq).
 * @return PROV_OK or one of the five frame errors above; PROV_ERR_BAD_PARAM.
 */
prov_status_t prov_frame_decode(const char *p_text, size_t text_len, uint8_t *p_body, size_t body_cap,
                                prov_frame_t *p_frame);

/** Wire name of a frame error ("bad_char", "oversize", ...), NULL for other statuses. */
const char *prov_frame_error_name(prov_status_t status);

/* ------------------------------------------------------------------------ */
/* Receiver                                                                  */
/* ------------------------------------------------------------------------ */

/** What a receiver event carries. */
typedef enum prov_rx_event_kind {
    PROV_RX_EVENT_FRAME = 1, /**< a frame decoded: see frame */
    PROV_RX_EVENT_LOG,       /**< a non-empty log line or piece: see p_log/log_len */
    PROV_RX_EVENT_ERROR      /**< a frame line was dropped: see error (and frame for bad_version) */
} prov_rx_event_kind_t;

/**
 * One receiver event. All pointers point into the receiver and are valid
 * only during the callback: copy what you keep.
 */
typedef struct prov_rx_event {
    prov_rx_event_kind_t kind;
    /** FRAME: the frame. ERROR with PROV_ERR_BAD_VERSION: version, type, seq,
     *  flags and payload as read from the body. Otherwise zeroed. */
    prov_frame_t frame;
    /** ERROR: PROV_ERR_BAD_CHAR, _OVERSIZE, _BAD_BASE64, _TRUNCATED, _BAD_CRC
     *  or _BAD_VERSION (prov_frame_error_name() gives the wire name). PROV_OK otherwise. */
    prov_status_t error;
    /** LOG: the line without LF and without one trailing CR; 1..PROV_LOG_LINE_MAX
     *  bytes, not NUL-terminated, raw bytes (not validated UTF-8). */
    const uint8_t *p_log;
    size_t log_len; /**< LOG: length of p_log */
} prov_rx_event_t;

/** Receives events in stream order. Called from inside prov_rx_push(). */
typedef void (*prov_rx_callback_t)(void *p_context, const prov_rx_event_t *p_event);

/** Receiver state. Treat as opaque; size is fixed at compile time (~3 KB). */
typedef struct prov_rx {
    prov_rx_callback_t callback; /**< event sink */
    void *p_context;             /**< passed to callback */
    uint8_t mode;                /**< internal: text / frame / skip */
    size_t len;                  /**< internal: bytes in line[] */
    uint32_t frames_ok;          /**< frames delivered since init */
    uint32_t frames_bad;         /**< frame lines dropped with an error since init */
    /** Shared by the log line (text mode) and the base64 text (frame mode);
     *  a frame is decoded in place. */
    uint8_t line[(PROV_FRAME_LINE_MAX > PROV_LOG_LINE_MAX) ? PROV_FRAME_LINE_MAX : PROV_LOG_LINE_MAX];
} prov_rx_t;

/**
 * Initialise a receiver in text mode.
 * @return PROV_OK; PROV_ERR_BAD_PARAM if p_rx or callback is NULL.
 */
prov_status_t prov_rx_init(prov_rx_t *p_rx, prov_rx_callback_t callback, void *p_context);

/**
 * Feed len bytes of the stream (any split: byte at a time and all at once
 * give the same events). Events are delivered to the callback before this
 * returns. A partial log line stays buffered until LF, 0x1E or the size limit.
 * @return PROV_OK (stream errors are events, not return values);
 *         PROV_ERR_BAD_PARAM (p_rx NULL or not initialised, or p_data NULL with len > 0).
 */
prov_status_t prov_rx_push(prov_rx_t *p_rx, const uint8_t *p_data, size_t len);

/** Drop any partial line and return to text mode (e.g. after a baud switch). Counters are kept. */
void prov_rx_reset(prov_rx_t *p_rx);

#ifdef __cplusplus
}
#endif

#endif /* PROV_FRAME_H */
