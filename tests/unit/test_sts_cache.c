/* MTA-STS cache: expiry, replacement rules, LRU eviction, fetch back-off, persistence. */
#include "stsm_check.h"
#include "stsm_crc32.h"
#include "stsm_sts_cache.h"

static struct stsm_sts_cache cache, loaded;
static uint8_t blob[STSM_STS_CACHE_BLOB_MAX];

static struct stsm_sts_policy policy(enum stsm_sts_mode mode, uint32_t max_age, const char *mx)
{
    struct stsm_sts_policy p = { .mode = mode, .max_age = max_age, .mx_count = mx ? 1 : 0 };
    if (mx) {
        strcpy(p.mx[0], mx);
    }
    return p;
}

/* "Cache eviction": failed fetches (which anyone on the path can cause) must not push
 * cached enforce policies out under LRU. */
static void test_failure_markers(int64_t t0)
{
    struct stsm_sts_policy enforce = policy(STSM_STS_MODE_ENFORCE, 86400, "*.example.test");
    char domain[32];

    CHECK_CASE("failure markers never evict an enforce policy");
    stsm_sts_cache_init(&cache);
    for (int i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        snprintf(domain, sizeof domain, "p%d.test", i);
        stsm_sts_cache_put(&cache, domain, "id", &enforce, t0 + i);
    }
    for (int i = 0; i < 5 * STSM_STS_CACHE_ENTRIES; i++) {
        snprintf(domain, sizeof domain, "fail%d.test", i);
        stsm_sts_cache_fetch_failed(&cache, domain, "x", t0 + 1000 + i);   /* all newer than the policies */
    }
    for (int i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        snprintf(domain, sizeof domain, "p%d.test", i);
        const struct stsm_sts_cache_entry *e = stsm_sts_cache_get(&cache, domain, t0 + 2000);
        CHECK(e != NULL && e->policy.mode == STSM_STS_MODE_ENFORCE);
    }
    CHECK(stsm_sts_cache_may_fetch(&cache, "fail0.test", "x", t0 + 2000));   /* the marker was not stored */

    CHECK_CASE("a failed refresh of a cached domain is still recorded in its own entry");
    stsm_sts_cache_fetch_failed(&cache, "p0.test", "id2", t0 + 2000);
    CHECK(!stsm_sts_cache_may_fetch(&cache, "p0.test", "id2", t0 + 2001));
    CHECK(stsm_sts_cache_get(&cache, "p0.test", t0 + 2001) != NULL);

    CHECK_CASE("a failure marker takes a free slot, then the oldest marker's");
    stsm_sts_cache_init(&cache);
    for (int i = 0; i < STSM_STS_CACHE_ENTRIES - 2; i++) {
        snprintf(domain, sizeof domain, "p%d.test", i);
        stsm_sts_cache_put(&cache, domain, "id", &enforce, t0 + 100 + i);
    }
    stsm_sts_cache_fetch_failed(&cache, "m1.test", "x", t0 + 10);   /* older than every policy */
    stsm_sts_cache_fetch_failed(&cache, "m2.test", "x", t0 + 20);
    stsm_sts_cache_fetch_failed(&cache, "m3.test", "x", t0 + 200);
    CHECK(stsm_sts_cache_may_fetch(&cache, "m1.test", "x", t0 + 201));    /* m1, the oldest marker, went */
    CHECK(!stsm_sts_cache_may_fetch(&cache, "m2.test", "x", t0 + 201));
    CHECK(!stsm_sts_cache_may_fetch(&cache, "m3.test", "x", t0 + 201));
    for (int i = 0; i < STSM_STS_CACHE_ENTRIES - 2; i++) {
        snprintf(domain, sizeof domain, "p%d.test", i);
        CHECK(stsm_sts_cache_get(&cache, domain, t0 + 201) != NULL);
    }

    CHECK_CASE("a new policy evicts a failure marker before any policy");
    stsm_sts_cache_put(&cache, "new.test", "id", &enforce, t0 + 300);
    CHECK(stsm_sts_cache_get(&cache, "new.test", t0 + 301) != NULL);
    CHECK(stsm_sts_cache_may_fetch(&cache, "m2.test", "x", t0 + 301));   /* the older marker went */
    CHECK(!stsm_sts_cache_may_fetch(&cache, "m3.test", "x", t0 + 301));
    for (int i = 0; i < STSM_STS_CACHE_ENTRIES - 2; i++) {
        snprintf(domain, sizeof domain, "p%d.test", i);
        CHECK(stsm_sts_cache_get(&cache, domain, t0 + 301) != NULL);
    }
}

/* Finding 1: the writer refuses what load() would refuse, whole, instead of cutting it. */
static void test_store_refusals(int64_t t0)
{
    struct stsm_sts_policy p = policy(STSM_STS_MODE_ENFORCE, 86400, "mx.example.test");
    size_t len;

    CHECK_CASE("a pattern of 253 characters, '*.' included, is stored and loaded whole");
    stsm_sts_cache_init(&cache);
    memset(p.mx[0], 'a', STSM_HOSTNAME_MAX);
    p.mx[0][0] = '*';
    p.mx[0][1] = '.';
    for (size_t i = 65; i < STSM_HOSTNAME_MAX; i += 64) {
        p.mx[0][i] = '.';
    }
    p.mx[0][STSM_HOSTNAME_MAX] = '\0';
    CHECK(stsm_sts_mx_pattern_valid(p.mx[0], strlen(p.mx[0])));
    stsm_sts_cache_put(&cache, "long.test", "id", &p, t0);
    len = stsm_sts_cache_save(&cache, blob, sizeof blob);
    CHECK(len > 0);
    CHECK_INT(stsm_sts_cache_load(&loaded, blob, len), STSM_OK);
    const struct stsm_sts_cache_entry *e = stsm_sts_cache_get(&loaded, "long.test", t0 + 1);
    CHECK(e != NULL && strcmp(e->policy.mx[0], p.mx[0]) == 0);

    CHECK_CASE("a row without its NUL is refused, not cut and not overread");
    memset(cache.entries[0].policy.mx[0], 'a', sizeof cache.entries[0].policy.mx[0]);
    memset(cache.entries[0].policy.mx[1], 'b', sizeof cache.entries[0].policy.mx[1]);   /* no NUL next door either */
    memset(blob, 0, sizeof blob);
    CHECK_INT(stsm_sts_cache_save(&cache, blob, sizeof blob), 0);

    CHECK_CASE("a pattern load() would refuse is not stored");
    stsm_sts_cache_init(&cache);
    strcpy(p.mx[0], "*.*.example.test");
    stsm_sts_cache_put(&cache, "bad.test", "id", &p, t0);
    CHECK_INT(stsm_sts_cache_save(&cache, blob, sizeof blob), 0);
    cache.entries[0].policy.mx_count = STSM_STS_MAX_MX + 1;
    CHECK_INT(stsm_sts_cache_save(&cache, blob, sizeof blob), 0);

    CHECK_CASE("a stored pattern of 254 characters is refused on load");
    stsm_sts_cache_init(&cache);
    strcpy(p.mx[0], "mx.example.test");
    stsm_sts_cache_put(&cache, "x.test", "id", &p, t0);
    len = stsm_sts_cache_save(&cache, blob, sizeof blob);
    CHECK(len > 0);
    /* Rewrite the blob by hand: the pattern is its last field before the CRC. */
    static uint8_t forged[STSM_STS_CACHE_BLOB_MAX + 512];
    size_t head = len - 4 - 1 - strlen("mx.example.test");
    memcpy(forged, blob, head);
    forged[head] = 254;
    memcpy(forged + head + 1, "*.", 2);
    for (size_t i = 2; i < 254; i++) {
        forged[head + 1 + i] = i % 64 == 1 ? '.' : 'a';
    }
    size_t flen = head + 1 + 254;
    uint32_t crc = stsm_crc32(0, forged, flen);
    forged[flen] = (uint8_t)(crc >> 24);
    forged[flen + 1] = (uint8_t)(crc >> 16);
    forged[flen + 2] = (uint8_t)(crc >> 8);
    forged[flen + 3] = (uint8_t)crc;
    CHECK_INT(stsm_sts_cache_load(&loaded, forged, flen + 4), STSM_ERR_CORRUPT);
    CHECK(stsm_sts_cache_get(&loaded, "x.test", t0 + 1) == NULL);
    forged[head] = 255;   /* and one byte more */
    forged[flen] = 'a';
    crc = stsm_crc32(0, forged, flen + 1);
    forged[flen + 1] = (uint8_t)(crc >> 24);
    forged[flen + 2] = (uint8_t)(crc >> 16);
    forged[flen + 3] = (uint8_t)(crc >> 8);
    forged[flen + 4] = (uint8_t)crc;
    CHECK_INT(stsm_sts_cache_load(&loaded, forged, flen + 5), STSM_ERR_CORRUPT);

    CHECK_CASE("a full table of the longest entries fits STSM_STS_CACHE_BLOB_MAX exactly");
    stsm_sts_cache_init(&cache);
    struct stsm_sts_policy big = policy(STSM_STS_MODE_ENFORCE, 86400, NULL);
    big.mx_count = STSM_STS_MAX_MX;
    big.mx_dropped = 7;
    for (int k = 0; k < STSM_STS_MAX_MX; k++) {
        memset(big.mx[k], 'a', STSM_HOSTNAME_MAX);
        for (size_t i = 63; i < STSM_HOSTNAME_MAX; i += 64) {
            big.mx[k][i] = '.';
        }
        big.mx[k][0] = (char)('a' + k % 26);
        big.mx[k][STSM_HOSTNAME_MAX] = '\0';
    }
    char domain[STSM_HOSTNAME_MAX + 1], id[STSM_STS_ID_MAX + 1];
    memset(domain, 'd', STSM_HOSTNAME_MAX);
    domain[STSM_HOSTNAME_MAX] = '\0';
    memset(id, '1', STSM_STS_ID_MAX);
    id[STSM_STS_ID_MAX] = '\0';
    for (int i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        domain[0] = (char)('a' + i);
        stsm_sts_cache_put(&cache, domain, id, &big, t0 + i);
        stsm_sts_cache_fetch_failed(&cache, domain, id, t0 + i);
    }
    CHECK_INT(stsm_sts_cache_save(&cache, blob, sizeof blob), sizeof blob);
    CHECK_INT(stsm_sts_cache_save(&cache, blob, sizeof blob - 1), 0);
    CHECK_INT(stsm_sts_cache_load(&loaded, blob, sizeof blob), STSM_OK);

    CHECK_CASE("a domain or id too long for its field is not stored, not cut");
    stsm_sts_cache_init(&cache);
    char too_long[STSM_HOSTNAME_MAX + 2];
    memset(too_long, 'd', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    stsm_sts_cache_put(&cache, too_long, "id", &p, t0);
    stsm_sts_cache_fetch_failed(&cache, too_long, "id", t0);
    too_long[STSM_HOSTNAME_MAX] = '\0';
    CHECK(stsm_sts_cache_get(&cache, too_long, t0 + 1) == NULL);   /* not under the cut name either */
    CHECK(stsm_sts_cache_may_fetch(&cache, too_long, "id", t0 + 1));
    stsm_sts_cache_put(&cache, "ok.test", "123456789012345678901234567890123", &p, t0);
    CHECK(stsm_sts_cache_get(&cache, "ok.test", t0 + 1) == NULL);
}

/* Finding 6: the count of dropped mx lines survives a save and load; an older blob is
 * refused whole instead of being misread. */
static void test_mx_dropped(int64_t t0)
{
    struct stsm_sts_policy p = policy(STSM_STS_MODE_ENFORCE, 86400, "mx.example.test");
    p.mx_dropped = 70000;   /* more than 16 bits */

    CHECK_CASE("mx_dropped is persisted");
    stsm_sts_cache_init(&cache);
    stsm_sts_cache_put(&cache, "many.test", "id", &p, t0);
    size_t len = stsm_sts_cache_save(&cache, blob, sizeof blob);
    CHECK(len > 0);
    CHECK_INT(stsm_sts_cache_load(&loaded, blob, len), STSM_OK);
    const struct stsm_sts_cache_entry *e = stsm_sts_cache_get(&loaded, "many.test", t0 + 1);
    CHECK(e != NULL && e->policy.mx_dropped == 70000 && e->policy.mx_count == 1);

    CHECK_CASE("mx_dropped is part of the digest");
    uint32_t before = stsm_sts_cache_digest(&cache);
    cache.entries[0].policy.mx_dropped = 1;
    CHECK(stsm_sts_cache_digest(&cache) != before);

    CHECK_CASE("a blob of format 01 (before mx_dropped) is refused and leaves the cache empty");
    /* The old layout, written out field by field: magic, count, one entry, CRC. */
    static uint8_t old[512];
    size_t n = 0;
    memcpy(old, "STSMSC01", 8);
    n = 8;
    old[n++] = 0, old[n++] = 0, old[n++] = 0, old[n++] = 1;
    const char *strs[2] = { "old.test", "id" };
    for (int i = 0; i < 2; i++) {
        old[n++] = (uint8_t)strlen(strs[i]);
        memcpy(old + n, strs[i], strlen(strs[i]));
        n += strlen(strs[i]);
    }
    for (int half = 0; half < 4; half++) {   /* fetched_at, last_used as two u32 each */
        uint32_t v = half % 2 ? (uint32_t)t0 : (uint32_t)((uint64_t)t0 >> 32);
        old[n++] = (uint8_t)(v >> 24), old[n++] = (uint8_t)(v >> 16), old[n++] = (uint8_t)(v >> 8), old[n++] = (uint8_t)v;
    }
    old[n++] = 0;                                              /* failed_id "" */
    memset(old + n, 0, 8), n += 8;                             /* failed_at */
    old[n++] = STSM_STS_MODE_ENFORCE;
    old[n++] = 0, old[n++] = 1, old[n++] = 0x51, old[n++] = 0x80;   /* max_age 86400 */
    old[n++] = 1;                                              /* one mx */
    old[n++] = (uint8_t)strlen("mx.example.test");
    memcpy(old + n, "mx.example.test", strlen("mx.example.test"));
    n += strlen("mx.example.test");
    uint32_t crc = stsm_crc32(0, old, n);
    old[n++] = (uint8_t)(crc >> 24), old[n++] = (uint8_t)(crc >> 16), old[n++] = (uint8_t)(crc >> 8), old[n++] = (uint8_t)crc;
    stsm_sts_cache_put(&loaded, "stale.test", "id", &p, t0);
    CHECK_INT(stsm_sts_cache_load(&loaded, old, n), STSM_ERR_CORRUPT);
    CHECK(stsm_sts_cache_get(&loaded, "old.test", t0 + 1) == NULL);
    CHECK(stsm_sts_cache_get(&loaded, "stale.test", t0 + 1) == NULL);
    /* The same bytes under the new magic are refused too: the layout, not only the
     * label, differs (mx_dropped would swallow the pattern's bytes). */
    memcpy(old, "STSMSC02", 8);
    crc = stsm_crc32(0, old, n - 4);
    old[n - 4] = (uint8_t)(crc >> 24), old[n - 3] = (uint8_t)(crc >> 16), old[n - 2] = (uint8_t)(crc >> 8), old[n - 1] = (uint8_t)crc;
    CHECK_INT(stsm_sts_cache_load(&loaded, old, n), STSM_ERR_CORRUPT);
}

int main(void)
{
    const int64_t t0 = 1796000000;
    struct stsm_sts_policy enforce = policy(STSM_STS_MODE_ENFORCE, 86400, "*.example.test");

    CHECK_CASE("a stored policy is in force until max_age runs out");
    stsm_sts_cache_init(&cache);
    CHECK(stsm_sts_cache_get(&cache, "example.test", t0) == NULL);
    stsm_sts_cache_put(&cache, "example.test", "id1", &enforce, t0);
    const struct stsm_sts_cache_entry *e = stsm_sts_cache_get(&cache, "EXAMPLE.test.", t0 + 86399);
    CHECK(e != NULL && strcmp(e->id, "id1") == 0 && e->policy.mode == STSM_STS_MODE_ENFORCE);
    CHECK(stsm_sts_cache_get(&cache, "example.test", t0 + 86400) == NULL);
    CHECK(stsm_sts_cache_get(&cache, "example.test", t0 - 1) == NULL);   /* clock went back: not trusted */

    CHECK_CASE("mode none replaces a cached policy at once");
    struct stsm_sts_policy none = policy(STSM_STS_MODE_NONE, 3600, NULL);
    stsm_sts_cache_put(&cache, "example.test", "id2", &none, t0 + 10);
    e = stsm_sts_cache_get(&cache, "example.test", t0 + 20);
    CHECK(e != NULL && e->policy.mode == STSM_STS_MODE_NONE && strcmp(e->id, "id2") == 0);

    CHECK_CASE("max_age 0: apply now, keep nothing, drop what was cached");
    struct stsm_sts_policy now_only = policy(STSM_STS_MODE_ENFORCE, 0, "mx.example.test");
    stsm_sts_cache_put(&cache, "example.test", "id3", &now_only, t0 + 30);
    CHECK(stsm_sts_cache_get(&cache, "example.test", t0 + 30) == NULL);

    CHECK_CASE("a full table evicts the least recently used domain");
    stsm_sts_cache_init(&cache);
    char domain[32];
    for (int i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        snprintf(domain, sizeof domain, "d%d.test", i);
        stsm_sts_cache_put(&cache, domain, "id", &enforce, t0 + i);
    }
    CHECK(stsm_sts_cache_get(&cache, "d0.test", t0 + 100) != NULL);   /* d0 used again: d1 is oldest */
    stsm_sts_cache_put(&cache, "new.test", "id", &enforce, t0 + 200);
    CHECK(stsm_sts_cache_get(&cache, "d1.test", t0 + 300) == NULL);
    CHECK(stsm_sts_cache_get(&cache, "d0.test", t0 + 300) != NULL);
    CHECK(stsm_sts_cache_get(&cache, "new.test", t0 + 300) != NULL);

    CHECK_CASE("no new fetch within 5 minutes of a failed one for the same id");
    CHECK(stsm_sts_cache_may_fetch(&cache, "d0.test", "id9", t0 + 1000));
    stsm_sts_cache_fetch_failed(&cache, "d0.test", "id9", t0 + 1000);
    CHECK(!stsm_sts_cache_may_fetch(&cache, "d0.test", "id9", t0 + 1000 + STSM_STS_FETCH_BACKOFF_S - 1));
    CHECK(stsm_sts_cache_may_fetch(&cache, "d0.test", "id9", t0 + 1000 + STSM_STS_FETCH_BACKOFF_S));
    CHECK(stsm_sts_cache_may_fetch(&cache, "d0.test", "id10", t0 + 1001));   /* a new id may be tried */
    CHECK(stsm_sts_cache_get(&cache, "d0.test", t0 + 1001) != NULL);         /* the policy stays in force */
    stsm_sts_cache_init(&cache);
    stsm_sts_cache_fetch_failed(&cache, "unknown.test", "x", t0 + 1000);
    CHECK(!stsm_sts_cache_may_fetch(&cache, "unknown.test", "x", t0 + 1001));
    CHECK(stsm_sts_cache_get(&cache, "unknown.test", t0 + 1001) == NULL);

    CHECK_CASE("decisions after the TXT lookup");
    const struct stsm_sts_cache_entry *in_force;
    stsm_sts_cache_init(&cache);
    CHECK_INT(stsm_sts_cache_decide(&cache, "a.test", false, "", t0, &in_force), STSM_STS_NO_POLICY);
    CHECK_INT(stsm_sts_cache_decide(&cache, "a.test", true, "id1", t0, &in_force), STSM_STS_FETCH);
    stsm_sts_cache_put(&cache, "a.test", "id1", &enforce, t0);
    CHECK_INT(stsm_sts_cache_decide(&cache, "a.test", true, "id1", t0 + 5, &in_force), STSM_STS_USE_CACHED);
    CHECK(in_force != NULL && strcmp(in_force->id, "id1") == 0);
    CHECK_INT(stsm_sts_cache_decide(&cache, "a.test", true, "id2", t0 + 5, &in_force), STSM_STS_FETCH);
    stsm_sts_cache_fetch_failed(&cache, "a.test", "id2", t0 + 6);
    CHECK_INT(stsm_sts_cache_decide(&cache, "a.test", true, "id2", t0 + 7, &in_force), STSM_STS_USE_CACHED);
    CHECK(in_force != NULL && strcmp(in_force->id, "id1") == 0);   /* the old policy stays in force */
    CHECK_INT(stsm_sts_cache_decide(&cache, "a.test", false, "", t0 + 8, &in_force), STSM_STS_USE_CACHED);
    CHECK_INT(stsm_sts_cache_decide(&cache, "a.test", false, "", t0 + 86400, &in_force), STSM_STS_NO_POLICY);

    CHECK_CASE("a cached policy is refreshed after about a day, spread by domain");
    struct stsm_sts_policy yearly = policy(STSM_STS_MODE_ENFORCE, STSM_STS_MAX_AGE_LIMIT, "mx.example.test");
    stsm_sts_cache_init(&cache);
    stsm_sts_cache_put(&cache, "b.test", "id1", &yearly, t0);
    CHECK_INT(stsm_sts_cache_decide(&cache, "b.test", true, "id1", t0 + STSM_STS_REFRESH_S - 1, &in_force),
              STSM_STS_USE_CACHED);
    CHECK_INT(stsm_sts_cache_decide(&cache, "b.test", true, "id1", t0 + STSM_STS_REFRESH_S + STSM_STS_REFRESH_SPREAD_S,
                                    &in_force), STSM_STS_FETCH);
    stsm_sts_cache_fetch_failed(&cache, "b.test", "id1", t0 + STSM_STS_REFRESH_S + STSM_STS_REFRESH_SPREAD_S);
    CHECK_INT(stsm_sts_cache_decide(&cache, "b.test", true, "id1", t0 + STSM_STS_REFRESH_S + STSM_STS_REFRESH_SPREAD_S + 1,
                                    &in_force), STSM_STS_USE_CACHED);   /* failed refresh: keep it, back off */
    int spread_differs = 0;
    for (int i = 0; i < 20; i++) {
        struct stsm_sts_cache_entry a = { .fetched_at = 0 }, b = { .fetched_at = 0 };
        snprintf(a.domain, sizeof a.domain, "d%d.test", i);
        snprintf(b.domain, sizeof b.domain, "d%d.test", i + 100);
        for (int64_t t = STSM_STS_REFRESH_S; t < STSM_STS_REFRESH_S + STSM_STS_REFRESH_SPREAD_S; t += 600) {
            spread_differs += stsm_sts_cache_refresh_due(&a, t) != stsm_sts_cache_refresh_due(&b, t);
        }
    }
    CHECK(spread_differs > 0);

    CHECK_CASE("persistence round trip");
    stsm_sts_cache_init(&cache);
    stsm_sts_cache_put(&cache, "new.test", "id", &enforce, t0 + 200);
    stsm_sts_cache_fetch_failed(&cache, "unknown.test", "x", t0 + 1000);
    size_t len = stsm_sts_cache_save(&cache, blob, sizeof blob);
    CHECK(len > 0);
    CHECK_INT(stsm_sts_cache_load(&loaded, blob, len), STSM_OK);
    e = stsm_sts_cache_get(&loaded, "new.test", t0 + 300);
    CHECK(e != NULL && strcmp(e->policy.mx[0], "*.example.test") == 0 && e->fetched_at == t0 + 200);
    CHECK(!stsm_sts_cache_may_fetch(&loaded, "unknown.test", "x", t0 + 1001));

    CHECK_CASE("every damaged byte and every truncation is refused");
    unsigned accepted = 0;
    for (size_t i = 0; i < len; i++) {
        blob[i] ^= 0x20;
        accepted += stsm_sts_cache_load(&loaded, blob, len) == STSM_OK;
        blob[i] ^= 0x20;
        accepted += stsm_sts_cache_load(&loaded, blob, i) == STSM_OK;
    }
    CHECK_INT(accepted, 0);
    CHECK(stsm_sts_cache_get(&loaded, "new.test", t0 + 300) == NULL);   /* a refused load leaves it empty */

    CHECK_CASE("buffer too small to save");
    CHECK_INT(stsm_sts_cache_save(&cache, blob, 20), 0);
    CHECK_CASE("digest: a use (LRU stamp) leaves it, a new policy or a failed fetch changes it");
    stsm_sts_cache_init(&cache);
    stsm_sts_cache_put(&cache, "d.test", "id1", &enforce, t0);
    uint32_t d0 = stsm_sts_cache_digest(&cache);
    CHECK(stsm_sts_cache_get(&cache, "d.test", t0 + 50) != NULL);
    CHECK_INT(stsm_sts_cache_digest(&cache), d0);
    stsm_sts_cache_fetch_failed(&cache, "d.test", "id2", t0 + 60);
    uint32_t d1 = stsm_sts_cache_digest(&cache);
    CHECK(d1 != d0);
    stsm_sts_cache_put(&cache, "d.test", "id2", &enforce, t0 + 70);
    CHECK(stsm_sts_cache_digest(&cache) != d1);

    test_failure_markers(t0);
    test_store_refusals(t0);
    test_mx_dropped(t0);
    return stsm_check_summary("test_sts_cache");
}
