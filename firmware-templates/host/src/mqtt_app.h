/*
 * mqtt_app.h - the twin's application (prov_app_t): a real mutual-TLS MQTT
 * client (libmosquitto) that connects to the committed endpoint with
 * client id = thing name, subscribes to the committed topic and publishes
 * {"counter": N} (QoS 1) every publish interval from N = 0, like the
 * reference device client: reconnect with backoff 1 s doubling to 32 s,
 * counters queue while offline. Reports EVENT frames and "mqtt" log lines.
 *
 * Runs in the twin's main thread: twin_mqtt_app_poll() drives the socket
 * (non-blocking mosquitto_loop) and the timers. The one blocking call,
 * the endpoint's name lookup, runs in a short-lived thread of its own: a
 * resolver that takes seconds must not make the provisioning protocol
 * silent (on the chip esp-mqtt has its own task for the same reason).
 */
#ifndef TWIN_MQTT_APP_H
#define TWIN_MQTT_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "prov/app.h"
#include "prov/device.h"

#define TWIN_MQTT_QUEUE_MAX 64u
#define TWIN_MQTT_BACKOFF_MIN_MS 1000u
#define TWIN_MQTT_BACKOFF_MAX_MS 32000u
#define TWIN_MQTT_CONNECT_TIMEOUT_MS 10000u

struct mosquitto;

typedef struct twin_mqtt_app {
    prov_device_t *p_dev;      /* EVENT sink */
    uint32_t (*millis)(void);  /* ms since boot */
    char state_dir[1024];
    char key_path[1200];       /* the key store's active key file: read by the TLS library only */
    char cert_path[1200];      /* committed certificate, written at start() */
    char ca_path[1200];        /* committed root CAs */

    struct mosquitto *mosq;
    bool started, connected, connecting, ever_tried;
    char host[256];
    int port;
    char thing[PROV_THING_NAME_MAX + 1u];
    char topic[PROV_TOPIC_MAX + 1u];
    uint32_t interval_ms;
    uint32_t next_publish_ms;
    uint32_t next_attempt_ms;
    uint32_t attempt_started_ms;
    uint32_t backoff_ms;
    /* Name lookup (RESOLVE_*), finished by the resolver thread; resolve_gen tells a stale lookup. */
    _Atomic int resolve_state;
    _Atomic unsigned resolve_gen;
    _Atomic int resolve_error;               /* getaddrinfo() code when it failed */
    uint32_t counter;                        /* next counter value */
    uint32_t queue[TWIN_MQTT_QUEUE_MAX];     /* counters waiting for a connection */
    unsigned queue_len;
    struct { int mid; uint32_t counter; } inflight[TWIN_MQTT_QUEUE_MAX];
} twin_mqtt_app_t;

/* Bind p_app to the interface; the device pointer is set before boot. */
void twin_mqtt_app_init(twin_mqtt_app_t *p_app, const char *state_dir, uint32_t (*millis)(void), prov_app_t *p_iface);

/* Drive the client: call every loop iteration (<= 50 ms apart). Returns the MQTT socket or -1, for poll(). */
int twin_mqtt_app_poll(twin_mqtt_app_t *p_app);

#endif /* TWIN_MQTT_APP_H */
