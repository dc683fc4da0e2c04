/*
 * reply.h - one command's answer while it is being built (private to the core).
 */
#ifndef PROV_REPLY_H
#define PROV_REPLY_H

#include <stdint.h>

#include "prov/codes.h"
#include "prov/tlv.h"

/* What to do once the answer has been written. */
typedef enum prov_after {
    PROV_AFTER_NONE = 0,
    PROV_AFTER_SET_BAUD, /* drain, then switch to arg */
    PROV_AFTER_RESTART   /* drain, stop the app, restart after arg ms */
} prov_after_t;

typedef struct prov_reply {
    prov_tlv_writer_t fields; /* OK fields, written after the status byte */
    char text[PROV_ERROR_TEXT_MAX_BYTES + 1u];
    prov_after_t after;
    uint32_t after_arg;
} prov_reply_t;

/* Set the error text (truncated to 96 bytes); returns code for one-line use. */
prov_error_code_t prov_reply_error(prov_reply_t *p_reply, prov_error_code_t code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif /* PROV_REPLY_H */
