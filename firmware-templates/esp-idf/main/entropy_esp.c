/*
 * Entropy on a chip: the hardware RNG is only truly random while the radio
 * runs or the SAR ADC noise source is on, and key generation usually happens
 * before Wi-Fi starts (a new device has no network yet).
 */
#include <stdbool.h>

#include "bootloader_random.h"

#include "port.h"

static bool s_enabled;

void prov_port_entropy_begin(void)
{
    s_enabled = !prov_port_network_radio_on();
    if (s_enabled) {
        bootloader_random_enable();
    }
}

void prov_port_entropy_end(void)
{
    if (s_enabled) {
        bootloader_random_disable();
        s_enabled = false;
    }
}
