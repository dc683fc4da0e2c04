/*
 * twin_log.c - log lines to the pty.
 */
#include "twin_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static twin_log_sink_t g_sink;

void twin_log_set_sink(const twin_log_sink_t *p_sink)
{
    g_sink = *p_sink;
}

static void emit(const char *line, size_t len)
{
    if (g_sink.write != NULL) {
        (void)g_sink.write(g_sink.ctx, (const uint8_t *)line, len);
    }
    if (g_sink.mirror_stderr) {
        fwrite(line, 1, len, stderr);
    }
}

void twin_log(char level, const char *tag, const char *fmt, ...)
{
    char line[600];
    int n = 0;
    int m = 0;
    va_list ap;
    uint32_t ms = (g_sink.millis != NULL) ? g_sink.millis(g_sink.ctx) : 0u;

    n = snprintf(line, sizeof(line), "%c (%lu) %s: ", level, (unsigned long)ms, tag);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        return;
    }
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1u, fmt, ap);
    va_end(ap);
    if (m < 0) {
        return;
    }
    n += ((size_t)m >= sizeof(line) - (size_t)n - 1u) ? (int)(sizeof(line) - (size_t)n - 2u) : m;
    /* a log line never contains the frame start marker or a raw newline */
    for (int i = 0; i < n; i++) {
        if (line[i] == '\x1e' || line[i] == '\n' || line[i] == '\r') {
            line[i] = ' ';
        }
    }
    line[n++] = '\n';
    emit(line, (size_t)n);
}

void twin_log_raw(const char *text)
{
    emit(text, strlen(text));
}
