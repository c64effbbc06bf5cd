/*
 * Which hosts receive mail for a domain (RFC 5321 section 5.1, RFC 7505), from the answer
 * to its MX query: ordered by preference, equal preferences shuffled; no MX records means
 * the domain itself (implicit MX); a null MX means the domain accepts no mail. Pure: the
 * caller supplies randomness. Address lookups fill the hosts in later (stsm_route).
 */
#ifndef STSM_MX_H
#define STSM_MX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsm_config.h"
#include "stsm_dns.h"
#include "stsm_status.h"

enum stsm_mx_kind {
    STSM_MX_LIST,        /**< hosts from MX records */
    STSM_MX_IMPLICIT,    /**< no MX records: the domain itself is the one host */
    STSM_MX_NULL,        /**< null MX ("0 ."): the domain accepts no mail; permanent */
    STSM_MX_NO_DOMAIN,   /**< NXDOMAIN: the domain does not exist; permanent */
};

struct stsm_mx_address {
    uint8_t family;      /**< 4 or 6 */
    uint8_t bytes[16];
};

/** Result of one address lookup (A or AAAA) for a host. */
struct stsm_mx_lookup {
    bool done;                       /**< looked up, or taken from the additional section */
    bool from_additional;            /**< taken from the MX answer's additional section */
    stsm_status_t status;            /**< STSM_OK, or why the lookup failed */
    enum stsm_dns_outcome outcome;   /**< when status is STSM_OK */
};

#if STSM_MX_NAMES_MAX < 2 * (STSM_HOSTNAME_MAX + 1)
#error "STSM_MX_NAMES_MAX must hold one host of the longest name and its CNAME target"
#endif

/** One host. Its names point into its set's `names` (or at the set's domain): a set is
 *  never copied by value. */
struct stsm_mx_host {
    const char *name;                       /**< the exchange as the MX record names it: the
                                                 name for policy matching and certificates */
    uint16_t preference;
    bool cname;                             /**< its address records came through a CNAME */
    const char *canonical;                  /**< where that CNAME chain ended (== name if none) */
    struct stsm_mx_lookup a, aaaa;
    size_t address_count;
    bool addresses_dropped;                 /**< more than STSM_MX_MAX_ADDRESSES existed, or the
                                                 codec kept only some (answer->dropped) */
    struct stsm_mx_address addresses[STSM_MX_MAX_ADDRESSES];
};

struct stsm_mx_set {
    enum stsm_mx_kind kind;
    char domain[STSM_HOSTNAME_MAX + 1];
    bool null_ignored;       /**< a "." exchange stood among real ones and was skipped */
    /** MX records left out because they did not fit: by the DNS codec (more than
     *  STSM_DNS_MAX_RECORDS, stsm_dns_answer.dropped) or here (more distinct hosts than
     *  STSM_MX_MAX_HOSTS, or names beyond STSM_MX_NAMES_MAX). Those of the highest
     *  preference values go first, so `hosts` always holds the best ones. Nonzero: log
     *  that delivery tries only these; 0 when every record fitted. A name listed twice may
     *  be counted once for each record. */
    size_t hosts_dropped;
    /** `names` ran out: hosts were left out (counted in hosts_dropped), or a host's CNAME
     *  target did not fit and its lookup failed with STSM_ERR_CAPACITY (nothing of that
     *  answer taken). Worth a log line naming STSM_MX_NAMES_MAX. */
    bool names_full;
    size_t names_used;
    size_t count;
    struct stsm_mx_host hosts[STSM_MX_MAX_HOSTS];
    char names[STSM_MX_NAMES_MAX];   /* the hosts' names and CNAME targets, NUL after each */
};

/** Returns a random number below `bound` (> 0). */
typedef uint32_t (*stsm_mx_random_fn)(void *arg, uint32_t bound);

/**
 * Builds the host list of `domain` from `mx`, its decoded MX answer (outcome ANSWER,
 * NODATA or NXDOMAIN). Hosts are sorted by preference; hosts of equal preference are
 * shuffled with `random`; a host named twice is kept once, at its best preference. More
 * hosts than STSM_MX_MAX_HOSTS is not an error: the ones of the lowest preference values
 * are kept (the first listed among equals at the cut) and `hosts_dropped` counts the rest;
 * likewise, after the shuffle, the hosts whose names no longer fit STSM_MX_NAMES_MAX
 * (`names_full`).
 * Returns STSM_OK, or STSM_ERR_ARGUMENT for an answer of another outcome.
 */
stsm_status_t stsm_mx_plan(const char *domain, const struct stsm_dns_answer *mx,
                           stsm_mx_random_fn random, void *random_arg, struct stsm_mx_set *set);

/**
 * Takes addresses for the hosts from the additional section of `mx`, where it holds A or
 * AAAA records owned by a host's own name (which also proves that name is no CNAME).
 * Marks each lookup it answers as done and from_additional.
 */
void stsm_mx_take_additional(struct stsm_mx_set *set, const struct stsm_dns_answer *mx);

/**
 * Records the answer to the A or AAAA lookup of `host`, one of `set`'s hosts (status
 * STSM_OK with `answer`, or the failure status with `answer` NULL): its addresses and
 * whether it came through a CNAME. A CNAME target that does not fit the set's names fails
 * the lookup with STSM_ERR_CAPACITY (`names_full`), none of its addresses taken.
 */
void stsm_mx_record_lookup(struct stsm_mx_set *set, struct stsm_mx_host *host, uint16_t type,
                           stsm_status_t status, const struct stsm_dns_answer *answer);

/** "list", "implicit", "null", "no_domain". */
const char *stsm_mx_kind_str(enum stsm_mx_kind kind);

#endif /* STSM_MX_H */
