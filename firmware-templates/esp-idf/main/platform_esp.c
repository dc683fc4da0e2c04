/*
 * Platform services for the core: time, randomness, restart, identity.
 */
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "esp_system.h"
#include "esp_timer.h"

#include "port.h"
#include "prov/crypto.h"

static const uint32_t s_bauds[] = {PROV_BAUD_LIST};

static uint32_t platform_millis(void *p_ctx)
{
    (void)p_ctx;
    return (uint32_t)(esp_timer_get_time() / 1000);
}

static void platform_restart(void *p_ctx, uint32_t delay_ms)
{
    (void)p_ctx;
    vTaskDelay(pdMS_TO_TICKS(delay_ms));
    esp_restart();
}

void prov_port_platform_init(prov_platform_t *p_out)
{
    memset(p_out, 0, sizeof(*p_out));
    p_out->millis = platform_millis;
    /* The crypto library's DRBG: seeded from the hardware RNG (Mbed TLS 3) or PSA's own (Mbed TLS 4). */
    p_out->random = prov_crypto_random;
    p_out->restart = platform_restart;
    p_out->device_id = prov_port_device_id();
    p_out->firmware_version = PROV_FIRMWARE_VERSION;
    p_out->board_id = PROV_BOARD_ID;
    p_out->bauds = s_bauds;
    p_out->n_bauds = sizeof(s_bauds) / sizeof(s_bauds[0]);
}
