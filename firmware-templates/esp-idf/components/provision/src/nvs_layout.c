/*
 * The NVS layout version (docs/firmware.md, "NVS layout"): each namespace of
 * the component holds a u8 "ver" beside its records, written with them.
 * Layout 1 is what the provisioning firmware wrote before the field existed,
 * so a namespace without "ver" reads as 1. A later layout keeps the readers
 * of every older version; a build meeting a newer version than it knows
 * refuses to read or write it rather than misread it.
 */
#include "esp_log.h"
#include "nvs.h"

#include "port.h"

#define LAYOUT_KEY "ver"

static const char *TAG = "prov_nvs";

int prov_port_layout_check(const char *p_namespace)
{
    nvs_handle_t h;
    uint8_t version = 0;
    esp_err_t err;

    if (nvs_open(p_namespace, NVS_READONLY, &h) != ESP_OK) {
        return PROV_STORAGE_OK; /* nothing stored yet */
    }
    err = nvs_get_u8(h, LAYOUT_KEY, &version);
    nvs_close(h);
    if (err == ESP_ERR_NVS_NOT_FOUND) {
        return PROV_STORAGE_OK; /* layout 1, written before the field existed */
    }
    if (err != ESP_OK) {
        return PROV_STORAGE_IO;
    }
    if (version > PROVISION_NVS_LAYOUT_VERSION) {
        ESP_LOGE(TAG, "NVS namespace %s has layout %u; this firmware reads layouts up to %u (update the component)",
                 p_namespace, (unsigned)version, (unsigned)PROVISION_NVS_LAYOUT_VERSION);
        return PROV_STORAGE_UNSUPPORTED;
    }
    return PROV_STORAGE_OK;
}

int prov_port_layout_mark(uint32_t nvs_handle)
{
    uint8_t version = 0;

    if (nvs_get_u8((nvs_handle_t)nvs_handle, LAYOUT_KEY, &version) == ESP_OK &&
        version == PROVISION_NVS_LAYOUT_VERSION) {
        return PROV_STORAGE_OK;
    }
    return (nvs_set_u8((nvs_handle_t)nvs_handle, LAYOUT_KEY, (uint8_t)PROVISION_NVS_LAYOUT_VERSION) == ESP_OK)
               ? PROV_STORAGE_OK
               : PROV_STORAGE_IO;
}
