#include "stsm_sts_verdict.h"

#include <stddef.h>

#include "stsm_settings.h"

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
    /* The wording is what the delivery logs and the lab tests look for; the texts are
     * marked (ids on the boards). */
    v.usable = true;
    if (!v.active) {
        return v;
    }
    if (!v.in_policy) {
        v.reason = STSM_TEXT_FIXED("not in the MTA-STS policy's mx patterns");
        v.brief = STSM_TEXT_FIXED("not in the policy");
    } else if (selected & STSM_STRICT_CNAME_MX) {
        v.reason = STSM_TEXT_FIXED("reached through a CNAME (strict no-CNAME mode, scope mx)");
        v.brief = STSM_TEXT_FIXED("strict no-CNAME, scope mx");
    } else if (selected & STSM_STRICT_CNAME_TXT) {
        v.reason = STSM_TEXT_FIXED("_mta-sts record is a CNAME (strict no-CNAME mode, scope txt)");
        v.brief = STSM_TEXT_FIXED("strict no-CNAME, scope txt");
    } else if (selected & STSM_STRICT_CNAME_POLICY_HOST) {
        v.reason = STSM_TEXT_FIXED("mta-sts host is a CNAME (strict no-CNAME mode, scope policy_host)");
        v.brief = STSM_TEXT_FIXED("strict no-CNAME, scope policy_host");
    } else if (tls != STSM_STS_TLS_UNKNOWN && tls != STSM_STS_TLS_VERIFIED) {
        v.reason = STSM_TEXT_FIXED("no verified TLS, which the MTA-STS policy requires");
        v.brief = STSM_TEXT_FIXED("no verified TLS");
    } else {
        return v;
    }
    v.usable = false;
    v.enforce_refuses = policy->mode == STSM_STS_MODE_ENFORCE;
    v.testing_would_refuse = policy->mode == STSM_STS_MODE_TESTING;
    return v;
}
