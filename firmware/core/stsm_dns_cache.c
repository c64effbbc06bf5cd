#include "stsm_dns_cache.h"

#include <string.h>

/* The head of an entry. Entries are byte-packed one after the other, so heads are
 * copied in and out with memcpy, never read in place. After the head come: chain[],
 * records[], extra[], the key's name (lower case, no trailing dot), the origin, the pool. */
struct entry_head {
    uint32_t stored_at;
    uint32_t ttl_ms;
    uint32_t used;            /* the cache's tick when last stored or served */
    uint32_t dropped;
    uint32_t cname_ttl;
    uint16_t size;            /* bytes of the whole entry */
    uint16_t type;
    uint16_t asked;
    uint16_t canonical;
    uint16_t pool_used;
    uint8_t name_len;
    uint8_t origin_len;
    uint8_t cname_hops;
    uint8_t outcome;
    uint8_t rcode;
    uint8_t count;
    uint8_t extra_count;
    uint8_t extra_incomplete;
};

_Static_assert(STSM_DNS_MAX_RECORDS <= 255 && STSM_DNS_MAX_EXTRA <= 255 &&
               STSM_DNS_MAX_CNAME_HOPS <= 255 && STSM_HOSTNAME_MAX <= 255,
               "entry heads count these in one byte");
_Static_assert(sizeof(struct entry_head) + STSM_DNS_MAX_CNAME_HOPS * 2 +
               (STSM_DNS_MAX_RECORDS + STSM_DNS_MAX_EXTRA) * sizeof(struct stsm_dns_record) +
               STSM_HOSTNAME_MAX + STSM_DNS_CACHE_ORIGIN_MAX + STSM_DNS_POOL_SIZE <= 0xFFFF,
               "an entry's size fits its head");

/* Lower case, no trailing dot: the form keys are stored and compared in. Returns the
 * length, or -1 for a name that cannot be a key. */
static int key_name(const char *name, char out[STSM_HOSTNAME_MAX])
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n > 0 && name[n - 1] == '.') {
        n--;
    }
    if (n == 0 || n > STSM_HOSTNAME_MAX) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    return (int)n;
}

/* Not inlined: a call is smaller than the copy at each of the head's readers. */
__attribute__((noinline)) static void head_at(const struct stsm_dns_cache *cache, size_t at, struct entry_head *h)
{
    memcpy(h, cache->bytes + at, sizeof *h);
}

/* Not inlined (as head_at()): the sum is smaller called than written out at each use. */
__attribute__((noinline)) static size_t name_offset(const struct entry_head *h)
{
    return sizeof *h + (size_t)h->cname_hops * sizeof(uint16_t) +
           ((size_t)h->count + h->extra_count) * sizeof(struct stsm_dns_record);
}

static bool expired(const struct entry_head *h, uint32_t now_ms)
{
    return (uint32_t)(now_ms - h->stored_at) >= h->ttl_ms;
}

static void remove_at(struct stsm_dns_cache *cache, size_t at, size_t size)
{
    memmove(cache->bytes + at, cache->bytes + at + size, cache->used - at - size);
    cache->used -= size;
}

/* Offset of the entry for (key, type), or -1. */
static long find(const struct stsm_dns_cache *cache, const char *key, int key_len, uint16_t type)
{
    for (size_t at = 0; at < cache->used;) {
        struct entry_head h;
        head_at(cache, at, &h);
        if (h.type == type && h.name_len == key_len &&
            memcmp(cache->bytes + at + name_offset(&h), key, (size_t)key_len) == 0) {
            return (long)at;
        }
        at += h.size;
    }
    return -1;
}

void stsm_dns_cache_clear(struct stsm_dns_cache *cache)
{
    memset(cache, 0, offsetof(struct stsm_dns_cache, bytes));
}

void stsm_dns_cache_expire(struct stsm_dns_cache *cache, uint32_t now_ms)
{
    for (size_t at = 0; at < cache->used;) {
        struct entry_head h;
        head_at(cache, at, &h);
        if (expired(&h, now_ms)) {
            remove_at(cache, at, h.size);
        } else {
            at += h.size;
        }
    }
}

size_t stsm_dns_cache_count(const struct stsm_dns_cache *cache)
{
    size_t n = 0;
    for (size_t at = 0; at < cache->used; n++) {
        struct entry_head h;
        head_at(cache, at, &h);
        at += h.size;
    }
    return n;
}

/* Not inlined: three uses, smaller as calls. */
__attribute__((noinline)) static uint32_t lower_ttl(uint32_t ttl, uint32_t record_ttl)
{
    if (record_ttl > 0x7FFFFFFFu) {
        record_ttl = 0;
    }
    return record_ttl < ttl ? record_ttl : ttl;
}

uint32_t stsm_dns_cache_ttl_s(const struct stsm_dns_answer *answer)
{
    uint32_t ttl;
    switch (answer->outcome) {
    case STSM_DNS_ANSWER:
        ttl = STSM_DNS_CACHE_TTL_MAX_S;
        break;
    case STSM_DNS_NODATA:
    case STSM_DNS_NXDOMAIN:
        ttl = STSM_DNS_CACHE_NEGATIVE_TTL_S < STSM_DNS_CACHE_TTL_MAX_S
                  ? STSM_DNS_CACHE_NEGATIVE_TTL_S : STSM_DNS_CACHE_TTL_MAX_S;
        break;
    default:
        return 0;
    }
    if (answer->cname_hops > 0) {
        ttl = lower_ttl(ttl, answer->cname_ttl);
    }
    for (size_t i = 0; i < answer->count && i < STSM_DNS_MAX_RECORDS; i++) {
        ttl = lower_ttl(ttl, answer->records[i].ttl);
    }
    for (size_t i = 0; i < answer->extra_count && i < STSM_DNS_MAX_EXTRA; i++) {
        ttl = lower_ttl(ttl, answer->extra[i].ttl);
    }
    return ttl;
}

/* Drops the least recently used entry. All are fresh: expired ones went first. */
static void evict_one(struct stsm_dns_cache *cache)
{
    size_t victim = 0, victim_size = 0;
    uint32_t oldest = 0;
    for (size_t at = 0; at < cache->used;) {
        struct entry_head h;
        head_at(cache, at, &h);
        uint32_t age = cache->tick - h.used;
        if (victim_size == 0 || age > oldest) {
            victim = at;
            victim_size = h.size;
            oldest = age;
        }
        at += h.size;
    }
    remove_at(cache, victim, victim_size);
    cache->evicted++;
}

bool stsm_dns_cache_put(struct stsm_dns_cache *cache, const char *name, uint16_t type,
                        const struct stsm_dns_answer *answer, const void *origin, size_t origin_len,
                        uint32_t now_ms)
{
    char key[STSM_HOSTNAME_MAX];
    int key_len = key_name(name, key);
    if (key_len < 0) {
        return false;
    }
    stsm_dns_cache_expire(cache, now_ms);
    long old = find(cache, key, key_len, type);
    if (old >= 0) {
        struct entry_head h;
        head_at(cache, (size_t)old, &h);
        remove_at(cache, (size_t)old, h.size);
    }
    uint32_t ttl_s = stsm_dns_cache_ttl_s(answer);
    if (ttl_s == 0 || origin_len > STSM_DNS_CACHE_ORIGIN_MAX || (origin_len > 0 && origin == NULL) ||
        answer->count > STSM_DNS_MAX_RECORDS || answer->extra_count > STSM_DNS_MAX_EXTRA ||
        answer->cname_hops > STSM_DNS_MAX_CNAME_HOPS || answer->pool_used > STSM_DNS_POOL_SIZE) {
        return false;
    }

    struct entry_head h = {
        .stored_at = now_ms,
        .ttl_ms = ttl_s * 1000u,
        .used = ++cache->tick,
        .dropped = answer->dropped > UINT32_MAX ? UINT32_MAX : (uint32_t)answer->dropped,
        .cname_ttl = answer->cname_ttl,
        .type = type,
        .asked = answer->asked,
        .canonical = answer->canonical,
        .pool_used = (uint16_t)answer->pool_used,
        .name_len = (uint8_t)key_len,
        .origin_len = (uint8_t)origin_len,
        .cname_hops = answer->cname_hops,
        .outcome = (uint8_t)answer->outcome,
        .rcode = answer->rcode,
        .count = (uint8_t)answer->count,
        .extra_count = (uint8_t)answer->extra_count,
        .extra_incomplete = answer->extra_incomplete,
    };
    size_t size = name_offset(&h) + (size_t)key_len + origin_len + answer->pool_used;
    if (size > sizeof cache->bytes || STSM_DNS_CACHE_BYTES == 0) {
        return false;
    }
    h.size = (uint16_t)size;
    while (cache->used + size > sizeof cache->bytes) {
        evict_one(cache);
    }

    uint8_t *p = cache->bytes + cache->used;
    memcpy(p, &h, sizeof h);
    p += sizeof h;
    memcpy(p, answer->chain, (size_t)h.cname_hops * sizeof(uint16_t));
    p += (size_t)h.cname_hops * sizeof(uint16_t);
    memcpy(p, answer->records, h.count * sizeof(struct stsm_dns_record));
    p += h.count * sizeof(struct stsm_dns_record);
    memcpy(p, answer->extra, h.extra_count * sizeof(struct stsm_dns_record));
    p += h.extra_count * sizeof(struct stsm_dns_record);
    memcpy(p, key, (size_t)key_len);
    p += key_len;
    if (origin_len > 0) {
        memcpy(p, origin, origin_len);
    }
    p += origin_len;
    memcpy(p, answer->pool, answer->pool_used);
    cache->used += size;
    cache->stored++;
    return true;
}

/* Not inlined: called twice, and smaller as a call (measured on the boards). */
__attribute__((noinline)) static void age_ttls(struct stsm_dns_record *records, size_t n, uint32_t held_s)
{
    for (size_t i = 0; i < n; i++) {
        records[i].ttl = records[i].ttl > held_s ? records[i].ttl - held_s : 0;
    }
}

bool stsm_dns_cache_get(struct stsm_dns_cache *cache, const char *name, uint16_t type,
                        uint32_t now_ms, struct stsm_dns_answer *out, void *origin,
                        size_t origin_cap)
{
    char key[STSM_HOSTNAME_MAX];
    int key_len = key_name(name, key);
    stsm_dns_cache_expire(cache, now_ms);
    long at = key_len < 0 ? -1 : find(cache, key, key_len, type);
    if (at < 0) {
        cache->misses++;
        return false;
    }
    struct entry_head h;
    head_at(cache, (size_t)at, &h);
    h.used = ++cache->tick;
    memcpy(cache->bytes + at, &h, sizeof h);

    memset(out, 0, offsetof(struct stsm_dns_answer, pool));
    out->outcome = (enum stsm_dns_outcome)h.outcome;
    out->rcode = h.rcode;
    out->type = h.type;
    out->asked = h.asked;
    out->canonical = h.canonical;
    out->cname_hops = h.cname_hops;
    out->cname_ttl = h.cname_ttl;
    out->count = h.count;
    out->dropped = h.dropped;
    out->extra_count = h.extra_count;
    out->extra_incomplete = h.extra_incomplete != 0;
    out->pool_used = h.pool_used;

    const uint8_t *p = cache->bytes + at + sizeof h;
    memcpy(out->chain, p, (size_t)h.cname_hops * sizeof(uint16_t));
    p += (size_t)h.cname_hops * sizeof(uint16_t);
    memcpy(out->records, p, h.count * sizeof(struct stsm_dns_record));
    p += h.count * sizeof(struct stsm_dns_record);
    memcpy(out->extra, p, h.extra_count * sizeof(struct stsm_dns_record));
    p += h.extra_count * sizeof(struct stsm_dns_record) + h.name_len;
    if (origin != NULL) {
        memcpy(origin, p, h.origin_len < origin_cap ? h.origin_len : origin_cap);
    }
    p += h.origin_len;
    memcpy(out->pool, p, h.pool_used);

    uint32_t held_s = (uint32_t)(now_ms - h.stored_at) / 1000u;
    age_ttls(out->records, out->count, held_s);
    age_ttls(out->extra, out->extra_count, held_s);
    if (out->cname_hops > 0) {
        out->cname_ttl = out->cname_ttl > held_s ? out->cname_ttl - held_s : 0;
    }
    cache->hits++;
    return true;
}
