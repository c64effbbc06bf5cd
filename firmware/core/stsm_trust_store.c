#include "stsm_trust_store.h"

#include <string.h>

#define HEADER_LEN 16u
#define ENTRY_LEN  16u

static uint32_t get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

struct entry {
    uint32_t subject_off, subject_len, cert_off, cert_len;
};

static struct entry read_entry(const struct stsm_trust_store *store, uint32_t index)
{
    const uint8_t *e = store->blob + HEADER_LEN + (size_t)index * ENTRY_LEN;
    struct entry out = { get_u32(e), get_u32(e + 4), get_u32(e + 8), get_u32(e + 12) };
    return out;
}

/* Orders subjects bytewise; on a common prefix the shorter one comes first. */
static int compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* True when [off, off + len) lies within [lo, hi), without overflow. */
static bool within(uint32_t off, uint32_t len, size_t lo, size_t hi)
{
    return off >= lo && off <= hi && len <= hi - off;
}

stsm_status_t stsm_trust_store_open(struct stsm_trust_store *store, const uint8_t *blob, size_t len)
{
    memset(store, 0, sizeof *store);
    if (blob == NULL || len < HEADER_LEN || memcmp(blob, STSM_TRUST_STORE_MAGIC, 8) != 0 ||
        get_u32(blob + 12) != len) {
        return STSM_ERR_CORRUPT;
    }
    uint32_t count = get_u32(blob + 8);
    if (count > (len - HEADER_LEN) / ENTRY_LEN) {
        return STSM_ERR_CORRUPT;
    }
    struct stsm_trust_store candidate = { blob, len, count };
    size_t data_start = HEADER_LEN + (size_t)count * ENTRY_LEN;
    for (uint32_t i = 0; i < count; i++) {
        struct entry e = read_entry(&candidate, i);
        if (e.subject_len == 0 || e.cert_len == 0 || !within(e.cert_off, e.cert_len, data_start, len) ||
            !within(e.subject_off, e.subject_len, e.cert_off, (size_t)e.cert_off + e.cert_len)) {
            return STSM_ERR_CORRUPT;
        }
        if (i > 0) {
            struct entry prev = read_entry(&candidate, i - 1);
            if (compare(blob + prev.subject_off, prev.subject_len, blob + e.subject_off,
                        e.subject_len) > 0) {
                return STSM_ERR_CORRUPT;
            }
        }
    }
    *store = candidate;
    return STSM_OK;
}

struct stsm_trust_anchor stsm_trust_store_anchor(const struct stsm_trust_store *store, uint32_t index)
{
    struct entry e = read_entry(store, index);
    struct stsm_trust_anchor a = { store->blob + e.subject_off, e.subject_len,
                                   store->blob + e.cert_off, e.cert_len };
    return a;
}

uint32_t stsm_trust_store_find(const struct stsm_trust_store *store, const uint8_t *subject,
                               size_t subject_len, uint32_t *first)
{
    /* Lower bound: the first entry not ordered before `subject`. */
    uint32_t lo = 0, hi = store->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        struct entry e = read_entry(store, mid);
        if (compare(store->blob + e.subject_off, e.subject_len, subject, subject_len) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    uint32_t n = 0;
    while (lo + n < store->count) {
        struct entry e = read_entry(store, lo + n);
        if (compare(store->blob + e.subject_off, e.subject_len, subject, subject_len) != 0) {
            break;
        }
        n++;
    }
    *first = lo;
    return n;
}
