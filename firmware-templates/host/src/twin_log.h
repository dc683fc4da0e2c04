/*
 * twin_log.h - ESP-IDF style log lines ("I (123) tag: text") on the twin's
 * UART (the pty), as a chip would print them between frames.
 *
 * The twin is single-threaded, so a log line and a frame line can never be
 * interleaved; the ESP-IDF port gets the same guarantee from one lock shared
 * by its esp_log_set_vprintf hook and its transport write().
 */
#ifndef TWIN_LOG_H
#define TWIN_LOG_H

#include <stddef.h>
#include <stdint.h>

/* Where log lines go: the pty writer, plus milliseconds since (re)boot. */
typedef struct twin_log_sink {
    int (*write)(void *ctx, const uint8_t *data, size_t len);
    void *ctx;
    uint32_t (*millis)(void *ctx);
    int mirror_stderr; /* also print every line to stderr (debugging) */
} twin_log_sink_t;

void twin_log_set_sink(const twin_log_sink_t *p_sink);

/* level: 'E', 'W', 'I', 'D'. */
void twin_log(char level, const char *tag, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Raw text (ROM banner lines have no level/timestamp). */
void twin_log_raw(const char *text);

#endif /* TWIN_LOG_H */
