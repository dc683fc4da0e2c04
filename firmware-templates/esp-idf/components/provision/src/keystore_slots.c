/*
 * Two NVS records per key store and a one-byte map switched last (see
 * keystore_slots.h). The namespace's layout version (nvs_layout.c) is
 * checked before a read or a write and written with the map.
 */
#include <stdint.h>

#include "nvs.h"

#include "keystore_slots.h"
#include "port.h"
#include "prov/storage_status.h"

#define MAP_KEY "map"
#define MAP_ACTIVE_INDEX 0x01u
#define MAP_HAS_ACTIVE 0x02u
#define MAP_HAS_PENDING 0x04u

static int read_map(nvs_handle_t h, uint8_t *p_map)
{
    esp_err_t err = nvs_get_u8(h, MAP_KEY, p_map);
    if (err == ESP_ERR_NVS_NOT_FOUND) {
        *p_map = 0u;
        return PROV_STORAGE_OK;
    }
    return (err == ESP_OK) ? PROV_STORAGE_OK : PROV_STORAGE_IO;
}

static int write_map(nvs_handle_t h, uint8_t map)
{
    esp_err_t err = (prov_port_layout_mark(h) == PROV_STORAGE_OK) ? nvs_set_u8(h, MAP_KEY, map) : ESP_FAIL;
    if (err == ESP_OK) {
        err = nvs_commit(h);
    }
    return (err == ESP_OK) ? PROV_STORAGE_OK : PROV_STORAGE_IO;
}

/* The record a write goes to: never the ACTIVE one. */
static unsigned target_index(uint8_t map)
{
    return (map & MAP_HAS_ACTIVE) ? ((map & MAP_ACTIVE_INDEX) ^ 1u) : (map & MAP_ACTIVE_INDEX);
}

static void drop_record(const prov_ks_slots_t *p_slots, nvs_handle_t h, unsigned index)
{
    (void)nvs_erase_key(h, p_slots->p_records[index]);
    if (p_slots->on_drop != NULL) {
        p_slots->on_drop(index);
    }
}

/* Index of the record holding slot, or -1 when the slot is empty. */
static int slot_index(uint8_t map, prov_key_slot_t slot)
{
    unsigned active = map & MAP_ACTIVE_INDEX;
    if (slot == PROV_KEY_SLOT_ACTIVE) {
        return (map & MAP_HAS_ACTIVE) ? (int)active : -1;
    }
    return (map & MAP_HAS_PENDING) ? (int)(active ^ 1u) : -1;
}

int prov_ks_slots_read(const prov_ks_slots_t *p_slots, prov_key_slot_t slot, void *p_buf, size_t *p_len)
{
    nvs_handle_t h;
    uint8_t map = 0;
    int st = prov_port_layout_check(p_slots->p_namespace);
    int index;

    if (st != PROV_STORAGE_OK) {
        return st;
    }
    if (nvs_open(p_slots->p_namespace, NVS_READONLY, &h) != ESP_OK) {
        return PROV_STORAGE_NOT_FOUND; /* namespace absent: nothing stored yet */
    }
    st = read_map(h, &map);
    index = slot_index(map, slot);
    if (st == PROV_STORAGE_OK && index < 0) {
        st = PROV_STORAGE_NOT_FOUND;
    }
    if (st == PROV_STORAGE_OK && nvs_get_blob(h, p_slots->p_records[index], p_buf, p_len) != ESP_OK) {
        st = PROV_STORAGE_IO;
    }
    nvs_close(h);
    return st;
}

int prov_ks_slots_next_index(const prov_ks_slots_t *p_slots, unsigned *p_index)
{
    nvs_handle_t h;
    uint8_t map = 0;
    int st = PROV_STORAGE_OK;

    if (nvs_open(p_slots->p_namespace, NVS_READONLY, &h) == ESP_OK) {
        st = read_map(h, &map);
        nvs_close(h);
    } /* else: nothing stored yet, map 0 */
    *p_index = target_index(map);
    return st;
}

int prov_ks_slots_write(const prov_ks_slots_t *p_slots, prov_key_slot_t slot, const void *p_rec, size_t len)
{
    nvs_handle_t h;
    uint8_t map = 0;
    uint8_t old_map;
    unsigned target;
    int st = prov_port_layout_check(p_slots->p_namespace);

    if (st != PROV_STORAGE_OK) {
        return st;
    }
    if (nvs_open(p_slots->p_namespace, NVS_READWRITE, &h) != ESP_OK) {
        return PROV_STORAGE_IO;
    }
    st = read_map(h, &map);
    old_map = map;
    /* Always write into the record that is not ACTIVE, then switch the map. */
    target = target_index(map);
    if (st == PROV_STORAGE_OK &&
        (nvs_set_blob(h, p_slots->p_records[target], p_rec, len) != ESP_OK || nvs_commit(h) != ESP_OK)) {
        st = PROV_STORAGE_IO;
    }
    if (st == PROV_STORAGE_OK) {
        if (slot == PROV_KEY_SLOT_ACTIVE) {
            map = (uint8_t)(MAP_HAS_ACTIVE | target); /* a pending key in that record is gone */
        } else if (map & MAP_HAS_ACTIVE) {
            map = (uint8_t)(map | MAP_HAS_PENDING);
        } else {
            st = PROV_STORAGE_NOT_FOUND; /* a pending key needs an active one */
        }
    }
    if (st == PROV_STORAGE_OK) {
        st = write_map(h, map);
    }
    if (st == PROV_STORAGE_OK && slot == PROV_KEY_SLOT_ACTIVE && target != (old_map & MAP_ACTIVE_INDEX) &&
        (old_map & MAP_HAS_ACTIVE)) {
        /* The replaced key: the map no longer points at it, so drop it from flash too. */
        drop_record(p_slots, h, target ^ 1u);
        (void)nvs_commit(h);
    }
    nvs_close(h);
    return st;
}

int prov_ks_slots_promote(const prov_ks_slots_t *p_slots)
{
    nvs_handle_t h;
    uint8_t map = 0;
    int st;
    unsigned old_active;

    if (nvs_open(p_slots->p_namespace, NVS_READWRITE, &h) != ESP_OK) {
        return PROV_STORAGE_NOT_FOUND;
    }
    st = read_map(h, &map);
    if (st == PROV_STORAGE_OK && !(map & MAP_HAS_PENDING)) {
        st = PROV_STORAGE_NOT_FOUND;
    }
    if (st == PROV_STORAGE_OK) {
        old_active = map & MAP_ACTIVE_INDEX;
        st = write_map(h, (uint8_t)(MAP_HAS_ACTIVE | (old_active ^ 1u)));
        if (st == PROV_STORAGE_OK) {
            /* Best effort: the map no longer points at it. */
            drop_record(p_slots, h, old_active);
            (void)nvs_commit(h);
        }
    }
    nvs_close(h);
    return st;
}

int prov_ks_slots_destroy(const prov_ks_slots_t *p_slots, prov_key_slot_t slot)
{
    nvs_handle_t h;
    uint8_t map = 0;
    int st;
    int index;

    if (nvs_open(p_slots->p_namespace, NVS_READWRITE, &h) != ESP_OK) {
        return PROV_STORAGE_OK; /* nothing was ever stored */
    }
    st = read_map(h, &map);
    index = slot_index(map, slot);
    if (st == PROV_STORAGE_OK && index >= 0) {
        if (slot == PROV_KEY_SLOT_ACTIVE) {
            map = (uint8_t)(map & (uint8_t)~(MAP_HAS_ACTIVE | MAP_HAS_PENDING)); /* no pending without active */
        } else {
            map = (uint8_t)(map & (uint8_t)~MAP_HAS_PENDING);
        }
        st = write_map(h, map);
        if (st == PROV_STORAGE_OK) {
            drop_record(p_slots, h, (unsigned)index);
            if (slot == PROV_KEY_SLOT_ACTIVE) {
                drop_record(p_slots, h, (unsigned)index ^ 1u);
            }
            (void)nvs_commit(h);
        }
    }
    nvs_close(h);
    return st;
}
