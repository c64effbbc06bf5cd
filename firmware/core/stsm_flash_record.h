/*
 * One record (e.g. the MTA-STS policy cache) kept in NOR flash so that a power cut at any
 * moment leaves either the previous record or the new one, whole, never a mix.
 *
 * Two slots of equal size, each a whole number of erase pages. A write goes to the slot
 * not holding the newest record: erase it, program the data, then program the 16-byte
 * header (magic, sequence number, length, CRC-32 over sequence, length and data) last, as
 * the commit. A slot cut short anywhere fails its CRC, so reading, which picks the valid
 * slot with the newer sequence number, finds the previous record.
 * Flash semantics assumed: erased bytes read 0xFF, programming only clears bits.
 */
#ifndef STSM_FLASH_RECORD_H
#define STSM_FLASH_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_status.h"

#define STSM_FLASH_RECORD_HEADER 16u

/** The flash area the record lives in, as the platform drives it. Offsets are relative
 *  to the area; `erase` takes page-aligned ranges. Both return false on a device error. */
struct stsm_flash_area {
    void *ctx;
    size_t size;                 /**< bytes in the area: two slots */
    size_t page_size;            /**< erase granularity */
    const uint8_t *base;         /**< the area, memory-mapped for reading */
    bool (*erase)(void *ctx, size_t offset, size_t len);
    bool (*program)(void *ctx, size_t offset, const uint8_t *data, size_t len);
};

/** The largest record an area can hold. */
size_t stsm_flash_record_capacity(const struct stsm_flash_area *area);

/**
 * Finds the newest whole record. STSM_OK with `*data` pointing into flash (valid until the
 * next write) and `*len` set; STSM_ERR_CORRUPT when neither slot holds one (a new device,
 * or both damaged).
 */
stsm_status_t stsm_flash_record_read(const struct stsm_flash_area *area, const uint8_t **data, size_t *len);

/**
 * Replaces the record with `len` bytes of `data` (which must not point into the area).
 * STSM_ERR_CAPACITY when it does not fit, STSM_ERR_ARGUMENT for an area whose slots are
 * not whole pages, STSM_ERR_IO when the device fails (the previous record is intact).
 */
stsm_status_t stsm_flash_record_write(const struct stsm_flash_area *area, const uint8_t *data, size_t len);

#endif /* STSM_FLASH_RECORD_H */
