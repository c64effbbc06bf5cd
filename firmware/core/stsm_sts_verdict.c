#include "stsm_sts_verdict.h"

#include <stddef.h>

#include "stsm_settings.h"

struct objection {
    const char *reason, *brief;
};

/* The wording is what the delivery logs and the lab tests look for. */
static const struct objection NOT_IN_POLICY = { "not in the MTA-STS policy's mx patterns", "not in the policy" };
static const struct objection STRICT_MX = { "reached through a CNAME (strict no-CNAME mode, scope mx)",
                                            "strict no-CNAME, scope mx" };
static const struct objection STRICT_TXT = { "_mta-sts record is a CNAME (strict no-CNAME mode, scope txt)",
                                             "strict no-CNAME, scope txt" };
static const struct objection STRICT_POLICY_HOST = {
    "mta-sts host is a CNAME (strict no-CNAME mode, scope policy_host)", "strict no-CNAME, scope policy_host"
};
static const struct objection NO_VERIFIED_TLS = { "no verified TLS, which the MTA-STS policy requires",
                                                  "no verified TLS" };

struct stsm_sts_verdict stsm_sts_verdict(const struct stsm_sts_policy *policy, const struct stsm_sts_mx_facts *mx,
                                         unsigned domain_cnames, unsigned strict, enum stsm_sts_tls tls)
{
    struct stsm_sts_verdict v = { 0 };
    v.active = policy != NULL && policy->mode != STSM_STS_MODE_NONE;
    v.cname_fails = (domain_cnames & (STSM_STRICT_CNAME_POLICY_HOST | STSM_STRICT_CNAME_TXT)) |
                    (mx->cname ? STSM_STRICT_CNAME_MX : 0u);
    v.in_policy = !v.active || stsm_sts_policy_matches(policy, mx->name);
    const char *target = mx->cname && mx->canonical != NULL ? mx->canonical : mx->name;
    v.canonical_in_policy = !v.active || stsm_sts_policy_matches(policy, target);
    unsigned selected = v.cname_fails & strict;
    const struct objection *o = !v.in_policy                              ? &NOT_IN_POLICY
                                : (selected & STSM_STRICT_CNAME_MX)          ? &STRICT_MX
                                : (selected & STSM_STRICT_CNAME_TXT)         ? &STRICT_TXT
                                : (selected & STSM_STRICT_CNAME_POLICY_HOST) ? &STRICT_POLICY_HOST
                                : (tls != STSM_STS_TLS_UNKNOWN && tls != STSM_STS_TLS_VERIFIED) ? &NO_VERIFIED_TLS
                                                                                                 : NULL;
    v.usable = !v.active || o == NULL;
    if (!v.usable) {
        v.reason = o->reason;
        v.brief = o->brief;
        v.enforce_refuses = policy->mode == STSM_STS_MODE_ENFORCE;
        v.testing_would_refuse = policy->mode == STSM_STS_MODE_TESTING;
    }
    return v;
}
