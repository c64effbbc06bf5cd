/*
 * libFuzzer harness for the flash store. The input is the flash area as found at boot
 * (anything: blank, written by the store, torn, an attacker's image) behind a header
 * that picks the geometry, a script of puts and deletes, and where the power fails
 * during the script (nor_sim: after K device operations, the cut one left partly done).
 *
 *   [0] geometry  [1..2] cut after K operations (0xFFFF: none)  [3] cut mode and seed
 *   [4] script steps  then 3 bytes a step: [op<<7 | key] [length, 2 bytes]  then the image
 *
 * Mounting any image either fails with a documented status or gives an index whose
 * every record lies inside the area; mounting again gives the same. fits() agrees with
 * put. After the cut and a reboot, every key holds the value of its last put that
 * returned STSM_OK (or of the step in flight), a deleted key stays deleted, and the store
 * takes a put. No byte is programmed twice, no bit set by programming.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nor_sim.h"
#include "stsm_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define AREA_MAX 4096u
#define KEYS 70u   /* a few more than STSM_STORE_KEYS_MAX */
#define VALUE_MAX (1024u - 56u)

static const size_t geometry[8][2] = { { 3, 64 }, { 4, 128 }, { 5, 256 }, { 8, 64 },
                                       { 3, 1024 }, { 6, 512 }, { 64, 64 }, { 16, 256 } };

static uint8_t mem[AREA_MAX];
static struct nor_sim sim;
static struct stsm_store store;

/* What each key must hold: its last acknowledged value, and the one in flight. */
static struct expect {
    bool present;
    uint16_t len;
    uint8_t value[VALUE_MAX];
} model[KEYS + 1];

static void make_value(uint8_t *buf, size_t len, uint32_t key, size_t step)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(key * 29u + step * 13u + i * 7u);
    }
}

static void check_index(void)
{
    if (stsm_store_count(&store) > STSM_STORE_KEYS_MAX) {
        abort();
    }
    for (size_t i = 0; i < stsm_store_count(&store); i++) {
        uint32_t key = stsm_store_key_at(&store, i);
        const uint8_t *p;
        size_t len;
        if (stsm_store_get(&store, key, &p, &len) != STSM_OK || p < sim.area.base ||
            len > stsm_store_record_max(&sim.area) || (size_t)(p - sim.area.base) > sim.area.size - len) {
            abort();
        }
    }
}

static bool holds(uint32_t key, const struct expect *e)
{
    const uint8_t *p;
    size_t len;
    stsm_status_t st = stsm_store_get(&store, key, &p, &len);
    return e->present ? st == STSM_OK && len == e->len && memcmp(p, e->value, len) == 0 : st == STSM_ERR_NOT_FOUND;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5) {
        return 0;
    }
    size_t pages = geometry[data[0] & 7u][0], page = geometry[data[0] & 7u][1];
    unsigned cut = (unsigned)data[1] << 8 | data[2];
    enum nor_cut_mode mode = (enum nor_cut_mode)((data[3] & 7u) % NOR_CUT_MODES);
    size_t steps = data[4] % 65u;
    const uint8_t *script = data + 5;
    size -= 5;
    if (steps * 3 > size) {
        steps = size / 3;
    }
    const uint8_t *image = script + steps * 3;
    size -= steps * 3;

    nor_sim_init(&sim, mem, pages * page, page);
    nor_sim_load(&sim, image, size);
    stsm_status_t st = stsm_store_mount(&store, &sim.area);
    if (st != STSM_OK) {
        if (st != STSM_ERR_CAPACITY) {
            abort();
        }
        return 0;
    }
    check_index();
    /* A second mount finds what the first did (its repairs are done). */
    size_t count = stsm_store_count(&store);
    unsigned long ops = sim.ops;
    memset(model, 0, sizeof model);
    for (uint32_t key = 1; key <= KEYS; key++) {
        const uint8_t *p;
        size_t len;
        if (stsm_store_get(&store, key, &p, &len) == STSM_OK) {
            model[key].present = true;
            model[key].len = (uint16_t)len;
            memcpy(model[key].value, p, len);
        }
    }
    if (stsm_store_mount(&store, &sim.area) != STSM_OK || stsm_store_count(&store) != count || sim.ops != ops) {
        abort();
    }
    for (uint32_t key = 1; key <= KEYS; key++) {
        if (!holds(key, &model[key])) {
            abort();
        }
    }
    /* Deletes must find room in a store whose whole history this run wrote. */
    bool ours = count == 0 && stsm_store_stats(&store)->records_skipped == 0;

    if (cut != 0xFFFFu) {
        nor_sim_cut_after(&sim, cut, mode, data[3] >> 3);
    }
    size_t max = stsm_store_record_max(&sim.area);
    static uint8_t value[VALUE_MAX + 3];
    uint32_t inflight = 0;
    struct expect *next = &model[0];   /* scratch: the value in flight */
    for (size_t i = 0; i < steps; i++) {
        const uint8_t *s = script + 3 * i;
        uint32_t key = (s[0] & 0x7Fu) % KEYS + 1;
        size_t len = ((size_t)s[1] << 8 | s[2]) % (max + 3);
        if (s[0] & 0x80u) {
            st = stsm_store_delete(&store, key);
            if (st == STSM_OK || st == STSM_ERR_NOT_FOUND) {
                if (model[key].present != (st == STSM_OK)) {
                    abort();
                }
                model[key].present = false;
                continue;
            }
            if (st == STSM_ERR_FULL && !ours) {
                continue;
            }
            if (st != STSM_ERR_IO) {
                abort();
            }
            next->present = false;
        } else {
            make_value(value, len, key, i);
            bool fits = stsm_store_fits(&store, key, len);
            /* Every other put goes in three pieces, as the outbox writes its content. */
            const struct stsm_store_piece pieces[] = {
                { value, len / 3 }, { value + len / 3, len / 3 }, { value + 2 * (len / 3), len - 2 * (len / 3) },
            };
            st = i % 2 == 0 ? stsm_store_put(&store, key, value, len) : stsm_store_put_pieces(&store, key, pieces, 3);
            if (st != STSM_ERR_IO && fits != (st == STSM_OK)) {
                abort();
            }
            if (len > max ? st != STSM_ERR_CAPACITY : st == STSM_ERR_CAPACITY) {
                abort();
            }
            if (st == STSM_OK) {
                model[key].present = true;
                model[key].len = (uint16_t)len;
                memcpy(model[key].value, value, len);
                continue;
            }
            if (st != STSM_ERR_IO) {
                continue;
            }
            next->present = true;
            next->len = (uint16_t)len;
            memcpy(next->value, value, len);
        }
        inflight = key;   /* the power failed during this step */
        break;
    }
    nor_sim_power_on(&sim);
    if (stsm_store_mount(&store, &sim.area) != STSM_OK) {
        abort();
    }
    check_index();
    for (uint32_t key = 1; key <= KEYS; key++) {
        if (!holds(key, &model[key]) && !(key == inflight && holds(key, next))) {
            abort();
        }
    }
    /* Still writable, unless it is full. */
    if (stsm_store_fits(&store, 1, 1)) {
        make_value(value, 1, 1, 999);
        if (stsm_store_put(&store, 1, value, 1) != STSM_OK) {
            abort();
        }
    }
    if (sim.double_programs != 0 || sim.bit_sets != 0) {
        abort();
    }
    return 0;
}
