/*
 * The device application: network + MQTT client publishing {"counter": N}.
 * The core starts it at boot (and after a restart) when a credential set is
 * committed, and stops it before FACTORY_RESET and restart.
 *
 * The app reports what happens with prov_device_event() (EVENT frames). That
 * call is not thread-safe: a port whose MQTT client runs in another task
 * hands events to the task that runs the dispatcher (queue / pipe).
 */
#ifndef PROV_APP_H
#define PROV_APP_H

#include <stddef.h>
#include <stdint.h>

/* A view into a buffer: not NUL-terminated. */
typedef struct prov_strview {
    const char *ptr;
    size_t len;
} prov_strview_t;

/* The committed set, parsed. Views point into a core buffer valid only during start(). */
typedef struct prov_credentials {
    prov_strview_t cert_pem;      /* device certificate (chain) PEM */
    prov_strview_t ca_pem;        /* server root CAs, concatenated PEM */
    prov_strview_t endpoint;      /* MQTT host */
    uint16_t port;                /* MQTT port, usually 8883 */
    prov_strview_t thing_name;    /* = MQTT client id */
    prov_strview_t topic;         /* publish and subscribe topic */
    uint32_t publish_interval_ms; /* counter period */
    prov_strview_t wifi_ssid;     /* empty when not given */
    prov_strview_t wifi_password; /* empty when not given */
    uint32_t generation;          /* credstore generation of this set */
} prov_credentials_t;

typedef struct prov_app {
    void *ctx;

    /*
     * Start network and MQTT with creds (copy what you keep: the views die
     * when start returns). Must not block on the network. Returns 0 or
     * negative (reported as EVENT ERROR).
     */
    int (*start)(void *ctx, const prov_credentials_t *creds);

    /* Stop and release everything start() made. Safe to call when not started. */
    void (*stop)(void *ctx);
} prov_app_t;

#endif /* PROV_APP_H */
