#pragma once
#ifndef STUB_ESP_DS_H
#define STUB_ESP_DS_H
#include "esp_stub_common.h"
#include "esp_hmac.h"
#define SOC_RSA_MAX_BIT_LEN 4096
#define ESP_DS_IV_LEN 16
#define ESP_DS_C_LEN (12672 / 8)
typedef enum { ESP_DS_RSA_1024 = 31, ESP_DS_RSA_2048 = 63, ESP_DS_RSA_3072 = 95 } esp_digital_signature_length_t;
typedef struct esp_digital_signature_data {
    esp_digital_signature_length_t rsa_length;
    uint32_t iv[ESP_DS_IV_LEN / 4];
    uint8_t c[ESP_DS_C_LEN];
} esp_ds_data_t;
typedef struct {
    uint32_t Y[SOC_RSA_MAX_BIT_LEN / 32];
    uint32_t M[SOC_RSA_MAX_BIT_LEN / 32];
    uint32_t Rb[SOC_RSA_MAX_BIT_LEN / 32];
    uint32_t M_prime;
    uint32_t length;
} esp_ds_p_data_t;
esp_err_t esp_ds_sign(const void *message, const esp_ds_data_t *data, hmac_key_id_t key_id, void *signature);
esp_err_t esp_ds_encrypt_params(esp_ds_data_t *data, const void *iv, const esp_ds_p_data_t *p_data, const void *key);
#endif
