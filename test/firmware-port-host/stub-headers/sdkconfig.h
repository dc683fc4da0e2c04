#pragma once
/*
 * The ESP-IDF settings the stores read. The component's own (CONFIG_PROVISION_*) come from the
 * rendered sdkconfig.defaults as -D flags (test/firmware-port-host.test.ts), board by board.
 */
#define CONFIG_PROVISION_KEYGEN_TASK_STACK 12288
/* What the rendered sdkconfig.defaults turns on for the stores these host tests run. */
#define CONFIG_NVS_ENCRYPTION 1
#define CONFIG_ESP_TLS_USE_DS_PERIPHERAL 1
#define CONFIG_MBEDTLS_ECP_DP_SECP256R1_ENABLED 1
#define CONFIG_MBEDTLS_ECP_DP_SECP384R1_ENABLED 1
