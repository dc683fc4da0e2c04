/*
 * What every key store of the component shares: the store id and the key
 * types this build allows (Kconfig, provision_config.h), put into the
 * interface the core drives.
 */
#include <string.h>

#include "port.h"

static const uint8_t s_key_types[] = {
#if CONFIG_PROVISION_KEY_TYPE_EC_P256
    PROV_KEY_EC_P256,
#endif
#if CONFIG_PROVISION_KEY_TYPE_EC_P384
    PROV_KEY_EC_P384,
#endif
#if CONFIG_PROVISION_KEY_TYPE_RSA_2048
    PROV_KEY_RSA_2048,
#endif
#if CONFIG_PROVISION_KEY_TYPE_RSA_3072
    PROV_KEY_RSA_3072,
#endif
};

#if !CONFIG_PROVISION_KEY_TYPE_EC_P256 && !CONFIG_PROVISION_KEY_TYPE_EC_P384 && \
    !CONFIG_PROVISION_KEY_TYPE_RSA_2048 && !CONFIG_PROVISION_KEY_TYPE_RSA_3072
#error "no key type allowed: turn on at least one CONFIG_PROVISION_KEY_TYPE_* the key store can make"
#endif

void prov_port_keystore_fill(prov_keystore_t *p_out, const prov_keystore_t *p_ops)
{
    *p_out = *p_ops;
    p_out->ctx = NULL;
    p_out->store_id = (uint8_t)PROV_KEYSTORE_ID;
    p_out->key_types = s_key_types;
    p_out->n_key_types = sizeof(s_key_types);
}

bool prov_port_key_type_supported(uint8_t key_type)
{
    return memchr(s_key_types, key_type, sizeof(s_key_types)) != NULL;
}

const char *prov_port_key_type_name(uint8_t key_type)
{
    switch (key_type) {
    case PROV_KEY_EC_P256: return "ec-p256";
    case PROV_KEY_EC_P384: return "ec-p384";
    case PROV_KEY_RSA_2048: return "rsa-2048";
    case PROV_KEY_RSA_3072: return "rsa-3072";
    default: return "unknown";
    }
}
