#include "stsm_store.h"

#include <string.h>

#include "stsm_crc32.h"

/*
 * On flash, every field big-endian:
 *   page header (16): magic "STPG", page sequence, page size, CRC-32 of the first 12 bytes
 *   record header (20): magic "SR", kind, format version, key, record sequence, data
 *     length, CRC-32 of the first 16 bytes and the data; then the data, padded with
 *     unprogrammed bytes to a multiple of 4.
 * A marker record (kind 3) carries in its key field a page sequence S: every page whose
 * sequence is S or lower is obsolete, even if an interrupted erase left part of it.
 */
#define PAGE_MAGIC 0x53545047u
#define RECORD_MAGIC 0x5352u
#define RECORD_VERSION 1u
#define PAGE_HEADER 16u
#define RECORD_HEADER 20u
#define MARKER_SIZE RECORD_HEADER
#define PAGE_MIN 64u
#define COPY_CHUNK 128u

enum record_kind { KIND_VALUE = 1, KIND_TOMBSTONE = 2, KIND_MARKER = 3 };

struct record {
    uint8_t kind;
    uint32_t key;
    uint32_t seq;
    uint32_t len;
    size_t data;                     /* offset of the data in the area */
};

/* Where a walk over one page's records stands. */
struct walk {
    size_t page;
    size_t off;                      /* in the page */
    bool torn;                       /* ended on something that is not a whole record */
};

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t record_size(size_t len)
{
    return (RECORD_HEADER + len + 3u) & ~(size_t)3u;
}

static bool key_valid(uint32_t key)
{
    return key != STSM_STORE_KEY_NONE && key != 0xFFFFFFFFu;
}

static bool geometry_ok(const struct stsm_flash_area *area)
{
    return area != NULL && area->base != NULL && area->erase != NULL && area->program != NULL &&
           area->page_size >= PAGE_MIN && area->page_size % 4u == 0 && area->size % area->page_size == 0 &&
           area->size / area->page_size >= 3 && area->size / area->page_size <= STSM_STORE_PAGES_MAX &&
           area->size <= 0xFFFFFFFFu;
}

size_t stsm_store_record_max(const struct stsm_flash_area *area)
{
    if (!geometry_ok(area)) {
        return 0;
    }
    /* An empty page takes the record and still has room for a reclaim's marker. */
    size_t max = area->page_size - PAGE_HEADER - MARKER_SIZE - RECORD_HEADER;
    return max > 0xFFFFu ? 0xFFFFu : max;
}

static bool all_erased(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0xFF) {
            return false;
        }
    }
    return true;
}

/* The page's sequence number, or 0 when it has no valid header for this geometry. */
static uint32_t page_header_seq(const struct stsm_flash_area *area, size_t page)
{
    const uint8_t *h = area->base + page * area->page_size;
    if (get_u32(h) != PAGE_MAGIC || get_u32(h + 8) != area->page_size ||
        get_u32(h + 12) != stsm_crc32(0, h, 12)) {
        return 0;
    }
    return get_u32(h + 4);
}

static void walk_start(struct walk *w, size_t page)
{
    w->page = page;
    w->off = PAGE_HEADER;
    w->torn = false;
}

/* The next whole record of the page into `r`; false at the end of the written part (or
 * at damage, with w->torn set: a record cut short hides where the next would start). */
static bool walk_next(const struct stsm_store *s, struct walk *w, struct record *r)
{
    size_t ps = s->area->page_size, start = w->page * ps;
    if (w->off + RECORD_HEADER > ps) {
        return false;
    }
    const uint8_t *h = s->area->base + start + w->off;
    if (all_erased(h, RECORD_HEADER)) {
        return false;
    }
    r->len = get_u32(h + 12);
    if (h[0] != (uint8_t)(RECORD_MAGIC >> 8) || h[1] != (uint8_t)RECORD_MAGIC || h[3] != RECORD_VERSION ||
        r->len > ps - w->off - RECORD_HEADER ||
        get_u32(h + 16) != stsm_crc32(stsm_crc32(0, h, 16), h + RECORD_HEADER, r->len)) {
        w->torn = true;
        return false;
    }
    r->kind = h[2];
    r->key = get_u32(h + 4);
    r->seq = get_u32(h + 8);
    r->data = start + w->off + RECORD_HEADER;
    w->off += record_size(r->len);
    return true;
}

static struct stsm_store_slot *find_slot(const struct stsm_store *s, uint32_t key)
{
    for (size_t i = 0; i < s->slot_count; i++) {
        if (s->slots[i].key == key) {
            return (struct stsm_store_slot *)&s->slots[i];
        }
    }
    return NULL;
}

/* Points `key` at a new version; false when the index is full. */
static bool set_slot(struct stsm_store *s, uint32_t key, uint32_t offset, size_t len)
{
    struct stsm_store_slot *slot = find_slot(s, key);
    if (slot == NULL) {
        if (s->slot_count == STSM_STORE_KEYS_MAX) {
            return false;
        }
        slot = &s->slots[s->slot_count++];
        slot->key = key;
    } else {
        s->live_bytes -= record_size(slot->len);
    }
    slot->offset = offset;
    slot->len = (uint16_t)len;
    s->live_bytes += record_size(len);
    return true;
}

static void drop_slot(struct stsm_store *s, uint32_t key)
{
    struct stsm_store_slot *slot = find_slot(s, key);
    if (slot != NULL) {
        s->live_bytes -= record_size(slot->len);
        *slot = s->slots[--s->slot_count];
    }
}

static size_t free_pages(const struct stsm_store *s)
{
    size_t n = 0;
    for (size_t p = 0; p < s->pages; p++) {
        n += s->page_seq[p] == 0;
    }
    return n;
}

static size_t oldest_page(const struct stsm_store *s)
{
    size_t oldest = s->pages;
    for (size_t p = 0; p < s->pages; p++) {
        if (s->page_seq[p] != 0 && (oldest == s->pages || s->page_seq[p] < s->page_seq[oldest])) {
            oldest = p;
        }
    }
    return oldest;
}

/* Where records may end in the head page. The last MARKER_SIZE bytes are kept for a
 * reclaim's marker until the page holds that much that no reclaim copies (tombstones,
 * markers): then its live records fit a fresh page with a marker anyway. */
static size_t head_limit(const struct stsm_store *s)
{
    return s->area->page_size - (s->head_dead >= MARKER_SIZE ? 0 : MARKER_SIZE);
}

static bool head_fits(const struct stsm_store *s, size_t size, size_t limit)
{
    return s->head_page < s->pages && s->head_offset <= limit && size <= limit - s->head_offset;
}

/* Programs `len` bytes and reads them back through the mapping. */
static bool program(struct stsm_store *s, size_t at, const uint8_t *data, size_t len)
{
    const struct stsm_flash_area *a = s->area;
    s->stats.programs++;
    return a->program(a->ctx, at, data, len) && memcmp(a->base + at, data, len) == 0;
}

/* Data that lies in the area itself (a reclaim's copy) goes through RAM: not every part
 * can read its flash while programming it. */
static bool in_area(const struct stsm_store *s, const void *data)
{
    uintptr_t p = (uintptr_t)data, base = (uintptr_t)s->area->base;
    return p >= base && p < base + s->area->size;
}

/* Programs the pieces one after the other from `at`. Small pieces are gathered in a RAM
 * chunk so that a record made of many short fields costs few program calls (each one a
 * write and a sync on the host); a long piece from RAM is programmed as it is. */
static bool program_pieces(struct stsm_store *s, size_t at, const struct stsm_store_piece *pieces, size_t count)
{
    uint8_t chunk[COPY_CHUNK];
    size_t fill = 0;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *p = pieces[i].data;
        size_t len = pieces[i].len;
        if (len >= COPY_CHUNK && !in_area(s, p)) {
            if ((fill > 0 && !program(s, at, chunk, fill)) || !program(s, at + fill, p, len)) {
                return false;
            }
            at += fill + len;
            fill = 0;
            continue;
        }
        while (len > 0) {
            size_t n = len < COPY_CHUNK - fill ? len : COPY_CHUNK - fill;
            memcpy(chunk + fill, p, n);
            fill += n;
            p += n;
            len -= n;
            if (fill == COPY_CHUNK) {
                if (!program(s, at, chunk, fill)) {
                    return false;
                }
                at += fill;
                fill = 0;
            }
        }
    }
    return fill == 0 || program(s, at, chunk, fill);
}

/* Appends one record at the head (the caller checked that it fits). Data first, header
 * last: the header's CRC commits the record. */
static stsm_status_t append(struct stsm_store *s, uint8_t kind, uint32_t key, const struct stsm_store_piece *pieces,
                            size_t count, size_t len, uint32_t *data_offset)
{
    if (s->next_seq == 0xFFFFFFFFu) {
        return STSM_ERR_FULL;   /* sequence numbers used up: not in a device's lifetime */
    }
    size_t at = s->head_page * s->area->page_size + s->head_offset;
    if (!s->dry) {
        uint8_t h[RECORD_HEADER];
        h[0] = (uint8_t)(RECORD_MAGIC >> 8);
        h[1] = (uint8_t)RECORD_MAGIC;
        h[2] = kind;
        h[3] = RECORD_VERSION;
        put_u32(h + 4, key);
        put_u32(h + 8, s->next_seq);
        put_u32(h + 12, (uint32_t)len);
        uint32_t crc = stsm_crc32(0, h, 16);
        for (size_t i = 0; i < count; i++) {
            crc = stsm_crc32(crc, pieces[i].data, pieces[i].len);
        }
        put_u32(h + 16, crc);
        if (!program_pieces(s, at + RECORD_HEADER, pieces, count) || !program(s, at, h, sizeof h)) {
            return STSM_ERR_IO;
        }
        s->stats.records_written++;
    }
    if (data_offset != NULL) {
        *data_offset = (uint32_t)(at + RECORD_HEADER);
    }
    s->next_seq++;
    s->head_offset += record_size(len);
    s->head_dead += kind == KIND_VALUE ? 0 : record_size(len);
    return STSM_OK;
}

/* Erases page `page` (counted). */
static bool erase_page(struct stsm_store *s, size_t page)
{
    size_t ps = s->area->page_size;
    s->stats.erases++;
    return s->area->erase(s->area->ctx, page * ps, ps);
}

/* Makes a free page the head: erased first unless it reads blank, then its header. */
static stsm_status_t open_page(struct stsm_store *s)
{
    size_t ps = s->area->page_size, page = s->pages;
    for (size_t i = 1; i <= s->pages && page == s->pages; i++) {
        size_t p = (s->head_page < s->pages ? s->head_page + i : i - 1) % s->pages;
        page = s->page_seq[p] == 0 ? p : page;
    }
    if (page == s->pages || s->next_page_seq == 0xFFFFFFFFu) {
        return STSM_ERR_FULL;
    }
    if (!s->dry) {
        const struct stsm_flash_area *a = s->area;
        if (!all_erased(a->base + page * ps, ps)) {
            if (!erase_page(s, page) || !all_erased(a->base + page * ps, ps)) {
                return STSM_ERR_IO;
            }
        }
        uint8_t h[PAGE_HEADER];
        put_u32(h, PAGE_MAGIC);
        put_u32(h + 4, s->next_page_seq);
        put_u32(h + 8, (uint32_t)ps);
        put_u32(h + 12, stsm_crc32(0, h, 12));
        if (!program(s, page * ps, h, sizeof h)) {
            return STSM_ERR_IO;
        }
    }
    s->page_seq[page] = s->next_page_seq++;
    s->head_page = page;
    s->head_offset = PAGE_HEADER;
    s->head_dead = 0;
    return STSM_OK;
}

/*
 * Frees the oldest page: its live records (but `skip`, a key being deleted) are appended
 * again, then a marker declares the page obsolete, then it is erased. Without the marker
 * an erase cut short could leave an old version of a deleted key readable while the
 * tombstone that hid it, in the same page, is gone: the key would come back.
 * The copies fit: a page's live records fit in a fresh page with room for the marker
 * (head_limit), so a reclaim opens at most one page, the one kept free.
 */
static stsm_status_t reclaim(struct stsm_store *s, uint32_t skip)
{
    size_t ps = s->area->page_size, old = oldest_page(s);
    if (old == s->pages || old == s->head_page) {
        return STSM_ERR_FULL;
    }
    size_t start = old * ps;
    stsm_status_t st;
    for (size_t i = 0; i < s->slot_count; i++) {
        struct stsm_store_slot *slot = &s->slots[i];
        size_t size = record_size(slot->len);
        /* By its header: the data of an empty record at a page's end starts the next page. */
        size_t at = slot->offset - RECORD_HEADER;
        if (slot->key == skip || at < start || at >= start + ps) {
            continue;
        }
        if (!head_fits(s, size, head_limit(s)) && (st = open_page(s)) != STSM_OK) {
            return st;
        }
        if (!head_fits(s, size, head_limit(s))) {
            return STSM_ERR_FULL;
        }
        const struct stsm_store_piece copy = { s->area->base + slot->offset, slot->len };
        if ((st = append(s, KIND_VALUE, slot->key, &copy, 1, slot->len, &slot->offset)) != STSM_OK) {
            return st;
        }
    }
    if (!head_fits(s, MARKER_SIZE, ps) && (st = open_page(s)) != STSM_OK) {
        return st;
    }
    if (!head_fits(s, MARKER_SIZE, ps)) {
        return STSM_ERR_FULL;
    }
    if ((st = append(s, KIND_MARKER, s->page_seq[old], NULL, 0, 0, NULL)) != STSM_OK) {
        return st;
    }
    if (!s->dry && !erase_page(s, old)) {
        return STSM_ERR_IO;
    }
    s->page_seq[old] = 0;
    return STSM_OK;
}

/*
 * Appends one value or tombstone, reclaiming pages until it fits. One page is always
 * kept free for a reclaim to copy into. Reclaims are bounded: after a trip round the
 * ring every page has been compacted, so more would not find room.
 */
static stsm_status_t place(struct stsm_store *s, uint8_t kind, uint32_t key, const struct stsm_store_piece *pieces,
                           size_t count, size_t len, uint32_t skip, uint32_t *data_offset)
{
    size_t need = record_size(len);
    stsm_status_t st;
    for (size_t reclaims = 0;;) {
        if (head_fits(s, need, head_limit(s))) {
            return append(s, kind, key, pieces, count, len, data_offset);
        }
        if (free_pages(s) >= 2) {
            st = open_page(s);
        } else if (reclaims++ < 2 * s->pages) {
            st = reclaim(s, skip);
        } else {
            st = STSM_ERR_FULL;
        }
        if (st != STSM_OK) {
            return st;
        }
    }
}

/*
 * Runs an operation on a copy of the RAM state without touching the device: the real
 * run takes the same steps, so it cannot run out of room half-way. A put must also leave
 * room for STSM_STORE_DELETE_RESERVE tombstones after it, so that deleting (which frees
 * room) is never refused for want of room.
 */
static bool plan(const struct stsm_store *s, uint8_t kind, uint32_t key, size_t len)
{
    struct stsm_store sim = *s;
    uint32_t offset;
    sim.dry = true;
    if (place(&sim, kind, key, NULL, 0, len, kind == KIND_TOMBSTONE ? key : STSM_STORE_KEY_NONE, &offset) != STSM_OK) {
        return false;
    }
    if (kind == KIND_VALUE) {
        if (!set_slot(&sim, key, offset, len)) {
            return false;
        }
        for (unsigned i = 0; i < STSM_STORE_DELETE_RESERVE; i++) {
            if (place(&sim, KIND_TOMBSTONE, key, NULL, 0, 0, STSM_STORE_KEY_NONE, NULL) != STSM_OK) {
                return false;
            }
        }
    }
    return true;
}

/* Pages in the ring, oldest first (by sequence number, then by place: an insertion sort
 * over the pages in place order keeps ties in that order). */
static size_t ring_order(const struct stsm_store *s, uint8_t *order)
{
    size_t n = 0;
    for (size_t p = 0; p < s->pages; p++) {
        if (s->page_seq[p] == 0) {
            continue;
        }
        size_t i = n++;
        for (; i > 0 && s->page_seq[order[i - 1]] > s->page_seq[p]; i--) {
            order[i] = order[i - 1];
        }
        order[i] = (uint8_t)p;
    }
    return n;
}

static stsm_status_t mount(struct stsm_store *s, const struct stsm_flash_area *area)
{
    memset(s, 0, sizeof *s);
    if (!geometry_ok(area)) {
        return STSM_ERR_ARGUMENT;
    }
    s->area = area;
    s->pages = area->size / area->page_size;
    s->head_page = s->pages;
    size_t ps = area->page_size;
    uint32_t max_page_seq = 0, obsolete = 0, max_seq = 0;
    struct walk w;
    struct record r;

    for (size_t p = 0; p < s->pages; p++) {
        s->page_seq[p] = page_header_seq(area, p);
        max_page_seq = s->page_seq[p] > max_page_seq ? s->page_seq[p] : max_page_seq;
        for (walk_start(&w, p); s->page_seq[p] != 0 && walk_next(s, &w, &r);) {
            max_seq = r.seq > max_seq ? r.seq : max_seq;
            if (r.kind == KIND_MARKER && r.key > obsolete) {
                obsolete = r.key;
            }
        }
    }
    /* Pages a reclaim declared obsolete leave the ring; they are erased (again), whatever
     * an interrupted erase left in them, once the replay has succeeded. */
    for (size_t p = 0; p < s->pages; p++) {
        s->page_seq[p] = s->page_seq[p] <= obsolete ? 0 : s->page_seq[p];
    }
    uint8_t order[STSM_STORE_PAGES_MAX];
    size_t ring = ring_order(s, order);
    /* No free page: a reclaim was cut before its marker. The newest page then holds only
     * copies of records the oldest still has: drop it and the reclaim never happened. */
    if (ring == s->pages) {
        s->page_seq[order[--ring]] = 0;
    }
    /* Replaying pages oldest first, each in order, replays the writes in the order they
     * were made: the last version of a key read is its newest. */
    for (size_t i = 0; i < ring; i++) {
        size_t dead = 0;
        for (walk_start(&w, order[i]); walk_next(s, &w, &r);) {
            if (r.kind == KIND_VALUE && key_valid(r.key) && r.len <= stsm_store_record_max(area)) {
                if (!set_slot(s, r.key, (uint32_t)r.data, r.len)) {
                    return STSM_ERR_CAPACITY;
                }
                continue;
            }
            if (r.kind == KIND_TOMBSTONE) {
                drop_slot(s, r.key);
            } else if (r.kind != KIND_MARKER) {
                s->stats.records_skipped++;
            }
            dead += record_size(r.len);
        }
        s->stats.records_skipped += w.torn;
        if (i + 1 == ring) {
            /* Appending resumes only on a clean tail: never after garbage. */
            s->head_page = order[i];
            s->head_offset = !w.torn && all_erased(area->base + order[i] * ps + w.off, ps - w.off) ? w.off : ps;
            s->head_dead = dead;
        }
    }
    s->next_seq = max_seq == 0xFFFFFFFFu ? max_seq : max_seq + 1;
    max_page_seq = obsolete > max_page_seq ? obsolete : max_page_seq;
    s->next_page_seq = max_page_seq == 0xFFFFFFFFu ? max_page_seq : max_page_seq + 1;
    /* Only now, the replay done: a mount that fails leaves the flash as it found it. The
     * pages dropped above are those with a page header that left the ring. */
    for (size_t p = 0; p < s->pages; p++) {
        if (s->page_seq[p] == 0 && page_header_seq(area, p) != 0 && !erase_page(s, p)) {
            return STSM_ERR_IO;
        }
    }
    return STSM_OK;
}

stsm_status_t stsm_store_mount(struct stsm_store *store, const struct stsm_flash_area *area)
{
    stsm_status_t st = mount(store, area);
    if (st != STSM_OK) {
        memset(store, 0, sizeof *store);
    }
    return st;
}

/* After a device error RAM may disagree with flash: read flash again before writing. A
 * mount that fails too is tried again next time: the device may come back. */
static stsm_status_t writable(struct stsm_store *s)
{
    const struct stsm_flash_area *area = s->area;
    if (area == NULL) {
        return STSM_ERR_ARGUMENT;
    }
    stsm_status_t st = s->must_mount ? stsm_store_mount(s, area) : STSM_OK;
    if (st != STSM_OK) {
        s->area = area;
        s->must_mount = true;
    }
    return st;
}

stsm_status_t stsm_store_get(const struct stsm_store *store, uint32_t key, const uint8_t **data, size_t *len)
{
    const struct stsm_store_slot *slot = store->area != NULL && key_valid(key) ? find_slot(store, key) : NULL;
    if (slot == NULL) {
        return STSM_ERR_NOT_FOUND;
    }
    *data = store->area->base + slot->offset;
    *len = slot->len;
    return STSM_OK;
}

/* Appends a value or a tombstone once the plan shows it (and, for a value, its index
 * entry) fits; STSM_ERR_FULL, nothing changed, when not. */
static stsm_status_t write_record(struct stsm_store *s, uint8_t kind, uint32_t key,
                                  const struct stsm_store_piece *pieces, size_t count, size_t len)
{
    if (!plan(s, kind, key, len)) {
        return STSM_ERR_FULL;
    }
    uint32_t offset;
    stsm_status_t st = place(s, kind, key, pieces, count, len, kind == KIND_TOMBSTONE ? key : STSM_STORE_KEY_NONE,
                             &offset);
    if (st != STSM_OK) {
        s->must_mount = true;
        return st;
    }
    if (kind == KIND_VALUE) {
        set_slot(s, key, offset, len);   /* cannot fail: the plan added it */
    } else {
        drop_slot(s, key);
    }
    return STSM_OK;
}

stsm_status_t stsm_store_put_pieces(struct stsm_store *store, uint32_t key, const struct stsm_store_piece *pieces,
                                   size_t count)
{
    stsm_status_t st = writable(store);
    if (st != STSM_OK) {
        return st;
    }
    if (!key_valid(key) || (pieces == NULL && count > 0)) {
        return STSM_ERR_ARGUMENT;
    }
    size_t len = 0, max = stsm_store_record_max(store->area);
    bool too_long = false;
    uintptr_t base = (uintptr_t)store->area->base;
    for (size_t i = 0; i < count; i++) {
        uintptr_t from = (uintptr_t)pieces[i].data;
        size_t n = pieces[i].len;
        /* Data inside the area could be erased by the reclaim that makes room for it. */
        if ((from == 0 && n > 0) || (n > 0 && from < base + store->area->size && from + n > base)) {
            return STSM_ERR_ARGUMENT;
        }
        too_long |= n > max - len;
        len = too_long ? max : len + n;
    }
    return too_long ? STSM_ERR_CAPACITY : write_record(store, KIND_VALUE, key, pieces, count, len);
}

stsm_status_t stsm_store_put(struct stsm_store *store, uint32_t key, const void *data, size_t len)
{
    const struct stsm_store_piece piece = { data, len };
    return stsm_store_put_pieces(store, key, &piece, 1);
}

stsm_status_t stsm_store_delete(struct stsm_store *store, uint32_t key)
{
    stsm_status_t st = writable(store);
    if (st != STSM_OK) {
        return st;
    }
    if (!key_valid(key) || find_slot(store, key) == NULL) {
        return STSM_ERR_NOT_FOUND;
    }
    return write_record(store, KIND_TOMBSTONE, key, NULL, 0, 0);
}

bool stsm_store_fits(const struct stsm_store *store, uint32_t key, size_t len)
{
    return store->area != NULL && !store->must_mount && key_valid(key) && len <= stsm_store_record_max(store->area) &&
           plan(store, KIND_VALUE, key, len);
}

size_t stsm_store_count(const struct stsm_store *store)
{
    return store->slot_count;
}

uint32_t stsm_store_key_at(const struct stsm_store *store, size_t i)
{
    return i < store->slot_count ? store->slots[i].key : STSM_STORE_KEY_NONE;
}

const struct stsm_store_stats *stsm_store_stats(const struct stsm_store *store)
{
    return &store->stats;
}
