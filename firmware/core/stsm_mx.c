#include "stsm_mx.h"

#include <string.h>

static void copy_name(char *dst, const char *src)
{
    size_t n = strlen(src);
    if (n > STSM_HOSTNAME_MAX) {
        n = STSM_HOSTNAME_MAX;   /* cannot happen: names come from the DNS codec's checks */
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* `name` (a host name or CNAME target) in the set's names: the copy already there, or a
 * new one; NULL when it does not fit. */
static const char *keep_name(struct stsm_mx_set *set, const char *name)
{
    for (size_t at = 0; at < set->names_used; at += strlen(set->names + at) + 1) {
        if (strcmp(set->names + at, name) == 0) {
            return set->names + at;
        }
    }
    size_t need = strlen(name) + 1;
    if (need > STSM_HOSTNAME_MAX + 1 || need > sizeof set->names - set->names_used) {
        return NULL;   /* longer than a name can be: cannot happen, names come from the codec */
    }
    char *kept = set->names + set->names_used;
    memcpy(kept, name, need);
    set->names_used += need;
    return kept;
}

/* `name` must stay readable until the set's names are copied (stsm_mx_plan's end). Not inlined:
 * its two uses are smaller as calls. */
__attribute__((noinline)) static void init_host(struct stsm_mx_host *host, const char *name, uint16_t preference)
{
    memset(host, 0, sizeof *host);
    host->name = name;
    host->canonical = name;
    host->preference = preference;
}

stsm_status_t stsm_mx_plan(const char *domain, const struct stsm_dns_answer *mx,
                           stsm_mx_random_fn random, void *random_arg, struct stsm_mx_set *set)
{
    char name[STSM_HOSTNAME_MAX + 1];
    copy_name(name, domain);   /* `domain` may be set->domain itself */
    memset(set, 0, offsetof(struct stsm_mx_set, hosts));
    copy_name(set->domain, name);
    domain = set->domain;

    switch (mx->outcome) {
    case STSM_DNS_NXDOMAIN:
        set->kind = STSM_MX_NO_DOMAIN;
        return STSM_OK;
    case STSM_DNS_NODATA:
        set->kind = STSM_MX_IMPLICIT;
        set->count = 1;
        init_host(&set->hosts[0], set->domain, 0);
        return STSM_OK;
    case STSM_DNS_ANSWER:
        break;
    default:
        return STSM_ERR_ARGUMENT;
    }

    set->kind = STSM_MX_LIST;
    set->hosts_dropped = mx->dropped;   /* the codec already kept only the best records */
    for (size_t i = 0; i < mx->count; i++) {
        const char *exchange = stsm_dns_str(mx, mx->records[i].data);
        uint16_t preference = mx->records[i].preference;
        if (exchange[0] == '\0') {
            set->null_ignored = true;   /* judged below, once all records are seen */
            continue;
        }
        /* Insert in preference order; a name seen before keeps its better preference. */
        size_t dup = set->count;
        for (size_t k = 0; k < set->count; k++) {
            if (stsm_dns_name_equal(set->hosts[k].name, exchange)) {
                dup = k;
            }
        }
        if (dup < set->count) {
            if (set->hosts[dup].preference <= preference) {
                continue;
            }
            memmove(&set->hosts[dup], &set->hosts[dup + 1],
                    (set->count - dup - 1) * sizeof set->hosts[0]);
            set->count--;
        }
        if (set->count == STSM_MX_MAX_HOSTS) {
            /* Our limit must not lose mail: keep the best hosts, drop the worst one. */
            set->hosts_dropped++;
            if (preference >= set->hosts[set->count - 1].preference) {
                continue;
            }
            set->count--;
        }
        size_t at = set->count;
        while (at > 0 && set->hosts[at - 1].preference > preference) {
            at--;
        }
        memmove(&set->hosts[at + 1], &set->hosts[at], (set->count - at) * sizeof set->hosts[0]);
        init_host(&set->hosts[at], exchange, preference);
        set->count++;
    }
    if (set->count == 0) {
        /* Only "." exchanges: RFC 7505 null MX, the domain takes no mail. */
        set->kind = STSM_MX_NULL;
        set->null_ignored = false;
        return STSM_OK;
    }

    /* Fisher-Yates within each run of equal preference (RFC 5321 section 5.1). */
    for (size_t start = 0; start < set->count;) {
        size_t end = start + 1;
        while (end < set->count && set->hosts[end].preference == set->hosts[start].preference) {
            end++;
        }
        for (size_t i = end - 1; i > start; i--) {
            size_t j = start + random(random_arg, (uint32_t)(i - start + 1));
            /* The hosts are as init_host() made them, with equal preferences: only
             * their names differ. */
            const char *tmp = set->hosts[i].name;
            set->hosts[i].name = set->hosts[i].canonical = set->hosts[j].name;
            set->hosts[j].name = set->hosts[j].canonical = tmp;
        }
        start = end;
    }

    /* The names so far point into the MX answer, which lives only during this call: each
     * is copied now, best host first, and where they stop fitting the rest are dropped as
     * hosts beyond STSM_MX_MAX_HOSTS are. */
    for (size_t i = 0; i < set->count; i++) {
        const char *kept = keep_name(set, set->hosts[i].name);
        if (kept == NULL) {
            set->names_full = true;
            set->hosts_dropped += set->count - i;
            set->count = i;
            break;
        }
        set->hosts[i].name = kept;
        set->hosts[i].canonical = kept;
    }
    return STSM_OK;
}

static void add_address(struct stsm_mx_host *host, uint16_t type, const uint8_t *bytes)
{
    if (host->address_count == STSM_MX_MAX_ADDRESSES) {
        host->addresses_dropped = true;
        return;
    }
    struct stsm_mx_address *a = &host->addresses[host->address_count++];
    a->family = type == STSM_DNS_TYPE_A ? 4 : 6;
    memcpy(a->bytes, bytes, type == STSM_DNS_TYPE_A ? 4 : 16);
}

void stsm_mx_take_additional(struct stsm_mx_set *set, const struct stsm_dns_answer *mx)
{
    if (mx->extra_incomplete) {
        return;   /* a partial list would hide addresses: look them up instead */
    }
    for (size_t h = 0; h < set->count; h++) {
        struct stsm_mx_host *host = &set->hosts[h];
        for (size_t i = 0; i < mx->extra_count; i++) {
            const struct stsm_dns_record *rec = &mx->extra[i];
            if (!stsm_dns_name_equal(stsm_dns_str(mx, rec->owner), host->name)) {
                continue;
            }
            struct stsm_mx_lookup *lookup = rec->type == STSM_DNS_TYPE_A ? &host->a : &host->aaaa;
            lookup->done = true;
            lookup->from_additional = true;
            lookup->status = STSM_OK;
            lookup->outcome = STSM_DNS_ANSWER;
            add_address(host, rec->type, rec->address);
        }
    }
}

void stsm_mx_record_lookup(struct stsm_mx_set *set, struct stsm_mx_host *host, uint16_t type,
                           stsm_status_t status, const struct stsm_dns_answer *answer)
{
    struct stsm_mx_lookup *lookup = type == STSM_DNS_TYPE_A ? &host->a : &host->aaaa;
    lookup->done = true;
    lookup->status = status;
    if (status != STSM_OK || answer == NULL) {
        return;
    }
    if (answer->cname_hops > 0) {
        /* A policy may match the CNAME target (stsm_sts_verdict): addresses without it are
         * not taken, so the host is never tried on a name we could not keep. */
        const char *canonical = keep_name(set, stsm_dns_str(answer, answer->canonical));
        if (canonical == NULL) {
            set->names_full = true;
            lookup->status = STSM_ERR_CAPACITY;
            return;
        }
        host->cname = true;
        host->canonical = canonical;
    }
    lookup->outcome = answer->outcome;
    for (size_t i = 0; i < answer->count; i++) {
        add_address(host, type, answer->records[i].address);
    }
    if (answer->dropped > 0) {
        host->addresses_dropped = true;   /* the codec kept only the first of them */
    }
}

const char *stsm_mx_kind_str(enum stsm_mx_kind kind)
{
    switch (kind) {
    case STSM_MX_LIST: return "list";
    case STSM_MX_IMPLICIT: return "implicit";
    case STSM_MX_NULL: return "null";
    case STSM_MX_NO_DOMAIN: return "no_domain";
    }
    return "unknown";
}
