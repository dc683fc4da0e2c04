/*
 * The getters of provision.h: the committed set, parsed by the core's own
 * parser into one heap block, and the ACTIVE key as the key store hands it
 * to a TLS client. Each call takes the component's lock, so a product may
 * call them while the agent runs (a key generation in progress makes them
 * wait).
 */
#include <stdlib.h>
#include <string.h>

#include "mbedtls/platform_util.h"

#include "port.h"
#include "prov/config.h"
#include "prov/credset.h"

static esp_err_t esp_err_of(int storage_status)
{
    switch (storage_status) {
    case PROV_STORAGE_OK: return ESP_OK;
    case PROV_STORAGE_NOT_FOUND: return ESP_ERR_NOT_FOUND;
    case PROV_STORAGE_UNSUPPORTED: return ESP_ERR_NOT_SUPPORTED;
    case PROV_STORAGE_TOO_LARGE: return ESP_ERR_INVALID_SIZE;
    default: return ESP_FAIL;
    }
}

/* Total bytes of the strings of a parsed set, each with its NUL. */
static size_t strings_size(const prov_credentials_t *p_c)
{
    return p_c->endpoint.len + p_c->thing_name.len + p_c->topic.len + p_c->cert_pem.len + p_c->ca_pem.len +
           p_c->wifi_ssid.len + p_c->wifi_password.len + 7u;
}

/* Copy view v to *pp_cursor as a C string; returns where it went. */
static const char *put_string(char **pp_cursor, prov_strview_t v)
{
    char *p_out = *pp_cursor;

    memcpy(p_out, v.ptr, v.len);
    p_out[v.len] = '\0';
    *pp_cursor += v.len + 1u;
    return p_out;
}

static provision_credentials_t *copy_set(const prov_credentials_t *p_c, uint32_t generation)
{
    const size_t size = sizeof(provision_credentials_t) + strings_size(p_c);
    provision_credentials_t *p_out = calloc(1, size);
    char *p_cursor;

    if (p_out == NULL) {
        return NULL;
    }
    p_cursor = (char *)(p_out + 1);
    p_out->generation = generation;
    p_out->endpoint = put_string(&p_cursor, p_c->endpoint);
    p_out->port = p_c->port;
    p_out->thing_name = put_string(&p_cursor, p_c->thing_name);
    p_out->client_id = p_out->thing_name;
    p_out->topic = put_string(&p_cursor, p_c->topic);
    p_out->cert_chain_pem = put_string(&p_cursor, p_c->cert_pem);
    p_out->ca_pem = put_string(&p_cursor, p_c->ca_pem);
    p_out->publish_interval_ms = p_c->publish_interval_ms;
    p_out->wifi_ssid = put_string(&p_cursor, p_c->wifi_ssid);
    p_out->wifi_password = put_string(&p_cursor, p_c->wifi_password);
    return p_out;
}

esp_err_t provision_get_credentials(provision_credentials_t **pp_out)
{
    prov_credstore_t store;
    prov_credentials_t parsed;
    uint8_t *p_payload;
    size_t len = 0;
    uint32_t generation = 0;
    esp_err_t err;

    if (pp_out == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    *pp_out = NULL;
    err = provision_init();
    if (err != ESP_OK) {
        return err;
    }
    p_payload = malloc(PROV_DEVICE_PAYLOAD_MAX);
    if (p_payload == NULL) {
        return ESP_ERR_NO_MEM;
    }
    prov_port_credstore_init(&store);
    prov_port_lock();
    err = esp_err_of(store.read_committed(store.ctx, p_payload, PROV_DEVICE_PAYLOAD_MAX, &len, &generation));
    prov_port_unlock();
    if (err == ESP_OK && prov_credset_parse(p_payload, len, &parsed, NULL, 0u) != PROV_CODE_OK) {
        err = ESP_FAIL; /* the store's checksum held, so the set was committed that way: cannot happen */
    }
    if (err == ESP_OK) {
        *pp_out = copy_set(&parsed, generation);
        err = (*pp_out != NULL) ? ESP_OK : ESP_ERR_NO_MEM;
    }
    mbedtls_platform_zeroize(p_payload, PROV_DEVICE_PAYLOAD_MAX); /* holds the Wi-Fi password */
    free(p_payload);
    return err;
}

void provision_free_credentials(provision_credentials_t *p_creds)
{
    if (p_creds != NULL) {
        mbedtls_platform_zeroize((void *)p_creds->wifi_password, strlen(p_creds->wifi_password));
        free(p_creds);
    }
}

esp_err_t provision_get_key(provision_key_t *p_key)
{
    esp_err_t err;

    if (p_key == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    memset(p_key, 0, sizeof(*p_key));
    err = provision_init();
    if (err == ESP_OK) {
        prov_port_lock();
        err = esp_err_of(prov_port_key_get(p_key));
        prov_port_unlock();
    }
    return err;
}

esp_err_t provision_export_key_der(provision_key_t *p_key)
{
    esp_err_t err;

    if (p_key == NULL || p_key->kind == 0) {
        return ESP_ERR_INVALID_ARG;
    }
    prov_port_lock();
    err = esp_err_of(prov_port_key_export_der(p_key));
    prov_port_unlock();
    return err;
}

void provision_free_key(provision_key_t *p_key)
{
    /* No lock: the handle is the caller's own copy (a STOP callback frees it while the agent waits). */
    if (p_key != NULL) {
        prov_port_key_free(p_key);
    }
}
