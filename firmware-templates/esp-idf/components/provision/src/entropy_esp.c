/*
 * Entropy on a chip: the hardware RNG is only truly random while the radio
 * runs or the SAR ADC noise source is on, and key generation usually happens
 * before Wi-Fi starts (a new device has no network yet). The radio is the
 * product's: the PHY's modem flags say whether any modem (Wi-Fi, Bluetooth,
 * 802.15.4) has it on, which is what ESP-IDF's own PHY code asks before it
 * touches the RF. The SAR ADC source must not run together with the radio.
 */
#include <stdbool.h>

#include "bootloader_random.h"
#include "esp_private/phy.h"

#include "port.h"

static bool s_enabled;

void prov_port_entropy_begin(void)
{
    s_enabled = (phy_get_modem_flag() == 0);
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
