/* The per-host MTA-STS verdict (stsm_sts_verdict), one case a line. */
#include "stsm_check.h"
#include "stsm_settings.h"
#include "stsm_sts_verdict.h"

#define NOPOL (-1)   /* no policy at all (NULL) */
#define MX STSM_STRICT_CNAME_MX
#define PH STSM_STRICT_CNAME_POLICY_HOST
#define TXT STSM_STRICT_CNAME_TXT
#define ALL (MX | PH | TXT)
#define NONE_ STSM_STS_MODE_NONE
#define TESTING STSM_STS_MODE_TESTING
#define ENFORCE STSM_STS_MODE_ENFORCE
#define UNK STSM_STS_TLS_UNKNOWN
#define PLAIN STSM_STS_TLS_NONE
#define UNVER STSM_STS_TLS_UNVERIFIED
#define VER STSM_STS_TLS_VERIFIED

static const char *const NOT_IN = "not in the MTA-STS policy's mx patterns";
static const char *const SMX = "reached through a CNAME (strict no-CNAME mode, scope mx)";
static const char *const STXT = "_mta-sts record is a CNAME (strict no-CNAME mode, scope txt)";
static const char *const SPH = "mta-sts host is a CNAME (strict no-CNAME mode, scope policy_host)";
static const char *const NOTLS = "no verified TLS, which the MTA-STS policy requires";

struct row {
    const char *intent;
    int mode;                 /* NOPOL or enum stsm_sts_mode */
    const char *name;
    const char *canonical;    /* NULL: not reached through a CNAME */
    unsigned domain_cnames, strict;
    enum stsm_sts_tls tls;
    bool usable, enforce_refuses, testing_would_refuse, canonical_in_policy;
    const char *reason;       /* NULL when usable */
};

/* Policy mx: mx.example.net, *.mail.example.org */
static const struct row rows[] = {
    /* intent                                              mode    name                    canonical             dom   strict tls    usable enf    test   canon  reason */
    { "no policy: anything goes, even plaintext",          NOPOL,  "mx.other.test",        "x.test",             ALL,  ALL,   PLAIN, true,  false, false, true,  NULL },
    { "mode none: as no policy",                           NONE_,  "mx.other.test",        "x.test",             ALL,  ALL,   PLAIN, true,  false, false, true,  NULL },
    { "enforce, listed, verified: usable",                 ENFORCE,"mx.example.net",       NULL,                 0,    0,     VER,   true,  false, false, true,  NULL },
    { "enforce, wildcard match, TLS not yet known",        ENFORCE,"a.mail.example.org",   NULL,                 0,    ALL,   UNK,   true,  false, false, true,  NULL },
    { "enforce, name case and trailing dot ignored",       ENFORCE,"MX.Example.NET.",      NULL,                 0,    0,     VER,   true,  false, false, true,  NULL },
    { "enforce, wildcard covers one label only",           ENFORCE,"a.b.mail.example.org", NULL,                 0,    0,     VER,   false, true,  false, false, NOT_IN },
    { "enforce, unlisted: refused",                        ENFORCE,"mx.other.test",        NULL,                 0,    0,     VER,   false, true,  false, false, NOT_IN },
    { "testing, unlisted: would refuse, only logged",      TESTING,"mx.other.test",        NULL,                 0,    0,     UNK,   false, false, true,  false, NOT_IN },
    { "unlisted wins over a strict CNAME and no TLS",      ENFORCE,"mx.other.test",        "mx.example.net",     0,    MX,    PLAIN, false, true,  false, true,  NOT_IN },
    { "CNAME to a listed host: RFC 8461 still refuses",    ENFORCE,"alias.other.test",     "mx.example.net",     0,    0,     VER,   false, true,  false, true,  NOT_IN },
    { "listed via CNAME, scope mx off: usable",            ENFORCE,"mx.example.net",       "cloud.other.test",   0,    0,     VER,   true,  false, false, false, NULL },
    { "listed, CNAME target under the wildcard: both pass",ENFORCE,"mx.example.net",       "b.mail.example.org", 0,    0,     VER,   true,  false, false, true,  NULL },
    { "CNAME target two labels under the wildcard",        ENFORCE,"mx.example.net",       "a.b.mail.example.org",0,   0,     VER,   true,  false, false, false, NULL },
    { "the CNAME target's case and trailing dot ignored",  TESTING,"alias.other.test",     "MX.EXAMPLE.net.",    0,    0,     UNK,   false, false, true,  true,  NOT_IN },
    { "listed via CNAME, scope mx on: refused",            ENFORCE,"mx.example.net",       "cloud.other.test",   0,    MX,    UNK,   false, true,  false, false, SMX },
    { "testing, CNAME under scope mx: would refuse",       TESTING,"mx.example.net",       "cloud.other.test",   0,    MX,    UNK,   false, false, true,  false, SMX },
    { "CNAME, only other scopes selected: usable",         ENFORCE,"mx.example.net",       "cloud.other.test",   0,    PH|TXT,VER,   true,  false, false, false, NULL },
    { "scope mx on, no CNAME: usable",                     ENFORCE,"mx.example.net",       NULL,                 0,    MX,    VER,   true,  false, false, true,  NULL },
    { "TXT a CNAME, scope txt: refused",                   ENFORCE,"mx.example.net",       NULL,                 TXT,  TXT,   VER,   false, true,  false, true,  STXT },
    { "TXT a CNAME, scope off: usable",                    ENFORCE,"mx.example.net",       NULL,                 TXT,  MX|PH, VER,   true,  false, false, true,  NULL },
    { "policy host a CNAME, scope policy_host: refused",   ENFORCE,"mx.example.net",       NULL,                 PH,   PH,    VER,   false, true,  false, true,  SPH },
    { "MX scope reported before TXT before policy host",   ENFORCE,"mx.example.net",       "cloud.other.test",   ALL,  ALL,   VER,   false, true,  false, false, SMX },
    { "TXT before policy host",                            ENFORCE,"mx.example.net",       NULL,                 ALL,  ALL,   VER,   false, true,  false, true,  STXT },
    { "the MX bit of domain_cnames is ignored",            ENFORCE,"mx.example.net",       NULL,                 MX,   MX,    VER,   true,  false, false, true,  NULL },
    { "enforce, plaintext: refused",                       ENFORCE,"mx.example.net",       NULL,                 0,    0,     PLAIN, false, true,  false, true,  NOTLS },
    { "enforce, encrypted unverified: refused",            ENFORCE,"mx.example.net",       NULL,                 0,    0,     UNVER, false, true,  false, true,  NOTLS },
    { "testing, unverified: would refuse",                 TESTING,"mx.example.net",       NULL,                 0,    0,     UNVER, false, false, true,  true,  NOTLS },
    { "strict CNAME before TLS",                           ENFORCE,"mx.example.net",       "cloud.other.test",   0,    MX,    PLAIN, false, true,  false, false, SMX },
};

int main(void)
{
    struct stsm_sts_policy policy = { .mode = STSM_STS_MODE_ENFORCE, .max_age = 86400 };
    CHECK(stsm_sts_policy_mx_add(&policy, "mx.example.net", 14));
    CHECK(stsm_sts_policy_mx_add(&policy, "*.mail.example.org", 18));
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        CHECK_CASE(r->intent);
        policy.mode = r->mode == NOPOL ? STSM_STS_MODE_NONE : (enum stsm_sts_mode)r->mode;
        struct stsm_sts_mx_facts mx = { r->name, r->canonical != NULL, r->canonical };
        struct stsm_sts_verdict v = stsm_sts_verdict(r->mode == NOPOL ? NULL : &policy, &mx, r->domain_cnames,
                                                     r->strict, r->tls);
        CHECK_INT(v.active, r->mode == TESTING || r->mode == ENFORCE);
        CHECK_INT(v.usable, r->usable);
        CHECK_INT(v.enforce_refuses, r->enforce_refuses);
        CHECK_INT(v.testing_would_refuse, r->testing_would_refuse);
        CHECK_INT(v.canonical_in_policy, r->canonical_in_policy);
        CHECK_INT(v.cname_fails, (r->domain_cnames & (PH | TXT)) | (r->canonical != NULL ? MX : 0u));
        if (r->reason == NULL) {
            CHECK(v.reason == NULL && v.brief == NULL);
        } else {
            CHECK_STR(v.reason, r->reason);
            CHECK(v.brief != NULL);
        }
    }
    return stsm_check_summary("test_sts_verdict");
}
