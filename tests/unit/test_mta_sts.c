/*
 * MTA-STS vectors: TXT records (research/mta-sts-peers.md section A), policy bodies
 * (section C) and MX matching (section D), one case a line with its intent; the case
 * numbers refer to that report.
 */
#include "stsm_check.h"
#include "stsm_mta_sts.h"

static const struct {
    const char *intent;
    const char *record;
    enum stsm_sts_txt_verdict verdict;
    const char *id;
} txt_cases[] = {
    { "plain record", "v=STSv1; id=20261130T000000;", STSM_STS_TXT_VALID, "20261130T000000" },
    { "no trailing delimiter", "v=STSv1; id=1", STSM_STS_TXT_VALID, "1" },
    { "A3 unrelated TXT is not STS", "google-site-verification=abc", STSM_STS_TXT_NOT_STS, NULL },
    { "A5 joined strings", "v=STSv1; id=20240101T00", STSM_STS_TXT_VALID, "20240101T00" },
    { "A6 empty id", "v=STSv1; id=", STSM_STS_TXT_INVALID, NULL },
    { "A7 id with '-'", "v=STSv1; id=2024-01-01", STSM_STS_TXT_INVALID, NULL },
    { "A7 id of 33 characters", "v=STSv1; id=123456789012345678901234567890123", STSM_STS_TXT_INVALID, NULL },
    { "A7 id of 32 characters", "v=STSv1; id=12345678901234567890123456789012", STSM_STS_TXT_VALID,
      "12345678901234567890123456789012" },
    { "A8 v not first", "id=1; v=STSv1;", STSM_STS_TXT_NOT_STS, NULL },
    { "A9 v=STSv10", "v=STSv10; id=1", STSM_STS_TXT_NOT_STS, NULL },
    { "A9 v=STSv2", "v=STSv2; id=1", STSM_STS_TXT_NOT_STS, NULL },
    { "A10 version is case-sensitive", "V=stsv1; id=1", STSM_STS_TXT_NOT_STS, NULL },
    { "A11 whitespace before ';'", "v=STSv1 ; id=1", STSM_STS_TXT_VALID, "1" },
    { "tabs around delimiters", "v=STSv1\t;\tid=abc\t;", STSM_STS_TXT_VALID, "abc" },
    { "A12 trailing bare token", "v=STSv1; id=1; foo", STSM_STS_TXT_INVALID, NULL },
    { "extension field", "v=STSv1; id=1; ext.name-x=value:with-colon", STSM_STS_TXT_VALID, "1" },
    { "extension value with '='", "v=STSv1; id=1; a=b=c", STSM_STS_TXT_INVALID, NULL },
    { "two ids", "v=STSv1; id=1; id=2", STSM_STS_TXT_INVALID, NULL },
    { "no id", "v=STSv1;", STSM_STS_TXT_INVALID, NULL },
    { "space inside a field", "v=STSv1; id=1 2", STSM_STS_TXT_INVALID, NULL },
    { "v=STSv1 alone", "v=STSv1", STSM_STS_TXT_NOT_STS, NULL },
    { "id is case-sensitive key", "v=STSv1; ID=1", STSM_STS_TXT_INVALID, NULL },
};

#define VALID_BODY "version: STSv1\nmode: enforce\nmx: mx1.example.test\nmx: *.example.test\nmax_age: 86400\n"

static const struct {
    const char *intent;
    const char *body;
    stsm_status_t status;
    enum stsm_sts_mode mode;
    uint32_t max_age;
    size_t mx_count;
    size_t line;               /* for invalid ones: the line blamed (0: the whole body) */
} policy_cases[] = {
    { "C29 LF endings", VALID_BODY, STSM_OK, STSM_STS_MODE_ENFORCE, 86400, 2, 0 },
    { "C30 CRLF endings", "version: STSv1\r\nmode: testing\r\nmx: a.example\r\nmax_age: 600\r\n",
      STSM_OK, STSM_STS_MODE_TESTING, 600, 1, 0 },
    { "C31 trailing whitespace", "version: STSv1 \t\nmode: enforce \t\nmx: a.example\t\nmax_age: 1 \n",
      STSM_OK, STSM_STS_MODE_ENFORCE, 1, 1, 0 },
    { "C32 leading whitespace", "version: STSv1\n mode: enforce\nmx: a.example\nmax_age: 1\n",
      STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 2 },
    { "C32 space before the colon", "version: STSv1\nmode : enforce\nmx: a.example\nmax_age: 1\n",
      STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 2 },
    { "C33 blank line inside and at the end", "version: STSv1\n\nmode: enforce\nmx: a.example\nmax_age: 1\n\n",
      STSM_OK, STSM_STS_MODE_ENFORCE, 1, 1, 0 },
    { "C34 no newline at the end", "version: STSv1\nmode: none\nmax_age: 5", STSM_OK, STSM_STS_MODE_NONE, 5, 0, 0 },
    { "C35 unknown field ignored", "version: STSv1\nfoo: bar\nmode: enforce\nmx: a.example\nmax_age: 1\n",
      STSM_OK, STSM_STS_MODE_ENFORCE, 1, 1, 0 },
    { "C36 extension value with ':'", "version: STSv1\nreport: https://x.example/a\nmode: enforce\nmx: a.example\nmax_age: 1\n",
      STSM_OK, STSM_STS_MODE_ENFORCE, 1, 1, 0 },
    { "C37 mode twice: the first wins", "version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 1\n",
      STSM_OK, STSM_STS_MODE_TESTING, 1, 1, 0 },
    { "C38 max_age twice: the first wins", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 10\nmax_age: 20\n",
      STSM_OK, STSM_STS_MODE_ENFORCE, 10, 1, 0 },
    { "C39 mx repeated", "version: STSv1\nmode: enforce\nmx: a.example\nmx: b.example\nmx: *.c.example\nmax_age: 1\n",
      STSM_OK, STSM_STS_MODE_ENFORCE, 1, 3, 0 },
    { "C40 no mode", "version: STSv1\nmx: a.example\nmax_age: 1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 0 },
    { "C41 no max_age", "version: STSv1\nmode: enforce\nmx: a.example\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 0 },
    { "C42 no version", "mode: enforce\nmx: a.example\nmax_age: 1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 0 },
    { "C42 version stsv1", "version: stsv1\nmode: enforce\nmx: a.example\nmax_age: 1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 1 },
    { "C43 mode Enforce", "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 2 },
    { "C43 key Mode", "version: STSv1\nMode: enforce\nmx: a.example\nmax_age: 1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 0 },
    { "C44 max_age above a year is clamped", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 9999999999\n",
      STSM_OK, STSM_STS_MODE_ENFORCE, STSM_STS_MAX_AGE_LIMIT, 1, 0 },
    { "C45 max_age 0", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 0\n", STSM_OK, STSM_STS_MODE_ENFORCE, 0, 1, 0 },
    { "C46 max_age with '+'", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: +86400\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 4 },
    { "C46 max_age 1e5", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1e5\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 4 },
    { "C46 max_age 0x10", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 0x10\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 4 },
    { "C46 max_age -1", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 4 },
    { "C46 max_age of 11 digits", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 10000000000\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 4 },
    { "C46 max_age with an inner space", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 86 400\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 4 },
    { "C47 mode none without mx", "version: STSv1\nmode: none\nmax_age: 86400\n", STSM_OK, STSM_STS_MODE_NONE, 86400, 0, 0 },
    { "C48 mode enforce without mx", "version: STSv1\nmode: enforce\nmax_age: 86400\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 0 },
    { "C49 mx with a trailing dot", "version: STSv1\nmode: enforce\nmx: mail.example.com.\nmax_age: 1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 3 },
    { "C50 mx is an IP address", "version: STSv1\nmode: enforce\nmx: 212.114.86.56\nmax_age: 1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 3 },
    { "C51 mx is a U-label", "version: STSv1\nmode: enforce\nmx: mail.b\xc3\xbc" "cher.example\nmax_age: 1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 3 },
    { "C51 mx as an A-label", "version: STSv1\nmode: enforce\nmx: mail.xn--bcher-kva.example\nmax_age: 1\n", STSM_OK, STSM_STS_MODE_ENFORCE, 1, 1, 0 },
    { "C52 mx '*'", "version: STSv1\nmode: enforce\nmx: *\nmax_age: 1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 3 },
    { "C52 mx '*.*.example.com'", "version: STSv1\nmode: enforce\nmx: *.*.example.com\nmax_age: 1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 3 },
    { "C52 mx 'mx*.example.com'", "version: STSv1\nmode: enforce\nmx: mx*.example.com\nmax_age: 1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 3 },
    { "C52 mx '**.example'", "version: STSv1\nmode: enforce\nmx: **.example\nmax_age: 1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 3 },
    { "C53 typo key nmx leaves no mx", "version: STSv1\nmode: enforce\nnmx: mx0.host.de\nmax_age: 1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 0 },
    { "a byte-order mark", "\xef\xbb\xbfversion: STSv1\nmode: none\nmax_age: 1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 1 },
    { "a line without ':'", "version: STSv1\nmode enforce\nmx: a.example\nmax_age: 1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 2 },
    { "mx label starting with '-'", "version: STSv1\nmode: enforce\nmx: -a.example\nmax_age: 1\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 3 },
    { "empty body", "", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 0 },
    { "HTML error page", "<html><body>Not here</body></html>\n", STSM_ERR_PEER_PROTOCOL, 0, 0, 0, 1 },
};

static const struct {
    const char *pattern;
    const char *host;
    bool match;
    const char *intent;
} match_cases[] = {
    { "*.example.com", "mx1.example.com", true, "D54 one label under the wildcard" },
    { "*.example.com", "example.com", false, "D55 the wildcard needs a label" },
    { "*.example.com", "a.b.example.com", false, "D56 only one label" },
    { "*.example.com", "xexample.com", false, "D57 the dot is literal" },
    { "mx1.example.com", "MX1.Example.COM", true, "D58 case-insensitive" },
    { "*.example.com", "MX1.EXAMPLE.COM", true, "D58 case-insensitive wildcard" },
    { "mx1.example.com", "mx1.example.com.", true, "D59 trailing dot on the MX host" },
    { "*.example.com", "mx1.example.com.", true, "D59 trailing dot under a wildcard" },
    { "subl.im", "subl.im", true, "D60 implicit MX listed" },
    { "mail.subl.im", "subl.im", false, "D60 implicit MX not listed" },
    { "mx1.example.com", "mx2.example.com", false, "different host" },
    { "*.example.com", ".example.com", false, "empty label in front" },
    { "mx1.example.com", "mx1.example.com.evil", false, "suffix is not a match" },
};

/* A valid host name of exactly `n` characters: labels of 63 'a's (the longest) joined by
 * dots, the last one shorter; `n` is never 64k so no label ends up empty. */
static void host_of(char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = i % 64 == 63 ? '.' : 'a';
    }
    out[n] = '\0';
}

/* The policy's pattern number `k` (0-based), or NULL when it has fewer. */
static const char *mx_at(const struct stsm_sts_policy *policy, size_t k)
{
    const char *m = stsm_sts_policy_mx_first(policy);
    while (m != NULL && k-- > 0) {
        m = stsm_sts_policy_mx_next(policy, m);
    }
    return m;
}

/* Parses a policy whose only mx line is `prefix` and a host name of `n` characters. */
static stsm_status_t parse_long_mx(const char *prefix, size_t n, struct stsm_sts_policy *policy, size_t *line)
{
    static char body[2048], host[1024];
    const char *reason;
    host_of(host, n);
    int len = snprintf(body, sizeof body, "version: STSv1\nmode: enforce\nmx: %s%s\nmax_age: 86400\n", prefix, host);
    return stsm_sts_policy_parse((const uint8_t *)body, (size_t)len, policy, line, &reason);
}

/* Finding 1: the `mx` bound is the whole pattern, "*." included, at STSM_HOSTNAME_MAX. */
static void test_mx_length(void)
{
    static struct stsm_sts_policy policy;
    static const struct {
        const char *intent;
        const char *prefix;
        size_t n;              /* characters after the prefix */
        stsm_status_t status;
    } cases[] = {
        { "plain name of 253 characters: the limit", "", 253, STSM_OK },
        { "plain name of 254 characters", "", 254, STSM_ERR_PEER_PROTOCOL },
        { "'*.' and 251 characters: 253 in all", "*.", 251, STSM_OK },
        { "'*.' and 252 characters: 254 in all", "*.", 252, STSM_ERR_PEER_PROTOCOL },
        { "'*.' and 253 characters (the review's case)", "*.", 253, STSM_ERR_PEER_PROTOCOL },
        { "'*.' and 1000 characters", "*.", 1000, STSM_ERR_PEER_PROTOCOL },
        { "plain name of 1000 characters", "", 1000, STSM_ERR_PEER_PROTOCOL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t line = 99;
        CHECK_CASE(cases[i].intent);
        /* Under host-asan, the code before the fix fails here with UBSan's "index 255 out
         * of bounds for type 'char [254]'" (and 254 for the 252 case). */
        stsm_status_t st = parse_long_mx(cases[i].prefix, cases[i].n, &policy, &line);
        CHECK_INT(st, cases[i].status);
        if (st == STSM_OK) {
            size_t total = strlen(cases[i].prefix) + cases[i].n;
            CHECK_INT(policy.mx_count, 1);
            CHECK_INT(policy.mx_len, total + 1);
            CHECK(memchr(policy.mx_text, '\0', policy.mx_len) != NULL);
            CHECK_INT(strlen(mx_at(&policy, 0)), total);
            CHECK(strncmp(mx_at(&policy, 0), cases[i].prefix, strlen(cases[i].prefix)) == 0);
        } else {
            CHECK_INT(line, 3);
        }
        char pattern[1100];
        snprintf(pattern, sizeof pattern, "%s", cases[i].prefix);
        host_of(pattern + strlen(cases[i].prefix), cases[i].n);
        CHECK_INT(stsm_sts_mx_pattern_valid(pattern, strlen(pattern)), cases[i].status == STSM_OK);
    }

    CHECK_CASE("STSM_STS_MAX_MX patterns of the longest: those the pool holds kept, the last NUL-terminated");
    static char body[STSM_STS_MAX_MX * 300 + 128], host[256];
    size_t len = (size_t)snprintf(body, sizeof body, "version: STSv1\nmode: enforce\nmax_age: 1\n");
    host_of(host, 251);
    for (int i = 0; i < STSM_STS_MAX_MX; i++) {
        host[0] = (char)('a' + i % 26);
        host[1] = (char)('a' + i / 26);
        len += (size_t)snprintf(body + len, sizeof body - len, "mx: *.%s\n", host);
    }
    size_t line;
    const char *reason;
    CHECK_INT(stsm_sts_policy_parse((const uint8_t *)body, len, &policy, &line, &reason), STSM_OK);
    size_t fit = STSM_STS_MX_TEXT_MAX / (STSM_HOSTNAME_MAX + 1);
    size_t kept = fit < STSM_STS_MAX_MX ? fit : STSM_STS_MAX_MX;
    CHECK_INT(policy.mx_count, kept);
    CHECK_INT(policy.mx_dropped, STSM_STS_MAX_MX - kept);
    CHECK_INT(policy.mx_len, kept * (STSM_HOSTNAME_MAX + 1));
    CHECK_INT(strlen(mx_at(&policy, kept - 1)), STSM_HOSTNAME_MAX);
    CHECK(mx_at(&policy, kept) == NULL);
}

/* Appends "mx: *.<host of 251 characters>" (STSM_HOSTNAME_MAX in all), distinct by `i`. */
static size_t add_longest(char *body, size_t cap, size_t len, size_t i)
{
    char host[256];
    host_of(host, STSM_HOSTNAME_MAX - 2);
    host[0] = (char)('a' + i % 26);
    host[1] = (char)('a' + i / 26 % 26);
    return len + (size_t)snprintf(body + len, cap - len, "mx: *.%s\n", host);
}

/* The pattern pool (STSM_STS_MX_TEXT_MAX): full at N patterns and at N + 1, a pattern
 * filling it to the byte, one a byte too long, and a host only a dropped pattern names.
 * Needs a pool that fills before STSM_STS_MAX_MX longest patterns (the host's does). */
static void test_mx_pool(void)
{
    static struct stsm_sts_policy policy, split;
    static char body[STSM_STS_MX_TEXT_MAX + STSM_STS_MAX_MX * 16 + 1024];
    const size_t row = STSM_HOSTNAME_MAX + 1, n = STSM_STS_MX_TEXT_MAX / row, rest = STSM_STS_MX_TEXT_MAX - n * row;
    const char *head = "version: STSv1\nmode: enforce\nmax_age: 86400\n";
    size_t line, sline;
    const char *reason, *sreason;
    if (n + 2 > STSM_STS_MAX_MX || rest < 8) {
        printf("SKIP test_mx_pool: a pool of %u bytes holds STSM_STS_MAX_MX patterns of the longest\n",
               (unsigned)STSM_STS_MX_TEXT_MAX);
        return;
    }

    CHECK_CASE("N patterns of the longest: all kept, nothing dropped");
    size_t len = (size_t)snprintf(body, sizeof body, "%s", head);
    for (size_t i = 0; i < n; i++) {
        len = add_longest(body, sizeof body, len, i);
    }
    CHECK_INT(stsm_sts_policy_parse((const uint8_t *)body, len, &policy, &line, &reason), STSM_OK);
    CHECK_INT(policy.mx_count, n);
    CHECK_INT(policy.mx_dropped, 0);
    CHECK_INT(policy.mx_len, n * row);
    CHECK_INT(strlen(mx_at(&policy, n - 1)), STSM_HOSTNAME_MAX);

    CHECK_CASE("N + 1 patterns of the longest: the last dropped and counted, never cut");
    size_t at_n = len;
    len = add_longest(body, sizeof body, len, n);
    CHECK_INT(stsm_sts_policy_parse((const uint8_t *)body, len, &policy, &line, &reason), STSM_OK);
    CHECK_INT(policy.mx_count, n);
    CHECK_INT(policy.mx_dropped, 1);
    CHECK_INT(policy.mx_len, n * row);
    CHECK(mx_at(&policy, n) == NULL);
    char host[300];
    snprintf(host, sizeof host, "x.%.*s", STSM_HOSTNAME_MAX - 2, body + len - (STSM_HOSTNAME_MAX - 2) - 1);
    CHECK(!stsm_sts_policy_matches(&policy, host));   /* named only by the dropped pattern */
    snprintf(host, sizeof host, "x.%s", mx_at(&policy, n - 1) + 2);
    CHECK(stsm_sts_policy_matches(&policy, host));

    CHECK_CASE("a pattern filling the pool to the byte is kept; the next is dropped");
    len = at_n;
    char filler[256];
    host_of(filler, rest - 1);   /* with its NUL, exactly the rest of the pool */
    filler[0] = 'f';
    len += (size_t)snprintf(body + len, sizeof body - len, "mx: %s\nmx: a.b\n", filler);
    CHECK_INT(stsm_sts_policy_parse((const uint8_t *)body, len, &policy, &line, &reason), STSM_OK);
    CHECK_INT(policy.mx_count, n + 1);
    CHECK_INT(policy.mx_len, STSM_STS_MX_TEXT_MAX);
    CHECK_INT(policy.mx_dropped, 1);
    CHECK_STR(mx_at(&policy, n), filler);
    CHECK(stsm_sts_policy_matches(&policy, filler));
    CHECK(!stsm_sts_policy_matches(&policy, "a.b"));
    CHECK_CASE("the pool filled to the byte: the same fed byte by byte");
    struct stsm_sts_policy_parser p;
    stsm_sts_policy_parser_init(&p, &split);
    for (size_t i = 0; i < len; i++) {
        (void)stsm_sts_policy_parser_feed(&p, (const uint8_t *)body + i, 1);
    }
    CHECK_INT(stsm_sts_policy_parser_end(&p, &sline, &sreason), STSM_OK);
    CHECK(split.mx_len == policy.mx_len && split.mx_count == policy.mx_count && split.mx_dropped == 1 &&
          memcmp(split.mx_text, policy.mx_text, sizeof split.mx_text) == 0);

    CHECK_CASE("a pattern one byte longer than the rest of the pool is dropped, and a short one after it too");
    len = at_n;
    host_of(filler, rest);
    filler[0] = 'f';
    len += (size_t)snprintf(body + len, sizeof body - len, "mx: %s\nmx: a.b\n", filler);
    CHECK_INT(stsm_sts_policy_parse((const uint8_t *)body, len, &policy, &line, &reason), STSM_OK);
    CHECK_INT(policy.mx_count, n);
    CHECK_INT(policy.mx_len, n * row);
    CHECK_INT(policy.mx_dropped, 2);   /* the kept ones are always the policy's first */
    CHECK(!stsm_sts_policy_matches(&policy, filler));
    CHECK(!stsm_sts_policy_matches(&policy, "a.b"));

    CHECK_CASE("the only MX named by a dropped pattern does not match (enforce fails closed)");
    len = (size_t)snprintf(body, sizeof body, "%s", head);
    for (size_t i = 0; i < n; i++) {
        len = add_longest(body, sizeof body, len, i);
    }
    host_of(filler, rest - 1);
    filler[0] = 'f';
    len += (size_t)snprintf(body + len, sizeof body - len, "mx: %s\nmx: mx.only.test\n", filler);
    CHECK_INT(stsm_sts_policy_parse((const uint8_t *)body, len, &policy, &line, &reason), STSM_OK);
    CHECK_INT(policy.mode, STSM_STS_MODE_ENFORCE);
    CHECK_INT(policy.mx_dropped, 1);
    CHECK(!stsm_sts_policy_matches(&policy, "mx.only.test"));

    CHECK_CASE("stsm_sts_policy_mx_add: refuses what does not fit, the policy unchanged");
    struct stsm_sts_policy before = policy;
    CHECK(!stsm_sts_policy_mx_add(&policy, "a", 0));   /* not even an empty one: no room for its NUL */
    CHECK(memcmp(&before, &policy, sizeof policy) == 0);
    policy.mx_len -= rest;   /* the filler gone: room for rest - 1 characters, not rest */
    policy.mx_count--;
    before = policy;
    host_of(filler, rest);
    CHECK(!stsm_sts_policy_mx_add(&policy, filler, rest));
    CHECK(memcmp(&before, &policy, sizeof policy) == 0);
    CHECK(stsm_sts_policy_mx_add(&policy, filler, rest - 1));
    CHECK_INT(policy.mx_len, STSM_STS_MX_TEXT_MAX);
}

/* Finding 6: more mx lines than fit keep the first ones and match only those (fail
 * closed), instead of voiding the policy (fail open). */
static void test_mx_overflow(void)
{
    static struct stsm_sts_policy policy;
    static char body[(STSM_STS_MAX_MX + 8) * 40 + 128];
    size_t line;
    const char *reason;
    static const size_t extra[] = { 0, 1, 8 };
    for (size_t k = 0; k < sizeof extra / sizeof extra[0]; k++) {
        size_t lines = STSM_STS_MAX_MX + extra[k];
        size_t len = (size_t)snprintf(body, sizeof body, "version: STSv1\nmode: enforce\nmax_age: 86400\n");
        for (size_t i = 0; i < lines; i++) {
            len += (size_t)snprintf(body + len, sizeof body - len, "mx: mx%zu.example.test\n", i);
        }
        CHECK_CASE(extra[k] == 0 ? "exactly STSM_STS_MAX_MX mx lines" : "more mx lines than STSM_STS_MAX_MX");
        CHECK_INT(stsm_sts_policy_parse((const uint8_t *)body, len, &policy, &line, &reason), STSM_OK);
        CHECK_INT(policy.mode, STSM_STS_MODE_ENFORCE);
        CHECK_INT(policy.mx_count, STSM_STS_MAX_MX);
        CHECK_INT(policy.mx_dropped, extra[k]);
        CHECK_STR(mx_at(&policy, 0), "mx0.example.test");
        char host[64];
        snprintf(host, sizeof host, "mx%d.example.test", STSM_STS_MAX_MX - 1);
        CHECK(stsm_sts_policy_matches(&policy, host));
        snprintf(host, sizeof host, "mx%d.example.test", STSM_STS_MAX_MX);
        CHECK(!stsm_sts_policy_matches(&policy, host));   /* named only by a dropped line */
        CHECK(!stsm_sts_policy_matches(&policy, "evil.example.net"));
    }

    CHECK_CASE("an invalid mx after the kept ones still spoils the policy");
    size_t len = (size_t)snprintf(body, sizeof body, "version: STSv1\nmode: enforce\nmax_age: 86400\n");
    for (int i = 0; i < STSM_STS_MAX_MX; i++) {
        len += (size_t)snprintf(body + len, sizeof body - len, "mx: mx%d.example.test\n", i);
    }
    len += (size_t)snprintf(body + len, sizeof body - len, "mx: 192.0.2.1\n");
    CHECK_INT(stsm_sts_policy_parse((const uint8_t *)body, len, &policy, &line, &reason), STSM_ERR_PEER_PROTOCOL);
    CHECK_INT(line, 4 + STSM_STS_MAX_MX);

    CHECK_CASE("a policy that fits drops nothing");
    CHECK_INT(stsm_sts_policy_parse((const uint8_t *)VALID_BODY, strlen(VALID_BODY), &policy, &line, &reason), STSM_OK);
    CHECK_INT(policy.mx_dropped, 0);
}

/* ---- the parser fed in pieces ---------------------------------------------------------- */

/* Parses `len` bytes fed in pieces of `piece` bytes (0: whole, through the one-shot call). */
static stsm_status_t parse_in_pieces(const char *body, size_t len, size_t piece, struct stsm_sts_policy *policy,
                                     size_t *line, const char **reason)
{
    if (piece == 0) {
        return stsm_sts_policy_parse((const uint8_t *)body, len, policy, line, reason);
    }
    struct stsm_sts_policy_parser p;
    stsm_sts_policy_parser_init(&p, policy);
    for (size_t i = 0; i < len; i += piece) {
        (void)stsm_sts_policy_parser_feed(&p, (const uint8_t *)body + i, len - i < piece ? len - i : piece);
    }
    return stsm_sts_policy_parser_end(&p, line, reason);
}

/* Parses `len` bytes cut in two at `at`. */
static stsm_status_t parse_cut(const char *body, size_t len, size_t at, struct stsm_sts_policy *policy,
                               size_t *line, const char **reason)
{
    struct stsm_sts_policy_parser p;
    stsm_sts_policy_parser_init(&p, policy);
    (void)stsm_sts_policy_parser_feed(&p, (const uint8_t *)body, at);
    (void)stsm_sts_policy_parser_feed(&p, (const uint8_t *)body + at, len - at);
    return stsm_sts_policy_parser_end(&p, line, reason);
}

static bool same_policy(const struct stsm_sts_policy *a, const struct stsm_sts_policy *b)
{
    return a->mode == b->mode && a->max_age == b->max_age && a->max_age_clamped == b->max_age_clamped &&
           a->mx_count == b->mx_count && a->mx_dropped == b->mx_dropped && a->mx_len == b->mx_len &&
           memcmp(a->mx_text, b->mx_text, sizeof a->mx_text) == 0;
}

/* Every table case gives the same result fed whole, byte by byte, in pieces of 2, 3 and 7
 * bytes, and cut in two at every byte: status, line, reason and policy. */
static void test_pieces_agree(void)
{
    static struct stsm_sts_policy whole, split;
    static const size_t pieces[] = { 1, 2, 3, 7 };
    for (size_t i = 0; i < sizeof policy_cases / sizeof policy_cases[0]; i++) {
        const char *body = policy_cases[i].body;
        size_t len = strlen(body), wline, line;
        const char *wreason, *reason;
        stsm_status_t want = parse_in_pieces(body, len, 0, &whole, &wline, &wreason);
        bool agree = true;
        for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
            stsm_status_t st = parse_in_pieces(body, len, pieces[k], &split, &line, &reason);
            agree = agree && st == want && line == wline && reason == wreason && (st != STSM_OK || same_policy(&whole, &split));
        }
        for (size_t at = 0; at <= len; at++) {
            stsm_status_t st = parse_cut(body, len, at, &split, &line, &reason);
            agree = agree && st == want && line == wline && reason == wreason && (st != STSM_OK || same_policy(&whole, &split));
        }
        char intent[160];
        snprintf(intent, sizeof intent, "in pieces: %s", policy_cases[i].intent);
        CHECK_CASE(intent);
        CHECK(agree);
    }
}

/* A body whose lines are given, then `fill` bytes of `c` appended to `line3`'s value. */
static size_t build(char *out, size_t cap, const char *head, char c, size_t fill, const char *tail)
{
    size_t n = (size_t)snprintf(out, cap, "%s", head);
    memset(out + n, c, fill);
    n += fill;
    n += (size_t)snprintf(out + n, cap - n, "%s", tail);
    return n;
}

/* The parser keeps no line: a value longer than any valid one is invalid (never cut to
 * fit), an extension line of any length is read through, the cap is the body's. */
static void test_long_lines(void)
{
    static char body[STSM_STS_POLICY_MAX + 64];
    static struct stsm_sts_policy policy;
    size_t line;
    const char *reason;
    static const size_t pieces[] = { 0, 1, 5, 4096 };
    static const struct {
        const char *intent;
        const char *head;
        char c;
        size_t fill;
        const char *tail;
        stsm_status_t status;
        size_t line;
    } cases[] = {
        { "an extension line of 60 KiB is read through", "version: STSv1\nmode: none\nx-note: ", 'v', 60000,
          "\nmax_age: 1\n", STSM_OK, 0 },
        { "a key of 32 characters: an extension", "version: STSv1\nmode: none\nmax_age: 1\n", 'k', 32, ": v\n",
          STSM_OK, 0 },
        { "a key of 33 characters: not a field name", "version: STSv1\nmode: none\nmax_age: 1\n", 'k', 33, ": v\n",
          STSM_ERR_PEER_PROTOCOL, 4 },
        { "a key of 60000 characters: not a field name", "version: STSv1\nmode: none\nmax_age: 1\n", 'k', 60000,
          ": v\n", STSM_ERR_PEER_PROTOCOL, 4 },
        { "a line of 60000 characters without ':'", "version: STSv1\nmode: none\nmax_age: 1\n", 'k', 60000, "\n",
          STSM_ERR_PEER_PROTOCOL, 4 },
        { "60000 blanks after a value are trimmed", "version: STSv1\nmode: none\nmax_age: 1", ' ', 60000, "\n",
          STSM_OK, 0 },
        { "60000 blanks before a value are trimmed", "version: STSv1\nmode: none\nmax_age:", '\t', 60000, "1\n",
          STSM_OK, 0 },
        { "a version far too long is not STSv1", "version: STSv1", '1', 60000, "\nmode: none\nmax_age: 1\n",
          STSM_ERR_PEER_PROTOCOL, 1 },
        { "a max_age of 60000 digits", "version: STSv1\nmode: none\nmax_age: ", '9', 60000, "\n",
          STSM_ERR_PEER_PROTOCOL, 3 },
        { "an mx of 60000 characters", "version: STSv1\nmode: enforce\nmax_age: 1\nmx: ", 'a', 60000, ".example\n",
          STSM_ERR_PEER_PROTOCOL, 4 },
        { "a blank line of 60000 tabs", "version: STSv1\nmode: none\n", '\t', 60000, "\nmax_age: 1\n", STSM_OK, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = build(body, sizeof body, cases[i].head, cases[i].c, cases[i].fill, cases[i].tail);
        for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
            CHECK_CASE(cases[i].intent);
            CHECK_INT(parse_in_pieces(body, len, pieces[k], &policy, &line, &reason), cases[i].status);
            CHECK_INT(line, cases[i].line);
        }
    }

    /* The cap: a valid policy padded with an extension line to exactly 64 KiB is read, one
     * byte more is refused as too large (line 0), even when an earlier line was invalid. */
    static const char head[] = "version: STSv1\nmode: none\nmax_age: 1\nx: ";
    for (size_t extra = 0; extra <= 1; extra++) {
        size_t len = build(body, sizeof body, head, 'p', STSM_STS_POLICY_MAX - (sizeof head - 1) - 1 + extra, "\n");
        for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
            CHECK_CASE(extra ? "a body one byte over 64 KiB" : "a body of exactly 64 KiB");
            CHECK_INT(len, STSM_STS_POLICY_MAX + extra);
            CHECK_INT(parse_in_pieces(body, len, pieces[k], &policy, &line, &reason),
                      extra ? STSM_ERR_PEER_PROTOCOL : STSM_OK);
            CHECK_INT(line, 0);
        }
        body[0] = 'V';   /* "Version": line 1 is an unknown key, still valid; make it invalid */
        body[7] = ' ';
        CHECK_CASE(extra ? "over 64 KiB with line 1 invalid: too large wins" : "64 KiB with line 1 invalid");
        CHECK_INT(parse_in_pieces(body, len, 1000, &policy, &line, &reason), STSM_ERR_PEER_PROTOCOL);
        CHECK_INT(line, extra ? 0 : 1);
        CHECK(extra ? strstr(reason, "64 KiB") != NULL : strstr(reason, "64 KiB") == NULL);
    }
}

/* A body given as a literal (NUL bytes included) and its length. */
#define BODY(literal) literal, sizeof literal - 1

/* What a cut between two bytes must not change: a CR and its LF, a CR that is not before
 * an LF, a byte-order mark, NUL bytes. */
static void test_boundaries(void)
{
    static struct stsm_sts_policy policy;
    size_t line;
    const char *reason;
    static const struct {
        const char *intent;
        const char *body;
        size_t len;
        stsm_status_t status;
        size_t line;
    } cases[] = {
        { "CRLF endings", BODY("version: STSv1\r\nmode: none\r\nmax_age: 1\r\n"), STSM_OK, 0 },
        { "a lone CR inside a value", BODY("version: STSv1\nmode: no\rne\nmax_age: 1\n"), STSM_ERR_PEER_PROTOCOL, 2 },
        { "CR CR LF: the first CR is a byte of the line", BODY("version: STSv1\r\r\nmode: none\nmax_age: 1\n"),
          STSM_ERR_PEER_PROTOCOL, 1 },
        { "a lone CR in a key", BODY("version: STSv1\nmo\rde: none\nmax_age: 1\n"), STSM_ERR_PEER_PROTOCOL, 2 },
        { "a CR alone on a line is a blank line", BODY("version: STSv1\n\r\nmode: none\nmax_age: 1\n"), STSM_OK, 0 },
        { "a last line ending in CR without LF", BODY("version: STSv1\nmode: none\nmax_age: 7\r"), STSM_OK, 0 },
        { "a last line ending in CR CR", BODY("version: STSv1\nmode: none\nmax_age: 7\r\r"), STSM_ERR_PEER_PROTOCOL, 3 },
        { "a lone CR on the last line", BODY("version: STSv1\nmode: none\nmax_age: 1\n\r"), STSM_OK, 0 },
        { "a byte-order mark", BODY("\xef\xbb\xbfversion: STSv1\nmode: none\nmax_age: 1\n"), STSM_ERR_PEER_PROTOCOL, 1 },
        { "a byte-order mark alone", BODY("\xef\xbb\xbf"), STSM_ERR_PEER_PROTOCOL, 1 },
        { "two bytes of a byte-order mark", BODY("\xef\xbb"), STSM_ERR_PEER_PROTOCOL, 1 },
        { "a byte-order mark after a newline", BODY("\n\xef\xbb\xbfversion: STSv1\n"), STSM_ERR_PEER_PROTOCOL, 2 },
        { "a NUL in a value", BODY("version: STSv1\nmode: none\0\nmax_age: 1\n"), STSM_ERR_PEER_PROTOCOL, 2 },
        { "a NUL in a key", BODY("version: STSv1\nmo\0de: none\nmax_age: 1\n"), STSM_ERR_PEER_PROTOCOL, 2 },
        { "a NUL line", BODY("version: STSv1\n\0\nmode: none\nmax_age: 1\n"), STSM_ERR_PEER_PROTOCOL, 2 },
        { "a NUL after the last newline", BODY("version: STSv1\nmode: none\nmax_age: 1\n\0"), STSM_ERR_PEER_PROTOCOL, 4 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len;
        bool agree = true;
        for (size_t at = 0; at <= len; at++) {
            stsm_status_t st = parse_cut(cases[i].body, len, at, &policy, &line, &reason);
            agree = agree && st == cases[i].status && line == cases[i].line;
        }
        stsm_status_t st = parse_in_pieces(cases[i].body, len, 1, &policy, &line, &reason);
        agree = agree && st == cases[i].status && line == cases[i].line;
        CHECK_CASE(cases[i].intent);
        CHECK_INT(parse_in_pieces(cases[i].body, len, 0, &policy, &line, &reason), cases[i].status);
        CHECK_INT(line, cases[i].line);
        CHECK(agree);
    }

    CHECK_CASE("feed tells once the policy is known to be invalid, and stays so");
    struct stsm_sts_policy_parser p;
    stsm_sts_policy_parser_init(&p, &policy);
    CHECK(stsm_sts_policy_parser_feed(&p, (const uint8_t *)"version: STSv1\nmode: ", 21));
    CHECK(!stsm_sts_policy_parser_feed(&p, (const uint8_t *)"bad\nmax_", 9));
    CHECK(!stsm_sts_policy_parser_feed(&p, (const uint8_t *)"age: 1\n", 8));
    CHECK_INT(stsm_sts_policy_parser_end(&p, &line, &reason), STSM_ERR_PEER_PROTOCOL);
    CHECK_INT(line, 2);
    CHECK_STR(reason, "mode is not enforce, testing or none");
}

int main(void)
{
    for (size_t i = 0; i < sizeof txt_cases / sizeof txt_cases[0]; i++) {
        struct stsm_sts_txt txt;
        CHECK_CASE(txt_cases[i].intent);
        CHECK_INT(stsm_sts_txt_parse(txt_cases[i].record, strlen(txt_cases[i].record), &txt),
                  txt_cases[i].verdict);
        if (txt_cases[i].id != NULL) {
            CHECK_STR(txt.id, txt_cases[i].id);
        } else {
            CHECK(txt.reason != NULL);
        }
    }

    for (size_t i = 0; i < sizeof policy_cases / sizeof policy_cases[0]; i++) {
        struct stsm_sts_policy policy;
        size_t line;
        const char *reason;
        CHECK_CASE(policy_cases[i].intent);
        stsm_status_t st = stsm_sts_policy_parse((const uint8_t *)policy_cases[i].body,
                                                 strlen(policy_cases[i].body), &policy, &line, &reason);
        CHECK_INT(st, policy_cases[i].status);
        if (st == STSM_OK) {
            CHECK_INT(policy.mode, policy_cases[i].mode);
            CHECK_INT(policy.max_age, policy_cases[i].max_age);
            CHECK_INT(policy.mx_count, policy_cases[i].mx_count);
        } else {
            CHECK(reason != NULL);
            CHECK_INT(line, policy_cases[i].line);
        }
    }

    CHECK_CASE("clamping is reported");
    struct stsm_sts_policy policy;
    size_t line;
    const char *reason;
    const char *clamped = "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n";
    CHECK_INT(stsm_sts_policy_parse((const uint8_t *)clamped, strlen(clamped), &policy, &line, &reason), STSM_OK);
    CHECK(policy.max_age_clamped);

    CHECK_CASE("patterns are kept as written");
    CHECK_INT(stsm_sts_policy_parse((const uint8_t *)VALID_BODY, strlen(VALID_BODY), &policy, &line, &reason), STSM_OK);
    CHECK_STR(mx_at(&policy, 0), "mx1.example.test");
    CHECK_STR(mx_at(&policy, 1), "*.example.test");
    CHECK(mx_at(&policy, 2) == NULL);
    CHECK(stsm_sts_policy_matches(&policy, "mx2.example.test"));
    CHECK(!stsm_sts_policy_matches(&policy, "mx.other.test"));

    for (size_t i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++) {
        CHECK_CASE(match_cases[i].intent);
        CHECK_INT(stsm_sts_mx_matches(match_cases[i].pattern, match_cases[i].host), match_cases[i].match);
    }

    test_mx_length();
    test_mx_overflow();
    test_mx_pool();
    test_pieces_agree();
    test_long_lines();
    test_boundaries();
    return stsm_check_summary("test_mta_sts");
}
