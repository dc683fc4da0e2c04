#pragma once
#include "esp_stub_common.h"
esp_err_t nvs_flash_init(void);
