/*
 * reply.c - error texts of an answer (reply.h).
 */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>

prov_error_code_t prov_reply_error(prov_reply_t *p_reply, prov_error_code_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* sizeof(text) is 97: vsnprintf keeps at most 96 bytes, the protocol's limit */
    (void)vsnprintf(p_reply->text, sizeof(p_reply->text), fmt, ap);
    va_end(ap);
    return code;
}
