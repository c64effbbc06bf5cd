/*
 * libFuzzer harness for the MTA-STS policy parser: any body either is refused with a line
 * number inside the body and a reason, or yields a policy within its limits whose
 * patterns are all valid and match themselves. The parser is fed the body three ways,
 * whole, one byte at a time, and in pieces whose sizes follow the first byte (a CR and its
 * LF, a byte-order mark or a value cut anywhere), and the three results must be the same:
 * status, line, reason and every field of the policy.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsm_mta_sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
    stsm_status_t status;
    size_t line;
    const char *reason;
    struct stsm_sts_policy policy;
};

/* step 0: whole; otherwise pieces of 1 + (step * k) % 7 bytes (step 7: one byte each). */
static void parse(const uint8_t *data, size_t size, unsigned step, struct result *out)
{
    if (step == 0) {
        out->status = stsm_sts_policy_parse(data, size, &out->policy, &out->line, &out->reason);
        return;
    }
    struct stsm_sts_policy_parser p;
    stsm_sts_policy_parser_init(&p, &out->policy);
    bool may_be_valid = true;
    for (size_t i = 0, k = 0; i < size; k++) {
        size_t n = step == 7 ? 1 : 1 + (step * k) % 7;
        n = n < size - i ? n : size - i;
        bool now = stsm_sts_policy_parser_feed(&p, data + i, n);
        if (!may_be_valid && now) {
            abort();   /* once known invalid, a policy stays invalid */
        }
        may_be_valid = now;
        i += n;
    }
    out->status = stsm_sts_policy_parser_end(&p, &out->line, &out->reason);
    if (!may_be_valid && out->status == STSM_OK) {
        abort();
    }
}

static bool same(const struct result *a, const struct result *b)
{
    if (a->status != b->status || a->line != b->line || (a->reason == NULL) != (b->reason == NULL) ||
        (a->reason != NULL && strcmp(a->reason, b->reason) != 0)) {
        return false;
    }
    if (a->status != STSM_OK) {
        return true;   /* an invalid policy's fields are no one's business */
    }
    const struct stsm_sts_policy *x = &a->policy, *y = &b->policy;
    return x->mode == y->mode && x->max_age == y->max_age && x->max_age_clamped == y->max_age_clamped &&
           x->mx_count == y->mx_count && x->mx_dropped == y->mx_dropped && x->mx_len == y->mx_len &&
           memcmp(x->mx_text, y->mx_text, x->mx_len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct result whole, bytes, pieces;
    parse(data, size, 0, &whole);
    parse(data, size, 7, &bytes);
    parse(data, size, size > 0 ? 1u + data[0] % 6u : 1u, &pieces);
    if (!same(&whole, &bytes) || !same(&whole, &pieces)) {
        abort();
    }
    const struct stsm_sts_policy *policy = &whole.policy;
    if (whole.status != STSM_OK) {
        if (whole.reason == NULL || whole.line > size + 1) {
            abort();
        }
        return 0;
    }
    if (policy->mx_count > STSM_STS_MAX_MX || policy->max_age > STSM_STS_MAX_AGE_LIMIT ||
        (policy->mx_count == 0 && policy->mode != STSM_STS_MODE_NONE)) {
        abort();
    }
    /* The pool holds exactly mx_count patterns, each with its NUL, and nothing past mx_len. */
    if (policy->mx_len > sizeof policy->mx_text || (policy->mx_len > 0) != (policy->mx_count > 0)) {
        abort();
    }
    size_t seen = 0, at = 0;
    for (const char *m = stsm_sts_policy_mx_first(policy); m != NULL; m = stsm_sts_policy_mx_next(policy, m)) {
        if (m != policy->mx_text + at || memchr(m, '\0', policy->mx_len - at) == NULL ||
            !stsm_sts_mx_pattern_valid(m, strlen(m))) {
            abort();
        }
        if (m[0] != '*' && !stsm_sts_mx_matches(m, m)) {
            abort();
        }
        at += strlen(m) + 1;
        seen++;
    }
    for (size_t i = policy->mx_len; i < sizeof policy->mx_text; i++) {
        if (policy->mx_text[i] != '\0') {
            abort();
        }
    }
    if (seen != policy->mx_count || at != policy->mx_len) {
        abort();
    }
    return 0;
}
