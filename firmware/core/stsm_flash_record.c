#include "stsm_flash_record.h"

#include <string.h>

#include "stsm_crc32.h"

#define MAGIC 0x53544652u   /* "STFR" */

struct header {
    uint32_t seq;
    uint32_t len;
};

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static size_t slot_size(const struct stsm_flash_area *area)
{
    return area->size / 2;
}

size_t stsm_flash_record_capacity(const struct stsm_flash_area *area)
{
    size_t slot = slot_size(area);
    return slot > STSM_FLASH_RECORD_HEADER ? slot - STSM_FLASH_RECORD_HEADER : 0;
}

/* The CRC covers the sequence number and length too, so a half-programmed header fails. */
static uint32_t record_crc(const uint8_t *seq_len, const uint8_t *data, size_t len)
{
    return stsm_crc32(stsm_crc32(0, seq_len, 8), data, len);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* True when slot `i` holds a whole record; its header fields go to `h`. */
static bool slot_valid(const struct stsm_flash_area *area, unsigned i, struct header *h)
{
    const uint8_t *p = area->base + i * slot_size(area);
    h->seq = get_u32(p + 4);
    h->len = get_u32(p + 8);
    return get_u32(p) == MAGIC && h->len <= stsm_flash_record_capacity(area) &&
           get_u32(p + 12) == record_crc(p + 4, p + STSM_FLASH_RECORD_HEADER, h->len);
}

/* The slot with the newest record, or -1. Sequence numbers compare modulo 2^32. */
static int newest_slot(const struct stsm_flash_area *area, struct header *newest)
{
    struct header h[2];
    bool ok0 = slot_valid(area, 0, &h[0]), ok1 = slot_valid(area, 1, &h[1]);
    int pick = ok0 && ok1 ? ((int32_t)(h[1].seq - h[0].seq) > 0 ? 1 : 0) : ok0 ? 0 : ok1 ? 1 : -1;
    if (pick >= 0) {
        *newest = h[pick];
    }
    return pick;
}

stsm_status_t stsm_flash_record_read(const struct stsm_flash_area *area, const uint8_t **data, size_t *len)
{
    struct header h;
    int slot = newest_slot(area, &h);
    if (slot < 0) {
        return STSM_ERR_CORRUPT;
    }
    *data = area->base + (size_t)slot * slot_size(area) + STSM_FLASH_RECORD_HEADER;
    *len = h.len;
    return STSM_OK;
}

stsm_status_t stsm_flash_record_write(const struct stsm_flash_area *area, const uint8_t *data, size_t len)
{
    size_t slot = slot_size(area);
    if (area->page_size == 0 || slot == 0 || slot % area->page_size != 0) {
        return STSM_ERR_ARGUMENT;
    }
    if (len > stsm_flash_record_capacity(area)) {
        return STSM_ERR_CAPACITY;
    }
    struct header h = { 0, 0 };
    int current = newest_slot(area, &h);
    unsigned target = current == 0 ? 1u : 0u;
    size_t at = target * slot;

    uint8_t header[STSM_FLASH_RECORD_HEADER];
    put_u32(header, MAGIC);
    uint32_t seq = current >= 0 ? h.seq + 1 : 1;
    put_u32(header + 4, seq);
    put_u32(header + 8, (uint32_t)len);
    put_u32(header + 12, record_crc(header + 4, data, len));
    /* Order is the whole point: the header, programmed last, commits the record. */
    if (!area->erase(area->ctx, at, slot) ||
        (len > 0 && !area->program(area->ctx, at + STSM_FLASH_RECORD_HEADER, data, len)) ||
        !area->program(area->ctx, at, header, sizeof header)) {
        return STSM_ERR_IO;
    }
    /* Read back through the mapping: flash that silently failed to program is caught here.
     * Header and data as written make a valid slot with the newer sequence number, so it is
     * what a read will pick. */
    if (memcmp(area->base + at, header, sizeof header) != 0 ||
        (len > 0 && memcmp(area->base + at + STSM_FLASH_RECORD_HEADER, data, len) != 0)) {
        return STSM_ERR_IO;
    }
    return STSM_OK;
}
