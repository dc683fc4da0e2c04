/*
 * Console transport on the chip's USB-Serial-JTAG controller (ESP32-S3/C3/C6
 * boards whose USB connector goes straight to the chip; /dev/ttyACM* on the
 * host).
 *
 * USB CDC has no line rate: SET_BAUD is accepted and changes nothing, so the
 * host's confirm-by-PING succeeds at once. The controller resets the chip
 * when the host toggles DTR/RTS on open; provisioning is idempotent for that.
 */
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "driver/usb_serial_jtag.h"
#include "esp_idf_version.h"
#include "esp_log.h"
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 3, 0)
#include "driver/usb_serial_jtag_vfs.h"
#else
#include "esp_vfs_usb_serial_jtag.h"
#endif

#include "console_lock.h"
#include "port.h"

#define PROV_USJ_BUFFER_BYTES 4096u
#define PROV_USJ_WRITE_TIMEOUT_MS 1000u
/* The host polls the CDC endpoint about every millisecond; this covers a full TX buffer. */
#define PROV_USJ_DRAIN_MS 50u

static const char *TAG = "prov_usj";

static int usj_raw_write(const uint8_t *p_data, size_t len)
{
    size_t done = 0;

    while (done < len) {
        int n = usb_serial_jtag_write_bytes(p_data + done, len - done, pdMS_TO_TICKS(PROV_USJ_WRITE_TIMEOUT_MS));
        if (n <= 0) {
            return -1; /* no host reading: drop the frame, the host retries */
        }
        done += (size_t)n;
    }
    return 0;
}

static int transport_drain(void *p_ctx)
{
    (void)p_ctx;
    vTaskDelay(pdMS_TO_TICKS(PROV_USJ_DRAIN_MS));
    return 0;
}

static int transport_set_baud(void *p_ctx, uint32_t baud)
{
    (void)p_ctx;
    (void)baud;
    return 0;
}

int prov_port_transport_init(prov_transport_t *p_out)
{
    usb_serial_jtag_driver_config_t config = USB_SERIAL_JTAG_DRIVER_CONFIG_DEFAULT();
    esp_err_t err;

    config.rx_buffer_size = PROV_USJ_BUFFER_BYTES;
    config.tx_buffer_size = PROV_USJ_BUFFER_BYTES;
    err = usb_serial_jtag_driver_install(&config);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "USB-Serial-JTAG driver install failed: %s", esp_err_to_name(err));
        return -1;
    }
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 3, 0)
    usb_serial_jtag_vfs_use_driver();
#else
    esp_vfs_usb_serial_jtag_use_driver();
#endif
    if (prov_console_init(usj_raw_write, p_out) != 0) {
        return -1;
    }
    p_out->drain = transport_drain;
    p_out->set_baud = transport_set_baud;
    return 0;
}

size_t prov_port_transport_read(uint8_t *p_buf, size_t cap, uint32_t timeout_ms)
{
    int n;

    if (cap == 0u) {
        return 0u;
    }
    /* Returns as soon as some bytes are there, or after the timeout with none. */
    n = usb_serial_jtag_read_bytes(p_buf, (uint32_t)cap, pdMS_TO_TICKS(timeout_ms));
    return (n > 0) ? (size_t)n : 0u;
}
