/*
 * The DNS answer cache (stsm_dns_cache.c), on answers decoded from messages built byte by
 * byte: TTL boundaries, the cap, negative answers, TTL 0, errors, the CNAME chain and
 * every other field kept exactly, eviction, an answer larger than the whole cache.
 * Built with STSM_DNS_CACHE_BYTES = 2048 (CMakeLists.txt), the size of a small device.
 */
#include <stdio.h>

#include "dns_packet.h"
#include "stsm_check.h"
#include "stsm_dns.h"
#include "stsm_dns_cache.h"

#define ID 0x4242

static struct stsm_dns_cache cache;
static struct stsm_dns_answer answer, got;

static void rr_a(struct pkt *p, const char *owner, uint32_t ttl, uint8_t last)
{
    pkt_name(p, owner);
    pkt_rr_fixed(p, STSM_DNS_TYPE_A, ttl, 4);
    pkt_bytes(p, (const uint8_t[]){ 192, 0, 2, last }, 4);
}

static void rr_cname(struct pkt *p, const char *owner, uint32_t ttl, const char *target)
{
    pkt_name(p, owner);
    pkt_rr_fixed(p, STSM_DNS_TYPE_CNAME, ttl, (unsigned)(strlen(target) + 2));
    pkt_name(p, target);
}

static void rr_mx(struct pkt *p, const char *owner, uint32_t ttl, unsigned pref, const char *exchange)
{
    pkt_name(p, owner);
    pkt_rr_fixed(p, STSM_DNS_TYPE_MX, ttl, (unsigned)(2 + strlen(exchange) + 2));
    pkt_u16(p, pref);
    pkt_name(p, exchange);
}

/* Decodes `p` as the answer to (name, type) into `answer`. */
static void decode(const struct pkt *p, const char *name, uint16_t type)
{
    struct stsm_dns_query q = { .id = ID, .type = type };
    memcpy(q.name, name, strlen(name) + 1);
    CHECK_INT(stsm_dns_decode(p->b, p->n, &q, &answer), STSM_OK);
}

/* An A answer for `name` with one record of `ttl`. */
static void a_answer(const char *name, uint32_t ttl)
{
    static struct pkt p;
    pkt_header(&p, ID, 0, 0, 1, 1, 0, 0);
    pkt_question(&p, name, STSM_DNS_TYPE_A);
    rr_a(&p, name, ttl, 10);
    decode(&p, name, STSM_DNS_TYPE_A);
}

static bool same_answer(const struct stsm_dns_answer *a, const struct stsm_dns_answer *b)
{
    return memcmp(a, b, offsetof(struct stsm_dns_answer, pool)) == 0 &&
           memcmp(a->pool, b->pool, a->pool_used) == 0;
}

static bool get(const char *name, uint16_t type, uint32_t now)
{
    return stsm_dns_cache_get(&cache, name, type, now, &got, NULL, 0);
}

static void test_ttl(void)
{
    const uint32_t t0 = 5000;
    CHECK_CASE("TTL 300 s: served until 1 ms before it runs out, not at or after");
    stsm_dns_cache_clear(&cache);
    a_answer("mx1.example.test", 300);
    CHECK_INT(stsm_dns_cache_ttl_s(&answer), 300);
    CHECK(stsm_dns_cache_put(&cache, "mx1.example.test", STSM_DNS_TYPE_A, &answer, NULL, 0, t0));
    CHECK(get("mx1.example.test", STSM_DNS_TYPE_A, t0));
    CHECK(same_answer(&got, &answer));
    CHECK(get("mx1.example.test", STSM_DNS_TYPE_A, t0 + 300000 - 1));
    CHECK(!get("mx1.example.test", STSM_DNS_TYPE_A, t0 + 300000));
    CHECK(!get("mx1.example.test", STSM_DNS_TYPE_A, t0 + 300000 + 1));
    CHECK_INT(stsm_dns_cache_count(&cache), 0);   /* dropped once expired */
    CHECK_INT(cache.hits, 2);
    CHECK_INT(cache.misses, 2);

    CHECK_CASE("served records carry what is left of their TTL");
    CHECK(stsm_dns_cache_put(&cache, "mx1.example.test", STSM_DNS_TYPE_A, &answer, NULL, 0, t0));
    CHECK(get("mx1.example.test", STSM_DNS_TYPE_A, t0 + 10999));
    CHECK_INT(got.records[0].ttl, 290);

    CHECK_CASE("names match case-insensitively, trailing dot or not; the type must match");
    CHECK(get("MX1.Example.TEST.", STSM_DNS_TYPE_A, t0 + 1));
    CHECK(!get("mx1.example.test", STSM_DNS_TYPE_AAAA, t0 + 1));
    CHECK(!get("mx2.example.test", STSM_DNS_TYPE_A, t0 + 1));
    CHECK(!get("mx1.example.tes", STSM_DNS_TYPE_A, t0 + 1));

    CHECK_CASE("a TTL over the cap is cut to STSM_DNS_CACHE_TTL_MAX_S");
    stsm_dns_cache_clear(&cache);
    a_answer("long.example.test", 604800);
    CHECK_INT(stsm_dns_cache_ttl_s(&answer), STSM_DNS_CACHE_TTL_MAX_S);
    CHECK(stsm_dns_cache_put(&cache, "long.example.test", STSM_DNS_TYPE_A, &answer, NULL, 0, t0));
    CHECK(get("long.example.test", STSM_DNS_TYPE_A, t0 + STSM_DNS_CACHE_TTL_MAX_S * 1000u - 1));
    CHECK(!get("long.example.test", STSM_DNS_TYPE_A, t0 + STSM_DNS_CACHE_TTL_MAX_S * 1000u));

    CHECK_CASE("across the wrap of the millisecond clock");
    CHECK(stsm_dns_cache_put(&cache, "long.example.test", STSM_DNS_TYPE_A, &answer, NULL, 0, 0xFFFFF000u));
    CHECK(get("long.example.test", STSM_DNS_TYPE_A, 0x00000100u));

    CHECK_CASE("TTL 0 is not cached, and drops what was held for that name");
    a_answer("long.example.test", 0);
    CHECK_INT(stsm_dns_cache_ttl_s(&answer), 0);
    CHECK(!stsm_dns_cache_put(&cache, "long.example.test", STSM_DNS_TYPE_A, &answer, NULL, 0, 0x200u));
    CHECK(!get("long.example.test", STSM_DNS_TYPE_A, 0x200u));

    CHECK_CASE("a TTL with its top bit set counts as 0 (RFC 2181)");
    a_answer("long.example.test", 0x80000000u);
    CHECK_INT(stsm_dns_cache_ttl_s(&answer), 0);

    CHECK_CASE("the shortest TTL among the records decides");
    static struct pkt p;
    pkt_header(&p, ID, 0, 0, 1, 3, 0, 0);
    pkt_question(&p, "multi.example.test", STSM_DNS_TYPE_A);
    rr_a(&p, "multi.example.test", 900, 1);
    rr_a(&p, "multi.example.test", 120, 2);
    rr_a(&p, "multi.example.test", 600, 3);
    decode(&p, "multi.example.test", STSM_DNS_TYPE_A);
    CHECK_INT(stsm_dns_cache_ttl_s(&answer), 120);
}

static void test_cname_chain(void)
{
    static struct pkt p;
    CHECK_CASE("CNAME chain: kept exactly, and its shortest link bounds the TTL");
    stsm_dns_cache_clear(&cache);
    pkt_header(&p, ID, 0, 0, 1, 3, 0, 0);
    pkt_question(&p, "www.example.test", STSM_DNS_TYPE_A);
    rr_cname(&p, "www.example.test", 500, "edge.cdn.test");
    rr_cname(&p, "edge.cdn.test", 45, "mx1.example.test");
    rr_a(&p, "mx1.example.test", 300, 10);
    decode(&p, "www.example.test", STSM_DNS_TYPE_A);
    CHECK_INT(answer.cname_hops, 2);
    CHECK_INT(answer.cname_ttl, 45);
    CHECK_INT(stsm_dns_cache_ttl_s(&answer), 45);
    CHECK(stsm_dns_cache_put(&cache, "www.example.test", STSM_DNS_TYPE_A, &answer, NULL, 0, 0));
    memset(&got, 0xA5, sizeof got);
    CHECK(get("www.example.test", STSM_DNS_TYPE_A, 0));
    CHECK(same_answer(&got, &answer));
    CHECK_INT(got.cname_hops, 2);
    CHECK_STR(stsm_dns_str(&got, got.asked), "www.example.test");
    CHECK_STR(stsm_dns_str(&got, got.chain[0]), "edge.cdn.test");
    CHECK_STR(stsm_dns_str(&got, got.chain[1]), "mx1.example.test");
    CHECK_STR(stsm_dns_str(&got, got.canonical), "mx1.example.test");
    CHECK(get("www.example.test", STSM_DNS_TYPE_A, 44999));
    CHECK(!get("www.example.test", STSM_DNS_TYPE_A, 45000));

    CHECK_CASE("NXDOMAIN at the end of a CNAME: kept with its chain, for the CNAME's TTL if shorter");
    pkt_header(&p, ID, 0, 3, 1, 1, 0, 0);
    pkt_question(&p, "alias.example.test", STSM_DNS_TYPE_A);
    rr_cname(&p, "alias.example.test", 30, "gone.example.test");
    decode(&p, "alias.example.test", STSM_DNS_TYPE_A);
    CHECK_INT(answer.outcome, STSM_DNS_NXDOMAIN);
    CHECK_INT(stsm_dns_cache_ttl_s(&answer), 30);
    CHECK(stsm_dns_cache_put(&cache, "alias.example.test", STSM_DNS_TYPE_A, &answer, NULL, 0, 0));
    CHECK(get("alias.example.test", STSM_DNS_TYPE_A, 999));
    CHECK(same_answer(&got, &answer));
    CHECK_STR(stsm_dns_str(&got, got.canonical), "gone.example.test");
    CHECK(get("alias.example.test", STSM_DNS_TYPE_A, 29999));
    CHECK_INT(got.cname_ttl, 1);   /* what is left of it */
    CHECK(!get("alias.example.test", STSM_DNS_TYPE_A, 30000));
}

static void test_mx_fields(void)
{
    static struct pkt p;
    CHECK_CASE("MX answer: dropped records, additional addresses and the origin kept exactly");
    stsm_dns_cache_clear(&cache);
    unsigned n = STSM_DNS_MAX_RECORDS + 2;
    pkt_header(&p, ID, 0, 0, 1, n, 0, 2);
    pkt_question(&p, "example.test", STSM_DNS_TYPE_MX);
    for (unsigned i = 0; i < n; i++) {
        char host[32];
        snprintf(host, sizeof host, "m%u.example.test", i);
        rr_mx(&p, "example.test", 3000, 10 + i, host);
    }
    rr_a(&p, "m0.example.test", 3000, 20);
    rr_a(&p, "m1.example.test", 3000, 21);
    decode(&p, "example.test", STSM_DNS_TYPE_MX);
    CHECK_INT(answer.dropped, 2);
    CHECK_INT(answer.extra_count, 2);
    const uint8_t server[4] = { 192, 0, 2, 1 };
    uint8_t origin[4] = { 0 };
    CHECK(stsm_dns_cache_put(&cache, "example.test", STSM_DNS_TYPE_MX, &answer, server, 4, 0));
    CHECK(stsm_dns_cache_get(&cache, "example.test", STSM_DNS_TYPE_MX, 1, &got, origin, sizeof origin));
    CHECK(same_answer(&got, &answer));
    CHECK(memcmp(origin, server, 4) == 0);
    CHECK_STR(stsm_dns_str(&got, got.records[15].data), "m15.example.test");
    CHECK_STR(stsm_dns_str(&got, got.extra[1].owner), "m1.example.test");

    CHECK_CASE("a second answer for the same key replaces the first");
    a_answer("example.test", 60);
    answer.type = STSM_DNS_TYPE_MX;   /* a stand-in with another shape */
    CHECK(stsm_dns_cache_put(&cache, "example.test", STSM_DNS_TYPE_MX, &answer, NULL, 0, 2));
    CHECK_INT(stsm_dns_cache_count(&cache), 1);
    CHECK(get("example.test", STSM_DNS_TYPE_MX, 3));
    CHECK(same_answer(&got, &answer));
}

static void test_negative_and_errors(void)
{
    static struct pkt p;
    CHECK_CASE("NXDOMAIN cached for STSM_DNS_CACHE_NEGATIVE_TTL_S");
    stsm_dns_cache_clear(&cache);
    pkt_header(&p, ID, 0, 3, 1, 0, 0, 0);
    pkt_question(&p, "_mta-sts.none.test", STSM_DNS_TYPE_TXT);
    decode(&p, "_mta-sts.none.test", STSM_DNS_TYPE_TXT);
    CHECK_INT(answer.outcome, STSM_DNS_NXDOMAIN);
    CHECK_INT(stsm_dns_cache_ttl_s(&answer), STSM_DNS_CACHE_NEGATIVE_TTL_S);
    CHECK(stsm_dns_cache_put(&cache, "_mta-sts.none.test", STSM_DNS_TYPE_TXT, &answer, NULL, 0, 100));
    CHECK(get("_mta-sts.none.test", STSM_DNS_TYPE_TXT, 100 + STSM_DNS_CACHE_NEGATIVE_TTL_S * 1000u - 1));
    CHECK_INT(got.outcome, STSM_DNS_NXDOMAIN);
    CHECK(!get("_mta-sts.none.test", STSM_DNS_TYPE_TXT, 100 + STSM_DNS_CACHE_NEGATIVE_TTL_S * 1000u));

    CHECK_CASE("NODATA cached the same way");
    pkt_header(&p, ID, 0, 0, 1, 0, 0, 0);
    pkt_question(&p, "mx1.example.test", STSM_DNS_TYPE_AAAA);
    decode(&p, "mx1.example.test", STSM_DNS_TYPE_AAAA);
    CHECK_INT(answer.outcome, STSM_DNS_NODATA);
    CHECK(stsm_dns_cache_put(&cache, "mx1.example.test", STSM_DNS_TYPE_AAAA, &answer, NULL, 0, 0));
    CHECK(get("mx1.example.test", STSM_DNS_TYPE_AAAA, 1));
    CHECK_INT(got.outcome, STSM_DNS_NODATA);

    CHECK_CASE("SERVFAIL and a truncated answer are never cached");
    pkt_header(&p, ID, 0, 2, 1, 0, 0, 0);
    pkt_question(&p, "sf.example.test", STSM_DNS_TYPE_A);
    decode(&p, "sf.example.test", STSM_DNS_TYPE_A);
    CHECK_INT(answer.outcome, STSM_DNS_TEMPFAIL);
    CHECK(!stsm_dns_cache_put(&cache, "sf.example.test", STSM_DNS_TYPE_A, &answer, NULL, 0, 0));
    CHECK(!get("sf.example.test", STSM_DNS_TYPE_A, 0));
    pkt_header(&p, ID, 0x0200, 0, 1, 0, 0, 0);
    pkt_question(&p, "tc.example.test", STSM_DNS_TYPE_A);
    decode(&p, "tc.example.test", STSM_DNS_TYPE_A);
    CHECK_INT(answer.outcome, STSM_DNS_TRUNCATED);
    CHECK(!stsm_dns_cache_put(&cache, "tc.example.test", STSM_DNS_TYPE_A, &answer, NULL, 0, 0));

    CHECK_CASE("bad keys and origins are refused");
    a_answer("ok.example.test", 60);
    CHECK(!stsm_dns_cache_put(&cache, "", STSM_DNS_TYPE_A, &answer, NULL, 0, 0));
    CHECK(!stsm_dns_cache_put(&cache, "ok.example.test", STSM_DNS_TYPE_A, &answer, NULL, 1, 0));
    CHECK(!stsm_dns_cache_put(&cache, "ok.example.test", STSM_DNS_TYPE_A, &answer, &answer,
                              STSM_DNS_CACHE_ORIGIN_MAX + 1, 0));
    CHECK(!get("", STSM_DNS_TYPE_A, 0));
}

static void test_eviction(void)
{
    char name[32];
    CHECK_CASE("full: the least recently used answer gives way to the N+1th");
    stsm_dns_cache_clear(&cache);
    unsigned n = 0;
    for (;; n++) {
        snprintf(name, sizeof name, "h%03u.example.test", n);
        a_answer(name, 600);
        CHECK(stsm_dns_cache_put(&cache, name, STSM_DNS_TYPE_A, &answer, NULL, 0, n));
        if (cache.evicted > 0) {
            break;
        }
    }
    printf("%u answers of one A record fit %d bytes\n", n, STSM_DNS_CACHE_BYTES);
    CHECK(n >= 8);
    stsm_dns_cache_clear(&cache);
    for (unsigned i = 0; i < n; i++) {
        snprintf(name, sizeof name, "h%03u.example.test", i);
        a_answer(name, 600);
        CHECK(stsm_dns_cache_put(&cache, name, STSM_DNS_TYPE_A, &answer, NULL, 0, 100));
    }
    CHECK_INT(stsm_dns_cache_count(&cache), n);
    CHECK_INT(cache.evicted, 0);
    CHECK(get("h000.example.test", STSM_DNS_TYPE_A, 200));   /* now the most recent */
    snprintf(name, sizeof name, "h%03u.example.test", n);
    a_answer(name, 600);
    CHECK(stsm_dns_cache_put(&cache, name, STSM_DNS_TYPE_A, &answer, NULL, 0, 300));
    CHECK_INT(stsm_dns_cache_count(&cache), n);
    CHECK_INT(cache.evicted, 1);
    CHECK(!get("h001.example.test", STSM_DNS_TYPE_A, 300));
    CHECK(get("h000.example.test", STSM_DNS_TYPE_A, 300));
    CHECK(get(name, STSM_DNS_TYPE_A, 300));
    CHECK(get("h002.example.test", STSM_DNS_TYPE_A, 300));

    CHECK_CASE("expired answers go before any fresh one is evicted");
    stsm_dns_cache_clear(&cache);
    for (unsigned i = 0; i < n; i++) {
        snprintf(name, sizeof name, "h%03u.example.test", i);
        a_answer(name, i == 3 ? 1 : 600);
        CHECK(stsm_dns_cache_put(&cache, name, STSM_DNS_TYPE_A, &answer, NULL, 0, 0));
    }
    a_answer("late.example.test", 600);
    CHECK(stsm_dns_cache_put(&cache, "late.example.test", STSM_DNS_TYPE_A, &answer, NULL, 0, 1000));
    CHECK_INT(cache.evicted, 0);
    CHECK(get("h000.example.test", STSM_DNS_TYPE_A, 1000));

    CHECK_CASE("an answer larger than the whole cache is not cached and evicts nothing");
    static struct pkt p;
    char text[250];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    pkt_header(&p, ID, 0, 0, 1, 10, 0, 0);
    pkt_question(&p, "big.example.test", STSM_DNS_TYPE_TXT);
    for (int i = 0; i < 10; i++) {
        pkt_rr_txt(&p, "big.example.test", text, NULL);
    }
    decode(&p, "big.example.test", STSM_DNS_TYPE_TXT);
    CHECK(answer.pool_used > STSM_DNS_CACHE_BYTES);
    size_t before = stsm_dns_cache_count(&cache);
    CHECK(!stsm_dns_cache_put(&cache, "big.example.test", STSM_DNS_TYPE_TXT, &answer, NULL, 0, 1000));
    CHECK_INT(stsm_dns_cache_count(&cache), before);
    CHECK_INT(cache.evicted, 0);
    CHECK(!get("big.example.test", STSM_DNS_TYPE_TXT, 1000));
}

int main(void)
{
    test_ttl();
    test_cname_chain();
    test_mx_fields();
    test_negative_and_errors();
    test_eviction();
    return stsm_check_summary("test_dns_cache");
}
