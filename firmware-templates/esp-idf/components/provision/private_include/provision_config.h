/*
 * provision_config.h - this build's facts, from the component's Kconfig
 * (sdkconfig.h), in the names the port's sources use. A rendered project
 * sets them from its board file (boards/<id>.json -> sdkconfig.defaults);
 * a product sets them in menuconfig or its own sdkconfig.defaults.
 */
#ifndef PROV_PROVISION_CONFIG_H
#define PROV_PROVISION_CONFIG_H

#include "sdkconfig.h"

#include "prov/codes.h"

#define PROV_BOARD_ID CONFIG_PROVISION_BOARD_ID
#define PROV_FIRMWARE_VERSION CONFIG_PROVISION_FIRMWARE_VERSION "+" CONFIG_PROVISION_BOARD_ID

/* Console transport */
#if CONFIG_PROVISION_CONSOLE_UART
#define PROV_CONSOLE_UART_NUM CONFIG_PROVISION_CONSOLE_UART_NUM
#define PROV_CONSOLE_TX_PIN CONFIG_PROVISION_CONSOLE_TX_PIN /* -1: the chip's default pin */
#define PROV_CONSOLE_RX_PIN CONFIG_PROVISION_CONSOLE_RX_PIN
#endif
#define PROV_BAUD_DEFAULT ((uint32_t)CONFIG_PROVISION_CONSOLE_BAUD_DEFAULT)

/* The key store of this build and its wire id (protocol 5.3) */
#if CONFIG_PROVISION_KEYSTORE_NVS
#define PROV_KEYSTORE_IS_NVS 1
#define PROV_KEYSTORE_ID 1u
#elif CONFIG_PROVISION_KEYSTORE_NVS_ENCRYPTED
#define PROV_KEYSTORE_IS_NVS_ENCRYPTED 1
#define PROV_KEYSTORE_ID 2u
#elif CONFIG_PROVISION_KEYSTORE_DS
#define PROV_KEYSTORE_IS_DS 1
#define PROV_KEYSTORE_ID 3u
#elif CONFIG_PROVISION_KEYSTORE_ATECC608
#define PROV_KEYSTORE_IS_ATECC608 1
#define PROV_KEYSTORE_ID 4u
#else
#error "no key store chosen: set one of CONFIG_PROVISION_KEYSTORE_* (menuconfig: Provisioning)"
#endif
#define PROV_NVS_ENCRYPTED (CONFIG_PROVISION_KEYSTORE_NVS_ENCRYPTED + 0)

#if CONFIG_PROVISION_KEYSTORE_DS
/* DS peripheral: eFuse key block for the first key's HMAC key (BLOCK_KEY0 + n) */
#define PROV_DS_EFUSE_KEY_BLOCK CONFIG_PROVISION_DS_EFUSE_KEY_BLOCK
#endif

#if CONFIG_PROVISION_KEYSTORE_ATECC608
/* ATECC608 on I2C: pins and address are esp-cryptoauthlib's settings */
#define PROV_ATECC_I2C_PORT CONFIG_PROVISION_ATECC608_I2C_PORT
#define PROV_ATECC_SDA_PIN CONFIG_ATCA_I2C_SDA_PIN
#define PROV_ATECC_SCL_PIN CONFIG_ATCA_I2C_SCL_PIN
#define PROV_ATECC_ADDRESS_8BIT CONFIG_ATCA_I2C_ADDRESS /* 7-bit address << 1, as cryptoauthlib wants it */
#define PROV_ATECC_SLOT CONFIG_PROVISION_ATECC608_SLOT
/* Trust&Go: the slot's key was generated inside the chip at Microchip and is locked; adopt it, never GenKey. */
#define PROV_ATECC_TRUST_AND_GO (CONFIG_PROVISION_ATECC608_TRUST_AND_GO + 0)
#endif

#endif /* PROV_PROVISION_CONFIG_H */
