/*
 * libFuzzer harness for the policy cache blob (the host's cache file) and for a piece
 * (one entry, the firmware's flash store record). The input is loaded both ways as it
 * is, and once more with its trailing CRC-32 recomputed so that the fuzzer reaches the
 * entries behind the checksum. A blob or piece that loads holds only valid entries; it
 * serialises again (whatever loads can be stored) to the very bytes it was loaded from
 * (one encoding per content), and that loads into the same entries. A piece is a blob
 * of exactly one entry: the input loads as a piece exactly when it loads as a blob
 * holding one entry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_crc32.h"
#include "stsm_sts_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL) {
        abort();
    }
}

static void check_entry(const struct stsm_sts_cache_entry *e)
{
    if (!e->used) {
        return;
    }
    check_text(e->domain, sizeof e->domain);
    check_text(e->id, sizeof e->id);
    check_text(e->failed_id, sizeof e->failed_id);
    if (e->domain[0] == '\0' || e->policy.mx_count > STSM_STS_MAX_MX ||
        e->policy.max_age > STSM_STS_MAX_AGE_LIMIT || e->policy.mode > STSM_STS_MODE_ENFORCE) {
        abort();
    }
    const struct stsm_sts_policy *p = &e->policy;
    if (p->mx_len > sizeof p->mx_text) {
        abort();
    }
    size_t seen = 0, at = 0;
    for (const char *m = stsm_sts_policy_mx_first(p); m != NULL; m = stsm_sts_policy_mx_next(p, m)) {
        check_text(m, p->mx_len - at);
        if (m != p->mx_text + at || !stsm_sts_mx_pattern_valid(m, strlen(m))) {
            abort();
        }
        at += strlen(m) + 1;
        seen++;
    }
    if (seen != p->mx_count || at != p->mx_len) {
        abort();
    }
}

static void check_cache(const struct stsm_sts_cache *c)
{
    for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        check_entry(&c->entries[i]);
    }
}

static bool same_entry(const struct stsm_sts_cache_entry *a, const struct stsm_sts_cache_entry *b)
{
    if (a->used != b->used) {
        return false;
    }
    if (!a->used) {
        return true;
    }
    if (strcmp(a->domain, b->domain) != 0 || strcmp(a->id, b->id) != 0 ||
        strcmp(a->failed_id, b->failed_id) != 0 || a->fetched_at != b->fetched_at ||
        a->last_used != b->last_used || a->failed_at != b->failed_at || a->policy.mode != b->policy.mode ||
        a->policy.max_age != b->policy.max_age || a->policy.mx_count != b->policy.mx_count ||
        a->policy.mx_dropped != b->policy.mx_dropped) {
        return false;
    }
    return a->policy.mx_len == b->policy.mx_len &&
           memcmp(a->policy.mx_text, b->policy.mx_text, a->policy.mx_len) == 0;
}

static void round_trip(const uint8_t *data, size_t size)
{
    static struct stsm_sts_cache first, second;
    static uint8_t blob[STSM_STS_CACHE_BLOB_MAX], again[STSM_STS_CACHE_BLOB_MAX];
    if (stsm_sts_cache_load(&first, data, size) != STSM_OK) {
        for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
            if (first.entries[i].used) {
                abort();   /* a refused blob leaves the cache empty */
            }
        }
        return;
    }
    check_cache(&first);
    size_t n = stsm_sts_cache_save(&first, blob, sizeof blob);
    if (n == 0 || n != size || memcmp(blob, data, n) != 0 || stsm_sts_cache_load(&second, blob, n) != STSM_OK) {
        abort();
    }
    for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        if (!same_entry(&first.entries[i], &second.entries[i])) {
            abort();
        }
    }
    if (stsm_sts_cache_digest(&first) != stsm_sts_cache_digest(&second) ||
        stsm_sts_cache_save(&second, again, sizeof again) != n || memcmp(blob, again, n) != 0) {
        abort();
    }
}

static void piece_round_trip(const uint8_t *data, size_t size)
{
    static struct stsm_sts_cache_entry first, second;
    static struct stsm_sts_cache as_blob;
    static uint8_t piece[STSM_STS_CACHE_PIECE_MAX], again[STSM_STS_CACHE_PIECE_MAX];
    bool one = stsm_sts_cache_load(&as_blob, data, size) == STSM_OK && as_blob.entries[0].used &&
               (STSM_STS_CACHE_ENTRIES < 2 || !as_blob.entries[1].used);
    if (stsm_sts_cache_piece_load(&first, data, size) != STSM_OK) {
        if (first.used || one) {
            abort();   /* a refused piece leaves the entry unused; a one-entry blob is a piece */
        }
        return;
    }
    if (!one || !first.used || !same_entry(&first, &as_blob.entries[0])) {
        abort();
    }
    check_entry(&first);
    size_t n = stsm_sts_cache_piece_save(&first, piece, sizeof piece);
    if (n == 0 || n != size || memcmp(piece, data, n) != 0 || stsm_sts_cache_piece_load(&second, piece, n) != STSM_OK ||
        !same_entry(&first, &second) ||
        stsm_sts_cache_piece_digest(&first) != stsm_sts_cache_piece_digest(&second) ||
        stsm_sts_cache_piece_save(&second, again, sizeof again) != n || memcmp(piece, again, n) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    round_trip(data, size);
    piece_round_trip(data, size);
    if (size < 4) {
        return 0;
    }
    uint8_t *fixed = malloc(size);
    if (fixed == NULL) {
        abort();
    }
    memcpy(fixed, data, size);
    uint32_t crc = stsm_crc32(0, fixed, size - 4);
    fixed[size - 4] = (uint8_t)(crc >> 24);
    fixed[size - 3] = (uint8_t)(crc >> 16);
    fixed[size - 2] = (uint8_t)(crc >> 8);
    fixed[size - 1] = (uint8_t)crc;
    round_trip(fixed, size);
    piece_round_trip(fixed, size);
    free(fixed);
    return 0;
}
