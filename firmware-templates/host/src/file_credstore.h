/*
 * file_credstore.h - the twin's credential store: the committed set in
 * credentials.bin (header + payload, replaced by rename), the LOCK flag as
 * the file "locked", staging in RAM (gone after a restart, as the protocol
 * says).
 *
 * credentials.bin: "PRVC" | u32 format 1 | u32 generation | u32 length |
 * 32-byte SHA-256 of the payload | payload (all big-endian).
 */
#ifndef TWIN_FILE_CREDSTORE_H
#define TWIN_FILE_CREDSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "prov/config.h"
#include "prov/credstore.h"

#define TWIN_CRED_FILE "credentials.bin"
#define TWIN_LOCK_FILE "locked"
#define TWIN_CRED_HEADER_BYTES 48u

typedef struct twin_file_credstore {
    char dir[1024];
    uint8_t staged[PROV_DEVICE_PAYLOAD_MAX];
    size_t staged_len;
    int has_staged;
    uint8_t file[TWIN_CRED_HEADER_BYTES + PROV_DEVICE_PAYLOAD_MAX];
} twin_file_credstore_t;

void twin_file_credstore_init(twin_file_credstore_t *p_store, const char *dir, prov_credstore_t *p_cs);

#endif /* TWIN_FILE_CREDSTORE_H */
