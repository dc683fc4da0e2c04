/*
 * System start and identity on a chip: nothing to set up before NVS, and the
 * device id is the factory-programmed base MAC (eFuse), stable for the life
 * of the chip.
 */
#include <stdio.h>

#include "esp_mac.h"

#include "port.h"

static char s_device_id[13];

int prov_port_system_init(void)
{
    return 0;
}

const char *prov_port_device_id(void)
{
    uint8_t mac[6] = {0};

    if (s_device_id[0] == '\0') {
        (void)esp_efuse_mac_get_default(mac);
        (void)snprintf(s_device_id, sizeof(s_device_id), "%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3],
                       mac[4], mac[5]);
    }
    return s_device_id;
}
