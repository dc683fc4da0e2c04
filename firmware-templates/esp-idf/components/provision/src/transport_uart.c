/*
 * Console transport on a UART (UART0 behind a USB-UART bridge).
 *
 * The UART driver takes over the console: ESP-IDF logging goes through the
 * console lock (console_lock.c), and stdio is switched to the driver so a
 * printf() is one driver write too (the driver serialises whole
 * uart_write_bytes calls).
 */
#include "freertos/FreeRTOS.h"
#include "driver/uart.h"
#include "esp_idf_version.h"
#include "esp_log.h"
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 3, 0)
#include "driver/uart_vfs.h"
#else
#include "esp_vfs_dev.h"
#endif

#include "console_lock.h"
#include "port.h"

#define PROV_UART_RX_BUFFER_BYTES 4096
#define PROV_UART_TX_BUFFER_BYTES 4096
#define PROV_UART_DRAIN_TIMEOUT_MS 2000u

static const char *TAG = "prov_uart";
static const uart_port_t s_port = (uart_port_t)PROV_CONSOLE_UART_NUM;

static int uart_raw_write(const uint8_t *p_data, size_t len)
{
    int written = uart_write_bytes(s_port, (const char *)p_data, len);
    return (written == (int)len) ? 0 : -1;
}

static int transport_drain(void *p_ctx)
{
    (void)p_ctx;
    return (uart_wait_tx_done(s_port, pdMS_TO_TICKS(PROV_UART_DRAIN_TIMEOUT_MS)) == ESP_OK) ? 0 : -1;
}

static int transport_set_baud(void *p_ctx, uint32_t baud)
{
    (void)p_ctx;
    /* The core drained the answer first; switching with bytes in the FIFO would garble them. */
    return (uart_set_baudrate(s_port, baud) == ESP_OK) ? 0 : -1;
}

int prov_port_transport_init(prov_transport_t *p_out)
{
    const uart_config_t config = {
        .baud_rate = (int)PROV_BAUD_DEFAULT,
        .data_bits = UART_DATA_8_BITS,
        .parity = UART_PARITY_DISABLE,
        .stop_bits = UART_STOP_BITS_1,
        .flow_ctrl = UART_HW_FLOWCTRL_DISABLE,
        .source_clk = UART_SCLK_DEFAULT,
    };
    esp_err_t err;

    err = uart_driver_install(s_port, PROV_UART_RX_BUFFER_BYTES, PROV_UART_TX_BUFFER_BYTES, 0, NULL, 0);
    if (err == ESP_OK) {
        err = uart_param_config(s_port, &config);
    }
    if (err == ESP_OK && (PROV_CONSOLE_TX_PIN >= 0 || PROV_CONSOLE_RX_PIN >= 0)) {
        err = uart_set_pin(s_port, (PROV_CONSOLE_TX_PIN >= 0) ? PROV_CONSOLE_TX_PIN : UART_PIN_NO_CHANGE,
                           (PROV_CONSOLE_RX_PIN >= 0) ? PROV_CONSOLE_RX_PIN : UART_PIN_NO_CHANGE, UART_PIN_NO_CHANGE,
                           UART_PIN_NO_CHANGE);
    }
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "UART%d setup failed: %s", (int)s_port, esp_err_to_name(err));
        return -1;
    }
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 3, 0)
    uart_vfs_dev_use_driver(s_port);
#else
    esp_vfs_dev_uart_use_driver(s_port);
#endif
    if (prov_console_init(uart_raw_write, p_out) != 0) {
        return -1;
    }
    p_out->drain = transport_drain;
    p_out->set_baud = transport_set_baud;
    return 0;
}

size_t prov_port_transport_read(uint8_t *p_buf, size_t cap, uint32_t timeout_ms)
{
    size_t got = 0;
    size_t avail = 0;
    int n;

    if (cap == 0u) {
        return 0u;
    }
    /* Wait for the first byte only, then take whatever else is buffered: low latency, no busy loop. */
    (void)uart_get_buffered_data_len(s_port, &avail);
    if (avail == 0u) {
        n = uart_read_bytes(s_port, p_buf, 1u, pdMS_TO_TICKS(timeout_ms));
        if (n <= 0) {
            return 0u;
        }
        got = 1u;
        (void)uart_get_buffered_data_len(s_port, &avail);
    }
    if (avail > cap - got) {
        avail = cap - got;
    }
    if (avail > 0u) {
        n = uart_read_bytes(s_port, p_buf + got, (uint32_t)avail, 0);
        if (n > 0) {
            got += (size_t)n;
        }
    }
    return got;
}
