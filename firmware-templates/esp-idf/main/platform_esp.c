/*
 * Platform services for the core: time, randomness, restart, identity.
 */
#include <stdio.h>
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "esp_mac.h"
#include "esp_random.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"

#include "port.h"

static char s_device_id[13];
static const uint32_t s_bauds[] = {PROV_BAUD_LIST};

static mbedtls_entropy_context s_entropy;
static mbedtls_ctr_drbg_context s_drbg;
static SemaphoreHandle_t s_drbg_lock;
static bool s_drbg_ready;

static uint32_t platform_millis(void *p_ctx)
{
    (void)p_ctx;
    return (uint32_t)(esp_timer_get_time() / 1000);
}

static int platform_random(void *p_ctx, unsigned char *p_out, size_t len)
{
    (void)p_ctx;
    return prov_port_rng(NULL, p_out, len);
}

static void platform_restart(void *p_ctx, uint32_t delay_ms)
{
    (void)p_ctx;
    vTaskDelay(pdMS_TO_TICKS(delay_ms));
    esp_restart();
}

int prov_port_rng(void *p_ctx, unsigned char *p_out, size_t len)
{
    static const char personalisation[] = "provision-esp-idf";
    int rc;

    (void)p_ctx;
    if (s_drbg_lock == NULL) {
        return -1;
    }
    (void)xSemaphoreTake(s_drbg_lock, portMAX_DELAY);
    if (!s_drbg_ready) {
        /* ESP-IDF's entropy source is the hardware RNG (MBEDTLS_ENTROPY_HARDWARE_ALT). */
        rc = mbedtls_ctr_drbg_seed(&s_drbg, mbedtls_entropy_func, &s_entropy,
                                   (const unsigned char *)personalisation, sizeof(personalisation) - 1u);
        s_drbg_ready = (rc == 0);
    }
    rc = s_drbg_ready ? mbedtls_ctr_drbg_random(&s_drbg, p_out, len) : -1;
    (void)xSemaphoreGive(s_drbg_lock);
    return rc;
}

void prov_port_platform_init(prov_platform_t *p_out)
{
    uint8_t mac[6] = {0};

    mbedtls_entropy_init(&s_entropy);
    mbedtls_ctr_drbg_init(&s_drbg);
    mbedtls_ctr_drbg_set_prediction_resistance(&s_drbg, MBEDTLS_CTR_DRBG_PR_ON);
    s_drbg_lock = xSemaphoreCreateMutex();

    /* The factory-programmed base MAC: stable for the life of the chip. */
    (void)esp_efuse_mac_get_default(mac);
    (void)snprintf(s_device_id, sizeof(s_device_id), "%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3],
                   mac[4], mac[5]);

    memset(p_out, 0, sizeof(*p_out));
    p_out->millis = platform_millis;
    p_out->random = platform_random;
    p_out->restart = platform_restart;
    p_out->device_id = s_device_id;
    p_out->firmware_version = PROV_FIRMWARE_VERSION;
    p_out->board_id = PROV_BOARD_ID;
    p_out->bauds = s_bauds;
    p_out->n_bauds = sizeof(s_bauds) / sizeof(s_bauds[0]);
}
