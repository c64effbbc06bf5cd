#include "nor_sim.h"

#include <string.h>

static uint32_t next_random(struct nor_sim *sim)
{
    uint32_t x = sim->rng ? sim->rng : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    sim->rng = x;
    return x;
}

static bool was_programmed(const struct nor_sim *sim, size_t at)
{
    return (sim->programmed[at / 8] >> (at % 8)) & 1u;
}

static void mark(struct nor_sim *sim, size_t at, bool programmed)
{
    if (programmed) {
        sim->programmed[at / 8] |= (uint8_t)(1u << (at % 8));
    } else {
        sim->programmed[at / 8] &= (uint8_t)~(1u << (at % 8));
    }
}

/* Decides the fate of one operation: true to do it whole, false when power is (or just
 * went) off; *partial is set when this call is the one the cut hits. */
static bool powered(struct nor_sim *sim, bool *partial)
{
    *partial = false;
    if (sim->off) {
        return false;
    }
    sim->ops++;
    if (sim->budget == 0) {
        sim->off = true;
        *partial = true;
        return false;
    }
    if (sim->budget > 0) {
        sim->budget--;
    }
    return true;
}

static void erase_byte(struct nor_sim *sim, size_t at)
{
    sim->mem[at] = 0xFF;
    mark(sim, at, false);
}

static bool sim_erase(void *ctx, size_t offset, size_t len)
{
    struct nor_sim *sim = ctx;
    size_t page = sim->area.page_size;
    if (offset % page != 0 || len % page != 0 || offset > sim->area.size || len > sim->area.size - offset) {
        return false;
    }
    bool partial;
    bool whole = powered(sim, &partial);
    if (!whole && !partial) {
        return false;
    }
    for (size_t p = offset / page; p < (offset + len) / page; p++) {
        sim->erases[p]++;
    }
    if (whole || sim->mode == NOR_CUT_DONE) {
        for (size_t i = 0; i < len; i++) {
            erase_byte(sim, offset + i);
        }
        return whole;
    }
    size_t split = next_random(sim) % len;
    for (size_t i = 0; i < len; i++) {
        size_t at = offset + i;
        switch (sim->mode) {
        case NOR_CUT_PREFIX:
            if (i < split) {
                erase_byte(sim, at);
            }
            break;
        case NOR_CUT_SUFFIX:
            if (i >= split) {
                erase_byte(sim, at);
            }
            break;
        case NOR_CUT_SCATTER: {
            /* Some bytes erased, some untouched, some with only some bits back to 1. */
            uint32_t r = next_random(sim);
            if (r % 3 == 0) {
                erase_byte(sim, at);
            } else if (r % 3 == 1) {
                sim->mem[at] |= (uint8_t)(r >> 8);
                if (sim->mem[at] == 0xFF) {
                    mark(sim, at, false);
                }
            }
            break;
        }
        default:
            break;
        }
    }
    return false;
}

static bool sim_program(void *ctx, size_t offset, const uint8_t *data, size_t len)
{
    struct nor_sim *sim = ctx;
    if (offset > sim->area.size || len > sim->area.size - offset) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (was_programmed(sim, offset + i)) {
            sim->double_programs++;
            return false;
        }
        if ((sim->mem[offset + i] & data[i]) != data[i]) {
            sim->bit_sets++;
            return false;
        }
    }
    bool partial;
    bool whole = powered(sim, &partial);
    if (!whole && !partial) {
        return false;
    }
    if (len > 0 && offset / sim->area.page_size < NOR_SIM_PAGES_MAX) {
        sim->programs[offset / sim->area.page_size]++;
    }
    size_t split = len ? next_random(sim) % len : 0;
    for (size_t i = 0; i < len; i++) {
        size_t at = offset + i;
        uint8_t value = data[i];
        if (!whole) {
            switch (sim->mode) {
            case NOR_CUT_NOTHING:
                continue;
            case NOR_CUT_PREFIX:
                if (i >= split) {
                    continue;
                }
                break;
            case NOR_CUT_SUFFIX:
                if (i < split) {
                    continue;
                }
                break;
            case NOR_CUT_SCATTER:
                /* Only some of the bits to clear were cleared. */
                value = (uint8_t)(data[i] | (uint8_t)next_random(sim));
                break;
            default:
                break;
            }
        }
        sim->mem[at] &= value;
        /* Programming 1s is no pulse at all: a byte still reading 0xFF (written as 0xFF, or
         * cut before any bit cleared) is as erased as flash can tell. */
        mark(sim, at, sim->mem[at] != 0xFF);
    }
    return whole;
}

bool nor_sim_init(struct nor_sim *sim, uint8_t *mem, size_t size, size_t page_size)
{
    if (page_size == 0 || size % page_size != 0 || size > NOR_SIM_SIZE_MAX || size / page_size > NOR_SIM_PAGES_MAX) {
        return false;
    }
    memset(sim, 0, sizeof *sim);
    sim->mem = mem;
    sim->budget = -1;
    memset(mem, 0xFF, size);
    sim->area = (struct stsm_flash_area){ sim, size, page_size, mem, sim_erase, sim_program };
    return true;
}

void nor_sim_load(struct nor_sim *sim, const uint8_t *image, size_t len)
{
    size_t n = len < sim->area.size ? len : sim->area.size;
    memset(sim->mem, 0xFF, sim->area.size);
    memcpy(sim->mem, image, n);
    for (size_t i = 0; i < sim->area.size; i++) {
        mark(sim, i, sim->mem[i] != 0xFF);
    }
}

void nor_sim_cut_after(struct nor_sim *sim, unsigned long k, enum nor_cut_mode mode, uint32_t seed)
{
    sim->budget = (long)k;
    sim->mode = mode;
    sim->rng = seed * 2654435761u + 1u;
}

void nor_sim_power_on(struct nor_sim *sim)
{
    sim->off = false;
    sim->budget = -1;
}

void nor_sim_erase_spread(const struct nor_sim *sim, unsigned long *max, unsigned long *min)
{
    size_t pages = sim->area.size / sim->area.page_size;
    *max = 0;
    *min = (unsigned long)-1;
    for (size_t p = 0; p < pages; p++) {
        *max = sim->erases[p] > *max ? sim->erases[p] : *max;
        *min = sim->erases[p] < *min ? sim->erases[p] : *min;
    }
}

const char *nor_cut_mode_name(enum nor_cut_mode mode)
{
    static const char *const names[NOR_CUT_MODES] = { "nothing", "prefix", "suffix", "scatter", "done" };
    return mode < NOR_CUT_MODES ? names[mode] : "?";
}
