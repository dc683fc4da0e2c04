/*
 * The device application: the network (Wi-Fi on a chip, network_*.c), then
 * MQTT over mutual TLS to the committed endpoint, publishing {"counter": N}
 * (QoS 1) at once and then every interval, and logging what arrives on the
 * same topic, as the reference client does.
 *
 *  - client id = thing name, URI mqtts://<endpoint>:<port> (8883);
 *  - counter 0 is queued when the app starts and goes out as soon as the
 *    connection is up, like the twin's: the first publish follows the
 *    connect, not one interval later;
 *  - the TLS client key is the key store's ACTIVE key (DER from NVS, the DS
 *    peripheral, or the ATECC608), never sent anywhere;
 *  - reconnect with exponential backoff 1 s .. 32 s (our timer, not esp-mqtt's fixed delay);
 *  - while offline, QoS 1 messages wait in esp-mqtt's outbox (enqueue with store).
 *
 * Events for the host (EVENT frames) go through a queue to the dispatcher
 * task: prov_device_event() is not thread-safe (device.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "esp_log.h"
#include "esp_timer.h"
#include "mqtt_client.h"

#include "port.h"
#include "prov/codes.h"

#if !CONFIG_MQTT_TRANSPORT_SSL
#error "the counter connects with mqtts:// (mutual TLS): CONFIG_MQTT_TRANSPORT_SSL must be on"
#endif
#if !CONFIG_MQTT_USE_CUSTOM_CONFIG || CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS < 300000
/* Without the custom configuration esp-mqtt drops queued messages after 30 s offline. */
#error "counters queued while offline must survive 5 minutes: CONFIG_MQTT_USE_CUSTOM_CONFIG=y, CONFIG_MQTT_OUTBOX_EXPIRED_TIMEOUT_MS>=300000"
#endif

#define EVENT_QUEUE_LENGTH 16
#define MQTT_KEEPALIVE_S 60
#define PUBLISHED_TRACK 8u /* msg_id -> counter for PUBLISHED events */

static const char *TAG = "prov_app";

typedef struct app_state {
    bool started;
    char *p_uri;
    char *p_cert;
    char *p_ca;
    char *p_client_id;
    char *p_topic;
    char *p_ssid;
    char *p_password;
    uint32_t interval_ms;
    uint32_t counter;
    uint32_t backoff_ms;
    prov_port_tls_identity_t identity;
    esp_mqtt_client_handle_t client;
    esp_timer_handle_t publish_timer;
    esp_timer_handle_t reconnect_timer;
    bool network_started;
    struct {
        int msg_id;
        uint32_t counter;
    } published[PUBLISHED_TRACK];
    unsigned published_next;
} app_state_t;

static app_state_t s_app;
static QueueHandle_t s_events;

static void post_event(uint8_t code, const char *p_text, bool has_value, uint32_t value)
{
    prov_port_event_t ev = {.code = code, .has_value = has_value, .value = value};

    if (p_text != NULL) {
        (void)snprintf(ev.text, sizeof(ev.text), "%s", p_text);
    }
    if (s_events != NULL) {
        (void)xQueueSend(s_events, &ev, 0); /* drop when full: events are advisory */
    }
}

bool prov_port_app_next_event(prov_port_event_t *p_ev, uint32_t timeout_ms)
{
    return (s_events != NULL) && (xQueueReceive(s_events, p_ev, pdMS_TO_TICKS(timeout_ms)) == pdTRUE);
}

static char *dup_view(prov_strview_t v)
{
    char *p = malloc(v.len + 1u);
    if (p != NULL) {
        memcpy(p, v.ptr, v.len);
        p[v.len] = '\0';
    }
    return p;
}

static void free_strings(void)
{
    free(s_app.p_uri);
    free(s_app.p_cert);
    free(s_app.p_ca);
    free(s_app.p_client_id);
    free(s_app.p_topic);
    free(s_app.p_ssid);
    if (s_app.p_password != NULL) {
        memset(s_app.p_password, 0, strlen(s_app.p_password));
        free(s_app.p_password);
    }
    s_app.p_uri = s_app.p_cert = s_app.p_ca = s_app.p_client_id = NULL;
    s_app.p_topic = s_app.p_ssid = s_app.p_password = NULL;
}

static void schedule_reconnect(void)
{
    if (s_app.reconnect_timer == NULL || esp_timer_is_active(s_app.reconnect_timer)) {
        return;
    }
    ESP_LOGI(TAG, "reconnecting in %u ms", (unsigned)s_app.backoff_ms);
    (void)esp_timer_start_once(s_app.reconnect_timer, (uint64_t)s_app.backoff_ms * 1000u);
    s_app.backoff_ms *= 2u;
    if (s_app.backoff_ms > CONFIG_PROV_MQTT_BACKOFF_MAX_MS) {
        s_app.backoff_ms = CONFIG_PROV_MQTT_BACKOFF_MAX_MS;
    }
}

static void on_reconnect_timer(void *p_arg)
{
    (void)p_arg;
    if (s_app.client != NULL) {
        (void)esp_mqtt_client_reconnect(s_app.client);
    }
}

static void on_publish_timer(void *p_arg)
{
    char payload[48];
    int msg_id;
    int len;

    (void)p_arg;
    len = snprintf(payload, sizeof(payload), "{\"counter\": %u}", (unsigned)s_app.counter);
    /* store=true: queued in the outbox while offline, sent (QoS 1) once connected. */
    msg_id = esp_mqtt_client_enqueue(s_app.client, s_app.p_topic, payload, len, 1, 0, true);
    if (msg_id < 0) {
        ESP_LOGW(TAG, "outbox full, counter %u dropped", (unsigned)s_app.counter);
    } else {
        s_app.published[s_app.published_next].msg_id = msg_id;
        s_app.published[s_app.published_next].counter = s_app.counter;
        s_app.published_next = (s_app.published_next + 1u) % PUBLISHED_TRACK;
    }
    s_app.counter++;
}

static void on_mqtt_event(void *p_arg, esp_event_base_t base, int32_t event_id, void *p_data)
{
    esp_mqtt_event_handle_t p_event = (esp_mqtt_event_handle_t)p_data;
    char topic[96];
    unsigned i;

    (void)p_arg;
    (void)base;
    switch ((esp_mqtt_event_id_t)event_id) {
    case MQTT_EVENT_CONNECTED:
        ESP_LOGI(TAG, "MQTT connected as %s", s_app.p_client_id);
        s_app.backoff_ms = CONFIG_PROV_MQTT_BACKOFF_MIN_MS;
        (void)esp_mqtt_client_subscribe(s_app.client, s_app.p_topic, 1);
        post_event(PROV_EVENT_MQTT_CONNECTED, s_app.p_client_id, false, 0);
        break;
    case MQTT_EVENT_DISCONNECTED:
        ESP_LOGW(TAG, "MQTT disconnected");
        post_event(PROV_EVENT_MQTT_DISCONNECTED, NULL, false, 0);
        schedule_reconnect();
        break;
    case MQTT_EVENT_PUBLISHED:
        for (i = 0; i < PUBLISHED_TRACK; i++) {
            if (s_app.published[i].msg_id == p_event->msg_id) {
                post_event(PROV_EVENT_PUBLISHED, NULL, true, s_app.published[i].counter);
                break;
            }
        }
        break;
    case MQTT_EVENT_DATA:
        (void)snprintf(topic, sizeof(topic), "%.*s", p_event->topic_len, p_event->topic);
        ESP_LOGI(TAG, "message on %s: %.*s", topic, p_event->data_len, p_event->data);
        post_event(PROV_EVENT_MESSAGE_RECEIVED, topic, false, 0);
        break;
    case MQTT_EVENT_ERROR:
        if (p_event->error_handle != NULL &&
            p_event->error_handle->error_type == MQTT_ERROR_TYPE_TCP_TRANSPORT) {
            ESP_LOGE(TAG, "TLS/TCP error: esp-tls 0x%x, tls stack 0x%x",
                     (unsigned)p_event->error_handle->esp_tls_last_esp_err,
                     (unsigned)p_event->error_handle->esp_tls_stack_err);
        }
        post_event(PROV_EVENT_ERROR, "mqtt error", true, PROV_CODE_ERR_CRYPTO);
        break;
    default:
        break;
    }
}

static void on_network_change(bool up)
{
    post_event(up ? PROV_EVENT_NETWORK_UP : PROV_EVENT_NETWORK_DOWN, s_app.p_ssid, false, 0);
    if (up && s_app.client != NULL) {
        (void)esp_mqtt_client_reconnect(s_app.client);
    }
}

static int start_mqtt(void)
{
    esp_mqtt_client_config_t config;

    memset(&config, 0, sizeof(config));
    config.broker.address.uri = s_app.p_uri;
    config.broker.verification.certificate = s_app.p_ca;
    config.credentials.client_id = s_app.p_client_id;
    config.credentials.authentication.certificate = s_app.p_cert;
    if (s_app.identity.key_der != NULL) {
        config.credentials.authentication.key = (const char *)s_app.identity.key_der;
        config.credentials.authentication.key_len = s_app.identity.key_der_len;
    }
    if (s_app.identity.ds_data != NULL) {
        config.credentials.authentication.ds_data = s_app.identity.ds_data;
    }
    config.credentials.authentication.use_secure_element = s_app.identity.use_secure_element;
    config.session.keepalive = MQTT_KEEPALIVE_S;
    /* Our timer does the 1..32 s backoff; esp-mqtt's own reconnect uses a fixed delay. */
    config.network.disable_auto_reconnect = true;

    s_app.client = esp_mqtt_client_init(&config);
    if (s_app.client == NULL) {
        ESP_LOGE(TAG, "esp_mqtt_client_init failed");
        return -1;
    }
    if (esp_mqtt_client_register_event(s_app.client, ESP_EVENT_ANY_ID, on_mqtt_event, NULL) != ESP_OK ||
        esp_mqtt_client_start(s_app.client) != ESP_OK) {
        return -1;
    }
    return 0;
}

static void app_stop(void *p_ctx);

static int app_start(void *p_ctx, const prov_credentials_t *p_creds)
{
    const esp_timer_create_args_t publish_args = {.callback = on_publish_timer, .name = "prov_publish"};
    const esp_timer_create_args_t reconnect_args = {.callback = on_reconnect_timer, .name = "prov_reconnect"};
    size_t uri_len;
    int rc = 0;

    (void)p_ctx;
    if (s_app.started) {
        app_stop(NULL);
    }
    /* The views die when start() returns: keep copies (esp-mqtt wants NUL-terminated PEM). */
    uri_len = p_creds->endpoint.len + 32u;
    s_app.p_uri = malloc(uri_len);
    if (s_app.p_uri != NULL) {
        (void)snprintf(s_app.p_uri, uri_len, "mqtts://%.*s:%u", (int)p_creds->endpoint.len, p_creds->endpoint.ptr,
                       (unsigned)p_creds->port);
    }
    s_app.p_cert = dup_view(p_creds->cert_pem);
    s_app.p_ca = dup_view(p_creds->ca_pem);
    s_app.p_client_id = dup_view(p_creds->thing_name);
    s_app.p_topic = dup_view(p_creds->topic);
    s_app.p_ssid = dup_view(p_creds->wifi_ssid);
    s_app.p_password = dup_view(p_creds->wifi_password);
    s_app.interval_ms =
        (p_creds->publish_interval_ms != 0u) ? p_creds->publish_interval_ms : CONFIG_PROV_PUBLISH_INTERVAL_MS_DEFAULT;
    s_app.counter = 0;
    s_app.backoff_ms = CONFIG_PROV_MQTT_BACKOFF_MIN_MS;
    if (s_app.p_uri == NULL || s_app.p_cert == NULL || s_app.p_ca == NULL || s_app.p_client_id == NULL ||
        s_app.p_topic == NULL || s_app.p_ssid == NULL || s_app.p_password == NULL) {
        rc = -1;
    }
    if (rc == 0 && prov_port_tls_identity(&s_app.identity) != PROV_STORAGE_OK) {
        ESP_LOGE(TAG, "no active key for TLS");
        rc = -1;
    }
    if (rc == 0 && (esp_timer_create(&publish_args, &s_app.publish_timer) != ESP_OK ||
                    esp_timer_create(&reconnect_args, &s_app.reconnect_timer) != ESP_OK)) {
        rc = -1;
    }
    if (rc == 0) {
        rc = prov_port_network_start(s_app.p_ssid, s_app.p_password, on_network_change);
        s_app.network_started = (rc == 0);
    }
    if (rc == 0) rc = start_mqtt();
    if (rc == 0) {
        /* Counter 0 now, before the timer can fire: the outbox sends it the moment the connection is up. */
        on_publish_timer(NULL);
        if (esp_timer_start_periodic(s_app.publish_timer, (uint64_t)s_app.interval_ms * 1000u) != ESP_OK) {
            rc = -1;
        }
    }
    s_app.started = true; /* so that stop() releases whatever was made */
    if (rc != 0) {
        app_stop(NULL);
        return -1;
    }
    ESP_LOGI(TAG, "publishing {\"counter\": N} to %s every %u ms via %s", s_app.p_topic, (unsigned)s_app.interval_ms,
             s_app.p_uri);
    return 0;
}

static void app_stop(void *p_ctx)
{
    (void)p_ctx;
    if (!s_app.started) {
        return;
    }
    if (s_app.publish_timer != NULL) {
        (void)esp_timer_stop(s_app.publish_timer);
        (void)esp_timer_delete(s_app.publish_timer);
        s_app.publish_timer = NULL;
    }
    if (s_app.reconnect_timer != NULL) {
        (void)esp_timer_stop(s_app.reconnect_timer);
        (void)esp_timer_delete(s_app.reconnect_timer);
        s_app.reconnect_timer = NULL;
    }
    if (s_app.client != NULL) {
        (void)esp_mqtt_client_stop(s_app.client);
        (void)esp_mqtt_client_destroy(s_app.client);
        s_app.client = NULL;
    }
    if (s_app.network_started) {
        prov_port_network_stop();
        s_app.network_started = false;
    }
    prov_port_tls_identity_release(&s_app.identity);
    free_strings();
    s_app.started = false;
}

void prov_port_app_init(prov_app_t *p_out)
{
    if (s_events == NULL) {
        s_events = xQueueCreate(EVENT_QUEUE_LENGTH, sizeof(prov_port_event_t));
    }
    memset(p_out, 0, sizeof(*p_out));
    p_out->start = app_start;
    p_out->stop = app_stop;
}
