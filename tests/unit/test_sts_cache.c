/* MTA-STS cache: expiry, replacement rules, LRU eviction, fetch back-off, persistence. */
#include "stsm_check.h"
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

    return stsm_check_summary("test_sts_cache");
}
