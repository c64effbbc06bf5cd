/* DNS codec: query encoding and answer decoding on packets built byte by byte. */
#include "dns_packet.h"
#include "stsm_check.h"
#include "stsm_dns.h"

#define ID 0x1234

static struct stsm_dns_answer answer;   /* large: static */

static struct stsm_dns_query make_query(const char *name, uint16_t type)
{
    struct stsm_dns_query q = { .id = ID, .type = type };
    strncpy(q.name, name, sizeof q.name - 1);
    return q;
}

static stsm_status_t decode(const struct pkt *p, const char *name, uint16_t type)
{
    struct stsm_dns_query q = make_query(name, type);
    return stsm_dns_decode(p->b, p->n, &q, &answer);
}

static void test_encode(void)
{
    uint8_t buf[512];
    size_t len = 0;
    struct stsm_dns_query q = make_query("example.test", STSM_DNS_TYPE_MX);

    CHECK_CASE("encode MX query: exact bytes");
    CHECK_INT(stsm_dns_encode_query(&q, buf, sizeof buf, &len), STSM_OK);
    static const uint8_t want[] = {
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,   /* RD, QD=1, AR=1 */
        7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0,
        0x00, 0x0f, 0x00, 0x01,                                                   /* MX IN */
        0x00, 0x00, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0, 0,                           /* OPT 1232 */
    };
    CHECK_INT(len, sizeof want);
    CHECK(len == sizeof want && memcmp(buf, want, len) == 0);

    CHECK_CASE("encode: trailing dot is the same name");
    size_t len2 = 0;
    q = make_query("example.test.", STSM_DNS_TYPE_MX);
    CHECK_INT(stsm_dns_encode_query(&q, buf, sizeof buf, &len2), STSM_OK);
    CHECK_INT(len2, len);

    static const struct {
        const char *intent;
        const char *name;
        uint16_t type;
        size_t cap;
        stsm_status_t status;
    } bad[] = {
        { "empty name", "", STSM_DNS_TYPE_A, 512, STSM_ERR_ARGUMENT },
        { "root only", ".", STSM_DNS_TYPE_A, 512, STSM_ERR_ARGUMENT },
        { "empty label", "a..test", STSM_DNS_TYPE_A, 512, STSM_ERR_ARGUMENT },
        { "leading dot", ".a.test", STSM_DNS_TYPE_A, 512, STSM_ERR_ARGUMENT },
        { "label of 64", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test",
          STSM_DNS_TYPE_A, 512, STSM_ERR_ARGUMENT },
        { "space in label", "a b.test", STSM_DNS_TYPE_A, 512, STSM_ERR_ARGUMENT },
        { "CNAME is not asked directly", "a.test", STSM_DNS_TYPE_CNAME, 512, STSM_ERR_ARGUMENT },
        { "unsupported type", "a.test", 99, 512, STSM_ERR_ARGUMENT },
        { "buffer too small", "a.test", STSM_DNS_TYPE_A, 20, STSM_ERR_CAPACITY },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_CASE(bad[i].intent);
        q = make_query(bad[i].name, bad[i].type);
        CHECK_INT(stsm_dns_encode_query(&q, buf, bad[i].cap, &len), bad[i].status);
    }

    CHECK_CASE("label of 63 and a 253-character name are fine");
    char longest[254];
    memset(longest, 'a', 253);
    longest[253] = '\0';
    for (int i = 63; i < 253; i += 64) {
        longest[i] = '.';
    }
    q = make_query(longest, STSM_DNS_TYPE_A);
    CHECK_INT(stsm_dns_encode_query(&q, buf, sizeof buf, &len), STSM_OK);
}

/* One answer for "example.test" A with address 192.0.2.10. */
static void build_simple_a(struct pkt *p)
{
    pkt_header(p, ID, 0, 0, 1, 1, 0, 0);
    pkt_question(p, "example.test", STSM_DNS_TYPE_A);
    pkt_ptr(p, QNAME_AT);
    pkt_rr_fixed(p, STSM_DNS_TYPE_A, 300, 4);
    pkt_bytes(p, "\xc0\x00\x02\x0a", 4);
}

static void test_validation(void)
{
    struct pkt p;

    CHECK_CASE("simple A answer with a compressed owner");
    build_simple_a(&p);
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_A), STSM_OK);
    CHECK_INT(answer.outcome, STSM_DNS_ANSWER);
    CHECK_INT(answer.count, 1);
    CHECK(memcmp(answer.records[0].address, "\xc0\x00\x02\x0a", 4) == 0);
    CHECK_INT(answer.records[0].ttl, 300);
    CHECK_INT(answer.cname_hops, 0);
    CHECK_STR(stsm_dns_str(&answer, answer.canonical), "example.test");

    CHECK_CASE("question matched without regard to case");
    CHECK_INT(decode(&p, "EXAMPLE.Test.", STSM_DNS_TYPE_A), STSM_OK);
    CHECK_INT(answer.count, 1);

    CHECK_CASE("wrong ID is not our answer");
    build_simple_a(&p);
    p.b[1] ^= 1;
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_A), STSM_ERR_DNS_NOT_ANSWER);

    CHECK_CASE("a query (QR clear) is not an answer");
    build_simple_a(&p);
    p.b[2] &= 0x7f;
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_A), STSM_ERR_DNS_NOT_ANSWER);

    CHECK_CASE("other opcode is not an answer");
    build_simple_a(&p);
    p.b[2] |= 0x10;   /* opcode 2 (STATUS) */
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_A), STSM_ERR_DNS_NOT_ANSWER);

    CHECK_CASE("other question name is not an answer");
    CHECK_INT(decode(&p, "example.tesu", STSM_DNS_TYPE_A), STSM_ERR_DNS_NOT_ANSWER);

    CHECK_CASE("other question type is not an answer");
    build_simple_a(&p);
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_AAAA), STSM_ERR_DNS_NOT_ANSWER);

    CHECK_CASE("no question is not an answer");
    pkt_header(&p, ID, 0, 2, 0, 0, 0, 0);
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_A), STSM_ERR_DNS_NOT_ANSWER);

    CHECK_CASE("every cut of a valid answer is rejected, never read past");
    build_simple_a(&p);
    size_t full = p.n;
    unsigned accepted = 0;
    for (size_t cut = 0; cut < full; cut++) {
        p.n = cut;
        stsm_status_t st = decode(&p, "example.test", STSM_DNS_TYPE_A);
        accepted += st == STSM_OK;
    }
    CHECK_INT(accepted, 0);
}

static void test_rcodes(void)
{
    static const struct {
        const char *intent;
        unsigned rcode;
        unsigned flags;
        enum stsm_dns_outcome outcome;
    } rcodes[] = {
        { "NXDOMAIN", 3, 0, STSM_DNS_NXDOMAIN },
        { "SERVFAIL is temporary", 2, 0, STSM_DNS_TEMPFAIL },
        { "REFUSED is temporary", 5, 0, STSM_DNS_TEMPFAIL },
        { "NOTIMP is temporary", 4, 0, STSM_DNS_TEMPFAIL },
        { "FORMERR is temporary", 1, 0, STSM_DNS_TEMPFAIL },
        { "NOERROR without records is NODATA", 0, 0, STSM_DNS_NODATA },
        { "TC set means truncated", 0, 0x0200, STSM_DNS_TRUNCATED },
    };
    for (size_t i = 0; i < sizeof rcodes / sizeof rcodes[0]; i++) {
        struct pkt p;
        CHECK_CASE(rcodes[i].intent);
        /* An SOA in the authority section, as servers send with negative answers. */
        pkt_header(&p, ID, rcodes[i].flags, rcodes[i].rcode, 1, 0, 1, 0);
        pkt_question(&p, "nope.example.test", STSM_DNS_TYPE_MX);
        pkt_name(&p, "example.test");
        pkt_rr_fixed(&p, 6, 300, 1 + 1 + 20);   /* SOA: two root names, five numbers */
        pkt_name(&p, "");
        pkt_name(&p, "");
        for (int k = 0; k < 5; k++) {
            pkt_u32(&p, 1);
        }
        CHECK_INT(decode(&p, "nope.example.test", STSM_DNS_TYPE_MX), STSM_OK);
        CHECK_INT(answer.outcome, rcodes[i].outcome);
        CHECK_INT(answer.count, 0);
    }
}

static void test_records(void)
{
    struct pkt p;

    CHECK_CASE("MX set with compressed exchanges and an additional section");
    pkt_header(&p, ID, 0, 0, 1, 2, 0, 2);
    pkt_question(&p, "example.test", STSM_DNS_TYPE_MX);
    pkt_ptr(&p, QNAME_AT);
    pkt_rr_fixed(&p, STSM_DNS_TYPE_MX, 300, 2 + 4 + 2);   /* preference, "mx?", pointer */
    pkt_u16(&p, 20);
    size_t mx2_at = p.n;
    pkt_labels(&p, "mx2");
    pkt_ptr(&p, QNAME_AT);
    pkt_ptr(&p, QNAME_AT);
    pkt_rr_fixed(&p, STSM_DNS_TYPE_MX, 300, 2 + 4 + 2);   /* preference, "mx?", pointer */
    pkt_u16(&p, 10);
    size_t mx1_at = p.n;
    pkt_labels(&p, "mx1");
    pkt_ptr(&p, QNAME_AT);
    pkt_ptr(&p, mx1_at);
    pkt_rr_fixed(&p, STSM_DNS_TYPE_A, 300, 4);
    pkt_bytes(&p, "\xc0\x00\x02\x0a", 4);
    pkt_ptr(&p, mx2_at);
    pkt_rr_fixed(&p, STSM_DNS_TYPE_A, 300, 4);
    pkt_bytes(&p, "\xc0\x00\x02\x0b", 4);
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_MX), STSM_OK);
    CHECK_INT(answer.outcome, STSM_DNS_ANSWER);
    CHECK_INT(answer.count, 2);
    CHECK_INT(answer.dropped, 0);
    CHECK_INT(answer.records[0].preference, 10);   /* MX records come in preference order */
    CHECK_STR(stsm_dns_str(&answer, answer.records[0].data), "mx1.example.test");
    CHECK_INT(answer.records[1].preference, 20);
    CHECK_STR(stsm_dns_str(&answer, answer.records[1].data), "mx2.example.test");
    CHECK_INT(answer.extra_count, 2);
    CHECK_STR(stsm_dns_str(&answer, answer.extra[0].owner), "mx1.example.test");
    CHECK(memcmp(answer.extra[1].address, "\xc0\x00\x02\x0b", 4) == 0);
    CHECK(!answer.extra_incomplete);

    CHECK_CASE("null MX (RFC 7505)");
    pkt_header(&p, ID, 0, 0, 1, 1, 0, 0);
    pkt_question(&p, "nullmx.test", STSM_DNS_TYPE_MX);
    pkt_rr_mx(&p, "nullmx.test", 0, "");
    CHECK_INT(decode(&p, "nullmx.test", STSM_DNS_TYPE_MX), STSM_OK);
    CHECK_INT(answer.count, 1);
    CHECK_INT(answer.records[0].preference, 0);
    CHECK_STR(stsm_dns_str(&answer, answer.records[0].data), "");

    CHECK_CASE("TXT strings of one record are joined without separators");
    pkt_header(&p, ID, 0, 0, 1, 2, 0, 0);
    pkt_question(&p, "_mta-sts.example.test", STSM_DNS_TYPE_TXT);
    pkt_rr_txt(&p, "_mta-sts.example.test", "v=STSv1; ", "id=2026", "1130;", (const char *)NULL);
    pkt_rr_txt(&p, "_mta-sts.example.test", "unrelated", (const char *)NULL);
    CHECK_INT(decode(&p, "_mta-sts.example.test", STSM_DNS_TYPE_TXT), STSM_OK);
    CHECK_INT(answer.count, 2);
    CHECK_STR(stsm_dns_str(&answer, answer.records[0].data), "v=STSv1; id=20261130;");
    CHECK_INT(answer.records[0].data_len, 21);
    CHECK_STR(stsm_dns_str(&answer, answer.records[1].data), "unrelated");

    CHECK_CASE("empty TXT string is allowed");
    pkt_header(&p, ID, 0, 0, 1, 1, 0, 0);
    pkt_question(&p, "t.test", STSM_DNS_TYPE_TXT);
    pkt_rr_txt(&p, "t.test", "", (const char *)NULL);
    CHECK_INT(decode(&p, "t.test", STSM_DNS_TYPE_TXT), STSM_OK);
    CHECK_INT(answer.records[0].data_len, 0);

    CHECK_CASE("AAAA record");
    pkt_header(&p, ID, 0, 0, 1, 1, 0, 0);
    pkt_question(&p, "v6.test", STSM_DNS_TYPE_AAAA);
    pkt_name(&p, "v6.test");
    pkt_rr_fixed(&p, STSM_DNS_TYPE_AAAA, 60, 16);
    pkt_bytes(&p, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    CHECK_INT(decode(&p, "v6.test", STSM_DNS_TYPE_AAAA), STSM_OK);
    CHECK_INT(answer.count, 1);
    CHECK_INT(answer.records[0].address[15], 1);

    CHECK_CASE("records of other names and types are not ours");
    pkt_header(&p, ID, 0, 0, 1, 2, 0, 0);
    pkt_question(&p, "example.test", STSM_DNS_TYPE_A);
    pkt_rr_a(&p, "other.test", 192, 0, 2, 99);
    pkt_rr_txt(&p, "example.test", "x", (const char *)NULL);
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_A), STSM_OK);
    CHECK_INT(answer.outcome, STSM_DNS_NODATA);

    CHECK_CASE("label bytes that are not plain text are escaped");
    pkt_header(&p, ID, 0, 0, 1, 1, 0, 0);
    pkt_question(&p, "odd.test", STSM_DNS_TYPE_MX);
    pkt_name(&p, "odd.test");
    pkt_rr_fixed(&p, STSM_DNS_TYPE_MX, 300, 2 + 4 + 6);
    pkt_u16(&p, 5);
    pkt_u8(&p, 3);
    pkt_bytes(&p, "a.b", 3);
    pkt_name(&p, "test");
    CHECK_INT(decode(&p, "odd.test", STSM_DNS_TYPE_MX), STSM_OK);
    CHECK_STR(stsm_dns_str(&answer, answer.records[0].data), "a\\046b.test");

    CHECK_CASE("more A records than STSM_DNS_MAX_RECORDS: the first ones are kept and the rest counted");
    pkt_header(&p, ID, 0, 0, 1, STSM_DNS_MAX_RECORDS + 3, 0, 0);
    pkt_question(&p, "many.test", STSM_DNS_TYPE_A);
    for (int i = 0; i < STSM_DNS_MAX_RECORDS + 3; i++) {
        pkt_rr_a(&p, "many.test", 192, 0, 2, (uint8_t)i);
    }
    CHECK_INT(decode(&p, "many.test", STSM_DNS_TYPE_A), STSM_OK);
    CHECK_INT(answer.outcome, STSM_DNS_ANSWER);
    CHECK_INT(answer.count, STSM_DNS_MAX_RECORDS);
    CHECK_INT(answer.dropped, 3);
    CHECK_INT(answer.records[STSM_DNS_MAX_RECORDS - 1].address[3], STSM_DNS_MAX_RECORDS - 1);

    CHECK_CASE("more TXT records than STSM_DNS_MAX_RECORDS is an error, not a cut");
    pkt_header(&p, ID, 0, 0, 1, STSM_DNS_MAX_RECORDS + 1, 0, 0);
    pkt_question(&p, "t.test", STSM_DNS_TYPE_TXT);
    for (int i = 0; i <= STSM_DNS_MAX_RECORDS; i++) {
        pkt_rr_txt(&p, "t.test", "x", (const char *)NULL);
    }
    CHECK_INT(decode(&p, "t.test", STSM_DNS_TYPE_TXT), STSM_ERR_CAPACITY);

    CHECK_CASE("too many additional addresses are flagged as incomplete");
    pkt_header(&p, ID, 0, 0, 1, 1, 0, STSM_DNS_MAX_EXTRA + 1);
    pkt_question(&p, "example.test", STSM_DNS_TYPE_MX);
    pkt_rr_mx(&p, "example.test", 10, "mx.example.test");
    for (int i = 0; i <= STSM_DNS_MAX_EXTRA; i++) {
        pkt_rr_a(&p, "mx.example.test", 192, 0, 2, (uint8_t)i);
    }
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_MX), STSM_OK);
    CHECK_INT(answer.extra_count, STSM_DNS_MAX_EXTRA);
    CHECK(answer.extra_incomplete);
}

/* Finding 6: an MX answer with more records than we keep is cut to its best preferences,
 * never refused. Preferences are (37 * i) mod 101: distinct and in no order. */
static void test_mx_capacity(void)
{
    static const unsigned sizes[] = { 11, 16, 17, 40 };
    struct pkt p;
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        unsigned n = sizes[t];
        char intent[80];
        snprintf(intent, sizeof intent, "%u MX records in mixed preference order", n);
        CHECK_CASE(intent);
        pkt_header(&p, ID, 0, 0, 1, n, 0, 0);
        pkt_question(&p, "d.test", STSM_DNS_TYPE_MX);
        unsigned sorted[64];
        for (unsigned i = 0; i < n; i++) {
            char exchange[32];
            unsigned pref = (37u * i) % 101u;
            snprintf(exchange, sizeof exchange, "p%u.d.test", pref);
            pkt_rr_mx(&p, "d.test", pref, exchange);
            unsigned k = i;   /* insertion sort of the expected preferences */
            while (k > 0 && sorted[k - 1] > pref) {
                sorted[k] = sorted[k - 1];
                k--;
            }
            sorted[k] = pref;
        }
        unsigned keep = n < STSM_DNS_MAX_RECORDS ? n : STSM_DNS_MAX_RECORDS;
        CHECK_INT(decode(&p, "d.test", STSM_DNS_TYPE_MX), STSM_OK);
        CHECK_INT(answer.outcome, STSM_DNS_ANSWER);
        CHECK_INT(answer.count, keep);
        CHECK_INT(answer.dropped, n - keep);
        for (unsigned k = 0; k < keep && k < answer.count; k++) {
            char want[32];
            snprintf(want, sizeof want, "p%u.d.test", sorted[k]);
            CHECK_INT(answer.records[k].preference, sorted[k]);
            CHECK_STR(stsm_dns_str(&answer, answer.records[k].data), want);
        }
    }

    CHECK_CASE("equal preferences at the cut: the first listed are kept");
    pkt_header(&p, ID, 0, 0, 1, 20, 0, 0);
    pkt_question(&p, "d.test", STSM_DNS_TYPE_MX);
    for (unsigned i = 0; i < 20; i++) {
        char exchange[32];
        snprintf(exchange, sizeof exchange, "e%u.d.test", i);
        pkt_rr_mx(&p, "d.test", i == 19 ? 1 : 10, exchange);   /* the last one is the best */
    }
    CHECK_INT(decode(&p, "d.test", STSM_DNS_TYPE_MX), STSM_OK);
    CHECK_INT(answer.count, STSM_DNS_MAX_RECORDS);
    CHECK_INT(answer.dropped, 20 - STSM_DNS_MAX_RECORDS);
    CHECK_STR(stsm_dns_str(&answer, answer.records[0].data), "e19.d.test");
    CHECK_STR(stsm_dns_str(&answer, answer.records[1].data), "e0.d.test");
    CHECK_STR(stsm_dns_str(&answer, answer.records[STSM_DNS_MAX_RECORDS - 1].data), "e14.d.test");

    CHECK_CASE("long exchanges that overflow the name pool: the worst preferences go");
    /* Each exchange is a 60-byte label in front of one shared 190-byte name (compressed):
     * 251 characters expanded, so the pool holds about a dozen. */
    pkt_header(&p, ID, 0, 0, 1, STSM_DNS_MAX_RECORDS, 0, 0);
    pkt_question(&p, "d.test", STSM_DNS_TYPE_MX);
    size_t base_at = 0;
    for (unsigned i = 0; i < STSM_DNS_MAX_RECORDS; i++) {
        char label[61];
        memset(label, 'x', 60);
        label[60] = '\0';
        snprintf(label, sizeof label, "x%02u", i);
        label[3] = 'x';
        pkt_ptr(&p, QNAME_AT);
        if (i == 0) {
            pkt_rr_fixed(&p, STSM_DNS_TYPE_MX, 300, 2 + 61 + 3 * 61 + 8);
            pkt_u16(&p, 100 - i);
            pkt_u8(&p, 60);
            pkt_bytes(&p, label, 60);
            base_at = p.n;
            for (int k = 0; k < 3; k++) {
                pkt_u8(&p, 60);
                for (int b = 0; b < 60; b++) {
                    pkt_u8(&p, 'b');
                }
            }
            pkt_name(&p, "d.test");
        } else {
            pkt_rr_fixed(&p, STSM_DNS_TYPE_MX, 300, 2 + 61 + 2);
            pkt_u16(&p, 100 - i);   /* later records are better */
            pkt_u8(&p, 60);
            pkt_bytes(&p, label, 60);
            pkt_ptr(&p, base_at);
        }
    }
    CHECK_INT(decode(&p, "d.test", STSM_DNS_TYPE_MX), STSM_OK);
    CHECK(answer.count > 0 && answer.count < STSM_DNS_MAX_RECORDS);
    CHECK_INT(answer.count + answer.dropped, STSM_DNS_MAX_RECORDS);
    for (size_t k = 0; k < answer.count; k++) {
        CHECK_INT(answer.records[k].preference, 100 - (STSM_DNS_MAX_RECORDS - 1) + k);
        CHECK_INT(strlen(stsm_dns_str(&answer, answer.records[k].data)), 61 + 3 * 61 + 6);
    }

    CHECK_CASE("a broken MX record spoils the answer even when it would be dropped");
    pkt_header(&p, ID, 0, 0, 1, STSM_DNS_MAX_RECORDS + 1, 0, 0);
    pkt_question(&p, "d.test", STSM_DNS_TYPE_MX);
    for (unsigned i = 0; i < STSM_DNS_MAX_RECORDS; i++) {
        char exchange[32];
        snprintf(exchange, sizeof exchange, "m%u.d.test", i);
        pkt_rr_mx(&p, "d.test", 10, exchange);
    }
    pkt_name(&p, "d.test");
    pkt_rr_fixed(&p, STSM_DNS_TYPE_MX, 300, 2 + 5 + 1);   /* worst preference, a byte after the name */
    pkt_u16(&p, 50);
    pkt_name(&p, "mx1");
    pkt_u8(&p, 0);
    CHECK_INT(decode(&p, "d.test", STSM_DNS_TYPE_MX), STSM_ERR_DNS_MALFORMED);
}

static void test_cnames(void)
{
    struct pkt p;

    CHECK_CASE("CNAME chain of two, records listed before the CNAMEs");
    pkt_header(&p, ID, 0, 0, 1, 3, 0, 0);
    pkt_question(&p, "www.example.test", STSM_DNS_TYPE_A);
    pkt_rr_a(&p, "b.example.test", 192, 0, 2, 20);
    pkt_rr_cname(&p, "a.example.test", "b.example.test");
    pkt_rr_cname(&p, "WWW.example.test", "a.example.test");
    CHECK_INT(decode(&p, "www.example.test", STSM_DNS_TYPE_A), STSM_OK);
    CHECK_INT(answer.outcome, STSM_DNS_ANSWER);
    CHECK_INT(answer.cname_hops, 2);
    CHECK_STR(stsm_dns_str(&answer, answer.asked), "www.example.test");
    CHECK_STR(stsm_dns_str(&answer, answer.chain[0]), "a.example.test");
    CHECK_STR(stsm_dns_str(&answer, answer.chain[1]), "b.example.test");
    CHECK_STR(stsm_dns_str(&answer, answer.canonical), "b.example.test");
    CHECK_INT(answer.count, 1);
    CHECK_STR(stsm_dns_str(&answer, answer.records[0].owner), "b.example.test");

    CHECK_CASE("CNAME to a name that does not exist");
    pkt_header(&p, ID, 0, 3, 1, 1, 0, 0);
    pkt_question(&p, "alias.test", STSM_DNS_TYPE_A);
    pkt_rr_cname(&p, "alias.test", "gone.test");
    CHECK_INT(decode(&p, "alias.test", STSM_DNS_TYPE_A), STSM_OK);
    CHECK_INT(answer.outcome, STSM_DNS_NXDOMAIN);
    CHECK_INT(answer.cname_hops, 1);

    CHECK_CASE("CNAME to a name without the asked type");
    pkt_header(&p, ID, 0, 0, 1, 1, 0, 0);
    pkt_question(&p, "alias.test", STSM_DNS_TYPE_AAAA);
    pkt_rr_cname(&p, "alias.test", "v4only.test");
    CHECK_INT(decode(&p, "alias.test", STSM_DNS_TYPE_AAAA), STSM_OK);
    CHECK_INT(answer.outcome, STSM_DNS_NODATA);
    CHECK_STR(stsm_dns_str(&answer, answer.canonical), "v4only.test");

    CHECK_CASE("records of the asked name are ignored once it is an alias");
    pkt_header(&p, ID, 0, 0, 1, 2, 0, 0);
    pkt_question(&p, "alias.test", STSM_DNS_TYPE_A);
    pkt_rr_a(&p, "alias.test", 192, 0, 2, 66);
    pkt_rr_cname(&p, "alias.test", "real.test");
    CHECK_INT(decode(&p, "alias.test", STSM_DNS_TYPE_A), STSM_OK);
    CHECK_INT(answer.outcome, STSM_DNS_NODATA);

    CHECK_CASE("CNAME loop");
    pkt_header(&p, ID, 0, 0, 1, 2, 0, 0);
    pkt_question(&p, "a.test", STSM_DNS_TYPE_A);
    pkt_rr_cname(&p, "a.test", "b.test");
    pkt_rr_cname(&p, "b.test", "A.TEST");
    CHECK_INT(decode(&p, "a.test", STSM_DNS_TYPE_A), STSM_ERR_DNS_CNAME_CHAIN);

    CHECK_CASE("CNAME loop that does not pass the asked name");
    pkt_header(&p, ID, 0, 0, 1, 3, 0, 0);
    pkt_question(&p, "a.test", STSM_DNS_TYPE_A);
    pkt_rr_cname(&p, "a.test", "b.test");
    pkt_rr_cname(&p, "b.test", "c.test");
    pkt_rr_cname(&p, "c.test", "b.test");
    CHECK_INT(decode(&p, "a.test", STSM_DNS_TYPE_A), STSM_ERR_DNS_CNAME_CHAIN);

    for (int hops = STSM_DNS_MAX_CNAME_HOPS; hops <= STSM_DNS_MAX_CNAME_HOPS + 1; hops++) {
        CHECK_CASE(hops == STSM_DNS_MAX_CNAME_HOPS ? "chain at the hop limit" : "chain over the hop limit");
        pkt_header(&p, ID, 0, 0, 1, (unsigned)hops + 1, 0, 0);
        pkt_question(&p, "h0.test", STSM_DNS_TYPE_A);
        for (int h = 0; h < hops; h++) {
            char owner[16], target[16];
            snprintf(owner, sizeof owner, "h%d.test", h);
            snprintf(target, sizeof target, "h%d.test", h + 1);
            pkt_rr_cname(&p, owner, target);
        }
        char last[16];
        snprintf(last, sizeof last, "h%d.test", hops);
        pkt_rr_a(&p, last, 192, 0, 2, 1);
        stsm_status_t st = decode(&p, "h0.test", STSM_DNS_TYPE_A);
        CHECK_INT(st, hops == STSM_DNS_MAX_CNAME_HOPS ? STSM_OK : STSM_ERR_DNS_CNAME_CHAIN);
        if (st == STSM_OK) {
            CHECK_INT(answer.cname_hops, hops);
            CHECK_INT(answer.count, 1);
        }
    }
}

static void test_malformed(void)
{
    struct pkt p;

    CHECK_CASE("compression pointer forwards");
    pkt_header(&p, ID, 0, 0, 1, 1, 0, 0);
    pkt_question(&p, "example.test", STSM_DNS_TYPE_A);
    pkt_ptr(&p, p.n + 2);
    pkt_rr_fixed(&p, STSM_DNS_TYPE_A, 300, 4);
    pkt_bytes(&p, "\xc0\x00\x02\x0a", 4);
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_A), STSM_ERR_DNS_MALFORMED);

    CHECK_CASE("compression pointer to itself");
    pkt_header(&p, ID, 0, 0, 1, 1, 0, 0);
    pkt_question(&p, "example.test", STSM_DNS_TYPE_A);
    pkt_ptr(&p, p.n);
    pkt_rr_fixed(&p, STSM_DNS_TYPE_A, 300, 4);
    pkt_bytes(&p, "\xc0\x00\x02\x0a", 4);
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_A), STSM_ERR_DNS_MALFORMED);

    CHECK_CASE("backward pointers that loop through a label");
    pkt_header(&p, ID, 0, 0, 1, 1, 0, 0);
    pkt_question(&p, "example.test", STSM_DNS_TYPE_A);
    size_t loop_at = p.n;
    pkt_labels(&p, "x");
    pkt_ptr(&p, loop_at);   /* "x" then back to "x" forever */
    pkt_rr_fixed(&p, STSM_DNS_TYPE_A, 300, 4);
    pkt_bytes(&p, "\xc0\x00\x02\x0a", 4);
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_A), STSM_ERR_DNS_MALFORMED);

    CHECK_CASE("more pointers than allowed in one name");
    pkt_header(&p, ID, 0, 0, 1, 1, 0, 0);
    pkt_question(&p, "example.test", STSM_DNS_TYPE_A);
    size_t prev = QNAME_AT;
    for (int i = 0; i < STSM_DNS_MAX_POINTERS + 1; i++) {
        size_t here = p.n;
        pkt_ptr(&p, prev);
        prev = here;
    }
    pkt_ptr(&p, prev);
    pkt_rr_fixed(&p, STSM_DNS_TYPE_A, 300, 4);
    pkt_bytes(&p, "\xc0\x00\x02\x0a", 4);
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_A), STSM_ERR_DNS_MALFORMED);

    CHECK_CASE("name longer than 255 octets through pointers");
    pkt_header(&p, ID, 0, 0, 1, 1, 0, 0);
    pkt_question(&p, "example.test", STSM_DNS_TYPE_A);
    size_t grow = QNAME_AT;
    for (int i = 0; i < 5; i++) {   /* each step adds a 60-byte label in front */
        size_t here = p.n;
        pkt_u8(&p, 60);
        for (int k = 0; k < 60; k++) {
            pkt_u8(&p, 'a');
        }
        pkt_ptr(&p, grow);
        grow = here;
    }
    pkt_ptr(&p, grow);
    pkt_rr_fixed(&p, STSM_DNS_TYPE_A, 300, 4);
    pkt_bytes(&p, "\xc0\x00\x02\x0a", 4);
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_A), STSM_ERR_DNS_MALFORMED);

    CHECK_CASE("obsolete label type 0x40");
    pkt_header(&p, ID, 0, 0, 1, 1, 0, 0);
    pkt_question(&p, "example.test", STSM_DNS_TYPE_A);
    pkt_u8(&p, 0x41);
    pkt_u8(&p, 'a');
    pkt_u8(&p, 0);
    pkt_rr_fixed(&p, STSM_DNS_TYPE_A, 300, 4);
    pkt_bytes(&p, "\xc0\x00\x02\x0a", 4);
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_A), STSM_ERR_DNS_MALFORMED);

    CHECK_CASE("A record of 5 bytes");
    pkt_header(&p, ID, 0, 0, 1, 1, 0, 0);
    pkt_question(&p, "example.test", STSM_DNS_TYPE_A);
    pkt_name(&p, "example.test");
    pkt_rr_fixed(&p, STSM_DNS_TYPE_A, 300, 5);
    pkt_bytes(&p, "\xc0\x00\x02\x0a\x00", 5);
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_A), STSM_ERR_DNS_MALFORMED);

    CHECK_CASE("MX with bytes after the exchange");
    pkt_header(&p, ID, 0, 0, 1, 1, 0, 0);
    pkt_question(&p, "example.test", STSM_DNS_TYPE_MX);
    pkt_name(&p, "example.test");
    pkt_rr_fixed(&p, STSM_DNS_TYPE_MX, 300, 2 + 5 + 1);
    pkt_u16(&p, 10);
    pkt_name(&p, "mx1");
    pkt_u8(&p, 0);
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_MX), STSM_ERR_DNS_MALFORMED);

    CHECK_CASE("TXT string longer than its record");
    pkt_header(&p, ID, 0, 0, 1, 1, 0, 0);
    pkt_question(&p, "t.test", STSM_DNS_TYPE_TXT);
    pkt_name(&p, "t.test");
    pkt_rr_fixed(&p, STSM_DNS_TYPE_TXT, 300, 3);
    pkt_u8(&p, 5);
    pkt_bytes(&p, "ab", 2);
    CHECK_INT(decode(&p, "t.test", STSM_DNS_TYPE_TXT), STSM_ERR_DNS_MALFORMED);

    CHECK_CASE("record count larger than the message");
    build_simple_a(&p);
    p.b[7] = 2;   /* ANCOUNT 2, one present */
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_A), STSM_ERR_DNS_MALFORMED);

    CHECK_CASE("broken record in the additional section spoils the message");
    build_simple_a(&p);
    p.b[11] = 1;   /* ARCOUNT 1 */
    pkt_name(&p, "x.test");
    pkt_u16(&p, STSM_DNS_TYPE_A);
    CHECK_INT(decode(&p, "example.test", STSM_DNS_TYPE_A), STSM_ERR_DNS_MALFORMED);
}

int main(void)
{
    test_encode();
    test_validation();
    test_rcodes();
    test_records();
    test_mx_capacity();
    test_cnames();
    test_malformed();
    return stsm_check_summary("test_dns");
}
