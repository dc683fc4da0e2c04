#pragma once
#include "esp_stub_common.h"
esp_err_t esp_efuse_mac_get_default(uint8_t *mac);
