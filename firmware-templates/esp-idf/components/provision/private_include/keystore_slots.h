/*
 * keystore_slots.h - which NVS record holds a key store's ACTIVE and PENDING
 * key. Each store keeps two records in its own namespace and one u8 "map"
 * saying which record is ACTIVE and whether the other one is PENDING. A new
 * record is written to the free slot and committed first; the map is switched
 * last, in one NVS write, so a power loss leaves the old key or the new one
 * (keystore.h's atomicity rule). Used by keystore_nvs.c and keystore_ds.c;
 * the record's bytes are the store's own business.
 */
#ifndef PROV_KEYSTORE_SLOTS_H
#define PROV_KEYSTORE_SLOTS_H

#include <stddef.h>

#include "prov/keystore.h"

typedef struct prov_ks_slots {
    const char *p_namespace;  /* the store's NVS namespace */
    const char *p_records[2]; /* its two record names */
    /* Optional: called after record index is dropped (replaced, promoted over, destroyed), for
     * what the record points at outside NVS (a PSA key). Best effort, like the NVS erase. */
    void (*on_drop)(unsigned index);
} prov_ks_slots_t;

/*
 * Read slot's record into p_buf; *p_len is the capacity in, the record's
 * length out. Returns OK, NOT_FOUND (slot empty), IO (also a record larger
 * than the capacity).
 */
int prov_ks_slots_read(const prov_ks_slots_t *p_slots, prov_key_slot_t slot, void *p_buf, size_t *p_len);

/*
 * The record index (0 or 1) the next prov_ks_slots_write() uses: the one that
 * is not ACTIVE. A store whose record names something outside NVS (a PSA key
 * id) derives that name from it before making the key. Returns OK or IO.
 */
int prov_ks_slots_next_index(const prov_ks_slots_t *p_slots, unsigned *p_index);

/*
 * Store a new key's record in slot: written to the record that is not ACTIVE,
 * then the map is switched. A new ACTIVE key drops the old one and any
 * PENDING one. Returns OK, NOT_FOUND (PENDING without an ACTIVE key), IO.
 */
int prov_ks_slots_write(const prov_ks_slots_t *p_slots, prov_key_slot_t slot, const void *p_rec, size_t len);

/* Make PENDING the ACTIVE record and erase the old one. Returns OK, NOT_FOUND (no pending key), IO. */
int prov_ks_slots_promote(const prov_ks_slots_t *p_slots);

/* Forget slot's record (ACTIVE takes PENDING with it). Returns OK (also when empty) or IO. */
int prov_ks_slots_destroy(const prov_ks_slots_t *p_slots, prov_key_slot_t slot);

#endif /* PROV_KEYSTORE_SLOTS_H */
