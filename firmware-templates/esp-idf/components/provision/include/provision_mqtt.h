/*
 * provision_mqtt.h - an esp-mqtt client configuration from what provisioning
 * left, for products that use esp-mqtt (include it only then: it needs the
 * product's mqtt component, which this component does not require).
 *
 *   provision_credentials_t *p_creds;  provision_key_t key;
 *   esp_mqtt_client_config_t config = {0};
 *   provision_get_credentials(&p_creds);  provision_get_key(&key);
 *   provision_mqtt_config(&config, p_creds, &key);   // then esp_mqtt_client_init(&config)
 *
 * The configuration points into p_creds and key: keep both until the client
 * is destroyed, then provision_free_credentials() / provision_free_key().
 */
#ifndef PROVISION_MQTT_H
#define PROVISION_MQTT_H

#include "mqtt_client.h"
#include "provision.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Broker (endpoint, port, TLS with the set's CAs), client id (the thing
 * name) and the client certificate with the key in the form esp-tls takes
 * for this build's key store. Leaves every other field as the caller set it.
 * Returns ESP_OK, or what provision_export_key_der() returned (PSA keys:
 * esp-tls in ESP-IDF 6.0 takes a key buffer, not a key id).
 */
static inline esp_err_t provision_mqtt_config(esp_mqtt_client_config_t *p_config,
                                              const provision_credentials_t *p_creds, provision_key_t *p_key)
{
    esp_err_t err = ESP_OK;

    p_config->broker.address.hostname = p_creds->endpoint;
    p_config->broker.address.port = p_creds->port;
    p_config->broker.address.transport = MQTT_TRANSPORT_OVER_SSL;
    p_config->broker.verification.certificate = p_creds->ca_pem;
    p_config->credentials.client_id = p_creds->client_id;
    p_config->credentials.authentication.certificate = p_creds->cert_chain_pem;
    if (p_key->kind == PROVISION_KEY_PSA) {
        err = provision_export_key_der(p_key); /* adds p_der; the key id stays valid */
    }
    switch (p_key->kind) {
    case PROVISION_KEY_PSA:
    case PROVISION_KEY_DER:
        p_config->credentials.authentication.key = (const char *)p_key->p_der;
        p_config->credentials.authentication.key_len = p_key->der_len;
        break;
    case PROVISION_KEY_DS:
        p_config->credentials.authentication.ds_data = p_key->p_ds_data;
        break;
    case PROVISION_KEY_SECURE_ELEMENT:
        p_config->credentials.authentication.use_secure_element = true;
        break;
    default:
        err = ESP_ERR_INVALID_ARG;
        break;
    }
    return err;
}

#ifdef __cplusplus
}
#endif

#endif /* PROVISION_MQTT_H */
