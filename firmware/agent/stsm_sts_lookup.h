/*
 * MTA-STS discovery for one domain (RFC 8461 sections 3.1 and 3.3): the TXT record at
 * _mta-sts.<domain> (CNAMEs followed, as the RFC requires), and when exactly one valid
 * STS record exists, the policy fetched over HTTPS. The result says what was found at
 * each step, including whether a CNAME stood on the way (for the strict no-CNAME
 * scopes). With a cache, a policy already held under the same id is used without a
 * fetch, and a held policy stays in force while the record is gone, DNS fails, or a
 * fetch fails (stsm_sts_cache_decide).
 *
 * Round trips: the address of the policy host is asked together with the TXT record
 * whenever a fetch may follow (nothing unexpired cached), so that a fetch connects as soon
 * as the TXT answer allows it; nothing connects before it does. A policy held unexpired in
 * the cache is in force from the start (RFC 8461 section 3.3 lets a sender use it while it
 * checks for a new one): the caller may deliver under it at once while the TXT check runs
 * on. When that check finds a new id (or the daily refresh due), the fetch waits for the
 * caller (stsm_sts_lookup_refresh(), once it holds no TLS session: one session's memory
 * at a time); what it finds goes to the cache for the next delivery, never into `policy`.
 */
#ifndef STSM_STS_LOOKUP_H
#define STSM_STS_LOOKUP_H

#include <stdbool.h>

#include "stsm_mta_sts.h"
#include "stsm_resolver.h"
#include "stsm_sts_cache.h"
#include "stsm_sts_fetch.h"

enum stsm_sts_txt_state {
    STSM_STS_TXT_NONE,       /**< no STS record (NXDOMAIN, NODATA, only other TXT) */
    STSM_STS_TXT_DNS_ERROR,  /**< the lookup failed for now */
    STSM_STS_TXT_BAD,        /**< an invalid STS record, or more than one */
    STSM_STS_TXT_OK,         /**< exactly one valid record */
};

struct stsm_sts_lookup;
typedef void (*stsm_sts_lookup_done_fn)(void *arg, struct stsm_sts_lookup *lookup);

/** One lookup. Large: allocate statically. Results are read once `done` ran. */
struct stsm_sts_lookup {
    enum stsm_sts_txt_state txt_state;
    stsm_status_t txt_dns_status;          /**< for STSM_STS_TXT_DNS_ERROR */
    stsm_text_fixed_t txt_reason;          /**< for STSM_STS_TXT_BAD (fixed text) */
    char txt_record[256];                  /**< the STS record as found (first 255 bytes) */
    char txt_id[STSM_STS_ID_MAX + 1];
    bool txt_cname;                        /**< _mta-sts.<domain> is a CNAME */
    char txt_canonical[STSM_HOSTNAME_MAX + 1];
    bool fetched;                          /**< a fetch ran: see `fetch` */
    bool have_policy;                      /**< `policy` applies */
    bool from_cache;                       /**< `policy` came from the cache (else fresh) */
    /** The cache held an unexpired policy: `have_policy`, `from_cache`, `policy`,
     *  `policy_id` and `policy_fetched_at` were set by the start and stay as they are;
     *  the lookup only checks the TXT id beside (and refreshes the cache). */
    bool early;
    /** Early only, once `done` ran: the TXT check wants the policy fetched (a new id, or
     *  the daily refresh); nothing was fetched yet: see stsm_sts_lookup_refresh(). */
    bool refresh_due;
    /** Early only, once `done` ran after stsm_sts_lookup_refresh(): a new policy was
     *  fetched (fetch.policy, under `txt_id`) and stored in the cache for the next
     *  delivery. */
    bool refreshed;
    struct stsm_sts_policy policy;         /**< the policy in force */
    char policy_id[STSM_STS_ID_MAX + 1];   /**< the TXT id it was fetched under */
    int64_t policy_fetched_at;

    char domain[STSM_HOSTNAME_MAX + 1];
    struct stsm_tls *tls;
    uint32_t fetch_timeout_ms;
    bool relax_content_type;
    struct stsm_sts_cache *cache;          /* may be NULL */
    int64_t now;
    struct stsm_resolver_query query;
    stsm_sts_lookup_done_fn done;
    void *arg;
    struct stsm_sts_fetch fetch;
};

/**
 * Starts discovery for `domain` at time `now` (seconds), consulting and updating `cache`
 * when not NULL. Returns STSM_OK (`done` runs later, never inside this call) or why it
 * could not start (`done` never runs; a policy the cache holds is in `policy` all the
 * same, `have_policy` and `from_cache` set). On STSM_OK with `early` set, the cached
 * policy is in force already (see `early`). When a newly fetched policy is stored under
 * an id other than the one cached before (or none was), the TLS sessions kept for
 * resumption are forgotten (stsm_tls_forget_sessions).
 */
stsm_status_t stsm_sts_lookup_start(struct stsm_sts_lookup *lookup, const char *domain, struct stsm_tls *tls,
                                    uint32_t fetch_timeout_ms, bool relax_content_type,
                                    struct stsm_sts_cache *cache, int64_t now,
                                    stsm_sts_lookup_done_fn done, void *arg);

/**
 * Fetches the policy the TXT check of an early lookup found due (`refresh_due`, cleared
 * here), verified for mta-sts.<domain> as any fetch: on success it is stored in the cache
 * (`refreshed`; TLS sessions forgotten for a new id), on failure the back-off is recorded;
 * `policy` stays. Returns STSM_OK (`done` runs again later, never inside this call), or
 * why it could not start (the back-off recorded, `done` does not run), STSM_ERR_ARGUMENT
 * when no refresh is due. Call it only once `done` ran, while the caller holds no TLS
 * session.
 */
stsm_status_t stsm_sts_lookup_refresh(struct stsm_sts_lookup *lookup);

/** "none", "dns_error", "invalid", "valid". */
const char *stsm_sts_txt_state_str(enum stsm_sts_txt_state state);

#endif /* STSM_STS_LOOKUP_H */
