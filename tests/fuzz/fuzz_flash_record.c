/*
 * libFuzzer harness for the two-slot flash record. The input is the flash area as found
 * at boot (anything: a new device, a damaged one, an attacker's image), behind four
 * control bytes: the area's geometry, where and how the power fails during the next
 * write (nor_sim: the operation, and how it is left), and that record's length. Reading any image yields a record inside its slot or nothing.
 * Writing a new record with the power cut at that step, then reading again, finds the
 * new record or the one read before, whole; never anything else, never nothing when
 * there was a record.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nor_sim.h"
#include "stsm_flash_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define AREA_MAX 2048u

/* Geometries: (area size, page size), each with two slots of whole pages. */
static const size_t geometry[][2] = { { 64, 16 }, { 512, 256 }, { 1024, 256 }, { 2048, 512 },
                                      { 2048, 1024 }, { 96, 16 }, { 256, 64 }, { 128, 32 } };

static uint8_t mem[AREA_MAX];
static struct nor_sim dev;

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
    size_t area_size = geometry[data[0] & 7u][0], page = geometry[data[0] & 7u][1];
    /* A write is three operations (erase, data, header): data[1] picks the one the power
     * cut hits and how it is left; 0xFF: no cut. */
    bool cut = data[1] != 0xFF;
    size_t want = ((size_t)data[2] << 8 | data[3]) % (area_size / 2u + 1u);
    nor_sim_init(&dev, mem, area_size, page);
    nor_sim_load(&dev, data + 4, size - 4);
    const struct stsm_flash_area area = dev.area;

    long old_len = read_record(&area, old);
    if (read_record(&area, now) != old_len || (old_len > 0 && memcmp(old, now, (size_t)old_len) != 0)) {
        abort();   /* reading does not change what is read */
    }

    for (size_t i = 0; i < want; i++) {
        record[i] = (uint8_t)(i * 31u + want);
    }
    if (cut) {
        nor_sim_cut_after(&dev, data[1] % 4u, (enum nor_cut_mode)((data[1] >> 2) % NOR_CUT_MODES), data[1] >> 5);
    }
    stsm_status_t st = stsm_flash_record_write(&area, record, want);
    nor_sim_power_on(&dev);   /* power back: reboot and read */
    if (want > stsm_flash_record_capacity(&area) ? st != STSM_ERR_CAPACITY : (!cut && st != STSM_OK)) {
        abort();
    }
    if (dev.double_programs != 0 || dev.bit_sets != 0) {
        abort();   /* programmed flash that was not erased first */
    }
    long now_len = read_record(&area, now);
    bool is_new = now_len == (long)want && memcmp(now, record, want) == 0;
    bool is_old = old_len >= 0 && now_len == old_len && memcmp(now, old, (size_t)old_len) == 0;
    if ((st == STSM_OK && !is_new) || (!is_new && !is_old && !(old_len < 0 && now_len < 0))) {
        abort();
    }
    return 0;
}
