#pragma once
#include <stddef.h>
#include <stdint.h>
extern int fake_keygen_runs;
extern int fake_withdrawals; /* prov_port_app_withdraw() calls */
extern int fake_ds_param_errors;
extern int fake_atecc_genkey_calls;
uint8_t *fake_nvs_value(const char *ns, const char *key, size_t *len);
int fake_nvs_count(const char *ns);
int fake_efuse_burnt(int block);
void fake_atecc_factory_key(uint16_t id);
