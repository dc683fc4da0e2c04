/*
 * Console lock shared by frames and log output (see console_lock.h).
 *
 * The hook formats a whole log line into a buffer first and writes it in one
 * driver call while holding the lock; a frame line is written the same way.
 * The lock is recursive because a driver error inside a write may log.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "esp_log.h"

#include "console_lock.h"

/* ESP-IDF log lines are short; a longer one is cut and still ends with a newline. */
#define PROV_LOG_LINE_BYTES 384

static SemaphoreHandle_t s_lock;
static prov_console_raw_write_t s_raw_write;
static char s_line[PROV_LOG_LINE_BYTES];

static int log_vprintf(const char *p_fmt, va_list args)
{
    int n = 0;
    size_t len;

    if (xSemaphoreTakeRecursive(s_lock, portMAX_DELAY) != pdTRUE) {
        return 0;
    }
    n = vsnprintf(s_line, sizeof(s_line), p_fmt, args);
    if (n > 0) {
        len = (size_t)n;
        if (len >= sizeof(s_line)) {
            /* Cut: keep the line a line, so the host's splitter stays in text mode. */
            len = sizeof(s_line) - 1u;
            s_line[len - 1u] = '\n';
        }
        (void)s_raw_write((const uint8_t *)s_line, len);
    }
    (void)xSemaphoreGiveRecursive(s_lock);
    return n;
}

/* One complete frame line under the lock (prov_transport_t.write). */
static int frame_write(void *p_ctx, const uint8_t *p_data, size_t len)
{
    int rc;

    (void)p_ctx;
    if (s_lock == NULL || xSemaphoreTakeRecursive(s_lock, portMAX_DELAY) != pdTRUE) {
        return -1;
    }
    rc = s_raw_write(p_data, len);
    (void)xSemaphoreGiveRecursive(s_lock);
    return rc;
}

int prov_console_init(prov_console_raw_write_t raw_write, prov_transport_t *p_out)
{
    if (raw_write == NULL) {
        return -1;
    }
    s_raw_write = raw_write;
    s_lock = xSemaphoreCreateRecursiveMutex();
    if (s_lock == NULL) {
        return -1;
    }
    (void)esp_log_set_vprintf(log_vprintf);
    memset(p_out, 0, sizeof(*p_out));
    p_out->write = frame_write;
    return 0;
}
