/*
 * console_lock.h - one lock for everything written to the console, so an
 * ESP-IDF log line can never land inside a frame line (docs/protocol.md 2).
 * Both transports route esp_log through prov_console_log_vprintf() and write
 * frames with prov_console_write().
 */
#ifndef PROV_CONSOLE_LOCK_H
#define PROV_CONSOLE_LOCK_H

#include <stddef.h>
#include <stdint.h>

/* Writes all len bytes to the console driver; returns 0 or negative. Called with the lock held. */
typedef int (*prov_console_raw_write_t)(const uint8_t *p_data, size_t len);

/* Create the lock and hook esp_log_set_vprintf(). Call once, after the driver is installed. */
int prov_console_init(prov_console_raw_write_t raw_write);

/* Write one complete frame line under the lock. Returns 0 or negative. */
int prov_console_write(const uint8_t *p_data, size_t len);

#endif /* PROV_CONSOLE_LOCK_H */
