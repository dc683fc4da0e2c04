#pragma once
/* esp_err.h, as far as the component's public header (provision.h) needs it. */
#include "esp_stub_common.h"
#define ESP_ERR_INVALID_STATE 0x103
#define ESP_ERR_INVALID_SIZE 0x104
#define ESP_ERR_NOT_FOUND 0x105
#define ESP_ERR_NOT_SUPPORTED 0x106
