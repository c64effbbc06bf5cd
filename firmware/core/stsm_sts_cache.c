#include "stsm_sts_cache.h"

#include <string.h>

#include "stsm_crc32.h"
#include "stsm_cursor.h"
#include "stsm_dns.h"
#include "stsm_wipe.h"

/* 02: each policy also stores mx_dropped. A blob of another version is refused as a
 * whole (its layout differs), never read field by field. */
#define MAGIC "STSMSC02"

void stsm_sts_cache_init(struct stsm_sts_cache *cache)
{
    /* Tens of kilobytes, usually a fresh static: what is zero already is left unwritten. */
    stsm_zero(cache, sizeof *cache);
}

static struct stsm_sts_cache_entry *find(struct stsm_sts_cache *cache, const char *domain)
{
    for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        if (cache->entries[i].used && stsm_dns_name_equal(cache->entries[i].domain, domain)) {
            return &cache->entries[i];
        }
    }
    return NULL;
}

static bool in_force(const struct stsm_sts_cache_entry *e, int64_t now)
{
    return e->policy.max_age > 0 && now < e->fetched_at + (int64_t)e->policy.max_age && now >= e->fetched_at;
}

const struct stsm_sts_cache_entry *stsm_sts_cache_get(struct stsm_sts_cache *cache, const char *domain,
                                                      int64_t now)
{
    struct stsm_sts_cache_entry *e = find(cache, domain);
    if (e == NULL || !in_force(e, now)) {
        return NULL;
    }
    e->last_used = now;
    return e;
}

/* An entry that holds no policy, only the back-off of a failed fetch: put() never
 * stores a policy with max_age 0. */
static bool is_failure_marker(const struct stsm_sts_cache_entry *e)
{
    return e->policy.max_age == 0;
}

/* The least recently used entry, among failure markers only or among all; NULL if none. */
static struct stsm_sts_cache_entry *least_recent(struct stsm_sts_cache *cache, bool markers_only)
{
    struct stsm_sts_cache_entry *oldest = NULL;
    for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        struct stsm_sts_cache_entry *e = &cache->entries[i];
        if ((!markers_only || is_failure_marker(e)) && (oldest == NULL || e->last_used < oldest->last_used)) {
            oldest = e;
        }
    }
    return oldest;
}

/*
 * A slot for a new domain: a free one, else the least recently used failure marker. A
 * policy may then evict the least recently used policy; a failure marker may not (it
 * would let failing fetches, which an attacker can cause, flush enforce policies out).
 * NULL when nothing may be taken.
 */
static struct stsm_sts_cache_entry *free_slot(struct stsm_sts_cache *cache, bool for_policy)
{
    for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        if (!cache->entries[i].used) {
            return &cache->entries[i];
        }
    }
    struct stsm_sts_cache_entry *e = least_recent(cache, true);
    if (e == NULL && for_policy) {
        e = least_recent(cache, false);
    }
    return e;
}

static bool fits(const char *src, size_t cap)
{
    return strlen(src) < cap;   /* a cut name is another name: one that does not fit is refused */
}

/* Copies `src`, which fits() `dst`. */
static void copy(char *dst, const char *src)
{
    memcpy(dst, src, strlen(src) + 1);
}

/* Makes `e` a fresh entry of `domain`, used at `now`. */
static void claim(struct stsm_sts_cache_entry *e, const char *domain, int64_t now)
{
    stsm_zero(e, sizeof *e);   /* an entry is mostly the policy's rows: see stsm_sts_policy_copy() */
    e->used = true;
    copy(e->domain, domain);
    e->last_used = now;
}

void stsm_sts_cache_put(struct stsm_sts_cache *cache, const char *domain, const char *id,
                        const struct stsm_sts_policy *policy, int64_t now)
{
    struct stsm_sts_cache_entry *e = find(cache, domain);
    if (policy->max_age == 0) {
        if (e != NULL) {
            memset(e, 0, sizeof *e);   /* "apply now, do not cache" replaces what was */
        }
        return;
    }
    if (!fits(domain, sizeof e->domain) || !fits(id, sizeof e->id)) {
        return;   /* callers pass bounded names and ids: cannot happen */
    }
    if (e == NULL) {
        e = free_slot(cache, true);
    }
    claim(e, domain, now);
    copy(e->id, id);
    e->fetched_at = now;
    stsm_sts_policy_copy(&e->policy, policy);
}

void stsm_sts_cache_fetch_failed(struct stsm_sts_cache *cache, const char *domain, const char *id,
                                 int64_t now)
{
    struct stsm_sts_cache_entry *e = find(cache, domain);
    if (!fits(domain, sizeof e->domain) || !fits(id, sizeof e->failed_id)) {
        return;
    }
    if (e == NULL) {
        /* Remember the failure even without a policy, in a slot of its own, unless only
         * policies hold the slots: then the back-off is forgone, the policies stay. */
        e = free_slot(cache, false);
        if (e == NULL) {
            return;
        }
        claim(e, domain, now);
    }
    copy(e->failed_id, id);
    e->failed_at = now;
}

bool stsm_sts_cache_may_fetch(const struct stsm_sts_cache *cache, const char *domain, const char *id,
                              int64_t now)
{
    for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        const struct stsm_sts_cache_entry *e = &cache->entries[i];
        if (e->used && stsm_dns_name_equal(e->domain, domain) && strcmp(e->failed_id, id) == 0 &&
            e->failed_id[0] != '\0' && now >= e->failed_at && now - e->failed_at < STSM_STS_FETCH_BACKOFF_S) {
            return false;
        }
    }
    return true;
}

bool stsm_sts_cache_refresh_due(const struct stsm_sts_cache_entry *e, int64_t now)
{
    /* A per-domain offset (FNV-1a of the name) spreads the refreshes out. */
    uint32_t h = 2166136261u;
    for (const char *c = e->domain; *c != '\0'; c++) {
        char l = *c >= 'A' && *c <= 'Z' ? (char)(*c - 'A' + 'a') : *c;
        h = (h ^ (uint8_t)l) * 16777619u;
    }
    return now - e->fetched_at >= (int64_t)(STSM_STS_REFRESH_S + h % STSM_STS_REFRESH_SPREAD_S);
}

enum stsm_sts_step stsm_sts_cache_decide(struct stsm_sts_cache *cache, const char *domain, bool txt_ok,
                                         const char *id, int64_t now,
                                         const struct stsm_sts_cache_entry **cached)
{
    *cached = stsm_sts_cache_get(cache, domain, now);
    /* A policy cached under the record's id is fetched again only once its refresh is
     * due; any other is fetched unless a failed fetch under this id backs off. */
    bool same = txt_ok && *cached != NULL && strcmp((*cached)->id, id) == 0;
    if (txt_ok && (!same || stsm_sts_cache_refresh_due(*cached, now)) && stsm_sts_cache_may_fetch(cache, domain, id, now)) {
        return STSM_STS_FETCH;
    }
    return *cached != NULL ? STSM_STS_USE_CACHED : STSM_STS_NO_POLICY;
}

/* ---- persistence -------------------------------------------------------------------- */

/* A piece written to the store as it is serialised, without a buffer for the whole of
 * it: the entry's texts are passed where they lie, the few bytes around them (lengths,
 * numbers, magic, CRC) are gathered in `scratch`. Per entry: the magic run and the runs
 * after each of the three texts, one before each pattern but the first, the CRC; and the
 * texts. */
#define GATHER_PIECES (2 * STSM_STS_MAX_MX + 7)
#define GATHER_SCRATCH (64 + STSM_STS_MAX_MX)

struct gather {
    struct stsm_store_piece piece[GATHER_PIECES];
    size_t count;
    bool scratch_last;   /* the last piece ends where the scratch's used part does */
    size_t used;
    uint8_t scratch[GATHER_SCRATCH];
};

/* Serialised bytes go to a buffer, or (p == NULL) only into a running CRC and, when `g`
 * is set, into its pieces. */
struct out {
    uint8_t *p;
    size_t cap, len;
    bool full;
    bool with_lru;   /* include the LRU stamps */
    bool refused;    /* an entry holds what load() would refuse: store nothing */
    uint32_t crc;
    struct gather *g;
};

/* `stable`: `b` outlives the write (an entry's text), so a piece may point at it. */
static void gather(struct out *o, const void *b, size_t n, bool stable)
{
    struct gather *g = o->g;
    if (n == 0) {
        return;
    }
    if (!stable) {
        if (n > sizeof g->scratch - g->used) {
            o->full = true;
            return;
        }
        memcpy(g->scratch + g->used, b, n);
        b = g->scratch + g->used;
        g->used += n;
        if (g->scratch_last) {
            g->piece[g->count - 1].len += n;
            return;
        }
    }
    if (g->count == GATHER_PIECES) {
        o->full = true;
        return;
    }
    g->piece[g->count++] = (struct stsm_store_piece){ b, n };
    g->scratch_last = !stable;
}

static void put_raw(struct out *o, const void *b, size_t n, bool stable)
{
    if (o->p == NULL) {
        o->crc = stsm_crc32(o->crc, b, n);
        if (o->g != NULL) {
            gather(o, b, n, stable);
        }
        return;
    }
    if (o->full || n > o->cap - o->len) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, b, n);
    o->len += n;
}

/* Not inlined: one call at each of its many uses is smaller than put_raw() there. */
__attribute__((noinline)) static void put_bytes(struct out *o, const void *b, size_t n)
{
    put_raw(o, b, n, false);
}

static void put_u32(struct out *o, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    put_bytes(o, b, 4);
}

static void put_i64(struct out *o, int64_t v)
{
    put_u32(o, (uint32_t)((uint64_t)v >> 32));
    put_u32(o, (uint32_t)v);
}

/* A string field of `cap` bytes: its length must leave room for the NUL that load()
 * writes into the same field (and fit the length byte). A field without a NUL, or one
 * too long, is refused rather than cut, and nothing past `cap` is read. */
static void put_str(struct out *o, const char *s, size_t cap)
{
    const char *nul = memchr(s, '\0', cap);
    size_t n = nul != NULL ? (size_t)(nul - s) : cap;
    if (n >= cap || n > UINT8_MAX) {
        o->refused = true;
        return;
    }
    uint8_t len = (uint8_t)n;
    put_bytes(o, &len, 1);
    put_raw(o, s, n, true);
}

/* What read_entry() would refuse, apart from the strings put_str() checks. */
static bool storable(const struct stsm_sts_cache_entry *e)
{
    const struct stsm_sts_policy *p = &e->policy;
    if (e->domain[0] == '\0' || p->mode > STSM_STS_MODE_ENFORCE || p->max_age > STSM_STS_MAX_AGE_LIMIT ||
        p->mx_count > STSM_STS_MAX_MX) {
        return false;
    }
#if SIZE_MAX > UINT32_MAX
    if (p->mx_dropped > UINT32_MAX) {
        return false;   /* stored in 32 bits; a parsed policy drops at most a few thousand */
    }
#endif
    /* The pool read only within `mx_len`: exactly `mx_count` valid patterns, each with its
     * NUL, filling it. */
    if (p->mx_len > sizeof p->mx_text) {
        return false;
    }
    size_t at = 0;
    for (size_t k = 0; k < p->mx_count; k++) {
        const char *nul = memchr(p->mx_text + at, '\0', p->mx_len - at);
        size_t n = nul != NULL ? (size_t)(nul - (p->mx_text + at)) : 0;
        if (nul == NULL || n > UINT8_MAX || !stsm_sts_mx_pattern_valid(p->mx_text + at, n)) {
            return false;
        }
        at += n + 1;
    }
    return at == p->mx_len;
}

static void serialise(const struct stsm_sts_cache_entry *entries, size_t n, struct out *o)
{
    uint32_t count = 0;
    for (size_t i = 0; i < n; i++) {
        count += entries[i].used;
    }
    put_bytes(o, MAGIC, 8);
    put_u32(o, count);
    for (size_t i = 0; i < n; i++) {
        const struct stsm_sts_cache_entry *e = &entries[i];
        if (!e->used) {
            continue;
        }
        put_str(o, e->domain, sizeof e->domain);
        put_str(o, e->id, sizeof e->id);
        put_i64(o, e->fetched_at);
        put_i64(o, o->with_lru ? e->last_used : 0);
        put_str(o, e->failed_id, sizeof e->failed_id);
        put_i64(o, e->failed_at);
        if (o->refused || !storable(e)) {
            o->refused = true;
            return;
        }
        uint8_t mode = (uint8_t)e->policy.mode, mx = (uint8_t)e->policy.mx_count;
        put_bytes(o, &mode, 1);
        put_u32(o, e->policy.max_age);
        put_bytes(o, &mx, 1);
        put_u32(o, (uint32_t)e->policy.mx_dropped);
        for (const char *m = stsm_sts_policy_mx_first(&e->policy); m != NULL;
             m = stsm_sts_policy_mx_next(&e->policy, m)) {
            put_str(o, m, strlen(m) + 1);   /* storable(): the NUL is there */
        }
    }
}

static size_t save(const struct stsm_sts_cache_entry *entries, size_t n, uint8_t *data, size_t cap)
{
    struct out o = { data, cap, 0, false, true, false, 0, NULL };
    serialise(entries, n, &o);
    put_u32(&o, stsm_crc32(0, data, o.full ? 0 : o.len));
    return o.full || o.refused ? 0 : o.len;
}

size_t stsm_sts_cache_save(const struct stsm_sts_cache *cache, uint8_t *data, size_t cap)
{
    return save(cache->entries, STSM_STS_CACHE_ENTRIES, data, cap);
}

size_t stsm_sts_cache_piece_save(const struct stsm_sts_cache_entry *e, uint8_t *data, size_t cap)
{
    return e->used ? save(e, 1, data, cap) : 0;
}

static uint32_t digest(const struct stsm_sts_cache_entry *entries, size_t n)
{
    struct out o = { NULL, 0, 0, false, false, false, 0, NULL };
    serialise(entries, n, &o);
    return o.crc;
}

uint32_t stsm_sts_cache_digest(const struct stsm_sts_cache *cache)
{
    return digest(cache->entries, STSM_STS_CACHE_ENTRIES);
}

uint32_t stsm_sts_cache_piece_digest(const struct stsm_sts_cache_entry *e)
{
    return digest(e, 1);
}

/* A NUL inside the text would cut it short where it is read: refused (save() never
 * writes one), so what loads is exactly what was stored. */
static bool get_str(struct stsm_cursor *c, char *out, size_t cap)
{
    uint8_t n;
    if (!stsm_cursor_u8(c, &n) || n >= cap || !stsm_cursor_bytes(c, out, n) || memchr(out, '\0', n) != NULL) {
        return false;
    }
    out[n] = '\0';
    return true;
}

static bool get_i64(struct stsm_cursor *c, int64_t *v)
{
    uint32_t hi, lo;
    if (!stsm_cursor_u32(c, &hi) || !stsm_cursor_u32(c, &lo)) {
        return false;
    }
    *v = (int64_t)(((uint64_t)hi << 32) | lo);
    return true;
}

static bool read_entry(struct stsm_cursor *c, struct stsm_sts_cache_entry *e)
{
    uint8_t mode, mx;
    uint32_t mx_dropped;
    memset(e, 0, sizeof *e);
    e->used = true;
    if (!get_str(c, e->domain, sizeof e->domain) || !get_str(c, e->id, sizeof e->id) ||
        !get_i64(c, &e->fetched_at) || !get_i64(c, &e->last_used) ||
        !get_str(c, e->failed_id, sizeof e->failed_id) || !get_i64(c, &e->failed_at) ||
        !stsm_cursor_u8(c, &mode) || !stsm_cursor_u32(c, &e->policy.max_age) || !stsm_cursor_u8(c, &mx) ||
        !stsm_cursor_u32(c, &mx_dropped) || mode > STSM_STS_MODE_ENFORCE || e->policy.max_age > STSM_STS_MAX_AGE_LIMIT || mx > STSM_STS_MAX_MX ||
        e->domain[0] == '\0') {
        return false;
    }
    e->policy.mode = (enum stsm_sts_mode)mode;
    e->policy.mx_dropped = mx_dropped;
    /* Each pattern is read into the pool's free end; one that does not fit (a piece from a
     * build with a larger pool) refuses the entry rather than cut it. */
    for (size_t k = 0; k < mx; k++) {
        struct stsm_sts_policy *p = &e->policy;
        char *at = p->mx_text + p->mx_len;
        if (!get_str(c, at, sizeof p->mx_text - p->mx_len) || !stsm_sts_mx_pattern_valid(at, strlen(at))) {
            return false;
        }
        p->mx_len += strlen(at) + 1;
        p->mx_count++;
    }
    return true;
}

/* A blob of at least `min` and at most `n` entries into `entries` (n of them), or
 * nothing: on refusal every one of them is left unused. */
static stsm_status_t decode(struct stsm_sts_cache_entry *entries, size_t n, uint32_t min, const uint8_t *data,
                            size_t len)
{
    struct stsm_cursor c;
    uint32_t count, crc;
    stsm_zero(entries, n * sizeof *entries);
    if (len < 16 || memcmp(data, MAGIC, 8) != 0) {
        return STSM_ERR_CORRUPT;
    }
    stsm_cursor_init(&c, data, len - 4);
    stsm_cursor_skip(&c, 8);
    struct stsm_cursor tail;
    stsm_cursor_init(&tail, data + len - 4, 4);
    stsm_cursor_u32(&tail, &crc);
    if (crc != stsm_crc32(0, data, len - 4) || !stsm_cursor_u32(&c, &count) || count > n || count < min) {
        return STSM_ERR_CORRUPT;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (!read_entry(&c, &entries[i])) {
            stsm_zero(entries, n * sizeof *entries);
            return STSM_ERR_CORRUPT;
        }
    }
    if (stsm_cursor_remaining(&c) != 0) {
        stsm_zero(entries, n * sizeof *entries);
        return STSM_ERR_CORRUPT;
    }
    return STSM_OK;
}

stsm_status_t stsm_sts_cache_load(struct stsm_sts_cache *cache, const uint8_t *data, size_t len)
{
    return decode(cache->entries, STSM_STS_CACHE_ENTRIES, 0, data, len);
}

stsm_status_t stsm_sts_cache_piece_load(struct stsm_sts_cache_entry *e, const uint8_t *data, size_t len)
{
    return decode(e, 1, 1, data, len);
}

/* ---- pieces in a flash store --------------------------------------------------------- */

size_t stsm_sts_cache_flash_load(struct stsm_sts_cache *cache, struct stsm_sts_cache_flash *flash,
                                 struct stsm_store *store, size_t *dropped)
{
    size_t loaded = 0, left_out = 0;
    stsm_sts_cache_init(cache);
    memset(flash, 0, sizeof *flash);
    flash->store = store;
    /* A piece of a slot this build lacks would never be rewritten nor deleted otherwise. A
     * delete moves another key to index i, so i is looked at again. */
    for (size_t i = 0; i < stsm_store_count(store);) {
        uint32_t key = stsm_store_key_at(store, i);
        if ((key & 0xFF000000u) == STSM_STS_CACHE_KEY_TYPE && (key & 0x00FFFFFFu) >= STSM_STS_CACHE_ENTRIES &&
            stsm_store_delete(store, key) == STSM_OK) {
            left_out++;
            continue;
        }
        i++;
    }
    for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        struct stsm_sts_cache_entry *e = &cache->entries[i];
        const uint8_t *data;
        size_t len;
        if (stsm_store_get(store, STSM_STS_CACHE_KEY(i), &data, &len) != STSM_OK) {
            continue;
        }
        flash->held[i] = true;   /* whatever it holds, a sync replaces or deletes it */
        if (stsm_sts_cache_piece_load(e, data, len) != STSM_OK) {
            left_out++;
            continue;
        }
        /* Two slots of one domain: a sync wrote the new slot and was cut before the old
         * was emptied. The later fetch is the one in force. */
        struct stsm_sts_cache_entry *twin = find(cache, e->domain);
        if (twin != e) {
            struct stsm_sts_cache_entry *older = twin->fetched_at >= e->fetched_at ? e : twin;
            stsm_zero(older, sizeof *older);
            left_out++;
            if (older == twin) {
                loaded--;
            }
        }
        loaded += e->used;
    }
    for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        flash->digest[i] = stsm_sts_cache_piece_digest(&cache->entries[i]);
    }
    if (dropped != NULL) {
        *dropped = left_out;
    }
    return loaded;
}

/* Writes the piece of `e` under `key` from the entry itself (no piece-sized buffer).
 * STSM_ERR_CAPACITY for an entry save() would refuse. */
static stsm_status_t put_piece(struct stsm_store *store, uint32_t key, const struct stsm_sts_cache_entry *e)
{
    struct gather g;
    g.count = 0;
    g.used = 0;
    g.scratch_last = false;
    struct out o = { NULL, 0, 0, false, true, false, 0, &g };
    serialise(e, 1, &o);
    put_u32(&o, o.crc);
    if (o.full || o.refused) {
        return STSM_ERR_CAPACITY;
    }
    return stsm_store_put_pieces(store, key, g.piece, g.count);
}

stsm_status_t stsm_sts_cache_flash_sync(const struct stsm_sts_cache *cache, struct stsm_sts_cache_flash *flash,
                                        size_t *written)
{
    stsm_status_t first = STSM_OK;
    size_t n = 0;
    for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        const struct stsm_sts_cache_entry *e = &cache->entries[i];
        uint32_t d = stsm_sts_cache_piece_digest(e);
        /* A held piece of a slot now empty (or one that did not decode) is deleted. */
        if (flash->held[i] ? e->used && d == flash->digest[i] : !e->used) {
            continue;
        }
        stsm_status_t st = STSM_OK;
        bool stored = false, gone = false;
        if (e->used) {
            st = put_piece(flash->store, STSM_STS_CACHE_KEY(i), e);
            stored = st == STSM_OK;
        }
        if (!e->used || st == STSM_ERR_CAPACITY) {
            /* Emptied, or too big for the store (cannot happen with records of
             * STSM_STS_CACHE_PIECE_MAX): either way the old piece must not come back at
             * the next boot. */
            stsm_status_t del = stsm_store_delete(flash->store, STSM_STS_CACHE_KEY(i));
            gone = del == STSM_OK || del == STSM_ERR_NOT_FOUND;
            n += del == STSM_OK;
            st = gone ? st : del;
        }
        if (stored || gone) {
            flash->held[i] = stored;
            flash->digest[i] = d;
            n += stored;
        }
        if (first == STSM_OK) {
            first = st;
        }
    }
    if (written != NULL) {
        *written = n;
    }
    return first;
}
