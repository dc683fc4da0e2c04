#pragma once
#include <stdarg.h>
#include "esp_stub_common.h"
typedef int (*vprintf_like_t)(const char *, va_list);
vprintf_like_t esp_log_set_vprintf(vprintf_like_t func);
void esp_log_write_stub(const char *tag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define ESP_LOGE(tag, ...) esp_log_write_stub(tag, __VA_ARGS__)
#define ESP_LOGW(tag, ...) esp_log_write_stub(tag, __VA_ARGS__)
#define ESP_LOGI(tag, ...) esp_log_write_stub(tag, __VA_ARGS__)
