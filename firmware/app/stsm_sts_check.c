#include "stsm_sts_check.h"

#include <stdio.h>
#include <string.h>

#include "cJSON.h"
#include "stsm_app.h"
#include "stsm_dns_report.h"
#include "stsm_route.h"
#include "stsm_sts_lookup.h"
#include "stsm_sts_verdict.h"

static struct stsm_settings settings;
static struct stsm_tls tls;
static struct stsm_route route;
static struct stsm_sts_lookup lookup;
static bool route_done, lookup_done;
static stsm_status_t route_status;
static const struct stsm_mx_set *route_set;

static void on_route(void *arg, stsm_status_t status, const struct stsm_mx_set *set)
{
    (void)arg;
    route_status = status;
    route_set = set;
    route_done = true;
}

static void on_lookup(void *arg, struct stsm_sts_lookup *l)
{
    (void)arg;
    (void)l;
    lookup_done = true;
}

static cJSON *txt_report(void)
{
    cJSON *txt = cJSON_CreateObject();
    cJSON_AddStringToObject(txt, "state", stsm_sts_txt_state_str(lookup.txt_state));
    if (lookup.txt_record[0] != '\0') {
        cJSON_AddStringToObject(txt, "record", lookup.txt_record);
    }
    if (lookup.txt_state == STSM_STS_TXT_OK) {
        cJSON_AddStringToObject(txt, "id", lookup.txt_id);
    }
    if (lookup.txt_reason != NULL) {
        cJSON_AddStringToObject(txt, "reason", lookup.txt_reason);
    }
    if (lookup.txt_state == STSM_STS_TXT_DNS_ERROR) {
        cJSON_AddStringToObject(txt, "dns_status", stsm_status_id(lookup.txt_dns_status));
    }
    cJSON_AddBoolToObject(txt, "cname", lookup.txt_cname);
    cJSON_AddStringToObject(txt, "canonical_name", lookup.txt_canonical);
    return txt;
}

static cJSON *policy_report(void)
{
    cJSON *p = cJSON_CreateObject();
    if (!lookup.fetched) {
        cJSON_AddStringToObject(p, "status", "not_fetched");
        return p;
    }
    const struct stsm_sts_fetch *f = &lookup.fetch;
    cJSON_AddStringToObject(p, "status", stsm_status_id(f->status));
    cJSON_AddStringToObject(p, "host", f->host);
    cJSON_AddBoolToObject(p, "host_cname", f->host_cname);
    cJSON_AddStringToObject(p, "host_canonical_name", f->host_canonical);
    if (f->http_status != 0) {
        cJSON_AddNumberToObject(p, "http_status", f->http_status);
        cJSON_AddStringToObject(p, "content_type", f->content_type);
    }
    if (f->status == STSM_ERR_STS_POLICY_INVALID) {
        cJSON_AddNumberToObject(p, "line", (double)f->policy_line);
        cJSON_AddStringToObject(p, "reason", f->policy_reason);
    }
    if (f->status == STSM_OK) {
        cJSON_AddStringToObject(p, "mode", stsm_sts_mode_str(f->policy.mode));
        cJSON_AddNumberToObject(p, "max_age", f->policy.max_age);
        cJSON *mx = cJSON_AddArrayToObject(p, "mx");
        for (const char *m = stsm_sts_policy_mx_first(&f->policy); m != NULL; m = stsm_sts_policy_mx_next(&f->policy, m)) {
            cJSON_AddItemToArray(mx, cJSON_CreateString(m));
        }
    }
    return p;
}

/* A host's canonical name is known once one of its address lookups was answered; before
 * that, `cname` is false only for want of an answer. */
static bool canonical_known(const struct stsm_mx_host *host)
{
    return (host->a.done && host->a.status == STSM_OK) || (host->aaaa.done && host->aaaa.status == STSM_OK);
}

static const char *policy_match_str(const struct stsm_sts_verdict *verdict, bool in_policy)
{
    return !verdict->active ? "no_policy" : in_policy ? "matches" : "not_in_policy";
}

/*
 * Per MX host: RFC 8461 (the name against the policy), the reading Exchange Online has been
 * observed to apply, and each strict no-CNAME scope. The Exchange reading matches the
 * policy's mx patterns against the CNAME target the MX host resolves to, not the MX name:
 * a policy listing only the MX name fails it (Exchange NDR 4.4.8 "failed MTA-STS
 * validation"), one listing only the target passes it, which RFC 8461 section 4.1 refuses.
 * Microsoft has not documented this: it is inferred from Exchange errors quoted on the
 * ietf-smtp list (March 2021, "MTS-STS validation when MX host points to a CNAME") and the
 * Exchange Team's "We do not support CNAMEs when MTA-STS is used" (2022); research notes,
 * mta-sts-peers.md, cases 87-88 and section 3. It is reported only: stsmail delivers by
 * RFC 8461 and the selected strict scopes ("usable").
 */
static cJSON *verdicts(unsigned strict)
{
    cJSON *list = cJSON_CreateArray();
    const struct stsm_sts_policy *policy = lookup.have_policy ? &lookup.policy : NULL;
    unsigned domain_cnames = (lookup.fetch.host_cname && lookup.fetched ? STSM_STRICT_CNAME_POLICY_HOST : 0u) |
                             (lookup.txt_cname ? STSM_STRICT_CNAME_TXT : 0u);
    for (size_t i = 0; route_set != NULL && i < route_set->count; i++) {
        const struct stsm_mx_host *host = &route_set->hosts[i];
        struct stsm_sts_mx_facts mx = { host->name, host->cname, host->canonical };
        /* TLS is not judged: check does not connect to the MX hosts. */
        struct stsm_sts_verdict verdict = stsm_sts_verdict(policy, &mx, domain_cnames, strict, STSM_STS_TLS_UNKNOWN);
        static const char *const scopes[3] = { "mx", "policy_host", "txt" };
        cJSON *v = cJSON_CreateObject();
        cJSON_AddStringToObject(v, "host", host->name);
        cJSON_AddStringToObject(v, "rfc8461", policy_match_str(&verdict, verdict.in_policy));
        cJSON_AddStringToObject(v, "exchange_online",
                                verdict.active && !canonical_known(host)
                                    ? "unknown"
                                    : policy_match_str(&verdict, verdict.canonical_in_policy));
        cJSON_AddStringToObject(v, "canonical_name", host->canonical);
        cJSON *s = cJSON_AddObjectToObject(v, "strict_cname");
        for (int k = 0; k < 3; k++) {
            cJSON_AddStringToObject(s, scopes[k], !verdict.active                     ? "no_policy"
                                                  : verdict.cname_fails & (1u << k) ? "fails"
                                                                                    : "passes");
        }
        cJSON_AddBoolToObject(v, "usable", verdict.usable);
        cJSON_AddStringToObject(v, "mode", verdict.active ? stsm_sts_mode_str(policy->mode) : "none");
        cJSON_AddItemToArray(list, v);
    }
    return list;
}

int stsm_check_run(const struct stsm_cli_check_args *args)
{
    int rc = stsm_app_load_settings(args->settings, &settings);
    if (rc == 0) {
        rc = stsm_app_load_tls(args->settings, &settings, &tls);
    }
    if (rc == 0) {
        rc = stsm_app_net_up_settings(&settings.network, 30000);
    }
    if (rc != 0) {
        return rc;
    }
    route_done = lookup_done = false;
    if (stsm_route_start(&route, args->domain, on_route, NULL) != STSM_OK) {
        route_done = true;
        route_status = STSM_ERR_NOT_CONFIGURED;
    }
    /* A check always looks at the live state: no cache. */
    if (stsm_sts_lookup_start(&lookup, args->domain, &tls, settings.mta_sts.fetch_timeout_ms,
                              settings.mta_sts.relax_content_type, NULL, 0, on_lookup, NULL) != STSM_OK) {
        lookup_done = true;
        lookup.txt_state = STSM_STS_TXT_DNS_ERROR;
    }
    while (!route_done || !lookup_done) {
        stsm_host_net_poll(100);
    }

    cJSON *report = cJSON_CreateObject();
    cJSON_AddStringToObject(report, "domain", args->domain);
    cJSON_AddItemToObject(report, "mx", stsm_dns_report_route(args->domain, route_status, &route, route_set));
    cJSON_AddItemToObject(report, "txt", txt_report());
    cJSON_AddItemToObject(report, "policy", policy_report());
    cJSON *scopes = cJSON_AddArrayToObject(report, "strict_cname");
    static const char *const names[3] = { "mx", "policy_host", "txt" };
    for (int k = 0; k < 3; k++) {
        if (args->strict_cname & (1u << k)) {
            cJSON_AddItemToArray(scopes, cJSON_CreateString(names[k]));
        }
    }
    cJSON_AddItemToObject(report, "verdicts", verdicts(args->strict_cname));
    char *text = cJSON_Print(report);
    cJSON_Delete(report);
    if (text == NULL) {
        stsm_app_net_down();
        return EXIT_OSERR;
    }
    printf("%s\n", text);
    cJSON_free(text);
    stsm_app_net_down();
    return route_status == STSM_OK ? 0 : stsm_app_exit_status(route_status);
}
