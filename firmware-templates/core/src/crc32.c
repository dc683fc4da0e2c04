/*
 * CRC-32/ISO-HDLC with a 16-entry nibble table: 64 bytes of constants instead
 * of the usual 1 KB byte table, fast enough for 2 KB frames at UART speed.
 */
#include "prov/crc32.h"

static const uint32_t crc32_nibble_table[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t prov_crc32_update(uint32_t crc, const uint8_t *p_data, size_t len)
{
    uint32_t c = ~crc;
    size_t i;

    if (p_data != NULL) {
        for (i = 0; i < len; i++) {
            c ^= p_data[i];
            c = (c >> 4) ^ crc32_nibble_table[c & 0x0Fu];
            c = (c >> 4) ^ crc32_nibble_table[c & 0x0Fu];
        }
    }
    return ~c;
}

uint32_t prov_crc32(const uint8_t *p_data, size_t len)
{
    return prov_crc32_update(PROV_CRC32_INIT, p_data, len);
}
