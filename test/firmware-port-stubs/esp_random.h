#pragma once
#include "esp_stub_common.h"
void esp_fill_random(void *buf, size_t len);
