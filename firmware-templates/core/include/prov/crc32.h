/*
 * crc32.h - CRC-32/ISO-HDLC (the zlib/Ethernet CRC: reflected, polynomial
 * 0x04C11DB7, init and xorout 0xFFFFFFFF), as the frame body trailer uses it
 * (protocol.md section 3). Implemented here rather than taken from mbedTLS or
 * zlib so the frame decoder builds and fuzzes standalone.
 */
#ifndef PROV_CRC32_H
#define PROV_CRC32_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Value to start an incremental CRC with (see prov_crc32_update()). */
#define PROV_CRC32_INIT 0u

/**
 * CRC-32 of p_data[0..len). prov_crc32("123456789", 9) == 0xCBF43926.
 * p_data may be NULL only when len is 0.
 */
uint32_t prov_crc32(const uint8_t *p_data, size_t len);

/**
 * Incremental form: crc = PROV_CRC32_INIT; crc = prov_crc32_update(crc, a, n);
 * crc = prov_crc32_update(crc, b, m); gives the CRC of a||b. The value passed
 * and returned is the finished CRC of the bytes so far (pre/post inversion is
 * handled inside), so prov_crc32_update(PROV_CRC32_INIT, p, n) == prov_crc32(p, n).
 */
uint32_t prov_crc32_update(uint32_t crc, const uint8_t *p_data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* PROV_CRC32_H */
