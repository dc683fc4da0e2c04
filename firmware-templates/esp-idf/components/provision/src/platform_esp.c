/*
 * Platform services for the core: time, randomness, restart, identity.
 */
#include <stdlib.h>
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "esp_app_desc.h"
#include "esp_log.h"
#include "esp_system.h"
#include "esp_timer.h"

#include "port.h"
#include "prov/crypto.h"

#define BAUDS_MAX 8u

static const char *TAG = "provision";
static uint32_t s_bauds[BAUDS_MAX];
static size_t s_n_bauds;

/* Kconfig PROVISION_CONSOLE_BAUD_RATES ("115200,230400,...") into s_bauds; a bad list leaves the boot rate only. */
static void parse_bauds(void)
{
    const char *p = CONFIG_PROVISION_CONSOLE_BAUD_RATES;
    char *p_end = NULL;
    unsigned long rate;

    s_n_bauds = 0;
    while (*p != '\0' && s_n_bauds < BAUDS_MAX) {
        rate = strtoul(p, &p_end, 10);
        if (p_end == p || rate == 0ul || rate > 0xFFFFFFFFul || (*p_end != ',' && *p_end != '\0')) {
            ESP_LOGE(TAG, "CONFIG_PROVISION_CONSOLE_BAUD_RATES \"%s\" is not a list of rates; offering %u only",
                     CONFIG_PROVISION_CONSOLE_BAUD_RATES, (unsigned)PROV_BAUD_DEFAULT);
            s_n_bauds = 0;
            break;
        }
        s_bauds[s_n_bauds++] = (uint32_t)rate;
        p = (*p_end == ',') ? p_end + 1 : p_end;
    }
    if (s_n_bauds == 0u) {
        s_bauds[s_n_bauds++] = PROV_BAUD_DEFAULT;
    }
}

static uint32_t platform_millis(void *p_ctx)
{
    (void)p_ctx;
    return (uint32_t)(esp_timer_get_time() / 1000);
}

static void platform_restart(void *p_ctx, uint32_t delay_ms)
{
    (void)p_ctx;
    /* A product connected since a COMMIT disconnects cleanly first (the broker would see a duplicate client). */
    prov_port_app_withdraw();
    vTaskDelay(pdMS_TO_TICKS(delay_ms));
    esp_restart();
}

/*
 * The build this firmware is, for HELLO: ESP-IDF's app description, whose ELF
 * SHA-256 esptool's elf2image wrote into the image. A host about to flash
 * compares it with the image's and leaves a board that runs it alone. A build
 * whose digest was never written (all zeros) reports none.
 */
static void describe_build(prov_platform_t *p_out)
{
    static const uint8_t zero[32] = {0};
    const esp_app_desc_t *p_app = esp_app_get_description();

    p_out->build_version = p_app->version;
    if (memcmp(p_app->app_elf_sha256, zero, sizeof(zero)) != 0) {
        p_out->build_sha256 = p_app->app_elf_sha256;
    }
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
    parse_bauds();
    p_out->bauds = s_bauds;
    p_out->n_bauds = s_n_bauds;
    describe_build(p_out);
}
