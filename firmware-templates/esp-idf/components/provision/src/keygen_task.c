/*
 * Key generation in its own task (see port.h).
 *
 * Idle priority on purpose: the task shares the CPU with the idle task by
 * time slicing, so the idle task keeps resetting the task watchdog during a
 * 10+ s RSA generation, while the UART driver and the MQTT stack (higher
 * priorities) keep running.
 */
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "esp_timer.h"
#include "esp_log.h"

#include "port.h"

static const char *TAG = "prov_keygen";

typedef struct keygen_job {
    int (*fn)(void *arg);
    void *arg;
    int result;
    SemaphoreHandle_t done;
} keygen_job_t;

static void keygen_task(void *p_param)
{
    keygen_job_t *p_job = (keygen_job_t *)p_param;
    int64_t started_us = esp_timer_get_time();

    prov_port_entropy_begin();
    p_job->result = p_job->fn(p_job->arg);
    prov_port_entropy_end();
    ESP_LOGI(TAG, "key generation took %lld ms", (long long)((esp_timer_get_time() - started_us) / 1000));
    (void)xSemaphoreGive(p_job->done);
    vTaskDelete(NULL);
}

int prov_port_keygen_run(int (*fn)(void *arg), void *arg)
{
    keygen_job_t job = {.fn = fn, .arg = arg, .result = PROV_STORAGE_IO, .done = xSemaphoreCreateBinary()};

    if (job.done == NULL) {
        return PROV_STORAGE_IO;
    }
    if (xTaskCreate(keygen_task, "prov_keygen", CONFIG_PROVISION_KEYGEN_TASK_STACK, &job, tskIDLE_PRIORITY, NULL) !=
        pdPASS) {
        vSemaphoreDelete(job.done);
        return PROV_STORAGE_IO;
    }
    /* No timeout: the job owns stack memory of ours, so we wait until it is done. */
    (void)xSemaphoreTake(job.done, portMAX_DELAY);
    vSemaphoreDelete(job.done);
    return job.result;
}
