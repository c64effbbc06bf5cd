/*
 * libFuzzer harness for the two-slot flash record. The input is the flash area as found
 * at boot (anything: a new device, a damaged one, an attacker's image), behind four
 * control bytes: the area's geometry, where the power fails during the next write, and
 * that record's length. Reading any image yields a record inside its slot or nothing.
 * Writing a new record with the power cut at that step, then reading again, finds the
 * new record or the one read before, whole; never anything else, never nothing when
 * there was a record.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_flash_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define AREA_MAX 2048u

/* A NOR device as in the unit test: erase sets bytes to 0xFF, programming only clears
 * bits, and the power fails after `budget` byte operations. */
struct nor {
    uint8_t mem[AREA_MAX];
    size_t size;
    size_t page;
    long budget;   /* < 0: no power cut */
};

static bool step(struct nor *f)
{
    if (f->budget == 0) {
        return false;
    }
    if (f->budget > 0) {
        f->budget--;
    }
    return true;
}

static bool nor_erase(void *ctx, size_t offset, size_t len)
{
    struct nor *f = ctx;
    if (offset % f->page != 0 || len % f->page != 0 || offset > f->size || len > f->size - offset) {
        abort();   /* the record store must only ever erase whole pages of its area */
    }
    for (size_t i = 0; i < len; i++) {
        if (!step(f)) {
            return false;
        }
        f->mem[offset + i] = 0xFF;
    }
    return true;
}

static bool nor_program(void *ctx, size_t offset, const uint8_t *data, size_t len)
{
    struct nor *f = ctx;
    if (offset > f->size || len > f->size - offset) {
        abort();
    }
    for (size_t i = 0; i < len; i++) {
        if ((f->mem[offset + i] & data[i]) != data[i]) {
            abort();   /* programming flash that was not erased first */
        }
        if (!step(f)) {
            return false;
        }
        f->mem[offset + i] &= data[i];
    }
    return true;
}

/* Geometries: (area size, page size), each with two slots of whole pages. */
static const size_t geometry[][2] = { { 64, 16 }, { 512, 256 }, { 1024, 256 }, { 2048, 512 },
                                      { 2048, 1024 }, { 96, 16 }, { 256, 64 }, { 128, 32 } };

static struct nor dev;

/* Reads the record; returns its length, copying it into `copy`, or -1 for none. */
static long read_record(const struct stsm_flash_area *area, uint8_t *copy)
{
    const uint8_t *p;
    size_t len;
    if (stsm_flash_record_read(area, &p, &len) != STSM_OK) {
        return -1;
    }
    size_t slot = area->size / 2;
    size_t at = (size_t)(p - area->base);
    /* The record lies inside one slot, behind its header. */
    if (p < area->base || at >= area->size || len > stsm_flash_record_capacity(area) ||
        (at % slot) != STSM_FLASH_RECORD_HEADER || len > slot - STSM_FLASH_RECORD_HEADER) {
        abort();
    }
    memcpy(copy, p, len);
    return (long)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t old[AREA_MAX], record[AREA_MAX], now[AREA_MAX];
    if (size < 4) {
        return 0;
    }
    dev.size = geometry[data[0] & 7u][0];
    dev.page = geometry[data[0] & 7u][1];
    long cut = data[1] == 0xFF ? -1 : (long)data[1] * (long)(dev.size / 64u + 1u);
    size_t want = ((size_t)data[2] << 8 | data[3]) % (dev.size / 2u + 1u);
    data += 4;
    size -= 4;
    memset(dev.mem, 0xFF, sizeof dev.mem);
    memcpy(dev.mem, data, size < dev.size ? size : dev.size);
    dev.budget = -1;
    const struct stsm_flash_area area = { &dev, dev.size, dev.page, dev.mem, nor_erase, nor_program };

    long old_len = read_record(&area, old);
    if (read_record(&area, now) != old_len || (old_len > 0 && memcmp(old, now, (size_t)old_len) != 0)) {
        abort();   /* reading does not change what is read */
    }

    for (size_t i = 0; i < want; i++) {
        record[i] = (uint8_t)(i * 31u + want);
    }
    dev.budget = cut;
    stsm_status_t st = stsm_flash_record_write(&area, record, want);
    dev.budget = -1;   /* power back: reboot and read */
    if (want > stsm_flash_record_capacity(&area) ? st != STSM_ERR_CAPACITY : (cut < 0 && st != STSM_OK)) {
        abort();
    }
    long now_len = read_record(&area, now);
    bool is_new = now_len == (long)want && memcmp(now, record, want) == 0;
    bool is_old = old_len >= 0 && now_len == old_len && memcmp(now, old, (size_t)old_len) == 0;
    if ((st == STSM_OK && !is_new) || (!is_new && !is_old && !(old_len < 0 && now_len < 0))) {
        abort();
    }
    return 0;
}
