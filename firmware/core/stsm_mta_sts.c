#include "stsm_mta_sts.h"

#include <stddef.h>
#include <string.h>

#include "stsm_dns.h"
#include "stsm_wipe.h"

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* is_digit() and is_wsp() are not inlined: each has many uses, smaller as calls. */
__attribute__((noinline)) static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

__attribute__((noinline)) static bool is_wsp(char c)
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

/* Not inlined: its six uses are smaller as calls. */
__attribute__((noinline)) static enum stsm_sts_txt_verdict txt_invalid(struct stsm_sts_txt *out, stsm_text_fixed_t reason)
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
        out->reason = STSM_TEXT_FIXED("does not begin with v=STSv1");
        return STSM_STS_TXT_NOT_STS;
    }
    size_t p = pos;
    while (p < len && is_wsp(record[p])) {
        p++;
    }
    if (p == len || record[p] != ';') {
        out->reason = STSM_TEXT_FIXED("v=STSv1 is not followed by ';'");
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
            return txt_invalid(out, STSM_TEXT_FIXED("whitespace inside a field"));
        }
        const char *field = record + start;
        size_t n = end - start;
        const char *eq = memchr(field, '=', n);
        if (eq == NULL) {
            return txt_invalid(out, STSM_TEXT_FIXED("a field without '='"));
        }
        size_t name_len = (size_t)(eq - field), value_len = n - name_len - 1;
        if (name_len == 2 && memcmp(field, "id", 2) == 0) {
            if (have_id) {
                return txt_invalid(out, STSM_TEXT_FIXED("more than one id"));
            }
            if (value_len == 0 || value_len > STSM_STS_ID_MAX) {
                return txt_invalid(out, STSM_TEXT_FIXED("id must be 1 to 32 letters and digits"));
            }
            for (size_t i = 0; i < value_len; i++) {
                if (!is_alpha(eq[1 + i]) && !is_digit(eq[1 + i])) {
                    return txt_invalid(out, STSM_TEXT_FIXED("id must be 1 to 32 letters and digits"));
                }
            }
            memcpy(out->id, eq + 1, value_len);
            out->id[value_len] = '\0';
            have_id = true;
        } else if (!ext_name_valid(field, name_len) || !ext_value_valid(eq + 1, value_len)) {
            return txt_invalid(out, STSM_TEXT_FIXED("an extension field is not name=value"));
        }
    }
    if (!have_id) {
        return txt_invalid(out, STSM_TEXT_FIXED("no id"));
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

/* Not inlined into its uses here: a call is smaller. */
__attribute__((noinline)) const char *stsm_sts_policy_mx_first(const struct stsm_sts_policy *policy)
{
    return policy->mx_count > 0 ? policy->mx_text : NULL;
}

const char *stsm_sts_policy_mx_next(const struct stsm_sts_policy *policy, const char *mx)
{
    size_t at = (size_t)(mx - policy->mx_text) + strlen(mx) + 1;
    return at < policy->mx_len ? policy->mx_text + at : NULL;
}

bool stsm_sts_policy_mx_add(struct stsm_sts_policy *policy, const char *pattern, size_t len)
{
    if (policy->mx_count >= STSM_STS_MAX_MX || policy->mx_len > sizeof policy->mx_text ||
        len >= sizeof policy->mx_text - policy->mx_len) {
        return false;
    }
    memcpy(policy->mx_text + policy->mx_len, pattern, len);
    policy->mx_text[policy->mx_len + len] = '\0';
    policy->mx_len += len + 1;
    policy->mx_count++;
    return true;
}

bool stsm_sts_policy_matches(const struct stsm_sts_policy *policy, const char *host)
{
    for (const char *m = stsm_sts_policy_mx_first(policy); m != NULL; m = stsm_sts_policy_mx_next(policy, m)) {
        if (stsm_sts_mx_matches(m, host)) {
            return true;
        }
    }
    return false;
}

/* ---- policy body (RFC 8461 section 3.2) ---------------------------------------------- */

static stsm_status_t invalid(size_t *line, stsm_text_fixed_t *reason, size_t at, stsm_text_fixed_t why)
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
    size_t used = src->mx_len < sizeof src->mx_text ? src->mx_len : sizeof src->mx_text;
    dst->mode = src->mode;
    dst->max_age = src->max_age;
    dst->max_age_clamped = src->max_age_clamped;
    dst->mx_count = src->mx_count;
    dst->mx_dropped = src->mx_dropped;
    dst->mx_len = used;
    memcpy(dst->mx_text, src->mx_text, used);
    stsm_zero(dst->mx_text + used, sizeof dst->mx_text - used);
}

enum { FIELD_OTHER, FIELD_VERSION, FIELD_MODE, FIELD_MAX_AGE, FIELD_MX };

/* The values of `mode`, indexed by enum stsm_sts_mode. */
static const char mode_names[][8] = { "none", "testing", "enforce" };

/* The first failure decides: the lines after it are not read. Not inlined: its
 * many uses are smaller as calls. */
__attribute__((noinline)) static void fail(struct stsm_sts_policy_parser *p, size_t at, stsm_text_fixed_t why)
{
    if (p->fail_reason == NULL) {
        p->fail_line = at;
        p->fail_reason = why;
    }
}

static void start_line(struct stsm_sts_policy_parser *p)
{
    p->in_value = false;
    p->line_open = false;
    p->blank = true;
    p->key_valid = true;
    p->key_len = 0;
    p->field = FIELD_OTHER;
    p->space_held = false;
    p->value_spoiled = false;
    p->value_len = 0;
}

void stsm_sts_policy_parser_init(struct stsm_sts_policy_parser *p, struct stsm_sts_policy *policy)
{
    memset(p, 0, offsetof(struct stsm_sts_policy_parser, value));
    p->policy = policy;
    p->line = 1;
    start_line(p);
    stsm_zero(policy, sizeof *policy);   /* the pattern pool, most of it left unused */
}

/* A byte before the line's first ':'. The key is judged as ext_name_valid() judges it,
 * one byte at a time, but only at the ':': a line without one is refused as such. */
static void key_byte(struct stsm_sts_policy_parser *p, char c)
{
    bool name_byte = is_alpha(c) || is_digit(c) || (p->key_len > 0 && (c == '_' || c == '-' || c == '.'));
    if (!name_byte || p->key_len >= 32) {
        p->key_valid = false;
    }
    if (!is_wsp(c)) {
        p->blank = false;
    }
    if (p->key_len < sizeof p->key) {
        p->key[p->key_len] = c;
    }
    if (p->key_len < UINT8_MAX) {
        p->key_len++;
    }
}

static bool key_is(const struct stsm_sts_policy_parser *p, const char *lit)
{
    return p->key_len <= sizeof p->key && equals(p->key, p->key_len, lit);
}

static void colon(struct stsm_sts_policy_parser *p)
{
    if (p->key_len == 0 || !p->key_valid) {
        fail(p, p->line, STSM_TEXT_FIXED("a key that is not a field name (whitespace before the key or the ':'?)"));
        return;
    }
    p->in_value = true;
    p->field = key_is(p, "version") ? FIELD_VERSION
               : key_is(p, "mode")  ? FIELD_MODE
               : key_is(p, "max_age") ? FIELD_MAX_AGE
               : key_is(p, "mx")    ? FIELD_MX
                                    : FIELD_OTHER;
}

/* A byte after the ':'. Spaces and tabs around the value are dropped; one inside it, or a
 * value longer than the longest valid one, spoils it for every key we read. */
static void value_byte(struct stsm_sts_policy_parser *p, char c)
{
    unsigned char u = (unsigned char)c;
    if ((u < 0x21 || u > 0x7E) && !is_wsp(c)) {
        fail(p, p->line, STSM_TEXT_FIXED("a value with a byte that is not visible ASCII"));
        return;
    }
    if (p->field == FIELD_OTHER) {
        return;   /* an extension: its value is not ours to judge beyond its bytes */
    }
    if (is_wsp(c)) {
        p->space_held = p->value_len > 0;
        return;
    }
    if (p->space_held || p->value_len == sizeof p->value) {
        p->value_spoiled = true;
        p->space_held = false;
        return;
    }
    p->value[p->value_len++] = c;
}

static bool value_is(const struct stsm_sts_policy_parser *p, const char *lit)
{
    return !p->value_spoiled && equals(p->value, p->value_len, lit);
}

static void max_age_value(struct stsm_sts_policy_parser *p)
{
    struct stsm_sts_policy *policy = p->policy;
    bool ok = !p->value_spoiled && p->value_len > 0 && p->value_len <= 10;
    uint64_t v = 0;
    for (size_t i = 0; i < p->value_len && ok; i++) {
        ok = is_digit(p->value[i]);
        v = v * 10u + (uint64_t)(p->value[i] - '0');
    }
    if (!ok) {
        fail(p, p->line, STSM_TEXT_FIXED("max_age must be 1 to 10 digits"));
        return;
    }
    policy->max_age_clamped = v > STSM_STS_MAX_AGE_LIMIT;
    policy->max_age = (uint32_t)(policy->max_age_clamped ? STSM_STS_MAX_AGE_LIMIT : v);
}

static void mx_value(struct stsm_sts_policy_parser *p)
{
    struct stsm_sts_policy *policy = p->policy;
    if (p->value_spoiled || !stsm_sts_mx_pattern_valid(p->value, p->value_len)) {
        fail(p, p->line, STSM_TEXT_FIXED("mx is not a host name in A-label form or '*.' and one"));
        return;
    }
    /* Voiding the policy for our own limit would fail open; matching against the patterns
     * that fit fails closed for hosts only the others name. Once one is dropped the later
     * ones are too, even short ones that would fit: what is kept is always the policy's
     * first patterns, whatever their lengths. */
    if (policy->mx_dropped > 0 || !stsm_sts_policy_mx_add(policy, p->value, p->value_len)) {
        policy->mx_dropped++;
    }
}

/* The line ended (its CR, if any, already dropped): a blank line is a cosmetic slip, not a
 * reason to drop STS; the first version, mode and max_age win; any other key is an
 * extension, ignored (RFC 8461 section 3.2). */
static void end_line(struct stsm_sts_policy_parser *p)
{
    struct stsm_sts_policy *policy = p->policy;
    if (!p->in_value) {
        if (!p->blank) {
            fail(p, p->line, STSM_TEXT_FIXED("a line without ':'"));
        }
    } else if (p->field == FIELD_VERSION && !p->have_version) {
        if (!value_is(p, "STSv1")) {
            fail(p, p->line, STSM_TEXT_FIXED("version is not STSv1"));
        }
        p->have_version = true;
    } else if (p->field == FIELD_MODE && !p->have_mode) {
        unsigned m = STSM_STS_MODE_ENFORCE + 1;
        while (m-- > 0 && !value_is(p, mode_names[m])) {
        }
        if (m <= STSM_STS_MODE_ENFORCE) {
            policy->mode = (enum stsm_sts_mode)m;
        } else {
            fail(p, p->line, STSM_TEXT_FIXED("mode is not enforce, testing or none"));
        }
        p->have_mode = true;
    } else if (p->field == FIELD_MAX_AGE && !p->have_max_age) {
        max_age_value(p);
        p->have_max_age = true;
    } else if (p->field == FIELD_MX) {
        mx_value(p);
    }
    p->line++;
    start_line(p);
}

static void line_byte(struct stsm_sts_policy_parser *p, char c)
{
    p->line_open = true;
    if (p->in_value) {
        value_byte(p, c);
    } else if (c == ':') {
        colon(p);
    } else {
        key_byte(p, c);
    }
}

bool stsm_sts_policy_parser_feed(struct stsm_sts_policy_parser *p, const uint8_t *data, size_t len)
{
    /* Over the cap, the size is the reason whatever the lines said. */
    if (p->total > STSM_STS_POLICY_MAX || len > STSM_STS_POLICY_MAX - p->total) {
        p->total = STSM_STS_POLICY_MAX + 1u;
        p->fail_line = 0;
        p->fail_reason = STSM_TEXT_FIXED("policy larger than 64 KiB");
        return false;
    }
    size_t at = p->total;
    p->total += len;
    for (size_t i = 0; i < len && p->fail_reason == NULL; i++, at++) {
        char c = (char)data[i];
        /* The first two bytes of a body are line 1's first two key bytes unless one ends
         * the line, so a byte-order mark is all in `key` when its third byte comes. */
        if (at == 2 && p->key_len == 2 && (uint8_t)p->key[0] == 0xEF && (uint8_t)p->key[1] == 0xBB &&
            (uint8_t)c == 0xBF) {
            fail(p, 1, STSM_TEXT_FIXED("byte-order mark before the first field"));
            break;
        }
        if (p->cr_held) {
            /* A CR ends a line only right before its LF; anywhere else it is a byte of
             * the line (and no valid one). */
            p->cr_held = false;
            if (c == '\n') {
                end_line(p);
                continue;
            }
            line_byte(p, '\r');
            if (p->fail_reason != NULL) {
                break;
            }
        }
        if (c == '\n') {
            end_line(p);
        } else if (c == '\r') {
            p->cr_held = true;
            p->line_open = true;
        } else {
            line_byte(p, c);
        }
    }
    return p->fail_reason == NULL;
}

stsm_status_t stsm_sts_policy_parser_end(struct stsm_sts_policy_parser *p, size_t *line, stsm_text_fixed_t *reason)
{
    *line = 0;
    *reason = NULL;
    if (p->fail_reason == NULL && p->line_open) {
        p->cr_held = false;   /* the last line may end in CR without LF: dropped as before an LF */
        end_line(p);
    }
    if (p->fail_reason != NULL) {
        return invalid(line, reason, p->fail_line, p->fail_reason);
    }
    if (!p->have_version) {
        return invalid(line, reason, 0, STSM_TEXT_FIXED("no version"));
    }
    if (!p->have_mode) {
        return invalid(line, reason, 0, STSM_TEXT_FIXED("no mode"));
    }
    if (!p->have_max_age) {
        return invalid(line, reason, 0, STSM_TEXT_FIXED("no max_age"));
    }
    if (p->policy->mx_count == 0 && p->policy->mode != STSM_STS_MODE_NONE) {
        return invalid(line, reason, 0, STSM_TEXT_FIXED("no mx (required unless mode is none)"));
    }
    return STSM_OK;
}

stsm_status_t stsm_sts_policy_parse(const uint8_t *body, size_t len, struct stsm_sts_policy *policy,
                                    size_t *line, stsm_text_fixed_t *reason)
{
    struct stsm_sts_policy_parser p;
    stsm_sts_policy_parser_init(&p, policy);
    (void)stsm_sts_policy_parser_feed(&p, body, len);
    return stsm_sts_policy_parser_end(&p, line, reason);
}

const char *stsm_sts_mode_str(enum stsm_sts_mode mode)
{
    return (unsigned)mode <= STSM_STS_MODE_ENFORCE ? mode_names[mode] : "unknown";
}
