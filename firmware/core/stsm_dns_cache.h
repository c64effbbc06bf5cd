/*
 * A small cache of decoded DNS answers, each kept for its TTL. Pure: no I/O, no clock, no
 * heap; the caller passes the time as a millisecond count that may wrap at 2^32 (lwIP's
 * sys_now()).
 *
 * An answer is kept whole, as a caller reads it: outcome, rcode, records, CNAME chain
 * (cname_hops, canonical, chain[], cname_ttl), `dropped`, the additional addresses and
 * extra_incomplete, with only the bytes of the name pool it uses. Entries lie one after the
 * other in a fixed byte array; when a new one does not fit, the least recently used give
 * way. Only ANSWER, NODATA and NXDOMAIN outcomes are kept; see stsm_dns_cache_ttl_s().
 *
 * Expired entries are dropped by every call. An entry that is never looked at again for
 * 2^32 ms (49.7 days) could seem fresh once its age wraps, so a caller that may sit idle
 * that long calls stsm_dns_cache_expire() now and then (the resolver does, hourly).
 */
#ifndef STSM_DNS_CACHE_H
#define STSM_DNS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_config.h"
#include "stsm_dns.h"

/** The cache. Zeroed (or stsm_dns_cache_clear()) it is empty. Fields are private, but for
 *  the counters, which callers may read. */
struct stsm_dns_cache {
    uint32_t hits;       /**< answers served */
    uint32_t misses;     /**< lookups that found nothing fresh */
    uint32_t stored;     /**< answers stored */
    uint32_t evicted;    /**< fresh answers that gave way for room */
    uint32_t tick;       /* recency clock */
    size_t used;         /* bytes of `bytes` in use */
    uint8_t bytes[STSM_DNS_CACHE_BYTES > 0 ? STSM_DNS_CACHE_BYTES : 1];
};

/** Empties the cache (counters included). */
void stsm_dns_cache_clear(struct stsm_dns_cache *cache);

/**
 * How long `answer` may be served from a cache, in seconds: 0 (not at all) for an outcome
 * other than ANSWER, NODATA or NXDOMAIN; otherwise the smallest TTL among its kept records,
 * additional addresses and the CNAMEs that led to them, capped at STSM_DNS_CACHE_TTL_MAX_S,
 * or at STSM_DNS_CACHE_NEGATIVE_TTL_S for NODATA and NXDOMAIN. A TTL with its top bit set
 * counts as 0 (RFC 2181 section 8).
 */
uint32_t stsm_dns_cache_ttl_s(const struct stsm_dns_answer *answer);

/**
 * Stores `answer` to (name, type), replacing what was held for it, for
 * stsm_dns_cache_ttl_s() from `now_ms`, with `origin_len` bytes of `origin` (at most
 * STSM_DNS_CACHE_ORIGIN_MAX). Returns true when stored; false when the TTL is 0, the
 * answer is larger than the whole cache, or the arguments are bad (what was held for
 * (name, type) is then dropped all the same: a newer answer said otherwise). Names
 * compare as stsm_dns_name_equal() does.
 */
bool stsm_dns_cache_put(struct stsm_dns_cache *cache, const char *name, uint16_t type,
                        const struct stsm_dns_answer *answer, const void *origin, size_t origin_len,
                        uint32_t now_ms);

/**
 * Looks up (name, type). When an answer younger than its TTL is held, copies it into
 * `*out` (each record's TTL lessened by the whole seconds it has been held), its origin
 * into `origin` (up to `origin_cap` bytes; may be NULL with 0), counts a hit and returns
 * true. Otherwise counts a miss, leaves `*out` alone and returns false.
 */
bool stsm_dns_cache_get(struct stsm_dns_cache *cache, const char *name, uint16_t type,
                        uint32_t now_ms, struct stsm_dns_answer *out, void *origin,
                        size_t origin_cap);

/** Drops every entry whose TTL has run out at `now_ms`. */
void stsm_dns_cache_expire(struct stsm_dns_cache *cache, uint32_t now_ms);

/** Entries held (expired ones not yet dropped included). */
size_t stsm_dns_cache_count(const struct stsm_dns_cache *cache);

#endif /* STSM_DNS_CACHE_H */
