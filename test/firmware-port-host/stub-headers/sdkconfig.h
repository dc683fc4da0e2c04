#pragma once
/* The project's own Kconfig values (main/Kconfig.projbuild defaults). */
#define CONFIG_PROV_CONSOLE_BAUD_DEFAULT 115200
#define CONFIG_PROV_KEYGEN_TASK_STACK 12288
#define CONFIG_PROV_MQTT_BACKOFF_MIN_MS 1000
#define CONFIG_PROV_MQTT_BACKOFF_MAX_MS 32000
#define CONFIG_PROV_PUBLISH_INTERVAL_MS_DEFAULT 5000
/* What the rendered sdkconfig.defaults turns on for the stores these host tests run. */
#define CONFIG_NVS_ENCRYPTION 1
#define CONFIG_ESP_TLS_USE_DS_PERIPHERAL 1
#define CONFIG_MBEDTLS_ECP_DP_SECP256R1_ENABLED 1
#define CONFIG_MBEDTLS_ECP_DP_SECP384R1_ENABLED 1
