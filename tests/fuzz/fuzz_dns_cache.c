/*
 * libFuzzer harness for the DNS answer cache. The input is a server's message, decoded as
 * fuzz_dns_decode does (name example.test, type from the ID's two low bits); its bytes
 * then script a run of stores, lookups and expiries over four keys at times that jump
 * ahead by the byte's value in seconds. Checks: a lookup hits only a key whose last store
 * succeeded and whose TTL has not run out, and what it returns is the stored answer
 * exactly but for the TTLs; the cache never holds more bytes than its budget.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_dns.h"
#include "stsm_dns_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t types[] = { STSM_DNS_TYPE_A, STSM_DNS_TYPE_AAAA, STSM_DNS_TYPE_MX,
                                  STSM_DNS_TYPE_TXT };
static const char *const keys[] = { "example.test", "a.example.test", "EXAMPLE.test.", "b.test" };

static bool same_but_ttls(const struct stsm_dns_answer *a, const struct stsm_dns_answer *b)
{
    if (a->outcome != b->outcome || a->rcode != b->rcode || a->type != b->type ||
        a->asked != b->asked || a->canonical != b->canonical || a->cname_hops != b->cname_hops ||
        a->count != b->count || a->dropped != b->dropped || a->extra_count != b->extra_count ||
        a->extra_incomplete != b->extra_incomplete || a->pool_used != b->pool_used ||
        memcmp(a->chain, b->chain, a->cname_hops * sizeof a->chain[0]) != 0 ||
        memcmp(a->pool, b->pool, a->pool_used) != 0) {
        return false;
    }
    for (size_t i = 0; i < a->count + a->extra_count; i++) {
        const struct stsm_dns_record *x = i < a->count ? &a->records[i] : &a->extra[i - a->count];
        const struct stsm_dns_record *y = i < a->count ? &b->records[i] : &b->extra[i - a->count];
        if (x->type != y->type || x->ttl > y->ttl || x->owner != y->owner ||
            x->preference != y->preference || x->data != y->data || x->data_len != y->data_len ||
            memcmp(x->address, y->address, sizeof x->address) != 0) {
            return false;
        }
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct stsm_dns_cache cache;
    static struct stsm_dns_answer answer, got;
    struct stsm_dns_query query = { 0 };
    bool stored[4] = { false };
    uint32_t stored_at[4] = { 0 }, ttl_ms[4] = { 0 };
    strcpy(query.name, "example.test");
    query.type = size >= 2 ? types[data[1] & 3u] : STSM_DNS_TYPE_A;
    query.id = size >= 2 ? (uint16_t)((data[0] << 8) | data[1]) : 0;
    if (stsm_dns_decode(data, size, &query, &answer) != STSM_OK) {
        return 0;
    }
    stsm_dns_cache_clear(&cache);
    /* Keys 0 and 2 name the same entry; the shadow follows key 0's slot for both. */
    uint32_t now = 0xFFFF0000u;   /* the clock wraps during the run */
    for (size_t i = 0; i < size && i < 256; i++) {
        unsigned op = data[i] & 3u, k = (data[i] >> 2) & 3u, slot = k == 2 ? 0 : k;
        now += (uint32_t)(data[i] >> 4) * 1000u + (data[i] & 1u);
        if (op == 0 || op == 1) {
            stored[slot] = stsm_dns_cache_put(&cache, keys[k], query.type, &answer, NULL, 0, now);
            stored_at[slot] = now;
            ttl_ms[slot] = stsm_dns_cache_ttl_s(&answer) * 1000u;
        } else if (op == 2) {
            bool hit = stsm_dns_cache_get(&cache, keys[k], query.type, now, &got, NULL, 0);
            bool fresh = stored[slot] && (uint32_t)(now - stored_at[slot]) < ttl_ms[slot];
            if ((hit && !fresh) || (hit && !same_but_ttls(&got, &answer))) {
                abort();
            }
        } else {
            stsm_dns_cache_expire(&cache, now);
        }
        if (cache.used > STSM_DNS_CACHE_BYTES) {
            abort();
        }
    }
    return 0;
}
