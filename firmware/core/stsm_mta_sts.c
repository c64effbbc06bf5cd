#include "stsm_mta_sts.h"

#include <string.h>

#include "stsm_dns.h"
#include "stsm_wipe.h"

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* ---- TXT record (RFC 8461 section 3.1) ----------------------------------------------- */

/* sts-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".") */
static bool ext_name_valid(const char *s, size_t n)
{
    if (n == 0 || n > 32 || !(is_alpha(s[0]) || is_digit(s[0]))) {
        return false;
    }
    for (size_t i = 1; i < n; i++) {
        if (!(is_alpha(s[i]) || is_digit(s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.')) {
            return false;
        }
    }
    return true;
}

/* sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): visible ASCII but ';' and '=' */
static bool ext_value_valid(const char *s, size_t n)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7E || c == ';' || c == '=') {
            return false;
        }
    }
    return true;
}

static enum stsm_sts_txt_verdict txt_invalid(struct stsm_sts_txt *out, const char *reason)
{
    out->id[0] = '\0';
    out->reason = reason;
    return STSM_STS_TXT_INVALID;
}

enum stsm_sts_txt_verdict stsm_sts_txt_parse(const char *record, size_t len, struct stsm_sts_txt *out)
{
    static const char version[] = "v=STSv1";
    memset(out, 0, sizeof *out);
    size_t pos = sizeof version - 1;
    if (len < pos || memcmp(record, version, pos) != 0) {
        out->reason = "does not begin with v=STSv1";
        return STSM_STS_TXT_NOT_STS;
    }
    size_t p = pos;
    while (p < len && is_wsp(record[p])) {
        p++;
    }
    if (p == len || record[p] != ';') {
        out->reason = "v=STSv1 is not followed by ';'";
        return STSM_STS_TXT_NOT_STS;   /* "v=STSv10", "v=STSv1x": not this version */
    }

    bool have_id = false;
    while (p < len) {
        /* sts-field-delim = *WSP ";" *WSP, already at the ';' */
        p++;
        while (p < len && is_wsp(record[p])) {
            p++;
        }
        if (p == len) {
            break;   /* a trailing delimiter is allowed */
        }
        size_t start = p;
        while (p < len && record[p] != ';' && !is_wsp(record[p])) {
            p++;
        }
        size_t end = p;
        while (p < len && is_wsp(record[p])) {
            p++;
        }
        if (p < len && record[p] != ';') {
            return txt_invalid(out, "whitespace inside a field");
        }
        const char *field = record + start;
        size_t n = end - start;
        const char *eq = memchr(field, '=', n);
        if (eq == NULL) {
            return txt_invalid(out, "a field without '='");
        }
        size_t name_len = (size_t)(eq - field), value_len = n - name_len - 1;
        if (name_len == 2 && memcmp(field, "id", 2) == 0) {
            if (have_id) {
                return txt_invalid(out, "more than one id");
            }
            if (value_len == 0 || value_len > STSM_STS_ID_MAX) {
                return txt_invalid(out, "id must be 1 to 32 letters and digits");
            }
            for (size_t i = 0; i < value_len; i++) {
                if (!is_alpha(eq[1 + i]) && !is_digit(eq[1 + i])) {
                    return txt_invalid(out, "id must be 1 to 32 letters and digits");
                }
            }
            memcpy(out->id, eq + 1, value_len);
            out->id[value_len] = '\0';
            have_id = true;
        } else if (!ext_name_valid(field, name_len) || !ext_value_valid(eq + 1, value_len)) {
            return txt_invalid(out, "an extension field is not name=value");
        }
    }
    if (!have_id) {
        return txt_invalid(out, "no id");
    }
    out->reason = NULL;
    return STSM_STS_TXT_VALID;
}

/* ---- mx patterns (RFC 8461 section 3.2 and 4.1) --------------------------------------- */

/* An A-label host name: LDH labels of 1..63, no leading or trailing '-', at most 253
 * characters, no trailing dot, and not an address (the last label is not all digits). */
static bool host_name_valid(const char *s, size_t n)
{
    if (n == 0 || n > STSM_HOSTNAME_MAX) {
        return false;
    }
    size_t label = 0;
    bool last_all_digits = true;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-') {
                return false;
            }
            if (i == n) {
                return !last_all_digits;
            }
            label = 0;
            last_all_digits = true;
            continue;
        }
        char c = s[i];
        if (!is_alpha(c) && !is_digit(c) && c != '-') {
            return false;
        }
        last_all_digits = last_all_digits && is_digit(c);
        label++;
    }
    return false;
}

bool stsm_sts_mx_pattern_valid(const char *pattern, size_t len)
{
    /* The pattern is stored and matched as one host name, "*." included, so the bound
     * applies to the whole of it, not only to what follows the wildcard. */
    if (len > STSM_HOSTNAME_MAX) {
        return false;
    }
    if (len >= 2 && pattern[0] == '*' && pattern[1] == '.') {
        return host_name_valid(pattern + 2, len - 2);
    }
    return host_name_valid(pattern, len);
}

bool stsm_sts_mx_matches(const char *pattern, const char *host)
{
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(host, '.');
        if (dot == NULL || dot == host) {
            return false;   /* no label in front */
        }
        return stsm_dns_name_equal(dot + 1, pattern + 2) && dot[1] != '\0' && dot[1] != '.';
    }
    return stsm_dns_name_equal(host, pattern);
}

bool stsm_sts_policy_matches(const struct stsm_sts_policy *policy, const char *host)
{
    for (size_t i = 0; i < policy->mx_count; i++) {
        if (stsm_sts_mx_matches(policy->mx[i], host)) {
            return true;
        }
    }
    return false;
}

/* ---- policy body (RFC 8461 section 3.2) ---------------------------------------------- */

static stsm_status_t invalid(size_t *line, const char **reason, size_t at, const char *why)
{
    *line = at;
    *reason = why;
    return STSM_ERR_PEER_PROTOCOL;
}

static bool equals(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

void stsm_sts_policy_copy(struct stsm_sts_policy *dst, const struct stsm_sts_policy *src)
{
    size_t used = src->mx_count < STSM_STS_MAX_MX ? src->mx_count : STSM_STS_MAX_MX;
    dst->mode = src->mode;
    dst->max_age = src->max_age;
    dst->max_age_clamped = src->max_age_clamped;
    dst->mx_count = used;
    dst->mx_dropped = src->mx_dropped;
    memcpy(dst->mx, src->mx, used * sizeof dst->mx[0]);
    stsm_zero((char *)dst->mx + used * sizeof dst->mx[0], (STSM_STS_MAX_MX - used) * sizeof dst->mx[0]);
}

stsm_status_t stsm_sts_policy_parse(const uint8_t *body, size_t len, struct stsm_sts_policy *policy,
                                    size_t *line, const char **reason)
{
    bool have_version = false, have_mode = false, have_max_age = false;
    stsm_zero(policy, sizeof *policy);   /* 8 KiB of rows, most of them left unused */
    *line = 0;
    *reason = NULL;

    if (len > STSM_STS_POLICY_MAX) {
        return invalid(line, reason, 0, "policy larger than 64 KiB");
    }
    if (len >= 3 && body[0] == 0xEF && body[1] == 0xBB && body[2] == 0xBF) {
        return invalid(line, reason, 1, "byte-order mark before the first field");
    }
    const char *text = (const char *)body;
    size_t number = 0;
    for (size_t start = 0; start < len;) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        size_t next = nl != NULL ? end + 1 : len;
        if (end > start && text[end - 1] == '\r') {
            end--;
        }
        number++;
        const char *l = text + start;
        size_t n = end - start;
        start = next;

        size_t blank = 0;
        while (blank < n && is_wsp(l[blank])) {
            blank++;
        }
        if (blank == n) {
            continue;   /* a blank line is a cosmetic slip, not a reason to drop STS */
        }
        const char *colon = memchr(l, ':', n);
        if (colon == NULL) {
            return invalid(line, reason, number, "a line without ':'");
        }
        size_t key_len = (size_t)(colon - l);
        if (!ext_name_valid(l, key_len)) {
            return invalid(line, reason, number, "a key that is not a field name (whitespace before the key or the ':'?)");
        }
        const char *value = colon + 1;
        size_t value_len = n - key_len - 1;
        while (value_len > 0 && is_wsp(*value)) {
            value++;
            value_len--;
        }
        while (value_len > 0 && is_wsp(value[value_len - 1])) {
            value_len--;
        }
        for (size_t i = 0; i < value_len; i++) {
            unsigned char c = (unsigned char)value[i];
            if ((c < 0x21 || c > 0x7E) && !is_wsp((char)c)) {
                return invalid(line, reason, number, "a value with a byte that is not visible ASCII");
            }
        }

        if (equals(l, key_len, "version")) {
            if (!have_version) {
                if (!equals(value, value_len, "STSv1")) {
                    return invalid(line, reason, number, "version is not STSv1");
                }
                have_version = true;
            }
        } else if (equals(l, key_len, "mode")) {
            if (!have_mode) {
                if (equals(value, value_len, "enforce")) {
                    policy->mode = STSM_STS_MODE_ENFORCE;
                } else if (equals(value, value_len, "testing")) {
                    policy->mode = STSM_STS_MODE_TESTING;
                } else if (equals(value, value_len, "none")) {
                    policy->mode = STSM_STS_MODE_NONE;
                } else {
                    return invalid(line, reason, number, "mode is not enforce, testing or none");
                }
                have_mode = true;
            }
        } else if (equals(l, key_len, "max_age")) {
            if (!have_max_age) {
                if (value_len == 0 || value_len > 10) {
                    return invalid(line, reason, number, "max_age must be 1 to 10 digits");
                }
                uint64_t v = 0;
                for (size_t i = 0; i < value_len; i++) {
                    if (!is_digit(value[i])) {
                        return invalid(line, reason, number, "max_age must be 1 to 10 digits");
                    }
                    v = v * 10u + (uint64_t)(value[i] - '0');
                }
                policy->max_age_clamped = v > STSM_STS_MAX_AGE_LIMIT;
                policy->max_age = (uint32_t)(policy->max_age_clamped ? STSM_STS_MAX_AGE_LIMIT : v);
                have_max_age = true;
            }
        } else if (equals(l, key_len, "mx")) {
            if (!stsm_sts_mx_pattern_valid(value, value_len)) {
                return invalid(line, reason, number,
                               "mx is not a host name in A-label form or '*.' and one");
            }
            if (policy->mx_count == STSM_STS_MAX_MX) {
                /* Voiding the policy for our own limit would fail open; matching against
                 * the patterns that fit fails closed for hosts only the others name. */
                policy->mx_dropped++;
                continue;
            }
            char *row = policy->mx[policy->mx_count];
            if (value_len >= sizeof policy->mx[0]) {
                return invalid(line, reason, number, "mx longer than a host name");   /* unreachable: checked above */
            }
            memcpy(row, value, value_len);
            row[value_len] = '\0';
            policy->mx_count++;
        }
        /* Any other key is an extension: ignored (RFC 8461 section 3.2). */
    }
    if (!have_version) {
        return invalid(line, reason, 0, "no version");
    }
    if (!have_mode) {
        return invalid(line, reason, 0, "no mode");
    }
    if (!have_max_age) {
        return invalid(line, reason, 0, "no max_age");
    }
    if (policy->mx_count == 0 && policy->mode != STSM_STS_MODE_NONE) {
        return invalid(line, reason, 0, "no mx (required unless mode is none)");
    }
    return STSM_OK;
}

const char *stsm_sts_mode_str(enum stsm_sts_mode mode)
{
    switch (mode) {
    case STSM_STS_MODE_NONE: return "none";
    case STSM_STS_MODE_TESTING: return "testing";
    case STSM_STS_MODE_ENFORCE: return "enforce";
    }
    return "unknown";
}
