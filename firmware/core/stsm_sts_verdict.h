/*
 * The per-host MTA-STS decision (RFC 8461 section 4, plus stsmail's strict no-CNAME
 * scopes), as one pure function: the delivery (before connecting and again before MAIL
 * FROM) and `stsmail check` all ask it, so they cannot disagree.
 */
#ifndef STSM_STS_VERDICT_H
#define STSM_STS_VERDICT_H

#include <stdbool.h>

#include "stsm_mta_sts.h"
#include "stsm_text.h"

/** What is known of the session's TLS when the question is asked. */
enum stsm_sts_tls {
    STSM_STS_TLS_UNKNOWN,     /**< not connected yet: TLS is not judged */
    STSM_STS_TLS_NONE,        /**< plaintext session */
    STSM_STS_TLS_UNVERIFIED,  /**< encrypted, certificate not verified */
    STSM_STS_TLS_VERIFIED,    /**< encrypted and verified against the MX name */
};

/** One MX host's name facts; the strings are borrowed for the call only. */
struct stsm_sts_mx_facts {
    const char *name;       /**< the exchange as the MX record names it */
    bool cname;             /**< its address records came through a CNAME */
    const char *canonical;  /**< where the CNAME chain ended; NULL or == name when none */
};

struct stsm_sts_verdict {
    bool active;               /**< a policy in mode testing or enforce applies */
    bool in_policy;            /**< RFC 8461: the name matches an mx pattern (true if !active) */
    bool canonical_in_policy;  /**< the CNAME target matches instead (the reading Exchange
                                    Online has been observed to apply; stsmail check reports
                                    it); true if !active; == in_policy without a CNAME */
    unsigned cname_fails;      /**< STSM_STRICT_CNAME_* bits whose name is a CNAME, whether
                                    or not that scope is selected */
    bool usable;               /**< nothing objects: RFC 8461, the selected strict scopes
                                    and, when known, verified TLS (true if !active) */
    bool enforce_refuses;      /**< !usable and the mode is enforce */
    bool testing_would_refuse; /**< !usable and the mode is testing (only logged) */
    stsm_text_fixed_t reason;  /**< the first objection, for logs (a %s argument of
                                    STSM_TEXT); NULL if usable */
    stsm_text_fixed_t brief;   /**< the same in a few words; NULL if usable */
};

/**
 * Judges one MX host. `policy` may be NULL (no policy). `domain_cnames` holds the
 * STSM_STRICT_CNAME_POLICY_HOST / _TXT bits whose name is a CNAME (0 when the caller judges
 * those once per domain); the MX bit is taken from `mx->cname`. `strict` holds the selected
 * STSM_STRICT_CNAME_* scopes. Objections in order: not in the mx patterns, MX through a
 * CNAME, TXT record a CNAME, policy host a CNAME, TLS not verified.
 */
struct stsm_sts_verdict stsm_sts_verdict(const struct stsm_sts_policy *policy, const struct stsm_sts_mx_facts *mx,
                                         unsigned domain_cnames, unsigned strict, enum stsm_sts_tls tls);

#endif /* STSM_STS_VERDICT_H */
