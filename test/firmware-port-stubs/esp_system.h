#pragma once
#include "esp_stub_common.h"
void esp_restart(void) __attribute__((noreturn));
