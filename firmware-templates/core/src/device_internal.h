/*
 * Private seam between the framing half of the device (device.c: frames,
 * duplicate cache, events, timers, boot) and the command half (dispatch.c).
 */
#ifndef PROV_DEVICE_INTERNAL_H
#define PROV_DEVICE_INTERNAL_H

#include <stdarg.h>

#include "prov/device.h"
#include "prov/tlv.h"

/* What to do once the answer has been written. */
typedef enum prov_after {
    PROV_AFTER_NONE = 0,
    PROV_AFTER_SET_BAUD, /* drain, then switch to arg */
    PROV_AFTER_RESTART   /* drain, stop the app, restart after arg ms */
} prov_after_t;

/* One command's answer while it is being built. */
typedef struct prov_reply {
    prov_tlv_writer_t fields; /* OK fields, written after the status byte */
    char text[PROV_ERROR_TEXT_MAX_BYTES + 1u];
    prov_after_t after;
    uint32_t after_arg;
} prov_reply_t;

/*
 * Run one complete request (after reassembly) and fill p_reply. Returns the
 * response status byte; on an error p_reply->text says why.
 */
prov_error_code_t prov_dispatch(prov_device_t *p_dev, uint8_t type, const uint8_t *p_payload, size_t len,
                                prov_reply_t *p_reply);

/* Set the error text (truncated to 96 bytes); returns code for one-line use. */
prov_error_code_t prov_reply_error(prov_reply_t *p_reply, prov_error_code_t code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Re-read keys, committed set and lock flag into p_dev. PROV_CODE_OK or ERR_STORAGE. */
prov_error_code_t prov_device_refresh(prov_device_t *p_dev);

/* Read the committed set into p_dev->work and parse it. PROV_CODE_OK, ERR_STORAGE, ERR_BAD_PAYLOAD. */
prov_error_code_t prov_device_read_committed(prov_device_t *p_dev, prov_credentials_t *p_creds, size_t *p_len);

/* Parse a WRITE_CREDENTIALS payload. PROV_CODE_OK or ERR_BAD_PAYLOAD / ERR_TOO_LARGE with a text. */
prov_error_code_t prov_credentials_parse(const uint8_t *p_payload, size_t len, prov_credentials_t *p_creds,
                                         prov_reply_t *p_reply);

#endif /* PROV_DEVICE_INTERNAL_H */
