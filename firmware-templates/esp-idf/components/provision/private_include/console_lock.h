/*
 * console_lock.h - one lock for everything written to the console, so an
 * ESP-IDF log line can never land inside a frame line (docs/protocol.md 2).
 * Both transports route esp_log through it and take their frame write from
 * prov_console_init(); only the driver's raw write, drain and baud switch
 * are theirs.
 */
#ifndef PROV_CONSOLE_LOCK_H
#define PROV_CONSOLE_LOCK_H

#include <stddef.h>
#include <stdint.h>

#include "prov/transport.h"

/* Writes all len bytes to the console driver; returns 0 or negative. Called with the lock held. */
typedef int (*prov_console_raw_write_t)(const uint8_t *p_data, size_t len);

/*
 * Create the lock, hook esp_log_set_vprintf(), and clear *p_out and set its
 * write to one locked raw_write per frame line; the caller then sets drain
 * and set_baud. Call once, after the driver is installed. Returns 0 or
 * negative (*p_out untouched).
 */
int prov_console_init(prov_console_raw_write_t raw_write, prov_transport_t *p_out);

#endif /* PROV_CONSOLE_LOCK_H */
