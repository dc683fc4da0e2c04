/*
 * What every key store of the port shares: the store id and key types this
 * build was rendered with (board_config.h), put into the interface the core
 * drives.
 */
#include <string.h>

#include "port.h"

static const uint8_t s_key_types[] = PROV_KEYSTORE_KEY_TYPES;

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
