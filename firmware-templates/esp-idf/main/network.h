/*
 * network.h - the counter example's network: a Wi-Fi station from the
 * committed set on a chip (network_wifi.c), the host's network on ESP-IDF's
 * linux target (network_host.c). A product has its own network code; the
 * provision component does not touch the radio.
 */
#ifndef COUNTER_NETWORK_H
#define COUNTER_NETWORK_H

#include <stdbool.h>

/* Called with true once the device has an address, with false when it lost it. */
typedef void (*counter_network_cb_t)(bool up);

/* Join the network (the linux target reports the host's network up at once). Returns 0 or negative. */
int counter_network_start(const char *p_ssid, const char *p_password, counter_network_cb_t on_change);

void counter_network_stop(void);

#endif /* COUNTER_NETWORK_H */
