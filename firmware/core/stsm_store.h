/*
 * A small log-structured key-value store in NOR flash: the outbox's messages and their
 * progress live here (and any other small record a port wants kept across reboots).
 *
 * The area is a ring of erase pages. Records are appended at the head; a record never
 * spans pages. Replacing a key appends its new version, deleting it appends a tombstone;
 * the newest version of each key wins (pages and records carry 32-bit sequence numbers;
 * mount replays the pages oldest first, each in order). When the head needs
 * a fresh page, the oldest page is reclaimed: its live records are appended again first,
 * then it is erased. So every page is erased once per trip round the ring, whatever is
 * written, which spreads wear over the whole area.
 *
 * Power loss: a record's data is programmed first and its header (which carries the CRC
 * of header and data) last, so a record cut short anywhere has no valid header and is
 * ignored; the previous version of its key stays in force. Damage ends the reading of its
 * page, and nothing is ever appended after it (the head moves to a fresh page). A
 * reclaimed page is erased only after its live records were copied, so a cut during
 * reclaim leaves two copies of some records, and the newer wins. Every byte is
 * programmed at most once per erase.
 *
 * A reclaim appends, after the copies, a marker "pages up to sequence S are obsolete"
 * before it erases: an erase cut short can leave part of an old page (an old version of
 * a deleted key whose tombstone was erased), and mount erases every page the newest
 * marker covers again instead of reading it. So a deleted key never comes back.
 *
 * Capacity: the store always keeps one page free to reclaim into, so a put that returns
 * STSM_OK never has to be undone and a put that does not fit fails up front with
 * STSM_ERR_FULL (the store is unchanged). A put is planned first on a copy of the RAM
 * state, step by step as it will run: struct stsm_store is 12 bytes a key and 4 a page
 * (600 bytes on mps2-an385: 40 keys, 16 pages), and a put or delete needs that plus about
 * 0.5 KiB of stack.
 *
 * Flash semantics assumed: erased bytes read 0xFF, programming only clears bits; the
 * area is memory-mapped for reading (`area->base`). Program calls take any offset and
 * length inside one page; data copied from the area itself is passed through a small RAM
 * buffer, never as a pointer into the area.
 *
 * Not thread-safe: one caller at a time (the host serialises processes with a file lock,
 * stsm_host_flash.h).
 */
#ifndef STSM_STORE_H
#define STSM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_config.h"
#include "stsm_flash_record.h"
#include "stsm_status.h"

#define STSM_STORE_KEY_NONE 0u       /**< not a key (0 and 0xFFFFFFFF are refused) */

/** Where the newest version of one key lives. */
struct stsm_store_slot {
    uint32_t key;
    uint32_t offset;                 /**< of the record's data, from the area's start */
    uint16_t len;
};

/** Counters since mount, for footprint and wear figures. */
struct stsm_store_stats {
    uint32_t erases;                 /**< pages erased */
    uint32_t programs;               /**< program calls */
    uint32_t records_written;        /**< records appended (puts, deletes, reclaim copies) */
    uint32_t records_skipped;        /**< damaged records ignored at mount */
};

/** A mounted store. Fields are private; read them through the functions below. */
struct stsm_store {
    const struct stsm_flash_area *area;  /**< NULL: not mounted */
    size_t pages;
    uint32_t next_seq;               /**< sequence number of the next record */
    uint32_t next_page_seq;          /**< sequence number of the next page opened */
    size_t head_page;                /**< page being appended to; `pages`: none yet */
    size_t head_offset;              /**< next free byte in it */
    size_t head_dead;                /**< bytes in it that a reclaim never copies */
    uint32_t page_seq[STSM_STORE_PAGES_MAX]; /**< order of the pages in the ring (0: free) */
    size_t live_bytes;               /**< bytes the live records take, headers included */
    size_t slot_count;
    struct stsm_store_slot slots[STSM_STORE_KEYS_MAX];
    struct stsm_store_stats stats;
    bool dry;                        /**< a planning copy: no device operation */
    bool must_mount;                 /**< a device error left RAM and flash apart */
};

/** The largest record data one put takes on this area: a page less its header, a record
 *  header and room for a reclaim's marker (page size - 56), at most 65535; 0 for an area
 *  the store cannot use. */
size_t stsm_store_record_max(const struct stsm_flash_area *area);

/**
 * Scans the area and builds the index. A blank or never-used area is an empty store;
 * damaged or half-written records are skipped (counted in stats). Any image is safe to
 * mount. Mount writes only to finish an interrupted reclaim (erasing the pages it made
 * obsolete, or the page it was copying into); a blank or cleanly written area is only read.
 * Returns STSM_ERR_ARGUMENT for an area that is not at least 3 whole pages or has more
 * than STSM_STORE_PAGES_MAX, or pages under 64 bytes or not a multiple of 4, or over
 * 4 GiB; STSM_ERR_CAPACITY when it holds more live keys than STSM_STORE_KEYS_MAX (nothing
 * is dropped or erased: the store stays unmounted), STSM_ERR_IO when the device fails while
 * finishing an interrupted reclaim (done last: a mount that fails otherwise writes
 * nothing). A store that failed to mount refuses every call (STSM_ERR_ARGUMENT; get:
 * STSM_ERR_NOT_FOUND).
 */
stsm_status_t stsm_store_mount(struct stsm_store *store, const struct stsm_flash_area *area);

/**
 * Finds the newest version of `key`: STSM_OK with `*data` pointing into the area (valid
 * until the next put or delete, which may reclaim its page) and `*len`, or
 * STSM_ERR_NOT_FOUND.
 */
stsm_status_t stsm_store_get(const struct stsm_store *store, uint32_t key, const uint8_t **data, size_t *len);

/**
 * Stores `len` bytes of `data` (which must not point into the area) as the new version of
 * `key`, atomically with respect to power loss. STSM_ERR_ARGUMENT for key 0 or
 * 0xFFFFFFFF, NULL data with len > 0, or data inside the area (a reclaim could erase it:
 * copy a stored value to RAM first); STSM_ERR_CAPACITY when `len` exceeds
 * stsm_store_record_max(); STSM_ERR_FULL when the area or the index has no room for it
 * (nothing changed); STSM_ERR_IO when the device fails (the previous version stays).
 * A put is accepted only if it leaves room for STSM_STORE_DELETE_RESERVE deletes after
 * it, so that deleting, which is how room comes back, is not refused for want of room.
 * After STSM_ERR_IO the next put or delete mounts the store again first (RAM and flash
 * may disagree; a failing mount is returned and tried again at the next call); until a
 * mount succeeds stsm_store_fits() says false and the index may be empty.
 */
stsm_status_t stsm_store_put(struct stsm_store *store, uint32_t key, const void *data, size_t len);

/** One part of a record's data (stsm_store_put_pieces). */
struct stsm_store_piece {
    const void *data;
    size_t len;
};

/**
 * As stsm_store_put(), with the data given in `count` pieces that are stored one after
 * the other as one record (so a caller need not assemble it in RAM first). The same rules
 * apply to each piece (none may point into the area) and to their total length.
 */
stsm_status_t stsm_store_put_pieces(struct stsm_store *store, uint32_t key, const struct stsm_store_piece *pieces,
                                   size_t count);

/** Removes `key` (a tombstone record), atomically with respect to power loss.
 *  STSM_ERR_NOT_FOUND when it is not there, STSM_ERR_IO as for put. STSM_ERR_FULL is
 *  possible in principle (the store planned room for STSM_STORE_DELETE_RESERVE deletes
 *  after the last put); test_store deletes every key of filled stores without it. */
stsm_status_t stsm_store_delete(struct stsm_store *store, uint32_t key);

/** True exactly when stsm_store_put(store, key, any data, len) would return STSM_OK now
 *  (bar a device error). */
bool stsm_store_fits(const struct stsm_store *store, uint32_t key, size_t len);

/** Number of live keys, and the key at index `i` (0 <= i < count, in no set order). */
size_t stsm_store_count(const struct stsm_store *store);
uint32_t stsm_store_key_at(const struct stsm_store *store, size_t i);

/** Counters since mount. */
const struct stsm_store_stats *stsm_store_stats(const struct stsm_store *store);

#endif /* STSM_STORE_H */
