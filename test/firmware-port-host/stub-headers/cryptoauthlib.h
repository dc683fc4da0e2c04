#pragma once
#include "esp_stub_common.h"
typedef int ATCA_STATUS;
#define ATCA_SUCCESS 0
typedef struct {
    int iface_type;
    int devtype;
    struct { uint8_t address; uint8_t bus; uint32_t baud; } atcai2c;
    uint16_t wake_delay;
    int rx_retries;
} ATCAIfaceCfg;
extern ATCAIfaceCfg cfg_ateccx08a_i2c_default;
ATCA_STATUS atcab_init(ATCAIfaceCfg *cfg);
ATCA_STATUS atcab_genkey(uint16_t key_id, uint8_t *public_key);
ATCA_STATUS atcab_get_pubkey(uint16_t key_id, uint8_t *public_key);
ATCA_STATUS atcab_sign(uint16_t key_id, const uint8_t *msg, uint8_t *signature);
