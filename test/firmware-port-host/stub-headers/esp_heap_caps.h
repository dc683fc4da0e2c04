#pragma once
#include "esp_stub_common.h"
#define MALLOC_CAP_8BIT (1 << 2)
#define MALLOC_CAP_INTERNAL (1 << 11)
void *heap_caps_calloc(size_t n, size_t size, uint32_t caps);
void *heap_caps_malloc(size_t size, uint32_t caps);
