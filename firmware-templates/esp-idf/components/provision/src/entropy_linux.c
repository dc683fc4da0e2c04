/*
 * Entropy on ESP-IDF's linux target: esp_random() and Mbed TLS's platform
 * source read getentropy(), which is random at any time; nothing to switch.
 */
#include "port.h"

void prov_port_entropy_begin(void)
{
}

void prov_port_entropy_end(void)
{
}
