/*
 * esp_timer on ESP-IDF's linux target, which ships only its header: the
 * functions the port and esp-mqtt use, on FreeRTOS software timers (the
 * callbacks run in the timer service task, as esp_timer's run in its own
 * task), and esp_timer_get_time() on the monotonic clock.
 */
#include <stdlib.h>
#include <time.h>

#include "freertos/FreeRTOS.h"
#include "freertos/timers.h"
#include "esp_timer.h"

struct esp_timer {
    TimerHandle_t timer;
    esp_timer_cb_t callback;
    void *arg;
};

static struct timespec s_start;

__attribute__((constructor)) static void note_start(void)
{
    clock_gettime(CLOCK_MONOTONIC, &s_start);
}

int64_t esp_timer_get_time(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(now.tv_sec - s_start.tv_sec) * 1000000 + (now.tv_nsec - s_start.tv_nsec) / 1000;
}

static void on_expiry(TimerHandle_t timer)
{
    esp_timer_handle_t t = (esp_timer_handle_t)pvTimerGetTimerID(timer);
    t->callback(t->arg);
}

esp_err_t esp_timer_create(const esp_timer_create_args_t *p_args, esp_timer_handle_t *p_out)
{
    esp_timer_handle_t t;

    if (p_args == NULL || p_args->callback == NULL || p_out == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return ESP_ERR_NO_MEM;
    }
    t->callback = p_args->callback;
    t->arg = p_args->arg;
    /* the period is set when it is started */
    t->timer = xTimerCreate(p_args->name != NULL ? p_args->name : "esp_timer", 1, pdFALSE, t, on_expiry);
    if (t->timer == NULL) {
        free(t);
        return ESP_ERR_NO_MEM;
    }
    *p_out = t;
    return ESP_OK;
}

static esp_err_t start(esp_timer_handle_t t, uint64_t us, bool periodic)
{
    TickType_t ticks = pdMS_TO_TICKS(us / 1000u);

    if (t == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (xTimerIsTimerActive(t->timer) != pdFALSE) {
        return ESP_ERR_INVALID_STATE; /* as esp_timer: stop it first */
    }
    vTimerSetReloadMode(t->timer, periodic ? pdTRUE : pdFALSE);
    /* changing the period also starts the timer */
    return (xTimerChangePeriod(t->timer, ticks > 0u ? ticks : 1u, portMAX_DELAY) == pdPASS) ? ESP_OK : ESP_FAIL;
}

esp_err_t esp_timer_start_once(esp_timer_handle_t t, uint64_t timeout_us)
{
    return start(t, timeout_us, false);
}

esp_err_t esp_timer_start_periodic(esp_timer_handle_t t, uint64_t period_us)
{
    return start(t, period_us, true);
}

esp_err_t esp_timer_stop(esp_timer_handle_t t)
{
    if (t == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (xTimerIsTimerActive(t->timer) == pdFALSE) {
        return ESP_ERR_INVALID_STATE;
    }
    return (xTimerStop(t->timer, portMAX_DELAY) == pdPASS) ? ESP_OK : ESP_FAIL;
}

esp_err_t esp_timer_delete(esp_timer_handle_t t)
{
    if (t == NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    if (xTimerDelete(t->timer, portMAX_DELAY) != pdPASS) {
        return ESP_FAIL;
    }
    free(t);
    return ESP_OK;
}

bool esp_timer_is_active(esp_timer_handle_t t)
{
    return (t != NULL) && (xTimerIsTimerActive(t->timer) != pdFALSE);
}
