/*
 * Byte transport: the porting seam between the core and a UART, a
 * USB-Serial-JTAG console or a pseudo-terminal. The core only writes
 * complete frame lines; reading is the port's job (it feeds received bytes
 * with prov_device_feed()).
 */
#ifndef PROV_TRANSPORT_H
#define PROV_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

typedef struct prov_transport {
    /* Opaque port state handed back to every call. */
    void *ctx;

    /*
     * Write len bytes (one complete frame line, 0x1E ... 0x0A) in order.
     * Returns 0 when every byte has been handed to the UART driver, a
     * negative value on failure (the core drops the frame; the host retries).
     * The bytes of one call must not be interleaved with log output: a port
     * that shares the console with logging holds the log lock for the whole
     * call (ESP-IDF: the same mutex as its esp_log_set_vprintf hook).
     */
    int (*write)(void *ctx, const uint8_t *data, size_t len);

    /*
     * Block until every byte written so far has left the wire (ESP-IDF:
     * uart_wait_tx_done). Used before a baud switch and a restart, so the
     * answer goes out at the old rate. Returns 0 or negative. May be NULL
     * when write() is already synchronous.
     */
    int (*drain)(void *ctx);

    /*
     * Switch the line to baud. Returns 0 on success, negative if the rate
     * cannot be set (the old rate must then still be in effect).
     */
    int (*set_baud)(void *ctx, uint32_t baud);
} prov_transport_t;

#endif /* PROV_TRANSPORT_H */
