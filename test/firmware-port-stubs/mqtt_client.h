#pragma once
#include "esp_event.h"
typedef struct esp_mqtt_client *esp_mqtt_client_handle_t;
typedef enum {
    MQTT_EVENT_ERROR = 0,
    MQTT_EVENT_CONNECTED,
    MQTT_EVENT_DISCONNECTED,
    MQTT_EVENT_SUBSCRIBED,
    MQTT_EVENT_UNSUBSCRIBED,
    MQTT_EVENT_PUBLISHED,
    MQTT_EVENT_DATA,
} esp_mqtt_event_id_t;
typedef enum { MQTT_ERROR_TYPE_NONE = 0, MQTT_ERROR_TYPE_TCP_TRANSPORT } esp_mqtt_error_type_t;
typedef struct {
    esp_err_t esp_tls_last_esp_err;
    int esp_tls_stack_err;
    esp_mqtt_error_type_t error_type;
} esp_mqtt_error_codes_t;
typedef struct {
    esp_mqtt_event_id_t event_id;
    esp_mqtt_client_handle_t client;
    char *data;
    int data_len;
    char *topic;
    int topic_len;
    int msg_id;
    esp_mqtt_error_codes_t *error_handle;
} esp_mqtt_event_t;
typedef esp_mqtt_event_t *esp_mqtt_event_handle_t;
typedef struct {
    struct {
        struct { const char *uri; } address;
        struct { const char *certificate; size_t certificate_len; } verification;
    } broker;
    struct {
        const char *client_id;
        struct {
            const char *certificate;
            size_t certificate_len;
            const char *key;
            size_t key_len;
            bool use_secure_element;
            void *ds_data;
        } authentication;
    } credentials;
    struct { int keepalive; } session;
    struct { int reconnect_timeout_ms; bool disable_auto_reconnect; } network;
} esp_mqtt_client_config_t;
esp_mqtt_client_handle_t esp_mqtt_client_init(const esp_mqtt_client_config_t *c);
esp_err_t esp_mqtt_client_register_event(esp_mqtt_client_handle_t c, int32_t id, esp_event_handler_t h, void *arg);
esp_err_t esp_mqtt_client_start(esp_mqtt_client_handle_t c);
esp_err_t esp_mqtt_client_stop(esp_mqtt_client_handle_t c);
esp_err_t esp_mqtt_client_destroy(esp_mqtt_client_handle_t c);
esp_err_t esp_mqtt_client_reconnect(esp_mqtt_client_handle_t c);
int esp_mqtt_client_subscribe(esp_mqtt_client_handle_t c, const char *topic, int qos);
int esp_mqtt_client_enqueue(esp_mqtt_client_handle_t c, const char *topic, const char *data, int len, int qos,
                            int retain, bool store);
