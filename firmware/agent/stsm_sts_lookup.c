#include "stsm_sts_lookup.h"

#include <stdio.h>
#include <string.h>

#include "stsm_wipe.h"

static void use_cached(struct stsm_sts_lookup *l, const struct stsm_sts_cache_entry *e)
{
    if (e == NULL) {
        return;
    }
    l->have_policy = true;
    l->from_cache = true;
    stsm_sts_policy_copy(&l->policy, &e->policy);
    memcpy(l->policy_id, e->id, sizeof l->policy_id);
    l->policy_fetched_at = e->fetched_at;
}

/* What the cache holds unexpired stays in force: the lookup could not say otherwise (DNS
 * failing, a fetch failed). An early lookup's was set at its start and stays. */
static void keep_held(struct stsm_sts_lookup *l)
{
    if (l->cache != NULL && !l->early) {
        use_cached(l, stsm_sts_cache_get(l->cache, l->domain, l->now));
    }
}

/* A policy held under the same id never changes the state of TLS sessions; a new one (or
 * the first) may change what a resumed session must have proved, so none survives it. */
static void store_policy(struct stsm_sts_lookup *l, const struct stsm_sts_policy *policy)
{
    const struct stsm_sts_cache_entry *before =
        l->cache != NULL ? stsm_sts_cache_get(l->cache, l->domain, l->now) : NULL;
    bool new_id = before == NULL || strcmp(before->id, l->txt_id) != 0;
    if (l->cache != NULL) {
        stsm_sts_cache_put(l->cache, l->domain, l->txt_id, policy, l->now);
    }
    if (new_id && l->tls != NULL) {
        stsm_tls_forget_sessions(l->tls);
    }
}

/* The lookup is over: an address asked ahead for a fetch that did not happen is let go. */
static void end(struct stsm_sts_lookup *l)
{
    stsm_sts_fetch_cancel(&l->fetch);
    l->done(l->arg, l);
}

/* A fetch under the TXT id failed (or could not start). */
static void fetch_failed(struct stsm_sts_lookup *l)
{
    if (l->cache == NULL) {
        return;
    }
    /* A failed fetch leaves a held policy in force until it expires. */
    stsm_sts_cache_fetch_failed(l->cache, l->domain, l->txt_id, l->now);
    keep_held(l);
}

static void on_fetched(void *arg, struct stsm_sts_fetch *fetch)
{
    struct stsm_sts_lookup *l = arg;
    if (fetch->status == STSM_OK) {
        store_policy(l, &fetch->policy);
        if (l->early) {
            l->refreshed = true;   /* for the next delivery; this one keeps its policy */
        } else {
            l->have_policy = true;
            stsm_sts_policy_copy(&l->policy, &fetch->policy);
            memcpy(l->policy_id, l->txt_id, sizeof l->policy_id);
            l->policy_fetched_at = l->now;
        }
    } else {
        fetch_failed(l);
    }
    end(l);
}

/* Fetches the policy under the TXT id (`fetched`); a fetch that cannot start has that as
 * its status, for the caller to end it so. */
static stsm_status_t start_fetch(struct stsm_sts_lookup *l)
{
    l->fetched = true;
    stsm_status_t st = stsm_sts_fetch_start(&l->fetch, l->domain, l->tls, l->fetch_timeout_ms,
                                            l->relax_content_type, on_fetched, l);
    if (st != STSM_OK) {
        l->fetch.status = st;
    }
    return st;
}

/* Picks the one STS record among the TXT records (RFC 8461 section 3.1). */
static void select_record(struct stsm_sts_lookup *l, const struct stsm_dns_answer *answer)
{
    size_t sts_records = 0;
    struct stsm_sts_txt parsed;
    enum stsm_sts_txt_verdict verdict = STSM_STS_TXT_NOT_STS;
    for (size_t i = 0; i < answer->count; i++) {
        const char *text = stsm_dns_str(answer, answer->records[i].data);
        size_t len = answer->records[i].data_len;
        struct stsm_sts_txt t;
        enum stsm_sts_txt_verdict v = stsm_sts_txt_parse(text, len, &t);
        if (v == STSM_STS_TXT_NOT_STS) {
            continue;   /* someone else's TXT record */
        }
        if (sts_records++ == 0) {
            parsed = t;
            verdict = v;
            snprintf(l->txt_record, sizeof l->txt_record, "%.*s", (int)(len < 255 ? len : 255), text);
        }
    }
    if (sts_records == 0) {
        l->txt_state = STSM_STS_TXT_NONE;
    } else if (sts_records > 1) {
        l->txt_state = STSM_STS_TXT_BAD;
        l->txt_reason = STSM_TEXT_FIXED("more than one STS record");
    } else if (verdict != STSM_STS_TXT_VALID) {
        l->txt_state = STSM_STS_TXT_BAD;
        l->txt_reason = parsed.reason;
    } else {
        l->txt_state = STSM_STS_TXT_OK;
        memcpy(l->txt_id, parsed.id, sizeof l->txt_id);
    }
}

static void on_txt(void *arg, stsm_status_t status, const struct stsm_dns_answer *answer,
                   const ip_addr_t *server)
{
    struct stsm_sts_lookup *l = arg;
    (void)server;
    if (status != STSM_OK) {
        l->txt_state = STSM_STS_TXT_DNS_ERROR;
        l->txt_dns_status = status;
        keep_held(l);   /* DNS failing: keep it */
        end(l);
        return;
    }
    if (answer->cname_hops > 0) {
        l->txt_cname = true;
        snprintf(l->txt_canonical, sizeof l->txt_canonical, "%s", stsm_dns_str(answer, answer->canonical));
    }
    if (answer->outcome == STSM_DNS_ANSWER) {
        select_record(l, answer);
    }
    if (l->cache != NULL) {
        const struct stsm_sts_cache_entry *cached;
        enum stsm_sts_step step = stsm_sts_cache_decide(l->cache, l->domain, l->txt_state == STSM_STS_TXT_OK,
                                                        l->txt_id, l->now, &cached);
        if (step != STSM_STS_FETCH) {
            if (!l->early) {
                use_cached(l, step == STSM_STS_USE_CACHED ? cached : NULL);
            }
            end(l);
            return;
        }
    } else if (l->txt_state != STSM_STS_TXT_OK) {
        end(l);
        return;
    }
    if (l->early) {
        /* The caller delivers under the cached policy and may hold a TLS session now: the
         * fetch's handshake must not run beside it (one TLS session's memory at a time).
         * It starts the fetch once it holds none (stsm_sts_lookup_refresh). */
        l->refresh_due = true;
        end(l);
        return;
    }
    stsm_status_t st = start_fetch(l);
    if (st != STSM_OK) {
        on_fetched(l, &l->fetch);
    }
}

stsm_status_t stsm_sts_lookup_refresh(struct stsm_sts_lookup *l)
{
    if (!l->refresh_due) {
        return STSM_ERR_ARGUMENT;
    }
    l->refresh_due = false;
    stsm_status_t st = start_fetch(l);
    if (st != STSM_OK) {
        fetch_failed(l);
    }
    return st;
}

stsm_status_t stsm_sts_lookup_start(struct stsm_sts_lookup *l, const char *domain, struct stsm_tls *tls,
                                    uint32_t fetch_timeout_ms, bool relax_content_type,
                                    struct stsm_sts_cache *cache, int64_t now,
                                    stsm_sts_lookup_done_fn done, void *arg)
{
    char name[STSM_HOSTNAME_MAX + 1];
    stsm_zero(l, offsetof(struct stsm_sts_lookup, fetch));   /* most of it the policy's rows */
    int n = snprintf(name, sizeof name, "_mta-sts.%s", domain);
    if (n < 0 || (size_t)n >= sizeof name || strlen(domain) >= sizeof l->domain) {
        return STSM_ERR_ARGUMENT;
    }
    strcpy(l->domain, domain);
    snprintf(l->txt_canonical, sizeof l->txt_canonical, "%s", name);
    l->tls = tls;
    l->fetch_timeout_ms = fetch_timeout_ms;
    l->relax_content_type = relax_content_type;
    l->cache = cache;
    l->now = now;
    l->done = done;
    l->arg = arg;
    const struct stsm_sts_cache_entry *held = cache != NULL ? stsm_sts_cache_get(cache, domain, now) : NULL;
    stsm_status_t st = stsm_resolver_start(&l->query, name, STSM_DNS_TYPE_TXT, on_txt, l);
    if (st != STSM_OK) {
        use_cached(l, held);   /* no TXT check can run: what the cache holds stays in force */
        return st;
    }
    if (held != NULL) {
        use_cached(l, held);
        l->early = true;
    }
    if (held == NULL) {
        /* A fetch may follow the TXT answer: its address is asked now, beside it. A
         * failure here only means the fetch asks again when it starts. (Under a cached
         * policy a fetch waits for the caller: the answer would be stale by then.) */
        (void)stsm_sts_fetch_prepare(&l->fetch, domain);
    }
    return STSM_OK;
}

const char *stsm_sts_txt_state_str(enum stsm_sts_txt_state state)
{
    switch (state) {
    case STSM_STS_TXT_NONE: return "none";
    case STSM_STS_TXT_DNS_ERROR: return "dns_error";
    case STSM_STS_TXT_BAD: return "invalid";
    case STSM_STS_TXT_OK: return "valid";
    }
    return "unknown";
}
