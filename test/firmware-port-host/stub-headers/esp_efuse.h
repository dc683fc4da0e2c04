#pragma once
#include "esp_stub_common.h"
typedef enum {
    EFUSE_BLK0 = 0, EFUSE_BLK1, EFUSE_BLK2, EFUSE_BLK3,
    EFUSE_BLK_KEY0 = 4, EFUSE_BLK_KEY1, EFUSE_BLK_KEY2, EFUSE_BLK_KEY3, EFUSE_BLK_KEY4, EFUSE_BLK_KEY5,
    EFUSE_BLK_KEY_MAX = 10
} esp_efuse_block_t;
typedef enum { ESP_EFUSE_KEY_PURPOSE_HMAC_DOWN_DIGITAL_SIGNATURE = 7 } esp_efuse_purpose_t;
bool esp_efuse_key_block_unused(esp_efuse_block_t block);
esp_efuse_block_t esp_efuse_find_unused_key_block(void);
esp_err_t esp_efuse_write_key(esp_efuse_block_t block, esp_efuse_purpose_t purpose, const void *key, size_t len);
