/* MTA-STS cache: expiry, replacement rules, LRU eviction, fetch back-off, persistence as
 * one blob and as one piece per entry in a flash store (nor_sim: power cuts, damage). */
#include "nor_sim.h"
#include "stsm_check.h"
#include "stsm_crc32.h"
#include "stsm_sts_cache.h"

static struct stsm_sts_cache cache, loaded;
static uint8_t blob[STSM_STS_CACHE_BLOB_MAX];
static uint8_t piece[STSM_STS_CACHE_PIECE_MAX];
static uint8_t mem[6 * 4096], snapshot[6 * 4096];   /* mps2-an385's cache area: 6 pages of 4 KiB */
static struct nor_sim sim;
static struct stsm_store store;
static struct stsm_sts_cache_flash flash;

static struct stsm_sts_policy policy(enum stsm_sts_mode mode, uint32_t max_age, const char *mx)
{
    struct stsm_sts_policy p = { .mode = mode, .max_age = max_age };
    if (mx) {
        CHECK(stsm_sts_policy_mx_add(&p, mx, strlen(mx)));   /* not checked: bad ones too */
    }
    return p;
}

/* A valid host name of `n` characters (1 to STSM_HOSTNAME_MAX) starting with `first`. */
static void host_of(char *out, size_t n, char first)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = i % 64 == 63 ? '.' : 'a';
    }
    if (n > 1 && out[n - 1] == '.') {
        out[n - 1] = 'a';
        out[n - 2] = '.';
    }
    out[0] = first;
    out[n] = '\0';
}

/* The longest entry this build can hold: every field at its limit, up to `mx_count`
 * patterns of 253 characters, and when the pattern pool fills first, one pattern that
 * fills it to the byte. */
static void fill_longest(struct stsm_sts_cache *c, int slot, int64_t at, size_t mx_count)
{
    static struct stsm_sts_policy big;
    char domain[STSM_HOSTNAME_MAX + 1], id[STSM_STS_ID_MAX + 1], mx[STSM_HOSTNAME_MAX + 1];
    memset(&big, 0, sizeof big);
    big.mode = STSM_STS_MODE_ENFORCE;
    big.max_age = STSM_STS_MAX_AGE_LIMIT;
    big.mx_dropped = UINT32_MAX;
    for (size_t k = 0; k < mx_count; k++) {
        host_of(mx, STSM_HOSTNAME_MAX, (char)('a' + k % 26));
        if (!stsm_sts_policy_mx_add(&big, mx, STSM_HOSTNAME_MAX)) {
            size_t rest = sizeof big.mx_text - big.mx_len;
            if (rest >= 2) {
                host_of(mx, rest - 1, (char)('a' + k % 26));
                CHECK(stsm_sts_policy_mx_add(&big, mx, rest - 1));
            }
            break;
        }
    }
    memset(domain, 'd', STSM_HOSTNAME_MAX);
    domain[STSM_HOSTNAME_MAX] = '\0';
    domain[0] = (char)('a' + slot);
    memset(id, '1', STSM_STS_ID_MAX);
    id[STSM_STS_ID_MAX] = '\0';
    stsm_sts_cache_put(c, domain, id, &big, at);
    stsm_sts_cache_fetch_failed(c, domain, id, at);
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
    char longest[STSM_HOSTNAME_MAX + 1] = "*.";
    host_of(longest + 2, STSM_HOSTNAME_MAX - 2, 'a');
    CHECK(stsm_sts_mx_pattern_valid(longest, strlen(longest)));
    p = policy(STSM_STS_MODE_ENFORCE, 86400, longest);
    stsm_sts_cache_put(&cache, "long.test", "id", &p, t0);
    len = stsm_sts_cache_save(&cache, blob, sizeof blob);
    CHECK(len > 0);
    CHECK_INT(stsm_sts_cache_load(&loaded, blob, len), STSM_OK);
    const struct stsm_sts_cache_entry *e = stsm_sts_cache_get(&loaded, "long.test", t0 + 1);
    CHECK(e != NULL && strcmp(stsm_sts_policy_mx_first(&e->policy), longest) == 0);

    CHECK_CASE("a pool without the NUL of its pattern is refused, not cut and not overread");
    struct stsm_sts_policy *held = &cache.entries[0].policy;
    memset(held->mx_text, 'a', sizeof held->mx_text);
    held->mx_len = sizeof held->mx_text;
    memset(blob, 0, sizeof blob);
    CHECK_INT(stsm_sts_cache_save(&cache, blob, sizeof blob), 0);

    CHECK_CASE("a pool whose mx_len and mx_count disagree is refused");
    stsm_sts_cache_init(&cache);
    p = policy(STSM_STS_MODE_ENFORCE, 86400, "mx.example.test");
    stsm_sts_cache_put(&cache, "x.test", "id", &p, t0);
    CHECK(stsm_sts_cache_save(&cache, blob, sizeof blob) > 0);
    held->mx_count = 2;   /* one pattern in mx_len */
    CHECK_INT(stsm_sts_cache_save(&cache, blob, sizeof blob), 0);
    held->mx_count = 1;
    held->mx_len--;       /* its NUL outside */
    CHECK_INT(stsm_sts_cache_save(&cache, blob, sizeof blob), 0);
    held->mx_len += 2;    /* a byte after it */
    CHECK_INT(stsm_sts_cache_save(&cache, blob, sizeof blob), 0);
    held->mx_len = sizeof held->mx_text + 1;
    CHECK_INT(stsm_sts_cache_save(&cache, blob, sizeof blob), 0);
    held->mx_len = strlen("mx.example.test") + 1;
    CHECK(stsm_sts_cache_save(&cache, blob, sizeof blob) > 0);

    CHECK_CASE("a pattern load() would refuse is not stored");
    stsm_sts_cache_init(&cache);
    p = policy(STSM_STS_MODE_ENFORCE, 86400, "*.*.example.test");
    stsm_sts_cache_put(&cache, "bad.test", "id", &p, t0);
    CHECK_INT(stsm_sts_cache_save(&cache, blob, sizeof blob), 0);
    cache.entries[0].policy.mx_count = STSM_STS_MAX_MX + 1;
    CHECK_INT(stsm_sts_cache_save(&cache, blob, sizeof blob), 0);

    CHECK_CASE("a stored pattern of 254 characters is refused on load");
    stsm_sts_cache_init(&cache);
    p = policy(STSM_STS_MODE_ENFORCE, 86400, "mx.example.test");
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
    for (int i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        fill_longest(&cache, i, t0 + i, STSM_STS_MAX_MX);
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

static bool same_piece(const struct stsm_sts_cache_entry *a, const struct stsm_sts_cache_entry *b)
{
    return a->used == b->used && stsm_sts_cache_piece_digest(a) == stsm_sts_cache_piece_digest(b);
}

static void test_pieces(int64_t t0)
{
    struct stsm_sts_policy enforce = policy(STSM_STS_MODE_ENFORCE, 86400, "*.example.test");
    struct stsm_sts_cache_entry one;

    CHECK_CASE("a piece holds one entry whole, its LRU stamp included; an unused entry has none");
    stsm_sts_cache_init(&cache);
    stsm_sts_cache_put(&cache, "a.test", "id1", &enforce, t0);
    stsm_sts_cache_fetch_failed(&cache, "a.test", "id2", t0 + 5);
    CHECK(stsm_sts_cache_get(&cache, "a.test", t0 + 7) != NULL);
    size_t len = stsm_sts_cache_piece_save(&cache.entries[0], piece, sizeof piece);
    CHECK(len > 0);
    CHECK_INT(stsm_sts_cache_piece_load(&one, piece, len), STSM_OK);
    CHECK(one.used && strcmp(one.domain, "a.test") == 0 && strcmp(one.failed_id, "id2") == 0);
    CHECK(one.last_used == t0 + 7 && one.fetched_at == t0 && strcmp(stsm_sts_policy_mx_first(&one.policy), "*.example.test") == 0);
    CHECK(same_piece(&one, &cache.entries[0]));
    CHECK_INT(stsm_sts_cache_piece_save(&cache.entries[1], piece, sizeof piece), 0);

    CHECK_CASE("every damaged byte and every truncation of a piece is refused, the entry left unused");
    len = stsm_sts_cache_piece_save(&cache.entries[0], piece, sizeof piece);
    unsigned accepted = 0, used = 0;
    for (size_t i = 0; i < len; i++) {
        piece[i] ^= 0x01;
        accepted += stsm_sts_cache_piece_load(&one, piece, len) == STSM_OK;
        used += one.used;
        piece[i] ^= 0x01;
        accepted += stsm_sts_cache_piece_load(&one, piece, i) == STSM_OK;
        used += one.used;
    }
    CHECK_INT(accepted, 0);
    CHECK_INT(used, 0);

    CHECK_CASE("a text with a NUL inside is refused, not read as its first part (found by fuzz_sts_cache)");
    stsm_sts_cache_init(&cache);
    struct stsm_sts_policy two = policy(STSM_STS_MODE_ENFORCE, 86400, "mx.example.test");
    stsm_sts_cache_put(&cache, "nul.test", "id1", &two, t0);
    len = stsm_sts_cache_piece_save(&cache.entries[0], piece, sizeof piece);
    CHECK(len > 0);
    piece[len - 4 - 5] = '\0';   /* "mx.example.test" -> "mx.exampl\0.test": a valid pattern's prefix */
    uint32_t crc = stsm_crc32(0, piece, len - 4);
    piece[len - 4] = (uint8_t)(crc >> 24), piece[len - 3] = (uint8_t)(crc >> 16);
    piece[len - 2] = (uint8_t)(crc >> 8), piece[len - 1] = (uint8_t)crc;
    CHECK_INT(stsm_sts_cache_piece_load(&one, piece, len), STSM_ERR_CORRUPT);
    CHECK(!one.used);

    CHECK_CASE("a piece is exactly one entry: a blob of none or of two is refused");
    stsm_sts_cache_init(&loaded);
    len = stsm_sts_cache_save(&loaded, blob, sizeof blob);
    CHECK_INT(stsm_sts_cache_piece_load(&one, blob, len), STSM_ERR_CORRUPT);
    stsm_sts_cache_put(&cache, "b.test", "id1", &enforce, t0);
    len = stsm_sts_cache_save(&cache, blob, sizeof blob);
    CHECK_INT(stsm_sts_cache_piece_load(&one, blob, len), STSM_ERR_CORRUPT);
    CHECK(!one.used);

    CHECK_CASE("the longest entry fits STSM_STS_CACHE_PIECE_MAX exactly");
    stsm_sts_cache_init(&cache);
    fill_longest(&cache, 0, t0, STSM_STS_MAX_MX);
    CHECK_INT(stsm_sts_cache_piece_save(&cache.entries[0], piece, sizeof piece), sizeof piece);
    CHECK_INT(stsm_sts_cache_piece_save(&cache.entries[0], piece, sizeof piece - 1), 0);
    CHECK_INT(stsm_sts_cache_piece_load(&one, piece, sizeof piece), STSM_OK);
    CHECK(same_piece(&one, &cache.entries[0]));

    CHECK_CASE("a piece's digest is the whole table's digest of it alone");
    stsm_sts_cache_init(&loaded);
    loaded.entries[0] = cache.entries[0];
    CHECK_INT(stsm_sts_cache_piece_digest(&cache.entries[0]), stsm_sts_cache_digest(&loaded));
}

/* `src`'s piece with one more pattern "a.b" after its last (the mx count byte raised, the
 * CRC made good): what a build with a larger pattern pool might have stored. */
static size_t piece_plus_pattern(const struct stsm_sts_cache_entry *src, uint8_t *out, size_t cap)
{
    size_t len = stsm_sts_cache_piece_save(src, out, cap);
    size_t at = 12 + (1 + strlen(src->domain)) + (1 + strlen(src->id)) + 16 + (1 + strlen(src->failed_id)) + 8 + 1 + 4;
    CHECK(len > 0 && len + 4 <= cap && out[at] == src->policy.mx_count);
    out[at]++;
    memcpy(out + len - 4, "\x03" "a.b", 4);
    len += 4;
    uint32_t crc = stsm_crc32(0, out, len - 4);
    for (int i = 0; i < 4; i++) {
        out[len - 4 + (size_t)i] = (uint8_t)(crc >> (24 - 8 * i));
    }
    return len;
}

/* The pattern pool on load: a piece whose patterns do not fit it is refused whole, never
 * cut; one that fits exactly loads. */
static void test_pool_on_load(int64_t t0)
{
    static uint8_t forged[STSM_STS_CACHE_PIECE_MAX + 8];
    struct stsm_sts_cache_entry one;

    CHECK_CASE("a piece whose patterns fill the pool to the byte loads whole");
    stsm_sts_cache_init(&cache);
    fill_longest(&cache, 0, t0, STSM_STS_MAX_MX);
    size_t len = stsm_sts_cache_piece_save(&cache.entries[0], piece, sizeof piece);
    CHECK_INT(stsm_sts_cache_piece_load(&one, piece, len), STSM_OK);
    CHECK(same_piece(&one, &cache.entries[0]));
    CHECK_INT(one.policy.mx_len, STSM_STS_CACHE_MX_BLOB_MAX);

    CHECK_CASE("a piece with one pattern more than the pool holds is refused, not cut");
    if (cache.entries[0].policy.mx_count < STSM_STS_MAX_MX) {
        len = piece_plus_pattern(&cache.entries[0], forged, sizeof forged);
        CHECK_INT(stsm_sts_cache_piece_load(&one, forged, len), STSM_ERR_CORRUPT);
        CHECK(!one.used);
    }

    CHECK_CASE("the same extra pattern in a pool with room loads (the forgery is well made)");
    stsm_sts_cache_init(&cache);
    struct stsm_sts_policy small = policy(STSM_STS_MODE_ENFORCE, 86400, "mx.example.test");
    stsm_sts_cache_put(&cache, "x.test", "id", &small, t0);
    len = piece_plus_pattern(&cache.entries[0], forged, sizeof forged);
    CHECK_INT(stsm_sts_cache_piece_load(&one, forged, len), STSM_OK);
    CHECK(one.policy.mx_count == 2 && strcmp(stsm_sts_policy_mx_next(&one.policy, stsm_sts_policy_mx_first(&one.policy)), "a.b") == 0);
}

/* Mounts the simulated flash and loads the table from it, as a boot does. */
static size_t boot(size_t *dropped)
{
    nor_sim_power_on(&sim);
    CHECK_INT(stsm_store_mount(&store, &sim.area), STSM_OK);
    return stsm_sts_cache_flash_load(&loaded, &flash, &store, dropped);
}

static stsm_status_t sync_cache(size_t *written)
{
    return stsm_sts_cache_flash_sync(&cache, &flash, written);
}

static void test_flash(int64_t t0)
{
    struct stsm_sts_policy enforce = policy(STSM_STS_MODE_ENFORCE, 86400, "*.example.test");
    struct stsm_sts_policy testing = policy(STSM_STS_MODE_TESTING, 86400, "mx.example.test");
    size_t written, dropped;

    CHECK_CASE("flash: each entry is its own piece; the table loads back as it was");
    CHECK(nor_sim_init(&sim, mem, sizeof mem, 4096));
    CHECK_INT(boot(&dropped), 0);
    stsm_sts_cache_init(&cache);
    stsm_sts_cache_put(&cache, "a.test", "id1", &enforce, t0);
    stsm_sts_cache_put(&cache, "b.test", "id1", &testing, t0 + 1);
    stsm_sts_cache_fetch_failed(&cache, "c.test", "x", t0 + 2);
    CHECK_INT(sync_cache(&written), STSM_OK);
    CHECK_INT(written, 3);
    CHECK_INT(stsm_store_count(&store), 3);
    CHECK_INT(boot(&dropped), 3);
    CHECK_INT(dropped, 0);
    for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
        CHECK(same_piece(&loaded.entries[i], &cache.entries[i]));
    }
    CHECK(!stsm_sts_cache_may_fetch(&loaded, "c.test", "x", t0 + 3));

    CHECK_CASE("flash: a use writes nothing; a changed policy rewrites only its piece");
    CHECK(stsm_sts_cache_get(&cache, "a.test", t0 + 10) != NULL);
    unsigned long ops = sim.ops;
    CHECK_INT(sync_cache(&written), STSM_OK);
    CHECK_INT(written, 0);
    CHECK_INT(sim.ops, ops);
    uint32_t records = stsm_store_stats(&store)->records_written;
    stsm_sts_cache_put(&cache, "b.test", "id2", &enforce, t0 + 20);
    CHECK_INT(sync_cache(&written), STSM_OK);
    CHECK_INT(written, 1);
    CHECK_INT(stsm_store_stats(&store)->records_written, records + 1);
    boot(&dropped);
    const struct stsm_sts_cache_entry *e = stsm_sts_cache_get(&loaded, "b.test", t0 + 21);
    CHECK(e != NULL && e->policy.mode == STSM_STS_MODE_ENFORCE && strcmp(e->id, "id2") == 0);
    CHECK(stsm_sts_cache_get(&loaded, "a.test", t0 + 21) != NULL);

    CHECK_CASE("flash: a policy dropped (max_age 0) leaves the store too");
    struct stsm_sts_policy gone = policy(STSM_STS_MODE_ENFORCE, 0, NULL);
    stsm_sts_cache_put(&cache, "a.test", "id3", &gone, t0 + 30);
    CHECK_INT(sync_cache(&written), STSM_OK);
    CHECK_INT(written, 1);
    CHECK_INT(boot(&dropped), 2);
    CHECK(stsm_sts_cache_get(&loaded, "a.test", t0 + 31) == NULL);

    CHECK_CASE("flash: a piece that does not decode loses only its policy, and goes at the next sync");
    stsm_sts_cache_put(&cache, "a.test", "id4", &enforce, t0 + 40);
    CHECK_INT(sync_cache(&written), STSM_OK);
    size_t a_slot = (size_t)(stsm_sts_cache_get(&cache, "a.test", t0 + 41) - cache.entries);
    static const uint8_t junk[] = "STSMSC99 a piece of another format";
    CHECK_INT(stsm_store_put(&store, STSM_STS_CACHE_KEY(a_slot), junk, sizeof junk), STSM_OK);
    CHECK_INT(boot(&dropped), 2);
    CHECK_INT(dropped, 1);
    CHECK(stsm_sts_cache_get(&loaded, "a.test", t0 + 41) == NULL);   /* fetched again */
    CHECK(stsm_sts_cache_get(&loaded, "b.test", t0 + 41) != NULL);
    CHECK(!stsm_sts_cache_may_fetch(&loaded, "c.test", "x", t0 + 42));
    const uint8_t *data;
    size_t len;
    CHECK_INT(stsm_sts_cache_flash_sync(&loaded, &flash, &written), STSM_OK);
    CHECK_INT(written, 1);
    CHECK_INT(stsm_store_get(&store, STSM_STS_CACHE_KEY(a_slot), &data, &len), STSM_ERR_NOT_FOUND);

    CHECK_CASE("flash: a damaged newest piece gives back that slot's previous piece, the others whole");
    stsm_sts_cache_put(&cache, "b.test", "id2", &testing, t0 + 50);   /* b: enforce -> testing */
    CHECK_INT(boot(&dropped), 2);   /* b and c: the sync above deleted a's piece */
    CHECK_INT(sync_cache(&written), STSM_OK);
    CHECK_INT(written, 2);          /* a again, and b */
    size_t b_slot = (size_t)(stsm_sts_cache_get(&cache, "b.test", t0 + 51) - cache.entries);
    CHECK_INT(stsm_store_get(&store, STSM_STS_CACHE_KEY(b_slot), &data, &len), STSM_OK);
    if (stsm_store_get(&store, STSM_STS_CACHE_KEY(b_slot), &data, &len) == STSM_OK) {
        mem[data - sim.area.base + len / 2] ^= 0x10;   /* written last: nothing after it in its page */
    }
    CHECK_INT(boot(&dropped), 3);
    e = stsm_sts_cache_get(&loaded, "b.test", t0 + 51);
    CHECK(e != NULL && e->policy.mode == STSM_STS_MODE_ENFORCE && e->fetched_at == t0 + 20);
    e = stsm_sts_cache_get(&loaded, "a.test", t0 + 51);
    CHECK(e != NULL && strcmp(e->id, "id4") == 0);

    CHECK_CASE("flash: two pieces of one domain (a cut between two slots' syncs): the later fetch wins");
    nor_sim_init(&sim, mem, sizeof mem, 4096);
    boot(&dropped);
    stsm_sts_cache_init(&cache);
    stsm_sts_cache_put(&cache, "twin.test", "old", &enforce, t0);
    stsm_sts_cache_put(&cache, "other.test", "id", &enforce, t0);
    CHECK_INT(sync_cache(&written), STSM_OK);
    cache.entries[1] = cache.entries[0];   /* as if slot 1 took the domain and slot 0 was not written yet */
    strcpy(cache.entries[1].id, "new");
    cache.entries[1].fetched_at = t0 + 100;
    CHECK_INT(stsm_store_put(&store, STSM_STS_CACHE_KEY(1), piece,
                             stsm_sts_cache_piece_save(&cache.entries[1], piece, sizeof piece)), STSM_OK);
    CHECK_INT(boot(&dropped), 1);
    CHECK_INT(dropped, 1);
    e = stsm_sts_cache_get(&loaded, "twin.test", t0 + 101);
    CHECK(e != NULL && strcmp(e->id, "new") == 0);
    CHECK_INT(stsm_sts_cache_flash_sync(&loaded, &flash, &written), STSM_OK);
    CHECK_INT(written, 1);   /* the older twin's piece deleted */
    CHECK_INT(boot(&dropped), 1);
    CHECK_INT(dropped, 0);

    CHECK_CASE("flash: pieces of slots this build lacks are deleted at load");
    CHECK_INT(stsm_store_put(&store, STSM_STS_CACHE_KEY(STSM_STS_CACHE_ENTRIES), piece, 16), STSM_OK);
    CHECK_INT(stsm_store_put(&store, 0x01000001u, "outbox", 6), STSM_OK);   /* not ours: kept */
    CHECK_INT(boot(&dropped), 1);
    CHECK_INT(dropped, 1);
    CHECK_INT(stsm_store_get(&store, STSM_STS_CACHE_KEY(STSM_STS_CACHE_ENTRIES), &data, &len), STSM_ERR_NOT_FOUND);
    CHECK_INT(stsm_store_get(&store, 0x01000001u, &data, &len), STSM_OK);

    CHECK_CASE("flash: the piece written from the entry is byte for byte the one piece_save() makes");
    nor_sim_init(&sim, mem, sizeof mem, 4096);
    boot(&dropped);
    stsm_sts_cache_init(&cache);
    size_t mps2_mx = STSM_STS_MAX_MX < 10 ? STSM_STS_MAX_MX : 10;
    fill_longest(&cache, 0, t0, mps2_mx);   /* 10 texts of 253 where the pool holds them */
    stsm_sts_cache_fetch_failed(&cache, "m.test", "x", t0);        /* no id, no patterns */
    struct stsm_sts_policy none = policy(STSM_STS_MODE_NONE, 60, NULL);
    stsm_sts_cache_put(&cache, "n.test", "i", &none, t0);          /* no patterns */
    stsm_sts_cache_put(&cache, "o.test", "i", &enforce, t0);
    CHECK_INT(sync_cache(&written), STSM_OK);
    CHECK_INT(written, 4);
    for (size_t i = 0; i < 4; i++) {
        size_t want = stsm_sts_cache_piece_save(&cache.entries[i], piece, sizeof piece);
        CHECK(want > 0 && stsm_store_get(&store, STSM_STS_CACHE_KEY(i), &data, &len) == STSM_OK && len == want &&
              memcmp(data, piece, len) == 0);
    }

    CHECK_CASE("flash: an entry longer than the store's records: STSM_ERR_CAPACITY, its old piece deleted");
    if (STSM_STS_MAX_MX > 16) {   /* the host's 32 patterns of 253 (8.5 KiB) exceed a 4 KiB page */
        fill_longest(&cache, 0, t0 + 1, STSM_STS_MAX_MX);
        CHECK(stsm_sts_cache_piece_save(&cache.entries[0], piece, sizeof piece) > stsm_store_record_max(&sim.area));
        stsm_sts_cache_put(&cache, "o.test", "j", &enforce, t0 + 1);
        CHECK_INT(sync_cache(&written), STSM_ERR_CAPACITY);
        CHECK_INT(written, 2);   /* slot 0's tombstone, slot 3's new piece */
        CHECK_INT(stsm_store_get(&store, STSM_STS_CACHE_KEY(0), &data, &len), STSM_ERR_NOT_FOUND);
        CHECK_INT(boot(&dropped), 3);
        CHECK(stsm_sts_cache_get(&cache, cache.entries[0].domain, t0 + 2) != NULL);   /* still in force in RAM */
        e = stsm_sts_cache_get(&loaded, "o.test", t0 + 2);
        CHECK(e != NULL && strcmp(e->id, "j") == 0);
    }

    CHECK_CASE("flash: 4 entries of the largest mps2-an385 piece (10 patterns of 253) rewritten 200 times in 6 pages of 4 KiB");
    nor_sim_init(&sim, mem, sizeof mem, 4096);
    boot(&dropped);
    stsm_sts_cache_init(&cache);
    unsigned failures = 0;
    for (int round = 0; round < 50; round++) {
        for (int slot = 0; slot < 4; slot++) {
            fill_longest(&cache, slot, t0 + round * 4 + slot, mps2_mx);
            failures += sync_cache(&written) != STSM_OK || written != 1;
        }
    }
    CHECK_INT(failures, 0);
    CHECK(stsm_sts_cache_piece_save(&cache.entries[0], piece, sizeof piece) <= stsm_store_record_max(&sim.area));
    CHECK_INT(boot(&dropped), 4);
    for (size_t i = 0; i < 4; i++) {
        CHECK(same_piece(&loaded.entries[i], &cache.entries[i]));
    }
    unsigned long most, least, erases = 0;
    nor_sim_erase_spread(&sim, &most, &least);
    for (size_t p = 0; p < 6; p++) {
        erases += sim.erases[p];
    }
    printf("wear: 200 syncs of one %zu-byte piece each on 6 pages of 4 KiB: %lu erases, per page %lu..%lu\n",
           stsm_sts_cache_piece_save(&cache.entries[0], piece, sizeof piece), erases, least, most);
}

/*
 * A power cut at every device operation of one sync, in every way nor_sim leaves the
 * operation hit, after histories of different lengths (so that some syncs reclaim a page
 * on the way): after the reboot each slot holds its piece from before the sync or from
 * after it, never anything else, and nothing is dropped as undecodable.
 */
static void test_power_cuts(int64_t t0)
{
    const size_t page = 1024, size = 6 * 1024;
    static struct stsm_sts_cache before;
    uint32_t old_d[STSM_STS_CACHE_ENTRIES], new_d[STSM_STS_CACHE_ENTRIES];
    unsigned cuts = 0, bad = 0, reclaiming = 0;
    size_t written, dropped;
    char domain[32];

    CHECK_CASE("flash: a power cut anywhere in a sync leaves each slot's old or new piece");
    for (int history = 0; history < 24; history++) {
        CHECK(nor_sim_init(&sim, mem, size, page));
        boot(&dropped);
        stsm_sts_cache_init(&cache);
        for (int i = 0; i < 4; i++) {
            snprintf(domain, sizeof domain, "d%d.test", i);
            struct stsm_sts_policy p = policy(STSM_STS_MODE_ENFORCE, 86400, "*.example.test");
            stsm_sts_cache_put(&cache, domain, "id0", &p, t0);
        }
        for (int h = 0; h <= history; h++) {   /* the head moves on about 300 bytes each time */
            struct stsm_sts_policy p = policy(STSM_STS_MODE_ENFORCE, 86400 + (uint32_t)h, "*.example.test");
            for (size_t k = 1; k < 4; k++) {
                char mx[80];
                int n = snprintf(mx, sizeof mx, "mx%zu.a-rather-long-name-for-a-mail-exchanger.%d.example.test", k, h);
                CHECK(stsm_sts_policy_mx_add(&p, mx, (size_t)n));
            }
            snprintf(domain, sizeof domain, "d%d.test", h % 4);
            stsm_sts_cache_put(&cache, domain, "id0", &p, t0 + h);
            CHECK_INT(sync_cache(&written), STSM_OK);
        }
        before = cache;
        memcpy(snapshot, mem, size);
        /* The sync under test: a new policy, a drop and a newcomer in the freed slot, a
         * failed fetch. */
        struct stsm_sts_policy testing = policy(STSM_STS_MODE_TESTING, 3600, "mx.example.test");
        struct stsm_sts_policy gone = policy(STSM_STS_MODE_ENFORCE, 0, NULL);
        struct stsm_sts_policy enforce = policy(STSM_STS_MODE_ENFORCE, 86400, "*.new.test");
        stsm_sts_cache_put(&cache, "d1.test", "id1", &testing, t0 + 1000);
        stsm_sts_cache_put(&cache, "d2.test", "id1", &gone, t0 + 1000);
        stsm_sts_cache_put(&cache, "n.test", "id1", &enforce, t0 + 1000);
        stsm_sts_cache_fetch_failed(&cache, "d3.test", "id1", t0 + 1000);
        for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
            old_d[i] = stsm_sts_cache_piece_digest(&before.entries[i]);
            new_d[i] = stsm_sts_cache_piece_digest(&cache.entries[i]);
        }
        for (unsigned long k = 0;; k++) {
            bool finished = false;
            for (int mode = 0; mode < NOR_CUT_MODES; mode++) {
                CHECK(nor_sim_init(&sim, mem, size, page));
                nor_sim_load(&sim, snapshot, size);
                CHECK_INT(boot(&dropped), 4);
                unsigned long ops = sim.ops;
                nor_sim_cut_after(&sim, k, (enum nor_cut_mode)mode, (uint32_t)(k * 7 + (unsigned long)mode));
                stsm_status_t st = sync_cache(&written);
                if (!sim.off) {
                    finished = true;   /* the whole sync took fewer than k operations */
                    CHECK_INT(st, STSM_OK);
                    reclaiming += mode == 0 && stsm_store_stats(&store)->erases > 0;
                    (void)ops;
                    break;
                }
                cuts++;
                boot(&dropped);
                bad += dropped != 0;
                for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
                    uint32_t d = stsm_sts_cache_piece_digest(&loaded.entries[i]);
                    bad += d != old_d[i] && d != new_d[i];
                }
                /* The next sync brings the flash to the new table. */
                bad += stsm_sts_cache_flash_sync(&cache, &flash, &written) != STSM_OK;
                boot(&dropped);
                for (size_t i = 0; i < STSM_STS_CACHE_ENTRIES; i++) {
                    bad += stsm_sts_cache_piece_digest(&loaded.entries[i]) != new_d[i];
                }
            }
            if (finished) {
                break;
            }
        }
    }
    printf("power cuts: %u cuts over 24 histories (%u syncs reclaimed a page), %u bad\n", cuts, reclaiming, bad);
    CHECK(cuts > 0);
    CHECK(reclaiming > 0);
    CHECK_INT(bad, 0);
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
    CHECK(e != NULL && strcmp(stsm_sts_policy_mx_first(&e->policy), "*.example.test") == 0 &&
          e->fetched_at == t0 + 200);
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
    test_pool_on_load(t0);
    test_pieces(t0);
    test_flash(t0);
    test_power_cuts(t0);
    return stsm_check_summary("test_sts_cache");
}
